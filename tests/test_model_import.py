"""Diagrams drawn elsewhere (Camunda Modeler, Signavio, bpmn.io): they deploy, or each element
this engine cannot run is named with file, line, element and the reason; the same through the
CLI, the API and the modeler's import page."""
from __future__ import annotations

from conftest import MODELS, ROOT, upload
from lxml import etree

from engine.db import db
from engine.model_registry import collect
from engine.models import HumanTask
from engine.runtime import Actor

FOREIGN = MODELS / "foreign"


def findings(registry, name):
    return registry.check(collect([FOREIGN / name])).findings


def line_of(name, element_id):
    doc = etree.parse(str(FOREIGN / name))
    return doc.xpath("//*[@id=$i]", i=element_id)[0].sourceline


def test_each_unsupported_element_of_a_camunda_diagram_is_named_with_its_reason(runtime):
    name = "camunda_unsupported.bpmn"
    errors = {f.element: f for f in findings(runtime.registry, name) if f.severity == "error"}
    expected = {
        "Gateway_outcome": "complex gateway is not supported",
        "Event_compensate_fetch": "compensation events are not supported",
        "Event_rectified": "conditional events are not supported",
        "Activity_score": "script format 'javascript' cannot run",
        "Flow_pass": "condition '${score >= 60}' is not a Python expression",
        "Flow_fail": "condition '${score < 60}' is not a Python expression",
        "Event_wait_review": 'timer expression P90D is Python: quote it, as "P90D"',
        "Activity_fetch_records": "A Service Task must have an operator",
    }
    assert set(errors) == set(expected)
    for element, reason in expected.items():
        assert reason in errors[element].message, element
        assert errors[element].file == name
    for element in ("Gateway_outcome", "Activity_score", "Event_wait_review"):
        assert errors[element].line is not None and errors[element].line >= line_of(name, element)
    assert errors["Gateway_outcome"].line == line_of(name, "Gateway_outcome")


def test_a_camunda_pool_with_lanes_deploys_and_its_lanes_give_the_roles(runtime):
    name = "camunda_pool_lanes.bpmn"
    found = findings(runtime.registry, name)
    assert [f for f in found if f.severity == "error"] == []
    ignored = {(f.element, f.message.split("=")[0].removeprefix("本引擎忽略 ")) for f in found}
    assert ("Activity_review", "camunda:assignee") in ignored
    assert ("Activity_submit", "camunda:formKey") in ignored
    version, created = runtime.registry.deploy(collect([FOREIGN / name]), actor="ana")
    assert created and version.processes == ["city_review_camunda"]
    case = runtime.start("city_review_camunda", {}, Actor("firm", "applicant"), "620100")
    first = db.session.scalar(db.select(HumanTask).where(HumanTask.instance_id == case.id))
    assert (first.element, first.role) == ("Activity_submit", "applicant")
    runtime.complete(first.id, {}, Actor("firm", "applicant"))
    review = db.session.scalar(db.select(HumanTask).where(HumanTask.instance_id == case.id))
    # camunda:assignee="demo" is not who does it: the lane 市级工业和信息化主管部门 is
    assert (review.element, review.role, review.jurisdiction, review.assignee) == (
        "Activity_review", "municipal", "620100", None)


def test_a_signavio_collaboration_deploys_its_executable_pool_and_names_the_other(runtime):
    name = "signavio_two_pools.bpmn"
    found = findings(runtime.registry, name)
    assert [f for f in found if f.severity == "error"] == []
    [warning] = [f for f in found if f.element == "sid-process-enterprise"]
    assert "not executable" in warning.message and warning.severity == "warning"
    version, _ = runtime.registry.deploy(collect([FOREIGN / name]), actor="ana")
    assert version.processes == ["sid-process-province"]


def test_a_bpmn_io_diagram_that_is_not_executable_is_refused_with_the_way_to_fix_it(runtime):
    [error] = [f for f in findings(runtime.registry, "bpmnio_not_executable.bpmn") if f.severity == "error"]
    assert error.element == "Process_0vzw0x1" and 'set isExecutable="true"' in error.message


def test_the_api_refuses_the_same_elements_with_the_same_reasons(client, users):
    r = upload(client, users("ana", "admin"), FOREIGN / "camunda_unsupported.bpmn")
    assert r.status_code == 422
    refused = {e["element"] for e in r.json["errors"] if e["severity"] == "error"}
    assert {"Gateway_outcome", "Event_compensate_fetch", "Event_rectified", "Flow_pass"} <= refused


def test_the_cli_check_says_the_same(app):
    result = app.test_cli_runner().invoke(args=["models", "check", str(FOREIGN / "camunda_unsupported.bpmn")])
    assert result.exit_code != 0
    # no reader to choose a language: both halves
    assert "[Gateway_outcome] 本引擎（SpiffWorkflow 3.2）不支持复杂网关" in result.output
    assert "(complex gateway is not supported" in result.output
    assert "[Event_rectified] 此处不支持条件事件" in result.output


def test_a_disconnected_step_is_an_error_on_that_step(runtime):
    files = collect([ROOT / "processes" / "provincial_selection.bpmn", ROOT / "processes" / "art18_exclusions.dmn",
                     ROOT / "processes" / "agency_yearly_cap.dmn"])
    broken = files["provincial_selection.bpmn"].replace(
        b'<bpmn:sequenceFlow id="Flow_wait_notice" sourceRef="Service_publish_notice" targetRef="Timer_notice_ends" />',
        b"")
    assert broken != files["provincial_selection.bpmn"]
    check = runtime.registry.check({**files, "provincial_selection.bpmn": broken})
    errors = {f.element: f.message for f in check.errors}
    assert list(errors) == ["Timer_notice_ends"]
    assert "no sequence flow leads to '公示期满'" in errors["Timer_notice_ends"]
    assert any(f.element == "Service_publish_notice" and f.severity == "warning"
               and "no sequence flow leaves" in f.message for f in check.findings)
