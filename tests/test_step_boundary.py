"""Every step has one boundary (步骤边界): whatever a diagram's data makes SpiffWorkflow raise,
on start, completion, a timer, a message or a retry, the caller gets the case held in
`error` (element, message, data named) or a 422 naming the field, never a 500 and never a
half-written step; a case that nothing can move is an error too. An administrator corrects
the data, with a reason, and runs it again, over the API or on the case page."""
from __future__ import annotations

from conftest import ROOT, upload
from webclient import post_form, sign_in

from engine.db import db
from engine.models import AuditEvent
from web.accounts.users import add_user

DIAGRAMS = ROOT / "tests" / "conformance"
MI_WITHOUT_LIST = DIAGRAMS / "error_mi_input_missing.bpmn"
IO_OUTPUT = DIAGRAMS / "error_io_spec_output_missing.bpmn"

# The task that must set `verdict`, with a form that has no such field: no submission can give it.
FORM_WITHOUT_VERDICT = IO_OUTPUT.read_bytes().replace(
    b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"',
    b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    b'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"').replace(
    b'<bpmn:userTask id="Task_decide" name="Decide">',
    b'<bpmn:userTask id="Task_decide" name="Decide"><bpmn:extensionElements><spiffworkflow:properties>'
    b'<spiffworkflow:property name="formJsonSchemaFilename" value="decide.json"/>'
    b'</spiffworkflow:properties></bpmn:extensionElements>')
DECIDE_FORM = b'{"type": "object", "title": "Decide", "properties": {"note": {"type": "string"}}}'


def waits_then_reviews(event: str) -> bytes:
    """A case that waits for a timer or a message, then reviews with one expert per `experts`."""
    catch = {"timer": '<bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration>'
                      '</bpmn:timerEventDefinition>',
             "message": '<bpmn:messageEventDefinition messageRef="Message_experts"/>'}[event]
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://example.org">
<bpmn:message id="Message_experts" name="experts_named"/>
<bpmn:process id="wait_then_review" isExecutable="true">
<bpmn:startEvent id="Start_case"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:intermediateCatchEvent id="Catch_wait"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
{catch}</bpmn:intermediateCatchEvent>
<bpmn:userTask id="Task_review" name="Expert review"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
<bpmn:multiInstanceLoopCharacteristics><bpmn:loopDataInputRef>experts</bpmn:loopDataInputRef>
<bpmn:inputDataItem id="expert" name="expert"/></bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>
<bpmn:endEvent id="End_case"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="Start_case" targetRef="Catch_wait"/>
<bpmn:sequenceFlow id="f2" sourceRef="Catch_wait" targetRef="Task_review"/>
<bpmn:sequenceFlow id="f3" sourceRef="Task_review" targetRef="End_case"/>
</bpmn:process></bpmn:definitions>""".encode()


def events(instance_id, action):
    db.session.rollback()
    return db.session.scalars(db.select(AuditEvent).where(
        AuditEvent.instance_id == instance_id, AuditEvent.action == action).order_by(AuditEvent.seq)).all()


def test_a_multi_instance_without_its_list_starts_in_error_and_an_administrator_corrects_it(client, users):
    upload(client, users("ana", "analyst"), MI_WITHOUT_LIST)
    admin = users("root", "admin")
    r = client.post("/api/v1/instances", json={"process": "cf_err_mi_input_missing", "data": {}}, headers=admin)
    assert r.status_code == 201, r.json
    case = r.json
    assert case["status"] == "error" and case["tasks"] == []
    assert case["error"]["element"] == "Task_review" and "experts" in case["error"]["message"]
    assert [c["id"] for c in client.get("/api/v1/instances?status=error", headers=admin).json["instances"]] \
        == [case["id"]]

    url = f"/api/v1/instances/{case['id']}/retry"
    assert client.post(url, json={"data": {"experts": ["a"]}, "reason": "x"},
                       headers=users("firm", "applicant")).status_code == 404  # not their case
    r = client.post(url, json={"data": {"experts": ["张工", "李工"]}}, headers=admin)
    assert r.status_code == 422 and list(r.json["fields"]) == ["reason"]  # a correction says why
    r = client.post(url, json={"data": {"experts": ["张工", "李工"]}, "reason": "申报时漏填专家名单"}, headers=admin)
    assert r.status_code == 200
    assert r.json["status"] == "running" and r.json["error"] is None
    assert [t["element"] for t in r.json["tasks"]] == ["Task_review", "Task_review"]
    [retry] = events(case["id"], "retry")
    assert retry.actor == "root" and "申报时漏填专家名单" in retry.detail and "张工" in retry.detail


def test_an_administrator_corrects_and_retries_a_case_on_its_page(app, client, users):
    upload(client, users("ana", "analyst"), MI_WITHOUT_LIST)
    case = client.post("/api/v1/instances", json={"process": "cf_err_mi_input_missing", "data": {}},
                       headers=users("root", "admin")).json
    page = f"/cases/{case['id']}"
    add_user("guan", "admin", password="correct-horse")
    add_user("prov", "provincial", password="correct-horse")

    official = app.test_client()
    sign_in(official, "prov")
    shown = official.get(page).get_data(as_text=True)
    assert "Expert review" in shown and "experts" in shown and 'id="retry-form"' not in shown
    assert post_form(official, f"{page}/retry", {"data": '{"experts": ["a"]}', "reason": "x"}, page).status_code == 403

    sign_in(client, "guan")
    shown = client.get(page).get_data(as_text=True)
    assert 'id="retry-form"' in shown and "更正并重试" in shown
    r = post_form(client, f"{page}/retry", {"data": '["not", "an", "object"]', "reason": "漏填"}, page)
    assert r.status_code == 422 and "JSON 对象" in r.get_data(as_text=True)
    assert "漏填" in r.get_data(as_text=True)  # the entries are kept
    r = post_form(client, f"{page}/retry", {"data": '{"experts": ["张工"]}', "reason": ""}, page)
    assert r.status_code == 422 and "须写明原因" in r.get_data(as_text=True)
    r = post_form(client, f"{page}/retry", {"data": '{"experts": ["张工"]}', "reason": "漏填专家名单"}, page)
    assert r.status_code == 303
    shown = client.get(page).get_data(as_text=True)
    assert "已重试，案件继续办理" in shown and 'id="retry-form"' not in shown and "重试" in shown


def test_a_completion_that_leaves_out_what_the_task_must_set_is_refused_naming_the_field(client, users):
    upload(client, users("ana", "analyst"), IO_OUTPUT)
    admin = users("root", "admin")
    case = client.post("/api/v1/instances", json={"process": "cf_err_io_output"}, headers=admin).json
    [task] = case["tasks"]
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"note": "seen"}}, headers=admin)
    assert r.status_code == 422 and list(r.json["fields"]) == ["verdict"]
    after = client.get(f"/api/v1/instances/{case['id']}", headers=admin).json
    assert (after["status"], after["revision"], [t["id"] for t in after["tasks"]]) == \
        ("running", case["revision"], [task["id"]])  # nothing of the step was kept
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"verdict": "approve"}}, headers=admin)
    assert r.status_code == 200 and r.json["status"] == "completed" and r.json["data"]["verdict"] == "approve"


def test_a_completion_no_form_can_correct_holds_the_case_until_an_administrator_corrects_its_data(client, users):
    upload(client, users("ana", "analyst"), ("decide.bpmn", FORM_WITHOUT_VERDICT), ("decide.json", DECIDE_FORM))
    admin = users("root", "admin")
    case = client.post("/api/v1/instances", json={"process": "cf_err_io_output"}, headers=admin).json
    [task] = case["tasks"]
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"note": "seen"}}, headers=admin)
    assert r.status_code == 200
    assert r.json["status"] == "error" and r.json["error"]["element"] == "Task_decide"
    assert "verdict" in r.json["error"]["message"]
    assert r.json["revision"] == case["revision"] + 1  # the error alone was written: the task still waits
    assert [t["id"] for t in r.json["tasks"]] == [task["id"]]
    [error] = events(case["id"], "error")
    assert error.actor == "root" and error.task == "Task_decide" and "verdict" in error.detail

    r = client.post(f"/api/v1/instances/{case['id']}/retry",
                    json={"data": {"verdict": "approve"}, "reason": "表单缺少结论栏，按会议纪要补录"}, headers=admin)
    assert r.status_code == 200 and r.json["status"] == "running" and r.json["error"] is None
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"note": "seen"}}, headers=admin)
    assert r.status_code == 200 and r.json["status"] == "completed" and r.json["data"]["verdict"] == "approve"


def test_a_timer_that_runs_into_bad_data_holds_the_case(client, users):
    r = upload(client, users("ana", "analyst"), ("wait.bpmn", waits_then_reviews("timer")))
    assert r.status_code == 201, r.json
    admin = users("root", "admin")
    case = client.post("/api/v1/instances", json={"process": "wait_then_review"}, headers=admin).json
    assert case["status"] == "waiting" and case["next_timer"] is not None
    r = client.post("/api/v1/clock", json={"advance": "PT2H"}, headers=admin)
    assert r.status_code == 200
    after = client.get(f"/api/v1/instances/{case['id']}", headers=admin).json
    assert after["status"] == "error" and after["error"]["element"] == "Task_review"
    assert "experts" in after["error"]["message"] and after["next_timer"] is None
    [error] = events(case["id"], "error")
    assert error.actor == "system" and '"step":"timer"' in error.detail
    assert client.post("/api/v1/clock", json={"advance": "P1D"}, headers=admin).json["fired"] == []  # held, not woken
    r = client.post(f"/api/v1/instances/{case['id']}/retry",
                    json={"data": {"experts": ["王工", "赵工"]}, "reason": "专家名单由处室补录"}, headers=admin)
    assert r.status_code == 200 and [t["element"] for t in r.json["tasks"]] == ["Task_review"] * 2


def test_a_message_that_runs_into_bad_data_holds_the_case(client, users):
    upload(client, users("ana", "analyst"), ("wait.bpmn", waits_then_reviews("message")))
    admin = users("root", "admin")
    case = client.post("/api/v1/instances", json={"process": "wait_then_review"}, headers=admin).json
    assert case["status"] == "waiting"
    r = client.post(f"/api/v1/instances/{case['id']}/messages", json={"name": "experts_named", "payload": {}},
                    headers=admin)
    assert r.status_code == 200
    assert r.json["status"] == "error" and r.json["error"]["element"] == "Task_review"
    # the step was rolled back with the message: the correction is made, and the sender sends it again
    r = client.post(f"/api/v1/instances/{case['id']}/retry",
                    json={"data": {"experts": ["王工"]}, "reason": "消息未带专家名单"}, headers=admin)
    assert r.status_code == 200 and r.json["status"] == "waiting" and r.json["error"] is None
    r = client.post(f"/api/v1/instances/{case['id']}/messages", json={"name": "experts_named", "payload": {}},
                    headers=admin)
    assert r.status_code == 200 and [t["element"] for t in r.json["tasks"]] == ["Task_review"]


def test_a_case_nothing_can_move_is_an_error_not_a_silent_wait(client, users):
    upload(client, users("ana", "analyst"), DIAGRAMS / "error_stall_join.bpmn",
           DIAGRAMS / "error_sequential_mi_input_missing.bpmn", DIAGRAMS / "error_loop_condition_unset.bpmn")
    admin = users("root", "admin")
    stalled = client.post("/api/v1/instances", json={"process": "cf_err_stall_join", "data": {"desk_only": False}},
                          headers=admin).json
    assert stalled["status"] == "error"
    assert stalled["error"] == {"element": "Gateway_join", "message": "本案没有任何步骤可以推进"}
    for process, element, name in [("cf_err_seq_mi_input_missing", "Task_review", "experts"),
                                   ("cf_err_loop_condition", "Task_tally", "rounds_left")]:
        case = client.post("/api/v1/instances", json={"process": process}, headers=admin).json
        assert case["status"] == "error" and case["error"]["element"] == element
        assert name in case["error"]["message"]
    # a retry that changes nothing leaves it in error, and says so again
    r = client.post(f"/api/v1/instances/{stalled['id']}/retry", headers=admin)
    assert r.status_code == 200 and r.json["error"]["message"] == "本案没有任何步骤可以推进"


def test_on_the_task_page_a_completion_the_case_cannot_take_keeps_the_entries_and_says_why(app, client, users):
    upload(client, users("ana", "analyst"), ("decide.bpmn", FORM_WITHOUT_VERDICT), ("decide.json", DECIDE_FORM))
    case = client.post("/api/v1/instances", json={"process": "cf_err_io_output"}, headers=users("root", "admin")).json
    [task] = case["tasks"]
    add_user("guan", "admin", password="correct-horse")
    sign_in(client, "guan")
    page = f"/tasks/{task['id']}"
    r = post_form(client, page, {"action": "submit", "note": "现场已核查"}, page)
    shown = r.get_data(as_text=True)
    assert r.status_code == 200 and "已交管理员处理" in shown and "Decide" in shown and "verdict" in shown
    assert "现场已核查" in shown  # the entries are kept
    assert client.get(page).status_code == 200  # the task still waits


def test_a_case_held_after_a_rolled_back_step_moves_to_a_fixed_version_and_is_retried_there(client, users):
    """The analyst fixes the diagram (two expert reviews by cardinality when no list is given);
    the held case moves to it, still in error, and the administrator's retry runs it there."""
    analyst, admin = users("ana", "analyst"), users("root", "admin")
    old = upload(client, analyst, MI_WITHOUT_LIST).json["version"]
    case = client.post("/api/v1/instances", json={"process": "cf_err_mi_input_missing"}, headers=admin).json
    assert case["status"] == "error"
    fixed = MI_WITHOUT_LIST.read_bytes().replace(
        b"<bpmn:loopDataInputRef>experts</bpmn:loopDataInputRef>",
        b"<bpmn:loopCardinality>2</bpmn:loopCardinality>")
    new = upload(client, analyst, ("error_mi_input_missing.bpmn", fixed)).json["version"]
    url = "/api/v1/processes/cf_err_mi_input_missing/migration"
    [planned] = client.get(f"{url}?from={old}&to={new}", headers=analyst).json["cases"]
    assert planned["outcome"] == "movable"
    [moved] = client.post(url, json={"from": old, "to": new}, headers=analyst).json["cases"]
    assert moved["outcome"] == "migrated" and moved["status"] == "error"  # held until it is retried
    r = client.post(f"/api/v1/instances/{case['id']}/retry", headers=admin)
    assert r.status_code == 200 and r.json["version"] == new and r.json["status"] == "running"
    assert [t["element"] for t in r.json["tasks"]] == ["Task_review", "Task_review"]
