"""The persisted runtime's guarantees: all-or-nothing steps, one winner under
concurrency, failed scripts held for an administrator, a verifiable audit chain."""
from __future__ import annotations

import threading

import pytest
from conftest import ROOT, upload
from creation import TABLES
from sqlalchemy import text

from engine.audit import verify
from engine.db import db
from engine.models import AuditEvent, HumanTask, InstanceTask, ProcessInstance
from engine.runtime import Actor

ADMIN = Actor("root", "admin")
CREATION = ROOT / "processes" / "municipal_creation.bpmn"
REPORT = {"organisation_name": "兰州绿源制造有限公司", "unit_type": "green_factory", "credit_code": "91620100MA74XJ2P0P", "evaluation_mode": "self"}

SCRIPTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://example.org">
<bpmn:process id="share" isExecutable="true">
<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:userTask id="enter" name="Enter count"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
<bpmn:scriptTask id="divide" name="Divide"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
<bpmn:script>share = total / count</bpmn:script></bpmn:scriptTask>
<bpmn:userTask id="confirm" name="Confirm"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:userTask>
<bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="enter"/>
<bpmn:sequenceFlow id="f2" sourceRef="enter" targetRef="divide"/>
<bpmn:sequenceFlow id="f3" sourceRef="divide" targetRef="confirm"/>
<bpmn:sequenceFlow id="f4" sourceRef="confirm" targetRef="end"/>
</bpmn:process></bpmn:definitions>"""


def only_task(instance_id) -> HumanTask:
    return db.session.scalars(db.select(HumanTask).where(HumanTask.instance_id == instance_id)).one()


def stored(instance_id):
    rows = db.session.execute(db.select(InstanceTask.task_id, InstanceTask.body)
                              .where(InstanceTask.instance_id == instance_id)).all()
    inst = db.session.get(ProcessInstance, instance_id)
    db.session.refresh(inst)
    return dict(rows), inst.revision, inst.shell, inst.status


def audit_count():
    return db.session.scalar(db.select(db.func.count()).select_from(AuditEvent))


def test_a_failure_before_commit_leaves_the_old_state_and_the_inbox(runtime, users, client):
    upload(client, users("ana", "analyst"), CREATION, *TABLES)
    firm = Actor("firm", "applicant")
    inst = runtime.start("municipal_creation", {}, firm, "620100")
    task = only_task(inst.id)
    before, events = stored(inst.id), audit_count()

    def crash(_):
        raise RuntimeError("power cut between step and commit")

    runtime.before_commit = crash
    with pytest.raises(RuntimeError):
        runtime.complete(task.id, REPORT, firm)
    runtime.before_commit = None

    assert stored(inst.id) == before
    assert only_task(inst.id).id == task.id
    assert audit_count() == events
    # the same user retries and the step goes through exactly once
    after = runtime.complete(task.id, REPORT, firm)
    assert after.revision == before[1] + 1
    assert only_task(inst.id).element == "Task_self_green_factory"


def test_a_failure_while_starting_leaves_no_case(runtime, users, client):
    upload(client, users("ana", "analyst"), CREATION, *TABLES)
    runtime.before_commit = lambda inst: (_ for _ in ()).throw(RuntimeError("disk full"))
    with pytest.raises(RuntimeError):
        runtime.start("municipal_creation", {}, Actor("firm", "applicant"), "620100")
    runtime.before_commit = None
    for model in (ProcessInstance, InstanceTask, HumanTask):
        assert db.session.scalar(db.select(db.func.count()).select_from(model)) == 0
    assert not any(e.action == "start" for e in db.session.scalars(db.select(AuditEvent)))


def test_two_completions_of_one_task_one_wins(app, runtime, users, client):
    upload(client, users("ana", "analyst"), CREATION, *TABLES)
    firm = users("firm", "applicant")
    outcomes = []
    for _ in range(5):
        inst = client.post("/api/v1/instances", json={"process": "municipal_creation",
                                                      "data": {"jurisdiction": "620100"}}, headers=firm).json
        url = f"/api/v1/tasks/{inst['tasks'][0]['id']}/complete"
        barrier = threading.Barrier(2)
        codes = []

        def attempt(url=url, barrier=barrier, codes=codes):
            c = app.test_client()
            barrier.wait()
            codes.append(c.post(url, json={"data": REPORT}, headers=firm).status_code)

        threads = [threading.Thread(target=attempt) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        outcomes.append(sorted(codes))
        db.session.rollback()  # look past this thread's earlier snapshot
        events = db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.action == "complete", AuditEvent.instance_id == inst["id"])).all()
        assert len(events) == 1
    assert all(codes == [200, 409] for codes in outcomes), outcomes


def test_a_completion_read_before_another_was_saved_is_refused_not_applied_again(app, runtime, users, client):
    """A request reads the task, another request completes it meanwhile, then the first one
    submits: it is told the task is done (409), and the case moved once. On SQLite the first
    request's reads are a snapshot from before the other's commit: its step must not go on
    from them (SQLite refuses to make that transaction a writing one, and the step begins anew)."""
    from engine.errors import Conflict

    upload(client, users("ana", "analyst"), CREATION, *TABLES)
    firm = Actor("firm", "applicant")
    inst = runtime.start("municipal_creation", {}, firm, "620100")
    db.session.commit()
    task_id = only_task(inst.id).id  # this request's read
    elsewhere = []

    def another_request():
        with app.app_context():
            elsewhere.append(runtime.complete(task_id, REPORT, firm).revision)

    other = threading.Thread(target=another_request)
    other.start()
    other.join()
    assert elsewhere == [inst.revision + 1]
    with pytest.raises(Conflict):
        runtime.complete(task_id, REPORT, firm)
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "complete", AuditEvent.instance_id == inst.id)) == 1
    assert db.session.get(ProcessInstance, inst.id).revision == inst.revision + 1


def test_a_step_is_saved_when_it_returns_and_what_the_request_does_next_is_its_own(app, runtime, users, client):
    """The step commits on its connection and the request goes on in a new transaction there:
    another connection sees the step at once, and what the request writes afterwards is one
    transaction of its own, undone whole by a rollback without touching the step."""
    upload(client, users("ana", "analyst"), CREATION, *TABLES)
    firm = Actor("firm", "applicant")
    inst = runtime.start("municipal_creation", {}, firm, "620100")
    task = only_task(inst.id)
    after = runtime.complete(task.id, REPORT, firm)

    def seen_elsewhere():
        with db.engine.connect() as other:
            return (other.scalar(text("SELECT revision FROM process_instance WHERE id = :i"), {"i": inst.id}),
                    other.scalar(text("SELECT element FROM human_task WHERE instance_id = :i"), {"i": inst.id}))

    assert seen_elsewhere() == (after.revision, "Task_self_green_factory")
    assignee = only_task(inst.id).assignee
    # the rest of the request: two writes, then it fails and rolls back
    db.session.execute(text("UPDATE human_task SET assignee = 'someone' WHERE instance_id = :i"), {"i": inst.id})
    db.session.execute(text("UPDATE process_instance SET status = 'cancelled' WHERE id = :i"), {"i": inst.id})
    db.session.rollback()
    assert seen_elsewhere() == (after.revision, "Task_self_green_factory")
    case = db.session.get(ProcessInstance, inst.id)
    assert (case.status, only_task(inst.id).assignee) == ("running", assignee)


def test_a_stale_revision_is_a_conflict(runtime, users, client):
    """Two workers with their own caches: the one whose copy is stale cannot overwrite."""
    from engine.errors import Conflict

    upload(client, users("ana", "analyst"), CREATION, *TABLES)
    firm = Actor("firm", "applicant")
    inst = runtime.start("municipal_creation", {}, firm, "620100")
    task = only_task(inst.id)
    with pytest.raises(Conflict):
        with runtime._step(inst.id) as (row, live):
            live.workflow.get_task_from_id(__import__("uuid").UUID(task.id)).run()
            # meanwhile another worker saved a step on this case
            db.session.execute(text("UPDATE process_instance SET revision = revision + 1 WHERE id = :i"),
                               {"i": inst.id})
    assert only_task(inst.id).id == task.id
    assert db.session.get(ProcessInstance, inst.id).revision == inst.revision


def test_a_script_error_holds_the_case_for_an_administrator(runtime, users, client):
    upload(client, users("ana", "analyst"), ("share.bpmn", SCRIPTED))
    admin = users("root", "admin")
    inst = client.post("/api/v1/instances", json={"process": "share", "data": {"total": 100}}, headers=admin).json
    r = client.post(f"/api/v1/tasks/{inst['tasks'][0]['id']}/complete", json={"data": {"count": 0}}, headers=admin)
    assert r.status_code == 200
    failed = r.json
    assert failed["status"] == "error" and failed["tasks"] == []
    assert failed["error"]["element"] == "divide" and "division by zero" in failed["error"]["message"]
    listed = client.get("/api/v1/instances?status=error", headers=admin).json["instances"]
    assert [i["id"] for i in listed] == [inst["id"]]

    assert client.post(f"/api/v1/instances/{inst['id']}/retry", json={"data": {"count": 4}},
                       headers=users("firm", "applicant")).status_code in (403, 404)
    r = client.post(f"/api/v1/instances/{inst['id']}/retry", json={"data": {"count": 4}}, headers=admin)
    assert r.status_code == 422 and "reason" in r.json["fields"]  # a correction says why
    r = client.post(f"/api/v1/instances/{inst['id']}/retry",
                    json={"data": {"count": 4}, "reason": "the firm counted 4 sites"}, headers=admin)
    assert r.status_code == 200 and r.json["status"] == "running" and r.json["error"] is None
    assert r.json["data"]["share"] == 25
    assert [t["element"] for t in r.json["tasks"]] == ["confirm"]
    assert client.post(f"/api/v1/instances/{inst['id']}/retry", headers=admin).status_code == 409


def test_the_audit_chain_verifies_and_detects_tampering(runtime, users, client, app):
    upload(client, users("ana", "analyst"), CREATION, *TABLES)
    firm = Actor("firm", "applicant")
    inst = runtime.start("municipal_creation", {}, firm, "620100")
    runtime.complete(only_task(inst.id).id, REPORT, firm)
    count, problems = verify()
    assert count == audit_count() >= 4 and problems == []
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0

    db.session.execute(text("UPDATE audit_event SET detail = :d WHERE action = 'complete'"), {"d": '{"in":{"score":100}}'})
    db.session.commit()
    _, problems = verify()
    assert any("altered" in p for p in problems)
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "altered" in result.output

    db.session.execute(text("DELETE FROM audit_event WHERE action = 'start'"))
    db.session.commit()
    _, problems = verify()
    assert any(f"case {inst.id}" in p and "does not follow" in p for p in problems)

    db.session.execute(text("DELETE FROM audit_event WHERE instance_id = :i"), {"i": inst.id})
    db.session.commit()
    _, problems = verify()
    assert problems == [f"case {inst.id} ends before its recorded last event: events were removed from its end"]


def test_events_hashed_before_orjson_wrote_the_log_still_verify(app):
    """Events written before orjson hashed them were hashed from the standard library's canonical
    JSON. Their texts (every character there is, control characters and Chinese among them) must
    hash the same today, or `audit verify` would call a whole year's log altered."""
    import hashlib
    import json
    from datetime import datetime

    from engine import clock
    from engine.audit import GENESIS, append
    from engine.models import AuditHead

    characters = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    texts = ["".join(characters[i:i + 4096]) for i in range(0, len(characters), 4096)]
    prev = GENESIS
    at = datetime(2026, 12, 31, 23, 59, 59, tzinfo=clock.SHANGHAI)
    for n, piece in enumerate(texts):
        detail = json.dumps({"text": piece}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        body = json.dumps([prev, at.isoformat(), "老用户", "comment", None, f"task_{n}", detail],
                          sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
        db.session.add(AuditEvent(at=at, actor="老用户", action="comment", instance_id=None, task=f"task_{n}",
                                  detail=detail, prev_hash=prev, hash=digest))
        prev = digest
    db.session.get(AuditHead, 1).hash = prev
    db.session.flush()
    append("管理员", "note", detail={"text": "\x00\x1f\u2028 兰州 " + texts[5][:100], "score": 1e-05})
    db.session.commit()
    count, problems = verify()
    assert count == len(texts) + 1 and problems == []


def test_users_add_prints_a_working_token_last(app, client):
    result = app.test_cli_runner().invoke(args=["users", "add", "lz", "--role", "municipal",
                                                "--jurisdiction", "620100", "--token"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    refused = app.test_cli_runner().invoke(args=["users", "add", "x", "--role", "municipal"])
    assert refused.exit_code != 0 and "jurisdiction" in refused.output
    with_password = app.test_cli_runner().invoke(
        args=["users", "add", "prov", "--role", "provincial", "--password", "--display-name", "张处长"],
        input="s3cret-pass\ns3cret-pass\n")
    assert with_password.exit_code == 0, with_password.output
    from web.accounts.users import sign_in
    assert sign_in("prov", "s3cret-pass").display_name == "张处长"


def test_models_deploy_prints_findings_and_fails_on_errors(app, tmp_path):
    bad = tmp_path / "bad.bpmn"
    bad.write_bytes(SCRIPTED.replace(b'targetRef="end"', b'targetRef="gone"'))
    result = app.test_cli_runner().invoke(args=["models", "deploy", str(bad)])
    assert result.exit_code == 1 and "bad.bpmn:13 [f4]" in result.output
    ok = app.test_cli_runner().invoke(args=["models", "deploy", str(ROOT / "processes")])
    assert ok.exit_code == 0 and "municipal_creation" in ok.output
    again = app.test_cli_runner().invoke(args=["models", "deploy", str(ROOT / "processes")])
    assert "already deployed" in again.output


def test_the_demo_seeds_accounts_and_cases(app, client):
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "demo-lanzhou" in result.output
    # a table with a header, each account under it: name, role, city, password, token
    lines = result.output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split() == ["name", "role", "city", "password", "token"])
    lanzhou = next(line for line in lines[header:] if line.split()[0] == "lanzhou")
    assert lanzhou.split()[-2:] == ["green-ladder", "demo-lanzhou"] and "Lanzhou" in lanzhou
    assert lines[header].index("token") == lanzhou.index("demo-lanzhou")  # the token under its header
    tasks = client.get("/api/v1/tasks", headers={"Authorization": "Bearer demo-lanzhou"}).json["tasks"]
    assert tasks and all(t["jurisdiction"] == "620100" for t in tasks)
    db.session.commit()
    seeded = db.session.scalar(db.select(db.func.count()).select_from(ProcessInstance))
    assert seeded >= 3  # the three creation cases, and each procedure's own demo cases
    failed = db.session.scalars(db.select(ProcessInstance.process_id).where(ProcessInstance.status == "error")).all()
    assert failed == []  # a newcomer clicks through cases that run
    assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0  # runs again without duplicating
    db.session.commit()
    assert db.session.scalar(db.select(db.func.count()).select_from(ProcessInstance)) == seeded
