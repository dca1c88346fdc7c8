"""The diff between two versions (版本差异): what an analyst sees as added, removed, changed."""
from __future__ import annotations

from conftest import ROOT

from engine.model_diff import diff_files, diff_versions

NOTICE = (ROOT / "processes" / "provincial_selection.bpmn").read_text(encoding="utf-8")
DMN = (ROOT / "tests" / "conformance" / "award_by_level.dmn").read_text(encoding="utf-8")
FIVE = '<spiffworkflow:parameter id="working_days" type="int" value="5" />'
TEN = FIVE.replace('value="5"', 'value="10"')


def by_element(changes):
    return {c.element: c for c in changes}


def test_a_changed_notice_length_is_one_change_of_the_service_task_with_before_and_after():
    # the parameter has an id of its own, yet it is the service task's setting: the task is what changed
    [change] = diff_files("p.bpmn", NOTICE, NOTICE.replace(FIVE, TEN))
    assert (change.element, change.change, change.kind) == ("Service_publish_notice", "changed", "serviceTask")
    assert change.name == "网上公示"
    assert change.details == [{
        "what": "extensionElements/spiffworkflow:serviceTaskOperator[notice.publish]/spiffworkflow:parameters"
                "/spiffworkflow:parameter[working_days]@value", "before": "5", "after": "10"}]


def test_a_changed_timer_expression_is_a_change_of_its_event():
    later = NOTICE.replace('notice["ends_at"]', 'notice["ends_at"] + timedelta(days=1)')
    [change] = diff_files("p.bpmn", NOTICE, later)
    assert (change.element, change.kind, change.name) == ("Timer_notice_ends", "intermediateCatchEvent",
                                                          "公示期满")
    assert change.details == [{"what": "timerEventDefinition/timeDate", "before": 'notice["ends_at"]',
                               "after": 'notice["ends_at"] + timedelta(days=1)'}]


def test_a_step_added_with_its_flows_and_one_removed():
    added = NOTICE.replace(
        '<bpmn:sequenceFlow id="Flow_announced" sourceRef="Service_announce_revocations" targetRef="End_listed" />',
        '<bpmn:sequenceFlow id="Flow_announced" sourceRef="Service_announce_revocations" targetRef="Task_announce" />'
        '<bpmn:userTask id="Task_announce" name="公告 Announce" />'
        '<bpmn:sequenceFlow id="Flow_after_announcing" sourceRef="Task_announce" targetRef="End_listed" />')
    changes = by_element(diff_files("p.bpmn", NOTICE, added))
    assert changes["Task_announce"].change == "added" and changes["Task_announce"].name == "公告 Announce"
    assert changes["Flow_after_announcing"].change == "added"
    assert changes["Flow_announced"].change == "changed"
    assert {"what": "@targetRef", "before": "End_listed", "after": "Task_announce"} in changes["Flow_announced"].details
    back = by_element(diff_files("p.bpmn", added, NOTICE))
    assert back["Task_announce"].change == "removed" and back["Flow_after_announcing"].change == "removed"


def test_moving_a_shape_is_not_a_change_of_the_procedure():
    moved = NOTICE.replace('<dc:Bounds x="1640" y="100" width="120" height="80" />',
                           '<dc:Bounds x="1660" y="120" width="120" height="80" />')
    assert moved != NOTICE
    assert diff_files("p.bpmn", NOTICE, moved) == []


def test_a_flow_deleted_and_restored_at_the_end_of_its_gateways_list_is_no_change():
    # bpmn-js undoes a deleted flow by adding it back last among the gateway's outgoing flows
    restored = NOTICE.replace("<bpmn:outgoing>Flow_to_notice</bpmn:outgoing>\n      <bpmn:outgoing>Flow_none_passed",
                              "<bpmn:outgoing>Flow_none_passed</bpmn:outgoing>\n      <bpmn:outgoing>Flow_to_notice")
    assert restored != NOTICE
    assert diff_files("p.bpmn", NOTICE, restored) == []
    rerouted = NOTICE.replace("<bpmn:outgoing>Flow_none_passed</bpmn:outgoing>", "")
    [change] = diff_files("p.bpmn", NOTICE, rerouted)
    assert change.element == "Gateway_any_passed"
    assert change.details == [{"what": "outgoing", "before": "Flow_none_passed, Flow_to_notice",
                               "after": "Flow_to_notice"}]


def test_a_changed_time_limit_property_names_the_property():
    shorter = NOTICE.replace("end_of_day(working_days_after(today(), 15))", "end_of_day(working_days_after(today(), 10))")
    [change] = diff_files("p.bpmn", NOTICE, shorter)
    assert change.element == "Task_investigate"
    assert change.details == [{"what": "extensionElements/spiffworkflow:properties/spiffworkflow:property[dueDate]@value",
                               "before": "end_of_day(working_days_after(today(), 15))",
                               "after": "end_of_day(working_days_after(today(), 10))"}]


def test_a_task_changed_inside_a_subprocess_marks_the_task_not_the_subprocess():
    before = ('<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D">'
              '<bpmn:process id="p" isExecutable="true"><bpmn:subProcess id="Sub">'
              '<bpmn:task id="Inner" name="a" /></bpmn:subProcess></bpmn:process></bpmn:definitions>')
    after = before.replace('name="a"', 'name="b"')
    [change] = diff_files("s.bpmn", before, after)
    assert change.element == "Inner" and change.details == [{"what": "@name", "before": "a", "after": "b"}]


def test_a_decision_cell_changed_and_a_form_file_changed():
    raised = DMN.replace("<text>100000</text>", "<text>150000</text>")
    changes = diff_versions({"a.dmn": DMN.encode(), "forms/f.json": b"{}"},
                            {"a.dmn": raised.encode(), "forms/f.json": b'{"type": "object"}', "forms/g.json": b"{}"})
    found = by_element(changes)
    assert found["Out_provincial_award"].change == "changed"
    assert found["Out_provincial_award"].details == [{"what": "text", "before": "100000", "after": "150000"}]
    assert found["forms/f.json"].change == "changed" and found["forms/g.json"].change == "added"
    assert len(changes) == 3


def test_identical_versions_have_no_changes():
    assert diff_versions({"p.bpmn": NOTICE.encode()}, {"p.bpmn": NOTICE.encode()}) == []


def test_an_attribute_written_out_at_its_default_value_is_no_change():
    # dmn-js leaves out hitPolicy="UNIQUE" when it saves a table: the same table
    assert diff_files("a.dmn", DMN, DMN.replace(' hitPolicy="UNIQUE"', "")) == []
    [change] = diff_files("a.dmn", DMN, DMN.replace('hitPolicy="UNIQUE"', 'hitPolicy="FIRST"'))
    assert change.details == [{"what": "@hitPolicy", "before": "UNIQUE", "after": "FIRST"}]
