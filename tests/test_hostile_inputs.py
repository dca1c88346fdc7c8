"""Every input gets a 4xx, never a 500: a corpus of hostile requests (the red-team
report's and their kin), each with the answer it must get and the words that make
the answer clear, on SQLite and on PostgreSQL. Redirects go to a path on this site
or to the inbox; ids past what a database column holds are not found; JSON too deep,
NaN and Infinity, and text that cannot be encoded are refused naming the field."""
from __future__ import annotations

import io
import json

import pytest
from conftest import upload
from test_registry import LINE, bpmn
from webclient import csrf_token, sign_in

from engine import audit
from engine.db import db
from engine.errors import FormInvalid
from engine.models import AuditEvent
from engine.runtime import Actor
from web.accounts.users import add_user

HUGE = 2**63 + 5  # past SQLite's integers, and far past PostgreSQL's
DEEP = "[" * 100_000 + "]" * 100_000
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
    ("prov", "POST", f"/notifications/{HUGE}/read", as_form({}), 404, "Not Found"),
    ("prov", "GET", "/notifications/?after=%C2%B2&show=%00", None, 200, "通知中心"),
    ("anonymous", "GET", f"/public/notices/{HUGE}", None, 404, "Not Found"),
    ("anonymous", "GET", f"/public/complaint/status?no={HUGE}&code=x", None, 404, "受理编号或查询码不正确"),
    ("anonymous", "GET", "/public/complaint/status?no=%C2%B2&code=x", None, 404, "受理编号或查询码不正确"),
    ("api", "GET", f"/api/v1/instances/{HUGE}", None, 404, "not found"),
    ("api", "POST", f"/api/v1/notifications/{HUGE}/read", None, 404, "not found"),
    ("api", "GET", f"/api/v1/tasks?instance={HUGE}", None, 400, "「instance」须在 0 与"),
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
     422, "超出范围"),
    # JSON nested too deep: refused before anything parses it
    ("api", "POST", "/api/v1/instances", as_json('{"process": "p", "data": {"x": ' + "[" * 500 + "]" * 500 + "}}"),
     400, "nested deeper than 64 levels"),
    ("api", "POST", "/api/v1/instances", as_json(DEEP), 400, "nested deeper than 64 levels"),
    ("api", "POST", "/api/v1/tasks/{task}/complete", as_json('{"data": {"details": ' + DEEP + "}}"), 400,
     "nested deeper than 64 levels"),
    ("api", "POST", "/api/v1/instances/{case}/retry", as_json(DEEP), 400, "nested deeper than 64 levels"),
    ("ana", "POST", "/models/validate", as_json(DEEP), 400, "nested deeper than 64 levels"),
    # NaN and Infinity: not JSON, refused alike on both databases, the field named
    ("api", "POST", "/api/v1/instances", as_json('{"process": "p", "data": {"score": NaN}}'), 422, '"data/score"'),
    ("api", "POST", "/api/v1/instances", as_json('{"process": "p", "data": {"score": Infinity}}'), 422,
     "NaN and Infinity"),
    ("api", "POST", "/api/v1/instances", as_json('{"process": "p", "data": {"score": -1e400}}'), 422, '"data/score"'),
    ("api", "POST", "/api/v1/tasks/{task}/complete", as_json('{"data": {"score": NaN}}'), 422, '"data/score"'),
    ("api", "POST", "/api/v1/tasks/{task}/complete", as_json('{"data": {"details": {"rows": [1, -Infinity]}}}'), 422,
     '"data/details/rows/1"'),
    ("api", "POST", "/api/v1/instances/{case}/messages", as_json('{"name": "m", "payload": {"x": NaN}}'), 422,
     '"payload/x"'),
    ("api", "POST", "/api/v1/instances/{case}/retry", as_json('{"data": {"x": Infinity}}'), 422, '"data/x"'),
    ("api", "POST", "/api/v1/clock", as_json('{"advance": NaN}'), 422, '"advance"'),
    # text that cannot be encoded (a lone surrogate), escaped or as raw bytes
    ("api", "POST", "/api/v1/instances", as_json('{"process": "p", "data": {"note": "\\ud800"}}'), 422,
     '"data/note"'),
    ("api", "POST", "/api/v1/instances", as_json('{"process": "\\udfff"}'), 422, "lone surrogate U+DFFF"),
    ("api", "POST", "/api/v1/instances", as_json(b'{"process": "p", "data": {"note": "\xed\xa0\x80"}}'), 422,
     '"data/note"'),
    ("api", "POST", "/api/v1/instances", as_json('{"process": "p", "data": {"\\udc00": 1}}'), 422, "udc00"),
    ("api", "POST", "/api/v1/tasks/{task}/complete", as_json('{"data": {"note": "ok \\ud800"}}'), 422, '"data/note"'),
    ("api", "POST", "/api/v1/instances/{case}/messages", as_json('{"name": "m", "payload": {"x": "\\ud800"}}'), 422,
     '"payload/x"'),
    ("api", "POST", "/api/v1/instances/{case}/cancel", as_json('{"reason": "\\ud800"}'), 422, '"reason"'),
    # a value of the wrong JSON type where the API takes a name or a text
    ("api", "POST", "/api/v1/instances", as_json('{"process": "p", "data": {"jurisdiction": ["兰州市"]}}'), 422,
     '"data/jurisdiction"'),
    ("api", "POST", "/api/v1/instances", as_json('{"process": "p", "data": {"jurisdiction": {}}}'), 422,
     "须为辖区名称"),
    ("api", "POST", "/api/v1/instances/{case}/cancel", as_json('{"reason": {"why": 1}}'), 422, "须为文本"),
    ("api", "POST", "/api/v1/instances/{case}/withdraw", as_json('{"reason": ["不再申报"]}'), 422, "须为文本"),
    ("api", "POST", "/api/v1/instances/{case}/end", as_json('{"reason": 7}'), 422, "须为文本"),
    ("api", "POST", "/api/v1/instances/{case}/cancel", as_json('["withdrawn"]'), 400, "请求体须为 JSON 对象"),
    ("api", "POST", "/api/v1/instances/{case}/cancel", as_json('{"reason": '), 400, "请求体须为 JSON 对象"),
    # the same on the task's own page: the message beside the field, the entries kept
    ("root", "POST", "/tasks/{task}", as_form({"action": "submit", "details": '{"a": NaN}'}), 422, "NaN 和 Infinity"),
    ("root", "POST", "/tasks/{task}", as_form({"action": "submit", "details": '{"a": "\\ud800"}'}), 422,
     "单独的代理项"),
    ("root", "POST", "/tasks/{task}", as_form({"action": "submit", "details": DEEP}), 422, "嵌套层数过多"),
    ("root", "POST", "/tasks/{task}", as_form({"action": "submit", "score": "Infinity"}), 422, "请填写数字"),
    ("root", "POST", "/tasks/{task}", as_form({"action": "draft", "evidence": str(HUGE)}), 303, "/tasks/"),
    ("root", "GET", "/tasks/{task}", None, 200, "证据"),  # the draft's file number is no file, not an overflow
    # a diagram that is not XML: its line, as the API gives it
    ("ana", "POST", "/models/import", as_file("broken.bpmn", b"<bpmn:definitions"), 422, "XML 格式不正确"),
    ("ana", "POST", "/models/import", as_file("broken.bpmn", b"\xff\xfe not xml"), 422, "XML 格式不正确"),
    ("ana", "POST", "/models/deploy", as_json(json.dumps({"file": "p.bpmn", "xml": "<x", "note": "n"})), 422,
     "XML 格式不正确"),
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


@pytest.mark.parametrize("call", ["start", "complete", "message", "cancel"])
def test_the_engine_refuses_what_no_case_can_keep_before_its_step(app, world, runtime, call):
    """Whoever calls the engine (a page, the API, a service operation), the field is named
    and nothing is written: the audit log never sees the value."""
    bad = {"note": "\ud800", "score": float("nan"), "details": {"n": float("-inf"), "t": "a\x00b"}}
    calls = {
        "start": lambda: runtime.start("p", bad, ROOT_ADMIN),
        "complete": lambda: runtime.complete(world["task"], bad, ROOT_ADMIN),
        "message": lambda: runtime.send_message(world["case"], "m", bad, ROOT_ADMIN),
        "cancel": lambda: runtime.cancel(world["case"], ROOT_ADMIN, "\ud800"),
    }
    events = db.session.scalar(db.select(db.func.count()).select_from(AuditEvent))
    with pytest.raises(FormInvalid) as refused:
        calls[call]()
    if call == "cancel":
        assert set(refused.value.fields) == {"reason"}
    else:
        assert set(refused.value.fields) == {"note", "score", "details/n", "details/t"}
        assert "lone surrogate U+D800" in refused.value.fields["note"][0]
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditEvent)) == events
