"""Demo cases of the national round and the awards (演示数据, Arts 16, 25): provincial
units in a few cities, listed before this system with their awards (`demo_listing`),
and this year's national round waiting on the consulted departments. Safe to run again.

Which year the round is for is the process's to say (the year of the next 31 July,
MIIT's deadline: from August on, next year's); the ecology department's objection
cites a fact of the year before the demo is seeded."""
from __future__ import annotations

from uuid import UUID

from engine import clock
from engine.db import db
from engine.green.credit_code import check_character
from engine.green.models import Organisation
from engine.models import HumanTask, ProcessInstance
from engine.runtime import Actor

from . import listing

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
    listing.deploy(runtime)
    for serial, name, unit_type, city in UNITS:
        known = db.session.scalar(db.select(Organisation).where(Organisation.credit_code == _code(serial, city)))
        if known is not None and any(d.unit_type == unit_type and d.level == "provincial" for d in known.designations):
            continue
        listing.list_provincial(runtime, ADMIN, city, _code(serial, city), name, unit_type,
                                     "甘肃省省级绿色制造单位名单（演示）")

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
         **({"opinion": "objection", "reason": f"{clock.now().year - 1}年尾矿库渗漏被责令整改，尚未验收销号"}
            if c["organisation_name"].startswith("金昌") else {"opinion": "no_objection"})} for c in candidates]},
        ECOLOGY)
