"""Model validation: every finding with file, line and element; hardened XML."""
from __future__ import annotations

import pytest
from conftest import ROOT, upload

from engine.green import service_operations
from engine.green.roles import role_for_lane
from engine.model_registry import Registry, collect

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
        'id="d" targetNamespace="http://example.org">\n')


def bpmn(body: str, pid="p") -> bytes:
    return (HEAD + f'<bpmn:process id="{pid}" isExecutable="true">\n' + body +
            "\n</bpmn:process>\n</bpmn:definitions>\n").encode()


LINE = """<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:userTask id="work" name="Work"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
<bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
<bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end"/>"""


@pytest.fixture
def registry():
    service_operations.register()  # as the app factory does: the diagrams call them
    return Registry(ROOT / "forms", role_for_lane)


def only(findings, severity="error"):
    return [f for f in findings if f.severity == severity]


def test_the_shipped_processes_have_no_errors(registry):
    result = registry.check(collect([ROOT / "processes"]))
    assert result.errors == [], [str(f) for f in result.errors]
    assert "municipal_creation" in result.processes


def test_malformed_xml_names_file_and_line(registry):
    content = bpmn(LINE).replace(b'<bpmn:endEvent id="end">', b'<bpmn:endEvent id="end"')
    [f] = registry.check({"broken.bpmn": content}).findings
    assert f.file == "broken.bpmn" and f.line == 6 and "well-formed" in f.message


def test_every_schema_error_is_reported(registry):
    content = bpmn(LINE.replace(' sourceRef="start"', "").replace(' targetRef="end"', ""))
    errors = only(registry.check({"xsd.bpmn": content}).findings)
    assert len(errors) == 2
    assert {e.element for e in errors} == {"f1", "f2"}
    assert {e.line for e in errors} == {7, 8}
    assert all("sourceRef" in e.message or "targetRef" in e.message for e in errors)


def test_a_dangling_reference_names_the_element_and_its_line(registry):
    content = bpmn(LINE.replace('targetRef="end"', 'targetRef="nowhere"'))
    errors = only(registry.check({"dangling.bpmn": content}).findings)
    assert errors, "a flow to a missing element must not pass"
    [e] = errors
    assert e.file == "dangling.bpmn" and e.line == 8 and e.element == "f2" and "'nowhere'" in e.message


def test_a_call_activity_to_an_unknown_process_is_refused(registry):
    body = LINE.replace('<bpmn:userTask id="work" name="Work">', '<bpmn:callActivity id="work" calledElement="ghost">') \
               .replace("</bpmn:userTask>", "</bpmn:callActivity>")
    errors = only(registry.check({"call.bpmn": bpmn(body)}).findings)
    assert errors and "ghost" in " ".join(e.message for e in errors)


def test_external_entities_are_not_read(registry, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    content = (
        f'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>\n'
    ).encode() + bpmn(LINE.replace('name="Work"', 'name="&x;"')).split(b"\n", 1)[1]
    findings = registry.check({"xxe.bpmn": content}).findings
    assert only(findings)
    assert all("TOP-SECRET" not in f.message for f in findings)


def test_a_file_that_is_not_bpmn_or_dmn_is_named(registry):
    [f] = registry.check({"note.bpmn": b"<html><body/></html>"}).findings
    assert f.file == "note.bpmn" and "not a BPMN" in f.message


def test_lint_missing_form_is_an_error_unknown_lane_and_no_default_are_warnings(registry):
    body = """<bpmn:laneSet id="ls"><bpmn:lane id="lane_x" name="Somebody">
<bpmn:flowNodeRef>work</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:userTask id="work"><bpmn:extensionElements><spiffworkflow:properties>
<spiffworkflow:property name="formJsonSchemaFilename" value="missing.json"/>
</spiffworkflow:properties></bpmn:extensionElements>
<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
<bpmn:exclusiveGateway id="gw"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing><bpmn:outgoing>f4</bpmn:outgoing></bpmn:exclusiveGateway>
<bpmn:endEvent id="e1"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
<bpmn:endEvent id="e2"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
<bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="gw"/>
<bpmn:sequenceFlow id="f3" sourceRef="gw" targetRef="e1"><bpmn:conditionExpression>x == 1</bpmn:conditionExpression></bpmn:sequenceFlow>
<bpmn:sequenceFlow id="f4" sourceRef="gw" targetRef="e2"><bpmn:conditionExpression>x == 2</bpmn:conditionExpression></bpmn:sequenceFlow>"""
    findings = registry.check({"lint.bpmn": bpmn(body)}).findings
    [form] = only(findings)
    assert form.element == "work" and form.line == 8 and "missing.json" in form.message
    warnings = {f.element: f for f in only(findings, "warning")}
    assert set(warnings) == {"lane_x", "gw"}
    assert warnings["lane_x"].line == 4 and "Somebody" in warnings["lane_x"].message
    assert "default" in warnings["gw"].message


def timer_process(expression: str) -> bytes:
    return bpmn(f"""<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
<bpmn:timerEventDefinition id="t"><bpmn:timeDuration>{expression}</bpmn:timeDuration></bpmn:timerEventDefinition>
</bpmn:intermediateCatchEvent>
<bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
<bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end"/>""")


def test_timer_expressions_are_evaluated(registry):
    assert registry.check({"ok.bpmn": timer_process('"P90D"')}).findings == []
    [unquoted] = registry.check({"t.bpmn": timer_process("P90D")}).findings
    assert unquoted.severity == "error" and unquoted.element == "wait" and unquoted.line == 6
    assert 'quote it' in unquoted.message
    [not_iso] = registry.check({"t.bpmn": timer_process('"ninety days"')}).findings
    assert not_iso.severity == "error" and "ISO 8601" in not_iso.message
    [from_data] = registry.check({"t.bpmn": timer_process("rectification_period")}).findings
    assert from_data.severity == "warning" and "rectification_period" in from_data.message


DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="awards" name="Awards" namespace="http://example.org">
  <decision id="award_amount" name="Award amount">
    <decisionTable id="table">
      <input id="in_level" label="Level"><inputExpression id="ie" typeRef="string"><text>level</text></inputExpression></input>
      <output id="out_amount" label="Amount" name="amount" typeRef="number"/>
      <rule id="rule_national"><inputEntry id="i1"><text>"national"</text></inputEntry><outputEntry id="o1"><text>1000000</text></outputEntry></rule>
      <rule id="rule_bad"><inputEntry id="i2"><text>"provincial</text></inputEntry><outputEntry id="o2"><text>500000</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>
"""


def test_a_dmn_cell_that_is_not_an_expression_is_an_error(registry):
    errors = only(registry.check({"awards.dmn": DMN.encode()}).findings)
    assert [(e.element, e.line) for e in errors] == [("rule_bad", 8)]
    assert "provincial" in errors[0].message


def test_a_dmn_table_is_tried_on_a_sample_of_its_own_values(registry):
    good = DMN.replace('"provincial</text>', '"provincial"</text>')
    assert registry.check({"awards.dmn": good.encode()}).findings == []
    mixed = good.replace('<text>"provincial"</text>', "<text>&gt; 5</text>")  # a number test on a text column
    [e] = registry.check({"awards.dmn": mixed.encode()}).findings
    assert (e.element, e.line, e.severity) == ("rule_bad", 8, "error")
    assert "'national'" in e.message and "row 2" in e.message


def test_a_plain_bpmn_file_from_another_modeler_has_no_errors(registry):
    assert registry.check({"plain.bpmn": bpmn(LINE)}).findings == []


# ---------------------------------------------------------------- deployment over HTTP
def test_deploy_reports_errors_with_file_line_element(client, users):
    content = bpmn(LINE.replace('targetRef="end"', 'targetRef="nowhere"'))
    r = upload(client, users("ana", "analyst"), ("bad.bpmn", content))
    assert r.status_code == 422
    [e] = r.json["errors"]
    assert e["file"] == "bad.bpmn" and e["line"] == 8 and e["element"] == "f2" and e["message"]


def test_xml_with_an_external_entity_is_refused_over_http(client, users, tmp_path):
    secret = tmp_path / "s.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    content = f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]><d>&x;</d>'.encode()
    r = upload(client, users("ana", "analyst"), ("xxe.bpmn", content))
    assert r.status_code == 422 and b"TOP-SECRET" not in r.data


def test_the_same_content_deploys_once(client, users):
    ana = users("ana", "analyst")
    first = upload(client, ana, ("plain.bpmn", bpmn(LINE)))
    again = upload(client, ana, ("plain.bpmn", bpmn(LINE)))
    assert first.status_code == 201 and again.status_code == 200
    assert first.json["version"] == again.json["version"] and again.json["created"] is False


def test_a_running_case_keeps_its_version(client, users):
    ana, admin = users("ana", "analyst"), users("root", "admin")
    v1 = upload(client, ana, ("plain.bpmn", bpmn(LINE))).json["version"]
    old = client.post("/api/v1/instances", json={"process": "p"}, headers=admin).json
    changed = LINE.replace('name="Work"', 'name="Work, renamed"')
    v2 = upload(client, ana, ("plain.bpmn", bpmn(changed))).json["version"]
    assert v1 != v2
    new = client.post("/api/v1/instances", json={"process": "p"}, headers=admin).json
    assert (old["version"], new["version"]) == (v1, v2)
    assert old["tasks"][0]["name"] == "Work" and new["tasks"][0]["name"] == "Work, renamed"
    r = client.post(f"/api/v1/tasks/{old['tasks'][0]['id']}/complete", json={"data": {"note": "x"}}, headers=admin)
    assert r.json["status"] == "completed" and r.json["version"] == v1


def test_a_plain_bpmn_file_deploys_and_runs_for_its_starter(client, users):
    upload(client, users("ana", "analyst"), ("plain.bpmn", bpmn(LINE)))
    firm, admin = users("firm", "applicant"), users("root", "admin")
    # no lane names who starts it: an administrator does, no one else (an analyst adds startRoles for more)
    assert client.post("/api/v1/instances", json={"process": "p"}, headers=firm).status_code == 403
    inst = client.post("/api/v1/instances", json={"process": "p"}, headers=admin).json
    [task] = client.get("/api/v1/tasks", headers=admin).json["tasks"]
    assert task["form"] is None and task["assignee"] == "root"
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"anything": [1, 2]}}, headers=admin)
    assert r.status_code == 200 and r.json["status"] == "completed" and r.json["data"]["anything"] == [1, 2]
    assert inst["id"] == r.json["id"]


def test_a_form_uploaded_with_the_model_is_part_of_its_version(client, users):
    body = LINE.replace('<bpmn:userTask id="work" name="Work">', '<bpmn:userTask id="work" name="Work">'
                        '<bpmn:extensionElements><spiffworkflow:properties>'
                        '<spiffworkflow:property name="formJsonSchemaFilename" value="note.json"/>'
                        '</spiffworkflow:properties></bpmn:extensionElements>')
    form = b'{"type": "object", "properties": {"note": {"type": "string"}}, "required": ["note"]}'
    ana, admin = users("ana", "analyst"), users("root", "admin")
    assert upload(client, ana, ("p.bpmn", bpmn(body))).status_code == 422  # the form is not in forms/
    assert upload(client, ana, ("p.bpmn", bpmn(body)), ("note.json", form)).status_code == 201
    inst = client.post("/api/v1/instances", json={"process": "p"}, headers=admin).json
    assert inst["tasks"][0]["form"]["required"] == ["note"]
    r = client.post(f"/api/v1/tasks/{inst['tasks'][0]['id']}/complete", json={"data": {"note": 5}}, headers=admin)
    assert r.status_code == 422 and "note" in r.json["fields"]


def test_an_element_with_the_engines_own_start_id_is_refused(registry):
    content = bpmn(LINE.replace('id="start"', 'id="Start"').replace('sourceRef="start"', 'sourceRef="Start"'))
    errors = only(registry.check({"start.bpmn": content}).findings)
    assert [(e.element, e.line) for e in errors] == [("Start", 4)]
    assert "reserved" in errors[0].message


def test_a_service_task_naming_no_operation_is_refused(registry):
    body = LINE.replace('<bpmn:userTask id="work" name="Work">', '<bpmn:serviceTask id="work"><bpmn:extensionElements>'
                        '<spiffworkflow:serviceTaskOperator id="designation.lsit"><spiffworkflow:parameters/>'
                        '</spiffworkflow:serviceTaskOperator></bpmn:extensionElements>').replace(
        "</bpmn:userTask>", "</bpmn:serviceTask>")
    [e] = only(registry.check({"svc.bpmn": bpmn(body)}).findings)
    assert e.element == "work" and "designation.lsit" in e.message and "designation.list" in e.message


# ---------------------------------------------------------------- data a diagram reads and writes
def test_a_multi_instance_with_neither_cardinality_nor_input_collection_is_refused(registry):
    body = LINE.replace('</bpmn:userTask>', '<bpmn:multiInstanceLoopCharacteristics>'
                        '<bpmn:outputDataItem id="score" name="score"/></bpmn:multiInstanceLoopCharacteristics>'
                        '</bpmn:userTask>')
    [e] = only(registry.check({"mi.bpmn": bpmn(body)}).findings)
    assert (e.file, e.line, e.element) == ("mi.bpmn", 5, "work")
    assert "must specify a cardinality or a loop input data reference" in e.message


SCRIPTED = """<bpmn:startEvent id="start"/>
<bpmn:scriptTask id="measure" name="Measure"><bpmn:script>readings = [1, 2]
total = sum(r for r in readings)</bpmn:script></bpmn:scriptTask>
<bpmn:scriptTask id="retry" name="Retry">
<bpmn:standardLoopCharacteristics><bpmn:loopCondition>not approved</bpmn:loopCondition></bpmn:standardLoopCharacteristics>
<bpmn:script>tries = 1</bpmn:script></bpmn:scriptTask>
<bpmn:exclusiveGateway id="gw" default="f_low"/>
<bpmn:endEvent id="high"/><bpmn:endEvent id="low"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="measure"/>
<bpmn:sequenceFlow id="f2" sourceRef="measure" targetRef="retry"/>
<bpmn:sequenceFlow id="f3" sourceRef="retry" targetRef="gw"/>
<bpmn:sequenceFlow id="f_high" sourceRef="gw" targetRef="high">
<bpmn:conditionExpression>total &gt; limit and all(r &gt; 0 for r in readings)</bpmn:conditionExpression></bpmn:sequenceFlow>
<bpmn:sequenceFlow id="f_low" sourceRef="gw" targetRef="low"/>"""


def test_a_loop_or_gateway_condition_naming_data_nothing_sets_is_a_warning(registry):
    findings = registry.check({"data.bpmn": bpmn(SCRIPTED)}).findings
    assert only(findings) == []
    warned = {f.element: f for f in only(findings, "warning")}
    assert set(warned) == {"retry", "f_high"}
    assert warned["retry"].line == 8 and "loop condition 'not approved' reads approved" in warned["retry"].message
    # what a script sets, a comprehension binds or a builtin provides is not named
    assert "reads limit, which no step of the process sets" in warned["f_high"].message
    # set by the start data the process names, or by a decision of the same deployment: silent
    started = SCRIPTED.replace('<bpmn:startEvent id="start"/>',
                               '<bpmn:startEvent id="start"><bpmn:extensionElements><spiffworkflow:properties>'
                               '<spiffworkflow:property name="startData" value="limit approved"/>'
                               '</spiffworkflow:properties></bpmn:extensionElements></bpmn:startEvent>')
    assert registry.check({"data.bpmn": bpmn(started)}).findings == []


def test_a_process_with_a_task_that_may_submit_anything_gets_no_such_warning(registry):
    # a user task without a form may submit any data: the lint cannot say what is never set
    open_ended = SCRIPTED.replace('<bpmn:endEvent id="high"/>', '<bpmn:userTask id="ask"/><bpmn:endEvent id="high"/>')
    open_ended = open_ended.replace('targetRef="high">', 'targetRef="ask">').replace(
        '<bpmn:sequenceFlow id="f_low"', '<bpmn:sequenceFlow id="f_ask" sourceRef="ask" targetRef="high"/>'
                                         '<bpmn:sequenceFlow id="f_low"')
    assert only(registry.check({"open.bpmn": bpmn(open_ended)}).findings, "warning") == []


def test_the_shipped_processes_get_no_data_warnings(registry):
    findings = registry.check(collect([ROOT / "processes"])).findings
    assert [str(f) for f in findings if "no step of the process sets" in f.message
            or "data object" in f.message] == []


DATA_REFS = """<bpmn:dataObject id="report"/>
<bpmn:dataObjectReference id="Ref_report" dataObjectRef="report"/>
<bpmn:startEvent id="start"/>
<bpmn:scriptTask id="compute"><bpmn:ioSpecification>
<bpmn:dataInput id="energy"/><bpmn:dataOutput id="intensity"/>
<bpmn:inputSet id="ins"><bpmn:dataInputRefs>energy</bpmn:dataInputRefs></bpmn:inputSet>
<bpmn:outputSet id="outs"><bpmn:dataOutputRefs>intensity</bpmn:dataOutputRefs></bpmn:outputSet>
</bpmn:ioSpecification>
<bpmn:dataOutputAssociation id="write"><bpmn:targetRef>Ref_report</bpmn:targetRef></bpmn:dataOutputAssociation>
<bpmn:script>report = energy
intensity = energy</bpmn:script></bpmn:scriptTask>
<bpmn:endEvent id="end"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="compute"/>
<bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="end"/>"""


@pytest.mark.parametrize("old, new, line, element, message", [
    ('dataObjectRef="report"', 'dataObjectRef="reprot"', 5, "Ref_report",
     "data object reference 'Ref_report' names no data object 'reprot'"),
    ("<bpmn:dataInputRefs>energy<", "<bpmn:dataInputRefs>power<", 9, "compute",
     "input set ins lists 'power', which is no data input of this io specification"),
    ("<bpmn:dataOutputRefs>intensity<", "<bpmn:dataOutputRefs>energy<", 10, "compute",
     "output set outs lists 'energy', which is no data output of this io specification"),
    ("<bpmn:targetRef>Ref_report<", "<bpmn:targetRef>Ref_gone<", 12, "compute",
     "data output association write refers to 'Ref_gone', which is not an element of this document"),
])
def test_a_data_input_or_output_referring_to_nothing_is_refused(registry, old, new, line, element, message):
    assert registry.check({"refs.bpmn": bpmn(DATA_REFS)}).findings == []
    [e] = only(registry.check({"refs.bpmn": bpmn(DATA_REFS.replace(old, new))}).findings)
    assert (e.file, e.line, e.element) == ("refs.bpmn", line, element)
    assert message in e.message


READ_FIRST = """<bpmn:dataObject id="report"/>
<bpmn:dataObjectReference id="Ref_in" dataObjectRef="report"/>
<bpmn:dataObjectReference id="Ref_out" dataObjectRef="report"/>
<bpmn:startEvent id="start"/>
<bpmn:scriptTask id="check" name="Check report"><bpmn:property id="p1" name="__targetRef_placeholder"/>
<bpmn:dataInputAssociation id="read"><bpmn:sourceRef>Ref_in</bpmn:sourceRef><bpmn:targetRef>p1</bpmn:targetRef>
</bpmn:dataInputAssociation><bpmn:script>ok = True</bpmn:script></bpmn:scriptTask>
<bpmn:scriptTask id="write" name="Write report">
<bpmn:dataOutputAssociation id="out"><bpmn:targetRef>Ref_out</bpmn:targetRef></bpmn:dataOutputAssociation>
<bpmn:script>report = 1</bpmn:script></bpmn:scriptTask>
<bpmn:endEvent id="end"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="A"/>
<bpmn:sequenceFlow id="f2" sourceRef="A" targetRef="B"/>
<bpmn:sequenceFlow id="f3" sourceRef="B" targetRef="end"/>"""


def test_a_data_object_read_before_any_step_writes_it_is_a_warning(registry):
    read_first = READ_FIRST.replace('"A"', '"check"').replace('"B"', '"write"')
    [w] = registry.check({"order.bpmn": bpmn(read_first)}).findings
    assert (w.severity, w.line, w.element) == ("warning", 9, "check")
    assert "'Check report' reads the data object 'report', which no step before it writes" in w.message
    written_first = READ_FIRST.replace('"A"', '"write"').replace('"B"', '"check"')
    assert registry.check({"order.bpmn": bpmn(written_first)}).findings == []
    # an event subprocess may start after any step: its reading is not judged
    in_event_subprocess = (READ_FIRST.replace('"A"', '"write"').replace('"B"', '"end"')
                           .replace('<bpmn:sequenceFlow id="f3" sourceRef="end" targetRef="end"/>', '')
                           .replace('<bpmn:scriptTask id="check"', '<bpmn:subProcess id="esp" triggeredByEvent="true">'
                                    '<bpmn:startEvent id="esp_start"><bpmn:messageEventDefinition id="m"/>'
                                    '</bpmn:startEvent><bpmn:scriptTask id="check"')
                           .replace('<bpmn:script>ok = True</bpmn:script></bpmn:scriptTask>',
                                    '<bpmn:script>ok = True</bpmn:script></bpmn:scriptTask>'
                                    '<bpmn:endEvent id="esp_end"/>'
                                    '<bpmn:sequenceFlow id="f_esp" sourceRef="esp_start" targetRef="check"/>'
                                    '<bpmn:sequenceFlow id="f_esp_end" sourceRef="check" targetRef="esp_end"/>'
                                    '</bpmn:subProcess>'))
    found = registry.check({"esp.bpmn": bpmn(in_event_subprocess)}).findings
    assert [f for f in found if "data object" in f.message] == [] and only(found) == []


def test_data_findings_reach_the_analyst_who_deploys(client, users):
    r = upload(client, users("ana", "analyst"), ("data.bpmn", bpmn(SCRIPTED)))
    assert r.status_code == 201, r.json
    assert {w["element"] for w in r.json["warnings"]} == {"retry", "f_high"}
    r = upload(client, users("ana", "analyst"), ("refs.bpmn", bpmn(DATA_REFS.replace('"report"/>', '"rep"/>', 1))))
    assert r.status_code == 422
    assert [(e["file"], e["element"]) for e in r.json["errors"]] == [("refs.bpmn", "Ref_report")]
