"""Every input gets a 4xx, never a 500: a corpus of hostile requests (the red-team
report's and their kin), each with the answer it must get and the words that make
the answer clear, on SQLite and on PostgreSQL. Redirects go to a path on this site
or to the inbox; ids past what a database column holds are not found."""
from __future__ import annotations

import io
import json

import pytest
from conftest import upload
from test_registry import bpmn, LINE
from webclient import csrf_token, sign_in

from engine import audit
from engine.db import db
from engine.models import AuditEvent
from engine.runtime import Actor
from web.users import add_user

HUGE = 2**63 + 5  # past SQLite's integers, and far past PostgreSQL's
FORM = {"type": "object", "properties": {
    "note": {"type": "string", "title": "说明"},
    "score": {"type": "number", "title": "得分"},
    "details": {"type": "object", "title": "明细"},
    "evidence": {"type": "integer", "title": "证据", "format": "attachment", "accept": ["application/pdf"]},
}}
ROOT_ADMIN = Actor("root", "admin")


def as_json(text):
    return ("json", text)


def as_form(fields):
    return ("form", fields)


def as_file(name, content):
    return ("file", (name, content))


# (who, method, path, body, status, words in the answer: its body, or where a redirect leads)
# who: anonymous, "api" (the administrator's bearer token) or a signed-in page user.
# {task} and {case} are the open task and case of the `world` fixture.
CORPUS = [
    # `next` leads to a path on this site, else to the inbox
    ("anonymous", "GET", "/lang/en?next=/%09/evil.com", None, 302, "/inbox/"),
    ("anonymous", "GET", "/lang/en?next=/%0d%0aSet-Cookie:%20stolen=1", None, 302, "/inbox/"),
    ("anonymous", "GET", "/lang/en?next=//evil.com", None, 302, "/inbox/"),
    ("anonymous", "GET", "/lang/en?next=/%5Cevil.com", None, 302, "/inbox/"),
    ("anonymous", "GET", "/lang/en?next=https://evil.com/", None, 302, "/inbox/"),
    ("anonymous", "GET", "/lang/en?next=/%7Fevil", None, 302, "/inbox/"),
    ("anonymous", "GET", "/lang/en?next=/registry/%3Flevel%3Dnational", None, 302, "/registry/?level=national"),
    ("anonymous", "POST", "/login?next=/%09/evil.com", as_form({"username": "prov", "password": "correct-horse"}),
     302, "/inbox/"),
    ("anonymous", "POST", "/login?next=/%0d%0aX-Injected:%201", as_form({"username": "prov",
                                                                         "password": "correct-horse"}), 302, "/inbox/"),
    # ids past the database's integers, in paths and in queries
    ("prov", "GET", f"/registry/{HUGE}", None, 404, "Not Found"),
    ("prov", "GET", f"/registry/{HUGE}/lifecycle", None, 404, "Not Found"),
    ("prov", "GET", f"/registry/{HUGE}/incident", None, 404, "Not Found"),
    ("prov", "POST", f"/registry/{HUGE}/spot-check", as_form({"batch": "2026-1"}), 404, "Not Found"),
    ("prov", "POST", f"/registry/{HUGE}/revocation", as_form({"ground": "21_1"}), 404, "Not Found"),
    ("prov", "GET", f"/attachments/{HUGE}", None, 404, "Not Found"),
    ("prov", "GET", f"/cases/{HUGE}", None, 404, "Not Found"),
    ("anonymous", "GET", f"/public/notices/{HUGE}", None, 404, "Not Found"),
    ("anonymous", "GET", f"/public/complaint/status?no={HUGE}&code=x", None, 404, "受理编号或查询码不正确"),
    ("anonymous", "GET", "/public/complaint/status?no=%C2%B2&code=x", None, 404, "受理编号或查询码不正确"),
    ("api", "GET", f"/api/v1/instances/{HUGE}", None, 404, "not found"),
    ("api", "POST", f"/api/v1/notifications/{HUGE}/read", None, 404, "not found"),
    ("api", "GET", f"/api/v1/tasks?instance={HUGE}", None, 400, "'instance' must be between"),
    ("api", "GET", f"/api/v1/processes/p/migration?from=a&to=b&instance={HUGE}", None, 400, "must be case ids"),
    ("ana", "POST", "/models/p/migration/", as_form({"from": "a", "to": "b", "instance": "²"}), 400, "Bad Request"),
    # a number past the database in a list's query is no filter, or the first page
    ("prov", "GET", f"/registry/?page={HUGE}", None, 200, "绿色制造单位名录"),
    ("prov", "GET", f"/inbox/?page={HUGE}", None, 200, "待办"),
    ("prov", "GET", f"/awards/?page={HUGE}&year={HUGE}", None, 200, "奖励台账"),
    ("prov", "GET", "/awards/?year=%C2%B2", None, 200, "奖励台账"),
    ("prov", "GET", f"/awards.xlsx?year={HUGE}", None, 200, ""),
    ("prov", "GET", f"/cultivation/?page={HUGE}&year={HUGE}", None, 200, "培育库"),
    ("prov", "GET", f"/cultivation.xlsx?year={HUGE}", None, 200, ""),
    ("prov", "GET", f"/agencies/?year={HUGE}", None, 200, "第三方评价机构"),
    ("anonymous", "GET", f"/public/revocations?year={HUGE}", None, 200, "撤销"),
    ("adm", "POST", "/admin/calendar/preview", as_form({"year": str(HUGE), "source": "国办发明电", "text": "x"}),
     422, "is out of range"),
    # the task's own page: a number that is not one, a draft's file number past the database
    ("root", "POST", "/tasks/{task}", as_form({"action": "submit", "score": "Infinity"}), 422, "请填写数字"),
    ("root", "POST", "/tasks/{task}", as_form({"action": "draft", "evidence": str(HUGE)}), 303, "/tasks/"),
    ("root", "GET", "/tasks/{task}", None, 200, "证据"),  # the draft's file number is no file, not an overflow
    # a diagram that is not XML: its line, as the API gives it
    ("ana", "POST", "/models/import", as_file("broken.bpmn", b"<bpmn:definitions"), 422, "not well-formed XML"),
    ("ana", "POST", "/models/import", as_file("broken.bpmn", b"\xff\xfe not xml"), 422, "not well-formed XML"),
    ("ana", "POST", "/models/deploy", as_json(json.dumps({"file": "p.bpmn", "xml": "<x", "note": "n"})), 422,
     "not well-formed XML"),
]


@pytest.fixture
def world(app, client, users, runtime):
    """A process whose task has a form (a text, a number, free JSON, a file), one case
    waiting on it, and the people of the corpus."""
    body = LINE.replace('<bpmn:userTask id="work" name="Work">', '<bpmn:userTask id="work" name="Work">'
                        '<bpmn:extensionElements><spiffworkflow:properties>'
                        '<spiffworkflow:property name="formJsonSchemaFilename" value="hostile.json"/>'
                        '</spiffworkflow:properties></bpmn:extensionElements>')
    assert upload(client, users("analyst-api", "analyst"), ("p.bpmn", bpmn(body)),
                  ("hostile.json", json.dumps(FORM).encode())).status_code == 201
    _, token = add_user("root", "admin", password="correct-horse")
    for name, role in (("prov", "provincial"), ("ana", "analyst"), ("adm", "admin")):
        add_user(name, role, password="correct-horse")
    case = runtime.start("p", {}, ROOT_ADMIN)
    db.session.commit()
    [task] = client.get(f"/api/v1/tasks?instance={case.id}", headers={"Authorization": f"Bearer {token}"}).json["tasks"]
    return {"token": token, "case": case.id, "task": task["id"]}


def _send(app, world, who, method, path, body):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {world['token']}"} if who == "api" else {}
    if who not in ("anonymous", "api"):
        sign_in(client, who)
    kind, content = body or (None, None)
    kwargs = {}
    if kind == "json":
        kwargs = {"data": content, "content_type": "application/json"}
        if who != "api":  # the modeler's editor sends its token in a header
            headers["X-CSRFToken"] = csrf_token(client)
    elif kind == "form":
        kwargs = {"data": {**content, "csrf_token": csrf_token(client)}}
    elif kind == "file":
        name, data = content
        kwargs = {"data": {"file": (io.BytesIO(data), name), "note": "导入", "csrf_token": csrf_token(client)},
                  "content_type": "multipart/form-data"}
    return client.open(path.format(**world), method=method, headers=headers, **kwargs)


def test_every_hostile_input_gets_its_clear_4xx_never_a_500(app, world):
    wrong = []
    for who, method, path, body, status, words in CORPUS:
        r = _send(app, world, who, method, path, body)
        answer = r.headers.get("Location", "") if status in (302, 303) else r.data.decode("utf-8", "replace")
        if r.status_code != status or words not in answer:
            wrong.append((method, path[:80], r.status_code, answer[:300]))
    assert not wrong, "\n".join(map(str, wrong))
    db.session.rollback()
    assert audit.verify()[1] == []  # nothing half-written, nothing the audit log choked on
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.instance_id == world["case"], AuditEvent.action != "start")) == 0
