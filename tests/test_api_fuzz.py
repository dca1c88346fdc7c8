"""No request, however malformed, gets a 500: random bodies, ids, queries and uploads."""
from __future__ import annotations

import io
import json

from conftest import ROOT, upload
from creation import TABLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_registry import LINE, bpmn

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
SETTINGS = settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
# What a script may send that no case can keep: NaN, ±Infinity, lone surrogates, NUL, deep nesting.
HOSTILE_TEXT = st.text(st.characters(exclude_categories=()), max_size=12)
HOSTILE_JSON = st.recursive(
    st.none() | st.integers() | st.floats() | HOSTILE_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(HOSTILE_TEXT, inner, max_size=3),
    max_leaves=10,
) | st.integers(min_value=60, max_value=70).map(lambda n: "[" * n + "]" * n)


def ok(r):
    assert r.status_code < 500, (r.status_code, r.data[:300])
    assert r.is_json, r.data[:200]


@SETTINGS
@given(body=JSON, process=st.sampled_from(["municipal_creation", "nope", ""]) | st.text(max_size=10))
def test_start_with_any_body(client, users, body, process):
    admin = users("root", "admin")
    ok(client.post("/api/v1/instances", json=body, headers=admin))
    ok(client.post("/api/v1/instances", json={"process": process, "data": body}, headers=admin))


@SETTINGS
@given(task=st.text(max_size=40).filter(lambda t: "/" not in t and "?" not in t and "#" not in t), body=JSON,
       instance=st.integers(min_value=-5, max_value=10**12), action=st.sampled_from(["cancel", "retry", "messages"]))
def test_task_and_instance_actions_with_any_input(client, users, task, body, instance, action):
    admin = users("root", "admin")
    if task.strip():
        ok(client.post(f"/api/v1/tasks/{task}/complete", json=body, headers=admin))
    ok(client.post(f"/api/v1/tasks/{instance}/complete", data=json.dumps(body), headers=admin,
                   content_type="application/json"))
    r = client.post(f"/api/v1/instances/{instance}/{action}", json=body, headers=admin)
    assert r.status_code < 500


@SETTINGS
@given(body=JSON)
def test_a_waiting_case_and_its_task_take_any_body_without_a_500(client, users, body):
    """The same bodies at a case and a task that exist: past the lookup, into each action's
    own reading of its fields (a reason, a text, a payload of the wrong JSON type)."""
    admin = users("root", "admin")
    upload(client, users("ana", "analyst"), ("p.bpmn", bpmn(LINE)))
    case = client.post("/api/v1/instances", json={"process": "p", "data": {}}, headers=admin).json
    task = case["tasks"][0]["id"]
    for path in (f"/api/v1/tasks/{task}/comments", f"/api/v1/tasks/{task}/complete",
                 f"/api/v1/instances/{case['id']}/messages", f"/api/v1/instances/{case['id']}/retry",
                 f"/api/v1/instances/{case['id']}/withdraw", f"/api/v1/instances/{case['id']}/end",
                 f"/api/v1/instances/{case['id']}/cancel"):
        ok(client.post(path, json=body, headers=admin))
        ok(client.post(path, json={"data": body, "text": body, "reason": body, "name": body, "payload": body},
                       headers=admin))


@SETTINGS
@given(params=st.dictionaries(st.sampled_from(["instance", "process", "role", "overdue", "limit", "offset",
                                               "status", "x"]), st.text(max_size=8), max_size=4))
def test_listings_with_any_query(client, users, params):
    admin = users("root", "admin")
    ok(client.get("/api/v1/tasks", query_string=params, headers=admin))
    ok(client.get("/api/v1/instances", query_string=params, headers=admin))


@SETTINGS
@given(content=st.binary(max_size=300) | st.sampled_from([
    b"<?xml version='1.0'?><bpmn:definitions xmlns:bpmn='http://www.omg.org/spec/BPMN/20100524/MODEL'/>",
    b"<definitions xmlns='https://www.omg.org/spec/DMN/20191111/MODEL/'><decision id='d'/></definitions>",
    b"{not json", b"[]",
]), name=st.sampled_from(["a.bpmn", "b.dmn", "c.json", "d.txt", "..\\e.bpmn", "x"]))
def test_deploy_with_any_file(client, users, content, name):
    ok(upload(client, users("ana", "analyst"), (name, content)))


def _strict(raw: bytes):
    """JSON as RFC 8259 has it: no NaN or Infinity, nothing that cannot be encoded."""
    def refuse(constant):
        raise AssertionError(f"{constant} echoed in the answer")
    return json.loads(raw.decode("utf-8"), parse_constant=refuse)


@SETTINGS
@given(value=HOSTILE_JSON)
def test_whatever_json_a_script_sends_is_kept_as_valid_json_or_refused(client, users, value):
    admin = users("root", "admin")
    upload(client, users("ana", "analyst"), ("p.bpmn", bpmn(LINE)))
    text = value if isinstance(value, str) and value.startswith("[") else json.dumps(value)
    started = client.post("/api/v1/instances", data='{"process": "p", "data": {"v": ' + text + "}}",
                          headers=admin, content_type="application/json")
    ok(started)
    body = _strict(started.data)
    if started.status_code == 201:
        task = body["tasks"][0]["id"]
        done = client.post(f"/api/v1/tasks/{task}/complete", data='{"data": {"w": ' + text + "}}", headers=admin,
                           content_type="application/json")
        ok(done)
        _strict(done.data)
    else:
        assert started.status_code in (400, 422) and body["error"]


def test_a_completed_case_refuses_further_actions_cleanly(client, users):
    admin = users("root", "admin")
    upload(client, admin, ROOT / "processes" / "municipal_creation.bpmn", *TABLES)
    inst = client.post("/api/v1/instances", json={"process": "municipal_creation", "data": {"jurisdiction": "620100"}},
                       headers=admin).json
    client.post(f"/api/v1/instances/{inst['id']}/cancel", headers=admin)
    for action in ("cancel", "retry"):
        r = client.post(f"/api/v1/instances/{inst['id']}/{action}", headers=admin)
        assert r.status_code == 409 and r.is_json
    files = {"files": (io.BytesIO(b""), "")}
    ok(client.post("/api/v1/models", data=files, headers=admin, content_type="multipart/form-data"))


def test_the_nul_character_is_refused_everywhere(client, users):
    admin = users("root", "admin")
    for r in (client.post("/api/v1/instances", json={"process": "a\x00"}, headers=admin),
              client.post("/api/v1/instances", json={"process": "p", "data": {"x": "\x00"}}, headers=admin),
              client.get("/api/v1/tasks?process=%00", headers=admin)):
        assert r.status_code == 400 and "NUL" in r.json["error"]
