"""Every route × every role × own and other city: who may see and do what,
decided on the server.

Who may use a page by role comes from the policy table (`web/policy.py`), read here
through `holders`; every page is still requested as every person and its answer
compared with what the table says. Which cases, tasks and designations a role sees
inside a page (its own city's, the cases it takes part in) is the engine's scoping,
written out here per person."""
from __future__ import annotations

import pytest
from conftest import ROOT
from creation import deploy, self_evaluated
from factories import designation, people
from webclient import post_form, sign_in

from engine.db import db
from engine.model_registry import collect
from engine.models import HumanTask, ModelVersion, ProcessInstance
from engine.runtime import Actor
from web.policy import POLICY

REPORT = {"organisation_name": "兰州绿源制造有限公司", "unit_type": "green_factory", "credit_code": "91620100MA74XJ2P0P",
          "evaluation_mode": "self"}
PEOPLE = {  # name: (role, city)
    "admin": ("admin", None), "analyst": ("analyst", None), "provincial": ("provincial", None),
    "expert": ("expert", None), "ecology": ("ecology", None), "lanzhou": ("municipal", "620100"),
    "tianshui": ("municipal", "620500"), "firm": ("applicant", None), "otherfirm": ("applicant", None),
    "agency": ("agency", None),
}
OTHER_CITY = {"tianshui"}  # the case and the designation are 兰州's


def holders(permission: str) -> set[str]:
    """The people above whose role the policy table gives the permission."""
    return {name for name, (role, _city) in PEOPLE.items() if role in POLICY[permission]}


CASE_READERS = {"admin", "analyst", "provincial", "lanzhou", "firm"}
TASK_DOERS = {"admin", "lanzhou"}
REGISTRY_READERS = holders("designations.read")
AWARD_READERS = holders("awards.read")
MIGRATORS = holders("cases.migrate")


CREATION = ROOT / "processes" / "municipal_creation.bpmn"
AGENCY_READERS = holders("agencies.read")  # a city: its own agencies only


@pytest.fixture
def world(app, runtime):
    deploy(runtime)
    tokens = people(*((name, role, city) for name, (role, city) in PEOPLE.items()))
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
        "/public/revocations": 200,
        f"/tasks/{task}": expect(name, TASK_DOERS, 200, 404),
        f"/cases/{case}": expect(name, CASE_READERS, 200, 404),
        f"/cases/{case}/diagram.xml": expect(name, CASE_READERS, 200, 404),
        f"/cases/{case}/markers.json": expect(name, CASE_READERS, 200, 404),
        "/registry/": expect(name, REGISTRY_READERS, 200, 403),
        "/registry.xlsx": expect(name, REGISTRY_READERS, 200, 403),
        "/dashboard": expect(name, holders("dashboard.read"), 200, 403),
        "/experts/": expect(name, holders("experts.manage"), 200, 403),  # the province's expert pool
        "/experts/conflicts": expect(name, holders("experts.declare"), 200, 403),  # an expert's declarations
        "/cases/new": 200,  # each role sees what it may start; starting is checked on POST
        "/public/notices/": 200,
        "/awards/": expect(name, AWARD_READERS, 200, 403),
        "/awards.xlsx": expect(name, AWARD_READERS, 200, 403),
        "/migrations/": expect(name, MIGRATORS, 200, 403),
        "/models/municipal_creation/migration/": expect(name, MIGRATORS, 200, 403),
        "/agencies/": expect(name, AGENCY_READERS, 200, 403),
        "/public/agencies": 200,
        "/admin/calendar/": expect(name, holders("calendar.enter"), 200, 403),  # entering a year's holiday notice
        f"/attachments/{world['report']}": expect(name, CASE_READERS, 200, 404),  # the evaluation report PDF
        "/cases/search": expect(name, holders("cases.search"), 200, 403),
        "/cases/mine": expect(name, holders("cases.mine"), 200, 403),
        "/notifications/": 200,  # everyone's own centre and channels
        "/notifications/settings": 200,
        "/admin/document-numbers": expect(name, holders("documents.number_patterns"), 200, 403),  # 文号 patterns
        "/delegation/": 200,  # anyone reads his own; naming a substitute is refused on POST for non-officials
        "/notifications/deliveries": expect(name, holders("notifications.deliveries"), 200, 403),
    }
    got = {path: client.get(path).status_code for path in checks}
    assert got == checks
    # the case search and 我的申报 hold the case for those who may read it, no one else
    listed = client.get("/cases/search" if name in holders("cases.search") else "/cases/mine")
    assert (f'data-case="{case}"' in listed.get_data(as_text=True)) == (name in CASE_READERS)
    inbox = client.get("/inbox/?tab=role").get_data(as_text=True)
    assert (task in inbox) == (name == "lanzhou")  # only 兰州's officials see 兰州's review waiting


@pytest.mark.parametrize("name", sorted(PEOPLE))
def test_api(app, runtime, world, name):
    client = app.test_client()
    auth = {"Authorization": f"Bearer {world['tokens'][name]}"}
    case, task = world["case"], world["task"]
    assert client.get(f"/api/v1/instances/{case}", headers=auth).status_code == expect(name, CASE_READERS, 200, 404)
    listed = [t["id"] for t in client.get("/api/v1/tasks", headers=auth).json["tasks"]]
    assert (task in listed) == (name in TASK_DOERS)
    # an incomplete submission: those who may act get the form's errors, the others a refusal
    r = client.post(f"/api/v1/tasks/{task}/complete", json={"data": {}}, headers=auth)
    assert r.status_code == expect(name, TASK_DOERS, 422, 404)
    # a file for a task: only those who may act on it (the review has no file field: 422)
    r = client.post(f"/api/v1/tasks/{task}/attachments", data={"field": "report_pdf"}, headers=auth,
                    content_type="multipart/form-data")
    assert r.status_code == expect(name, TASK_DOERS, 422, 404)
    r = client.post(f"/api/v1/instances/{case}/retry", headers=auth)
    assert r.status_code == (409 if name == "admin" else expect(name, CASE_READERS, 403, 404))
    # moving cases between versions: analysts only, whatever the case's city
    old = db.session.scalar(db.select(ProcessInstance.version_id).where(ProcessInstance.id == case))
    new, _ = runtime.registry.deploy({**collect([ROOT / "processes"]),
                                      "municipal_creation.bpmn": CREATION.read_bytes() + b"<!-- again -->"})
    url = "/api/v1/processes/municipal_creation/migration"
    r = client.get(f"{url}?from={old}&to={new.id}", headers=auth)
    assert r.status_code == expect(name, MIGRATORS, 200, 403)
    r = client.post(url, json={"from": old, "to": new.id, "instances": [case]}, headers=auth)
    assert r.status_code == expect(name, MIGRATORS, 200, 403)
    db.session.commit()  # end the test's read transaction: see what the request wrote
    moved = db.session.scalar(db.select(ProcessInstance.version_id).where(ProcessInstance.id == case))
    assert moved == (new.id if name in MIGRATORS else old)


MODELERS = holders("models.edit")


def modeler_pages(version):
    file = "municipal_creation.bpmn"
    return [
        "/models/", "/models/import", "/models/history/municipal_creation",
        f"/models/versions/{version}/edit/{file}", f"/models/versions/{version}/files/{file}",
        f"/models/versions/{version}.zip", f"/models/diff?process=municipal_creation&from={version}&to={version}",
        "/models/new?process_id=city_new_step", "/models/new.bpmn?process_id=city_new_step",
    ]


@pytest.mark.parametrize("name", sorted(PEOPLE))
def test_modeler(app, world, name):
    """Only analysts model: every page, validation, deployment and import is theirs alone."""
    from webclient import csrf_token

    client = app.test_client()
    assert sign_in(client, name).status_code == 302
    version = db.session.scalar(db.select(ModelVersion.id))
    got = {path: client.get(path).status_code for path in modeler_pages(version)}
    assert got == {path: expect(name, MODELERS, 200, 403) for path in got}
    token = {"X-CSRFToken": csrf_token(client, "/inbox/")}
    xml = (ROOT / "processes" / "municipal_creation.bpmn").read_text(encoding="utf-8")
    body = {"base": version, "file": "municipal_creation.bpmn", "xml": xml}
    assert client.post("/models/validate", json=body, headers=token).status_code == expect(name, MODELERS, 200, 403)
    r = client.post("/models/deploy", json={**body, "xml": xml.replace("市级", "市州级", 1), "note": "n"}, headers=token)
    assert r.status_code == expect(name, MODELERS, 201, 403)
    r = client.post("/models/import", data={"csrf_token": token["X-CSRFToken"]})
    assert r.status_code == expect(name, MODELERS, 400, 403)
    db.session.rollback()  # end the test's own read, to see what the requests committed
    assert db.session.scalar(db.select(db.func.count()).select_from(ModelVersion)) == (2 if name in MODELERS else 1)


def test_signed_out(app, world):
    client = app.test_client()
    for path in ("/inbox/", f"/tasks/{world['task']}", f"/cases/{world['case']}", "/registry/", "/awards/",
                 "/awards.xlsx", "/migrations/", "/models/municipal_creation/migration/", "/agencies/",
                 f"/attachments/{world['report']}"):
        r = client.get(path)
        assert r.status_code == 302 and "/login" in r.headers["Location"], path
    assert client.get(f"/api/v1/instances/{world['case']}").status_code == 401
    assert client.get("/api/v1/processes/municipal_creation/migration?from=a&to=b").status_code == 401
    assert client.get("/public/lists").status_code == 200
    version = db.session.scalar(db.select(ModelVersion.id))
    for path in modeler_pages(version):
        r = client.get(path)
        assert r.status_code == 302 and "/login" in r.headers["Location"], path
    assert client.post("/models/validate", json={}).status_code in (302, 400)
    assert client.get("/public/notices/").status_code == 200
    assert client.get("/public/agencies").status_code == 200
    r = client.get("/cases/new")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


# -- a designation's dynamic management and the incident report (Art 20)
MINOR = {"kind": "quality", "severity": "general", "occurred_on": "2026-03-01",
         "description": "一批次产品抽检不合格，已召回并整改。"}
INCIDENT_REPORTERS = holders("lifecycle.report_incident")  # 天水's: not found, below
INCIDENT_SENDERS = {"admin", "lanzhou"}  # by the API: the catching event's lane is the city's


@pytest.fixture
def listed(app, runtime, world):  # the world deployed processes/, the lifecycle and its tables among them
    from engine.green.lifecycle import DesignationLifecycle
    from engine.green.models import Designation

    runtime.complete(world["task"], {"decision": "approve", "opinion": "符合市级绿色工厂条件"},
                     Actor("lanzhou", "municipal", "620100"))
    designation = db.session.scalar(db.select(Designation.id))
    case = db.session.scalar(db.select(DesignationLifecycle.instance_id))
    assert case is not None
    return {"designation": designation, "case": case}


@pytest.mark.parametrize("name", sorted(PEOPLE))
def test_lifecycle_pages(app, world, listed, name):
    from webclient import csrf_token

    client = app.test_client()
    sign_in(client, name)
    d = listed["designation"]
    own_city_only = 404 if name == "tianshui" else None
    reading = own_city_only or expect(name, holders("lifecycle.read"), 200, 403)
    reporting = own_city_only or expect(name, INCIDENT_REPORTERS, 200, 403)
    assert client.get(f"/registry/{d}/lifecycle").status_code == reading
    assert client.get(f"/registry/{d}/incident").status_code == reporting
    r = client.post(f"/registry/{d}/incident", data={**MINOR, "csrf_token": csrf_token(client, "/inbox/")})
    assert r.status_code == (303 if reporting == 200 else reporting)


@pytest.mark.parametrize("name", sorted(PEOPLE))
def test_incident_message_by_api(app, world, listed, name):
    client = app.test_client()
    auth = {"Authorization": f"Bearer {world['tokens'][name]}"}
    r = client.post(f"/api/v1/instances/{listed['case']}/messages", json={"name": "incident_report", "payload": MINOR},
                    headers=auth)
    sees = name in CASE_READERS
    assert r.status_code == (200 if name in INCIDENT_SENDERS else 403 if sees else 404), r.json


POOL_SEERS = {"admin", "analyst", "provincial", "ecology", "lanzhou"}  # 兰州's pool: the province-wide and 兰州
NOMINATORS = holders("cultivation.nominate")
FACT_RECORDERS = holders("adverse_facts.record")


@pytest.fixture
def pool_world(world, runtime):
    from cultivation_helpers import PLAN, code, deploy, nomination, record_fact

    deploy(runtime)
    city = Actor("lanzhou", "municipal", "620100")
    case = runtime.start("cultivation", {}, city)
    task = db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == case.id))
    runtime.complete(task, nomination("green_factory", code(1), name="兰州培育候选工厂"), city)
    task = db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == case.id))
    runtime.complete(task, PLAN, city)
    record_fact(runtime, city, code(2), "tax_evasion", "2025-01-01", name="兰州欠税企业")
    return world


@pytest.mark.parametrize("name", sorted(PEOPLE))
def test_cultivation_pages(app, pool_world, name):
    from webclient import post_form

    client = app.test_client()
    assert sign_in(client, name).status_code == 302
    checks = {path: expect(name, holders("cultivation.read"), 200, 403)
              for path in ("/cultivation/", "/cultivation.xlsx", "/adverse-facts/")}
    got = {path: client.get(path).status_code for path in checks}
    assert got == checks
    if name in holders("cultivation.read"):
        assert ("兰州培育候选工厂" in client.get("/cultivation/").get_data(as_text=True)) == (name in POOL_SEERS)
        assert ("兰州欠税企业" in client.get("/adverse-facts/").get_data(as_text=True)) == (name in POOL_SEERS)
    assert post_form(client, "/cultivation/nominate").status_code == expect(name, NOMINATORS, 303, 403)
    assert post_form(client, "/adverse-facts/new").status_code == expect(name, FACT_RECORDERS, 303, 403)


def test_cultivation_pages_signed_out(app, pool_world):
    client = app.test_client()
    for path in ("/cultivation/", "/cultivation.xlsx", "/adverse-facts/"):
        r = client.get(path)
        assert r.status_code == 302 and "/login" in r.headers["Location"], path


# Opening a case about a designation from its page (web/designations/views.py): the province
# spot-checks; a city (its own units only) or the province proposes a revocation.
SPOT_CHECKERS = holders("designations.spot_check")
PROPOSERS = holders("designations.propose_revocation") - OTHER_CITY


@pytest.mark.parametrize("name", sorted(PEOPLE))
def test_opening_a_spot_check_or_a_revocation(app, world, runtime, name):
    listed = designation(runtime, "91620000224330075D", name="金川集团股份有限公司")
    client = app.test_client()
    sign_in(client, name)

    def refused(allowed):
        if name == "tianshui":
            return 404  # 兰州's designation is not disclosed to 天水
        return 303 if name in allowed else 403

    page = client.get(f"/registry/{listed}").get_data(as_text=True)
    assert ('id="spot-check-form"' in page) == (name in SPOT_CHECKERS)
    assert ('id="revocation-form"' in page) == (name in PROPOSERS)
    r = post_form(client, f"/registry/{listed}/spot-check", {"batch": "2026年第一批"})
    assert r.status_code == refused(SPOT_CHECKERS)
    r = post_form(client, f"/registry/{listed}/revocation", {"ground": "bad_faith", "facts": "列入失信名单。"})
    assert r.status_code == refused(PROPOSERS)


def test_signed_out_cannot_open_cases_about_designations(app, world):
    client = app.test_client()
    for path in ("/registry/1/spot-check", "/registry/1/revocation"):
        assert client.post(path, data={}).status_code == 400, path  # no CSRF token
        r = post_form(client, path, {}, page="/login")
        assert r.status_code == 302 and "/login" in r.headers["Location"], path


@pytest.fixture
def national_round(app, runtime, world):
    """A national round in consultation: the ecology department's task is waiting."""
    from national_helpers import PROVINCE, deploy, list_unit, ready, task_data

    deploy(runtime)
    list_unit(runtime, 1, "兰州绿源制造有限公司", "green_factory")
    case = runtime.start("national_recommendation", {}, PROVINCE)
    [shortlist] = ready(case.id)
    [e] = task_data(runtime, shortlist)["eligible"]
    runtime.complete(shortlist.id, {"shortlist": [{**{k: e[k] for k in (
        "designation_id", "organisation_name", "unit_type", "jurisdiction")}, "consult": True}]}, PROVINCE)
    [ecology] = ready(case.id, "Task_consult_ecology")
    return {"case": case.id, "task": ecology.id}


@pytest.mark.parametrize("name", sorted(PEOPLE))
def test_a_national_round_is_the_provinces_and_the_consulted_departments(app, world, national_round, name):
    """A province-wide case: the province and the department asked see it; no city, no firm."""
    client = app.test_client()
    sign_in(client, name)
    case, task = national_round["case"], national_round["task"]
    readers = {"admin", "analyst", "provincial", "ecology"}
    assert client.get(f"/cases/{case}").status_code == expect(name, readers, 200, 404)
    assert client.get(f"/tasks/{task}").status_code == expect(name, {"admin", "ecology"}, 200, 404)
    auth = {"Authorization": f"Bearer {world['tokens'][name]}"}
    r = client.post(f"/api/v1/tasks/{task}/complete", json={"data": {"ecology_opinions": []}}, headers=auth)
    assert r.status_code == expect(name, {"admin", "ecology"}, 422, 404)
    assert client.get("/public/agencies").status_code == 200
