"""The JSON API end to end: deploy, start, list, complete, read — and refusals."""
from __future__ import annotations

import io

from conftest import ROOT, upload
from creation import FACTORY_LEADING, PDF, codes

from engine.db import db
from engine.models import AuditEvent, HumanTask, ModelVersion

CREATION = ROOT / "processes" / "municipal_creation.bpmn"
TABLES = [ROOT / "processes" / f"{name}.dmn" for name in ("evaluation_indicators", "evaluation_pass_marks",
                                                            "agency_yearly_cap", "art18_exclusions")]
REPORT = {
    "organisation_name": "兰州绿源制造有限公司", "unit_type": "green_factory", "credit_code": "91620100MA74XJ2P0P", "evaluation_mode": "self",
}


def deploy_creation(client, users):
    r = upload(client, users("ana", "analyst"), CREATION, *TABLES)
    assert r.status_code == 201, r.json
    return r.json


def self_evaluate(client, headers, instance_id, values=FACTORY_LEADING):
    """The applicant's self-evaluation through the API: the report PDF first, then the form naming it."""
    [task] = client.get(f"/api/v1/tasks?instance={instance_id}", headers=headers).json["tasks"]
    assert task["element"] == "Task_self_green_factory"
    r = client.post(f"/api/v1/tasks/{task['id']}/attachments", headers=headers, content_type="multipart/form-data",
                    data={"field": "report_pdf", "file": (io.BytesIO(PDF), "自评价报告.pdf")})
    assert r.status_code == 201, r.json
    basic, scored = codes("green_factory")
    data = {"basic_requirements": [{"requirement": c, "met": True} for c in basic],
            "indicators": [{"indicator": c, "value": values[c]} for c in scored],
            "report_pdf": r.json["id"], "pledge": True}
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data}, headers=headers)
    assert r.status_code == 200, r.json
    return r.json


def start(client, headers, city="620100"):
    r = client.post("/api/v1/instances", json={"process": "municipal_creation", "data": {"jurisdiction": city}},
                    headers=headers)
    assert r.status_code == 201, r.json
    return r.json


def test_a_case_runs_from_application_to_listing(client, users):
    deployed = deploy_creation(client, users)
    assert deployed["processes"] == ["municipal_creation"]
    firm = users("firm", "applicant")
    inst = start(client, firm)
    assert inst["status"] == "running" and inst["jurisdiction"] == "620100"
    [task] = inst["tasks"]
    assert task["element"] == "Task_submit_report" and task["assignee"] == "firm"
    assert task["form"]["title"].startswith("创建申请")

    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": REPORT}, headers=firm)
    assert r.status_code == 200, r.json
    evaluated = self_evaluate(client, firm, inst["id"])
    assert evaluated["data"]["evaluation"]["score"] == 100 and evaluated["data"]["evaluation"]["verdict"] == "passed"
    lanzhou = users("lz", "municipal", "620100")
    [review] = client.get("/api/v1/tasks", headers=lanzhou).json["tasks"]
    assert review["element"] == "Task_municipal_review" and review["role"] == "municipal"

    r = client.post(f"/api/v1/tasks/{review['id']}/complete",
                    json={"data": {"decision": "approve", "opinion": "符合条件"}}, headers=lanzhou)
    assert r.status_code == 200
    done = client.get(f"/api/v1/instances/{inst['id']}", headers=firm).json
    assert done["status"] == "completed" and done["tasks"] == []
    listed = done["data"]["designation"]
    assert (listed["unit_type"], listed["level"], listed["status"], listed["listed_on"]) == \
        ("green_factory", "municipal", "listed", "2026-03-02")
    from engine.green.models import Designation

    record = db.session.get(Designation, listed["designation_id"])
    assert record.organisation.credit_code == REPORT["credit_code"] and record.organisation.name == "兰州绿源制造有限公司"
    assert (record.instance_id, record.version_id, record.jurisdiction) == (inst["id"], deployed["version"], "620100")
    assert [e.action for e in record.events] == ["listed"] and record.events[0].actor == "lz"
    assert done["version"] == deployed["version"]


def test_a_return_sends_the_case_back_to_the_applicant(client, users):
    deploy_creation(client, users)
    firm = users("firm", "applicant")
    inst = start(client, firm)
    client.post(f"/api/v1/tasks/{inst['tasks'][0]['id']}/complete", json={"data": REPORT}, headers=firm)
    self_evaluate(client, firm, inst["id"])
    lanzhou = users("lz", "municipal", "620100")
    [review] = client.get("/api/v1/tasks", headers=lanzhou).json["tasks"]
    r = client.post(f"/api/v1/tasks/{review['id']}/complete",
                    json={"data": {"decision": "return", "opinion": "请补充能耗数据"}}, headers=lanzhou)
    assert [t["element"] for t in r.json["tasks"]] == ["Task_submit_report"]
    assert client.get("/api/v1/tasks", headers=lanzhou).json["tasks"] == []


def test_a_city_sees_and_acts_on_its_own_cases_only(client, users):
    deploy_creation(client, users)
    firm = users("firm", "applicant")
    inst = start(client, firm, city="620500")  # 天水
    client.post(f"/api/v1/tasks/{inst['tasks'][0]['id']}/complete", json={"data": REPORT}, headers=firm)
    self_evaluate(client, firm, inst["id"])
    tianshui, lanzhou = users("ts", "municipal", "620500"), users("lz", "municipal", "620100")
    [review] = client.get("/api/v1/tasks", headers=tianshui).json["tasks"]
    assert client.get("/api/v1/tasks", headers=lanzhou).json["tasks"] == []
    assert client.get(f"/api/v1/instances/{inst['id']}", headers=lanzhou).status_code == 404
    assert client.get("/api/v1/instances", headers=lanzhou).json["instances"] == []
    r = client.post(f"/api/v1/tasks/{review['id']}/complete",
                    json={"data": {"decision": "approve", "opinion": "同意"}}, headers=lanzhou)
    assert r.status_code == 404  # as on the task page: another city's task is not disclosed
    assert client.get(f"/api/v1/instances/{inst['id']}", headers=tianshui).json["status"] == "running"


def test_a_municipal_user_cannot_start_a_case_for_another_city(client, users):
    deploy_creation(client, users)
    r = client.post("/api/v1/instances", json={"process": "municipal_creation", "data": {"jurisdiction": "620500"}},
                    headers=users("lz", "municipal", "620100"))
    assert r.status_code == 403


def test_only_the_start_lane_role_may_start(client, users):
    deploy_creation(client, users)
    r = client.post("/api/v1/instances", json={"process": "municipal_creation"}, headers=users("ex", "expert"))
    assert r.status_code == 403 and "申报单位" in r.json["error"]


def test_an_applicant_sees_only_its_own_cases_and_tasks(client, users):
    deploy_creation(client, users)
    one, other = users("firm1", "applicant"), users("firm2", "applicant")
    inst = start(client, one)
    assert client.get("/api/v1/tasks", headers=other).json["tasks"] == []
    assert client.get(f"/api/v1/instances/{inst['id']}", headers=other).status_code == 404
    r = client.post(f"/api/v1/tasks/{inst['tasks'][0]['id']}/complete", json={"data": REPORT}, headers=other)
    assert r.status_code == 404


def test_form_errors_name_each_field_and_change_nothing(client, users):
    deploy_creation(client, users)
    firm = users("firm", "applicant")
    inst = start(client, firm)
    task = inst["tasks"][0]["id"]
    bad = {**REPORT, "score": "high", "approved": True, "decision": "approve"}
    del bad["unit_type"]
    r = client.post(f"/api/v1/tasks/{task}/complete", json={"data": bad}, headers=firm)
    assert r.status_code == 422
    fields = r.json["fields"]
    assert set(fields) == {"score", "approved", "decision", "unit_type"}
    assert "not a field of this form" in fields["decision"][0]
    after = client.get(f"/api/v1/instances/{inst['id']}", headers=firm).json
    assert after["revision"] == inst["revision"] and after["tasks"][0]["id"] == task
    assert "decision" not in after["data"]


def test_third_party_evaluation_requires_the_agency(client, users):
    deploy_creation(client, users)
    firm = users("firm", "applicant")
    inst = start(client, firm)
    r = client.post(f"/api/v1/tasks/{inst['tasks'][0]['id']}/complete",
                    json={"data": {**REPORT, "evaluation_mode": "third_party"}}, headers=firm)
    assert r.status_code == 422 and "agency_credit_code" in r.json["fields"]


def test_completing_twice_is_a_conflict(client, users):
    deploy_creation(client, users)
    firm = users("firm", "applicant")
    inst = start(client, firm)
    url = f"/api/v1/tasks/{inst['tasks'][0]['id']}/complete"
    assert client.post(url, json={"data": REPORT}, headers=firm).status_code == 200
    r = client.post(url, json={"data": REPORT}, headers=firm)
    assert r.status_code == 409 and "已办结" in r.json["error"]  # the account's language: Chinese
    # whoever may not see the case learns nothing of its tasks, done or not
    assert client.post(url, json={"data": REPORT}, headers=users("stranger", "applicant")).status_code == 404


def test_unknown_things_are_clear_errors(client, users):
    admin = users("root", "admin")
    r = client.post("/api/v1/instances", json={"process": "no_such_process"}, headers=admin)
    assert r.status_code == 404 and "no_such_process" in r.json["error"]
    assert client.post("/api/v1/tasks/not-a-task/complete", json={"data": {}}, headers=admin).status_code == 404
    r = client.post("/api/v1/tasks/00000000-0000-0000-0000-000000000000/complete", json={"data": {}}, headers=admin)
    assert r.status_code == 404
    assert client.get("/api/v1/instances/999", headers=admin).status_code == 404
    assert client.get("/api/v1/nothing-here", headers=admin).json["error"]


def test_malformed_requests_get_json_errors_never_500(client, users):
    admin = users("root", "admin")
    cases = [
        client.post("/api/v1/instances", data="{not json", headers={**admin, "Content-Type": "application/json"}),
        client.post("/api/v1/instances", json=[1, 2], headers=admin),
        client.post("/api/v1/instances", json={"process": 42}, headers=admin),
        client.post("/api/v1/instances", json={"process": "x", "data": "str"}, headers=admin),
        client.post("/api/v1/instances", json={"process": "x", "data": {"jurisdiction": "999999"}}, headers=admin),
        client.get("/api/v1/tasks?limit=abc", headers=admin),
        client.get("/api/v1/tasks?overdue=maybe", headers=admin),
        client.post("/api/v1/models", data={}, headers=admin, content_type="multipart/form-data"),
        client.get("/api/v1/instances/1/cancel", headers=admin),
        client.post("/api/v1/tasks/x/complete", data=b"\xff\xfe", headers={**admin, "Content-Type": "application/json"}),
    ]
    for r in cases:
        assert 400 <= r.status_code < 500, (r.status_code, r.data[:200])
        assert r.is_json and r.json["error"]


def test_requests_without_a_valid_token_are_refused(client, users):
    assert client.get("/api/v1/tasks").status_code == 401
    assert client.get("/api/v1/tasks", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/v1/tasks", headers={"Authorization": "Basic abc"}).status_code == 401


def test_only_analysts_and_administrators_deploy(client, users):
    assert upload(client, users("lz", "municipal", "620100"), CREATION).status_code == 403


def test_an_oversized_upload_is_refused(app, client, users):
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    big = b"<x>" + b" " * (128 * 1024) + b"</x>"
    r = upload(client, users("ana", "analyst"), ("big.bpmn", big))
    assert r.status_code == 413 and r.is_json


def test_administrator_actions_are_audited(client, users):
    deploy_creation(client, users)
    inst = start(client, users("firm", "applicant"))
    admin = users("root", "admin")
    [task] = client.get("/api/v1/tasks", headers=admin).json["tasks"]
    client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": REPORT}, headers=admin)
    event = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "complete")).one()
    assert event.actor == "root" and event.instance_id == inst["id"] and event.task == "Task_submit_report"
    assert '"evaluation_mode":"self"' in event.detail


def test_task_filters(client, users):
    deploy_creation(client, users)
    firm = users("firm", "applicant")
    a, b = start(client, firm), start(client, firm)
    admin = users("root", "admin")
    assert [t["instance"] for t in client.get(f"/api/v1/tasks?instance={a['id']}", headers=admin).json["tasks"]] == [a["id"]]
    assert len(client.get("/api/v1/tasks?process=municipal_creation", headers=admin).json["tasks"]) == 2
    assert client.get("/api/v1/tasks?role=municipal", headers=admin).json["tasks"] == []
    assert client.get("/api/v1/tasks?overdue=true", headers=admin).json["tasks"] == []
    assert b["id"] != a["id"]


def test_cancel_removes_the_work_from_inboxes(client, users):
    deploy_creation(client, users)
    firm = users("firm", "applicant")
    inst = start(client, firm)
    r = client.post(f"/api/v1/instances/{inst['id']}/cancel", json={"reason": "撤回申请"}, headers=firm)
    assert r.status_code == 200 and r.json["status"] == "cancelled" and r.json["tasks"] == []
    assert db.session.scalar(db.select(db.func.count()).select_from(HumanTask)) == 0
    assert client.post(f"/api/v1/instances/{inst['id']}/cancel", headers=firm).status_code == 409


def test_openapi_document_describes_every_route(app, client):
    import re

    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    # a path's parameters compared by place, not by name
    paths = {re.sub(r"\{[^}]+\}", "{id}", p): ops for p, ops in doc["paths"].items()}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint == "api.openapi":
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "{id}", rule.rule[len("/api/v1"):])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in paths.get(path, {}), f"{method} {path} is not described"


def test_a_message_nothing_waits_for_is_a_conflict(client, users):
    deploy_creation(client, users)
    firm = users("firm", "applicant")
    inst = start(client, firm)
    r = client.post(f"/api/v1/instances/{inst['id']}/messages", json={"name": "incident_report", "payload": {}},
                    headers=firm)
    assert r.status_code == 409 and "incident_report" in r.json["error"]
    assert client.get(f"/api/v1/instances/{inst['id']}", headers=firm).json["revision"] == inst["revision"]


def test_the_landing_page_lists_deployed_procedures(client, users):
    assert "尚未部署流程" in client.get("/").get_data(as_text=True)
    deploy_creation(client, users)
    page = client.get("/").get_data(as_text=True)
    assert "市级绿色制造单位创建" in page and "/api/v1/openapi.json" in page
    # a public page: the procedure by its name, not its process id or its version's hash
    [version] = db.session.scalars(db.select(ModelVersion.id)).all()
    assert "municipal_creation" not in page and version[:8] not in page


def test_a_mistyped_credit_code_is_refused_with_the_reason(client, users):
    deploy_creation(client, users)
    firm = users("firm", "applicant")
    inst = start(client, firm)
    typo = REPORT["credit_code"][:-1] + "Q"
    r = client.post(f"/api/v1/tasks/{inst['tasks'][0]['id']}/complete",
                    json={"data": {**REPORT, "credit_code": typo}}, headers=firm)
    # in the language of the account (Chinese unless its user chose English), as on the pages
    assert r.status_code == 422 and "校验码不符" in r.json["fields"]["credit_code"][0]


UNLANED = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="http://example.org">
<bpmn:process id="%s" isExecutable="true">
<bpmn:startEvent id="start">%s<bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:userTask id="Task_note"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
<bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Task_note"/>
<bpmn:sequenceFlow id="f2" sourceRef="Task_note" targetRef="end"/>
</bpmn:process></bpmn:definitions>"""
NAMED = (b'<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="startRoles" '
         b'value="provincial"/></spiffworkflow:properties></bpmn:extensionElements>')


def test_a_process_drawn_without_lanes_is_started_by_an_administrator_or_the_roles_it_names(client, users):
    assert upload(client, users("ana", "analyst"), ("open.bpmn", UNLANED % (b"unlaned", b"")),
                  ("named.bpmn", UNLANED % (b"named", NAMED))).status_code == 201
    for name, role, city in (("firm", "applicant", None), ("lz", "municipal", "620100"), ("ana", "analyst", None),
                             ("eco", "ecology", None)):
        r = client.post("/api/v1/instances", json={"process": "unlaned"}, headers=users(name, role, city))
        assert r.status_code == 403 and "只有系统管理员可以发起" in r.json["error"], name
    assert client.post("/api/v1/instances", json={"process": "unlaned"}, headers=users("root", "admin")).status_code == 201
    assert client.post("/api/v1/instances", json={"process": "named"}, headers=users("p", "provincial")).status_code == 201
    assert client.post("/api/v1/instances", json={"process": "named"}, headers=users("firm")).status_code == 403
