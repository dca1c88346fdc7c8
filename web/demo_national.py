"""Demo cases of the national round and the awards (演示数据, Arts 16, 25): provincial
units in a few cities, each listed by a process step that also grants its award,
and this year's national round waiting on the consulted departments. Safe to run again."""
from __future__ import annotations

from uuid import UUID

from flask import current_app

from engine.db import db
from engine.green.credit_code import check_character
from engine.green.models import Organisation
from engine.models import HumanTask, ProcessInstance
from engine.registry import collect
from engine.runtime import Actor

# Provincial units listed before this system, entered with their award decision. The
# provincial round (processes/provincial_selection.bpmn) makes such records in normal use.
IMPORT = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Definitions_demo_listing"
  targetNamespace="http://green-ladder.gansu/demo">
<bpmn:process id="demo_provincial_listing" name="演示：录入省级单位及奖励 Demo: a provincial listing and its award" isExecutable="true">
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

# (serial, name, unit type, city): the same enterprise twice shows one award a year
UNITS = [
    (101, "兰州兰石重型装备股份有限公司", "green_factory", "620100"),
    (101, "兰州兰石重型装备股份有限公司", "green_supply_chain", "620100"),
    (102, "天水经济技术开发区管委会", "green_park", "620500"),
    (103, "金昌镍钴新材料有限公司", "green_factory", "620300"),
    (104, "酒泉节水灌溉设备有限公司", "water_saving_enterprise", "620900"),
    (105, "白银有色集团股份有限公司", "green_factory", "620400"),
]
# put forward for national recommendation this year
CONSULTED = {"兰州兰石重型装备股份有限公司", "天水经济技术开发区管委会", "金昌镍钴新材料有限公司"}
ADMIN = Actor("demo", "admin")
PROVINCE = Actor("provincial", "provincial")
ECOLOGY = Actor("ecology", "ecology")


def _code(serial: int, city: str) -> str:
    first17 = f"91{city}MA{serial:07d}"
    return first17 + check_character(first17)


def seed(runtime) -> None:
    if db.session.scalar(db.select(ProcessInstance.id).where(ProcessInstance.process_id == "national_recommendation")
                         .limit(1)) is not None:
        return
    processes = collect([current_app.config["PROCESSES_DIR"]])
    runtime.registry.deploy({"demo_provincial_listing.bpmn": IMPORT, "award_amounts.dmn": processes["award_amounts.dmn"]},
                            actor="demo", note="demo: provincial units listed before this system")
    for serial, name, unit_type, city in UNITS:
        known = db.session.scalar(db.select(Organisation).where(Organisation.credit_code == _code(serial, city)))
        if known is not None and any(d.unit_type == unit_type and d.level == "provincial" for d in known.designations):
            continue
        runtime.start("demo_provincial_listing", {
            "credit_code": _code(serial, city), "organisation_name": name, "unit_type": unit_type,
            "decision": "甘肃省省级绿色制造单位名单（演示）"}, ADMIN, city)

    case = runtime.start("national_recommendation", {}, PROVINCE)
    shortlist = db.session.scalar(db.select(HumanTask).where(HumanTask.instance_id == case.id))
    if shortlist is None:  # the case stopped (e.g. no holiday calendar for this year): leave it to be seen
        return
    eligible = runtime.read_workflow(case.id).get_task_from_id(UUID(shortlist.id)).data["eligible"]
    rows = [{**{k: e[k] for k in ("designation_id", "organisation_name", "unit_type", "jurisdiction")},
             "consult": e["organisation_name"] in CONSULTED and e["unit_type"] != "green_supply_chain"}
            for e in eligible]
    runtime.complete(shortlist.id, {"shortlist": rows}, PROVINCE)
    # the ecology department has answered, with one objection; the other two are still to answer
    task = db.session.scalar(db.select(HumanTask).where(HumanTask.instance_id == case.id,
                                                        HumanTask.element == "Task_consult_ecology"))
    if task is None:
        return
    candidates = runtime.read_workflow(case.id).get_task_from_id(UUID(task.id)).data["candidates"]
    runtime.complete(task.id, {"ecology_opinions": [
        {**{k: c[k] for k in ("designation_id", "organisation_name", "unit_type")},
         **({"opinion": "objection", "reason": "2025年尾矿库渗漏被责令整改，尚未验收销号"}
            if c["organisation_name"].startswith("金昌") else {"opinion": "no_objection"})} for c in candidates]},
        ECOLOGY)
