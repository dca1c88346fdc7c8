"""The diff between two versions (版本差异): what an analyst sees as added, removed, changed."""
from __future__ import annotations

from conftest import MODELS, ROOT

from engine.model_diff import diff_files, diff_versions

NOTICE = (MODELS / "modeler_public_notice.bpmn").read_text(encoding="utf-8")
DMN = (ROOT / "tests" / "conformance" / "award_by_level.dmn").read_text(encoding="utf-8")


def by_element(changes):
    return {c.element: c for c in changes}


def test_a_changed_notice_length_is_one_change_of_the_timer_with_before_and_after():
    longer = NOTICE.replace("working_days_after(notice_published, 5)", "working_days_after(notice_published, 10)")
    changes = diff_files("n.bpmn", NOTICE, longer)
    assert len(changes) == 1
    change = changes[0]
    assert (change.element, change.change, change.kind) == ("Timer_notice_period", "changed", "intermediateCatchEvent")
    assert change.name == "公示期满 Notice period over"


def test_the_expression_is_reported_with_its_old_and_new_text():
    longer = NOTICE.replace("working_days_after(notice_published, 5)", "working_days_after(notice_published, 10)")
    [change] = diff_files("n.bpmn", NOTICE, longer)
    assert {"what": "timerEventDefinition/timeDate", "before": "end_of_day(working_days_after(notice_published, 5))",
            "after": "end_of_day(working_days_after(notice_published, 10))"} in change.details


def test_a_step_added_with_its_flows_and_one_removed():
    added = NOTICE.replace(
        '<bpmn:sequenceFlow id="Flow_to_end" sourceRef="Task_list_units" targetRef="End_listed" />',
        '<bpmn:sequenceFlow id="Flow_to_end" sourceRef="Task_list_units" targetRef="Task_announce" />'
        '<bpmn:userTask id="Task_announce" name="公告 Announce" />'
        '<bpmn:sequenceFlow id="Flow_announced" sourceRef="Task_announce" targetRef="End_listed" />')
    changes = by_element(diff_files("n.bpmn", NOTICE, added))
    assert changes["Task_announce"].change == "added" and changes["Task_announce"].name == "公告 Announce"
    assert changes["Flow_announced"].change == "added"
    assert changes["Flow_to_end"].change == "changed"
    assert {"what": "@targetRef", "before": "End_listed", "after": "Task_announce"} in changes["Flow_to_end"].details
    back = by_element(diff_files("n.bpmn", added, NOTICE))
    assert back["Task_announce"].change == "removed" and back["Flow_announced"].change == "removed"


def test_moving_a_shape_is_not_a_change_of_the_procedure():
    moved = NOTICE.replace('<dc:Bounds x="560" y="120" width="110" height="80" />',
                           '<dc:Bounds x="580" y="140" width="110" height="80" />')
    assert moved != NOTICE
    assert diff_files("n.bpmn", NOTICE, moved) == []


def test_a_changed_time_limit_property_names_the_property():
    with_limit = NOTICE.replace(
        '<bpmn:userTask id="Task_list_units" name="列入名单 List the units">',
        '<bpmn:userTask id="Task_list_units" name="列入名单 List the units"><bpmn:extensionElements>'
        '<spiffworkflow:properties><spiffworkflow:property name="dueDate" value="working_days_after(today(), 5)" />'
        '</spiffworkflow:properties></bpmn:extensionElements>')
    changed = with_limit.replace("working_days_after(today(), 5)", "working_days_after(today(), 3)")
    [change] = diff_files("n.bpmn", with_limit, changed)
    assert change.element == "Task_list_units"
    assert change.details == [{"what": "extensionElements/spiffworkflow:properties/spiffworkflow:property[dueDate]@value",
                               "before": "working_days_after(today(), 5)", "after": "working_days_after(today(), 3)"}]


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
    assert diff_versions({"n.bpmn": NOTICE.encode()}, {"n.bpmn": NOTICE.encode()}) == []


def test_an_attribute_written_out_at_its_default_value_is_no_change():
    # dmn-js leaves out hitPolicy="UNIQUE" when it saves a table: the same table
    assert diff_files("a.dmn", DMN, DMN.replace(' hitPolicy="UNIQUE"', "")) == []
    [change] = diff_files("a.dmn", DMN, DMN.replace('hitPolicy="UNIQUE"', 'hitPolicy="FIRST"'))
    assert change.details == [{"what": "@hitPolicy", "before": "UNIQUE", "after": "FIRST"}]
