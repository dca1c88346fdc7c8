"""Provincial units listed before this system (演示：历史省级名单), for the demo seeders
that need some: each is recorded by one step through `designation.list`, like any
listing (so it gets its lifecycle case), with its award granted as Art 25 says. In
normal use the provincial round (processes/provincial_selection.bpmn) makes these
records; the demo cannot wait out a round's public notice."""
from __future__ import annotations

from flask import current_app

from engine.model_registry import collect
from engine.runtime import SYSTEM, Actor

PROCESS = "demo_provincial_listing"
DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Definitions_demo_provincial_listing"
  targetNamespace="http://green-ladder.gansu/demo">
<bpmn:process id="demo_provincial_listing" name="演示：录入历史省级单位及奖励 Demo: a provincial listing from before this system, and its award" isExecutable="true">
<bpmn:startEvent id="Start_demo"><bpmn:outgoing>Flow_demo_list</bpmn:outgoing></bpmn:startEvent>
<bpmn:serviceTask id="Service_demo_list" name="登记称号 List"><bpmn:extensionElements>
  <spiffworkflow:serviceTaskOperator id="designation.list" resultVariable="designation"><spiffworkflow:parameters>
    <spiffworkflow:parameter id="credit_code" type="str" value="credit_code"/>
    <spiffworkflow:parameter id="name" type="str" value="organisation_name"/>
    <spiffworkflow:parameter id="unit_type" type="str" value="unit_type"/>
    <spiffworkflow:parameter id="level" type="str" value="&quot;provincial&quot;"/>
    <spiffworkflow:parameter id="jurisdiction" type="str" value="jurisdiction"/>
    <spiffworkflow:parameter id="decision" type="str" value="decision"/>
  </spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements>
  <bpmn:incoming>Flow_demo_list</bpmn:incoming><bpmn:outgoing>Flow_demo_award</bpmn:outgoing></bpmn:serviceTask>
<bpmn:serviceTask id="Service_demo_award" name="核定奖励 Award"><bpmn:extensionElements>
  <spiffworkflow:serviceTaskOperator id="award.grant" resultVariable="award"><spiffworkflow:parameters>
    <spiffworkflow:parameter id="designation_id" type="int" value="designation[&quot;designation_id&quot;]"/>
  </spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements>
  <bpmn:incoming>Flow_demo_award</bpmn:incoming><bpmn:outgoing>Flow_demo_end</bpmn:outgoing></bpmn:serviceTask>
<bpmn:endEvent id="End_demo"><bpmn:incoming>Flow_demo_end</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="Flow_demo_list" sourceRef="Start_demo" targetRef="Service_demo_list"/>
<bpmn:sequenceFlow id="Flow_demo_award" sourceRef="Service_demo_list" targetRef="Service_demo_award"/>
<bpmn:sequenceFlow id="Flow_demo_end" sourceRef="Service_demo_award" targetRef="End_demo"/>
</bpmn:process></bpmn:definitions>""".encode()


def deploy(runtime) -> None:
    """Deploy the listing diagram with the award table it calls (deploying it again changes nothing)."""
    award_amounts = collect([current_app.config["PROCESSES_DIR"]])["award_amounts.dmn"]
    runtime.registry.deploy({"demo_provincial_listing.bpmn": DIAGRAM, "award_amounts.dmn": award_amounts},
                            actor="demo", note="demo: provincial units listed before this system")


def list_provincial(runtime, party: Actor, city: str, credit_code: str, name: str, unit_type: str,
                    decision: str) -> int:
    """List one provincial unit in `city`; `party` becomes the case's own party, so an
    applicant account given here is the unit's account in its later procedures. The system
    lists it on the party's behalf: the diagram has no lanes, so no applicant may start it."""
    case = runtime.start(PROCESS, {"credit_code": credit_code, "organisation_name": name, "unit_type": unit_type,
                                   "decision": decision}, SYSTEM, city, party=party.name)
    return case.data["designation"]["designation_id"]
