"""Every route × every role × own and other city: who may see and do what,
decided on the server."""
from __future__ import annotations

import pytest
from creation import deploy, self_evaluated
from webclient import sign_in

from engine.db import db
from engine.models import HumanTask, ProcessInstance
from engine.runtime import Actor
from web.users import add_user

REPORT = {"organisation_name": "兰州绿源制造有限公司", "unit_type": "green_factory", "credit_code": "91620100MA74XJ2P0P",
          "evaluation_mode": "self"}
PEOPLE = {  # name: (role, city)
    "admin": ("admin", None), "analyst": ("analyst", None), "provincial": ("provincial", None),
    "expert": ("expert", None), "ecology": ("ecology", None), "lanzhou": ("municipal", "620100"),
    "tianshui": ("municipal", "620500"), "firm": ("applicant", None), "otherfirm": ("applicant", None),
    "agency": ("agency", None),
}
CASE_READERS = {"admin", "analyst", "provincial", "lanzhou", "firm"}
TASK_DOERS = {"admin", "lanzhou"}
REGISTRY_READERS = {"admin", "analyst", "provincial", "ecology", "lanzhou", "tianshui"}
AGENCY_READERS = {"admin", "analyst", "provincial", "lanzhou", "tianshui"}  # a city: its own agencies only


@pytest.fixture
def world(app, runtime):
    deploy(runtime)
    tokens = {}
    for name, (role, city) in PEOPLE.items():
        _, tokens[name] = add_user(name, role, city, password="correct-horse")
    case = self_evaluated(runtime, Actor("firm", "applicant"), application=REPORT)
    review = db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == case.id))
    report = db.session.get(ProcessInstance, case.id).data["report_pdf"]
    return {"case": case.id, "task": review, "tokens": tokens, "report": report}


def expect(name, allowed, yes, no):
    return yes if name in allowed else no


@pytest.mark.parametrize("name", sorted(PEOPLE))
def test_pages(app, world, name):
    client = app.test_client()
    assert sign_in(client, name).status_code == 302
    case, task = world["case"], world["task"]
    checks = {
        "/inbox/": 200,
        "/public/lists": 200,
        f"/tasks/{task}": expect(name, TASK_DOERS, 200, 404),
        f"/cases/{case}": expect(name, CASE_READERS, 200, 404),
        f"/cases/{case}/diagram.xml": expect(name, CASE_READERS, 200, 404),
        f"/cases/{case}/markers.json": expect(name, CASE_READERS, 200, 404),
        "/registry/": expect(name, REGISTRY_READERS, 200, 403),
        "/registry.xlsx": expect(name, REGISTRY_READERS, 200, 403),
        "/dashboard": expect(name, REGISTRY_READERS, 200, 403),
        "/agencies/": expect(name, AGENCY_READERS, 200, 403),
        "/public/agencies": 200,
        f"/attachments/{world['report']}": expect(name, CASE_READERS, 200, 404),  # the evaluation report PDF
    }
    got = {path: client.get(path).status_code for path in checks}
    assert got == checks
    inbox = client.get("/inbox/?tab=role").get_data(as_text=True)
    assert (task in inbox) == (name == "lanzhou")  # only 兰州's officials see 兰州's review waiting


@pytest.mark.parametrize("name", sorted(PEOPLE))
def test_api(app, world, name):
    client = app.test_client()
    auth = {"Authorization": f"Bearer {world['tokens'][name]}"}
    case, task = world["case"], world["task"]
    assert client.get(f"/api/v1/instances/{case}", headers=auth).status_code == expect(name, CASE_READERS, 200, 404)
    listed = [t["id"] for t in client.get("/api/v1/tasks", headers=auth).json["tasks"]]
    assert (task in listed) == (name in TASK_DOERS)
    # an incomplete submission: those who may act get the form's errors, the others a refusal
    r = client.post(f"/api/v1/tasks/{task}/complete", json={"data": {}}, headers=auth)
    assert r.status_code == expect(name, TASK_DOERS, 422, 403)
    # a file for a task: only those who may act on it (the review has no file field: 422)
    r = client.post(f"/api/v1/tasks/{task}/attachments", data={"field": "report_pdf"}, headers=auth,
                    content_type="multipart/form-data")
    assert r.status_code == expect(name, TASK_DOERS, 422, 404)
    r = client.post(f"/api/v1/instances/{case}/retry", headers=auth)
    assert r.status_code == (409 if name == "admin" else expect(name, CASE_READERS, 403, 404))


def test_signed_out(app, world):
    client = app.test_client()
    for path in ("/inbox/", f"/tasks/{world['task']}", f"/cases/{world['case']}", "/registry/", "/agencies/",
                 f"/attachments/{world['report']}"):
        r = client.get(path)
        assert r.status_code == 302 and "/login" in r.headers["Location"], path
    assert client.get(f"/api/v1/instances/{world['case']}").status_code == 401
    assert client.get("/public/lists").status_code == 200
    assert client.get("/public/agencies").status_code == 200
