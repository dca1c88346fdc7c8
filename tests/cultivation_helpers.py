"""Driving the cultivation and adverse-fact diagrams through the engine, for the scenario and page tests."""
from __future__ import annotations

from conftest import ROOT

from engine.db import db
from engine.green.credit_code import check_character
from engine.green.models import User
from engine.models import HumanTask
from engine.runtime import Actor
from web.accounts.users import add_user


def code(n: int, city: str = "620100") -> str:
    """A valid unified social credit code (GB 32100), different for each n."""
    first17 = f"91{city}MA{n:07d}"
    return first17 + check_character(first17)


def deploy(runtime):
    files = {p.name: p.read_bytes() for p in (ROOT / "processes").iterdir()
             if p.name in ("cultivation.bpmn", "adverse_fact.bpmn") or p.suffix == ".dmn"}
    runtime.registry.deploy(files)


CONDITIONS = {
    "green_factory": {"independent_legal_person": True, "manufacturing": True, "meets_standard": True},
    "green_park": {"legal_boundary": True, "management_body": True, "mainly_manufacturing_energy": True,
                   "industrial_value_share": 62.5, "park_cultivation_plan": True,
                   "organises_green_factory_creation": True, "meets_standard": True},
    "green_supply_chain": {"independent_legal_person": True, "industry_leader": True, "creating_green_factory": True,
                           "supplier_cultivation_plan": True, "meets_standard": True},
    "water_saving_enterprise": {"independent_legal_person": True, "manufacturing": True, "meets_standard": True},
    "water_saving_park": {"legal_boundary": True, "management_body": True, "meets_standard": True},
}
PLAN = {"plan_action": "file", "goals": "两年内达到市级绿色工厂水平", "measures": "能源计量改造；光伏屋顶；清洁生产审核",
        "target_year": 2028, "standard": "GB/T 36132 绿色工厂评价通则"}


def nomination(unit_type: str, credit_code: str, name: str = "培育对象有限公司", **changes) -> dict:
    return {"nomination_decision": "nominate", "organisation_name": name, "credit_code": credit_code,
            "unit_type": unit_type, "year": 2026, **CONDITIONS[unit_type], **changes}


def official(city="620100", name=None):
    return Actor(name or f"city-{city}", "municipal", city)


PROVINCE = Actor("province", "provincial")


def people():
    """Officials with passwords for the pages, matching `official()` and PROVINCE."""
    for name, role, city in (("city-620100", "municipal", "620100"), ("city-620500", "municipal", "620500"),
                             ("province", "provincial", None)):
        if db.session.scalar(db.select(User).where(User.name == name)) is None:
            add_user(name, role, city, password="correct-horse")


def task_of(case_id: int) -> HumanTask:
    tasks = db.session.scalars(db.select(HumanTask).where(HumanTask.instance_id == case_id)).all()
    assert len(tasks) == 1, [t.element for t in tasks]
    return tasks[0]


def step(runtime, case_id: int, element: str, data: dict, actor):
    task = task_of(case_id)
    assert task.element == element, (task.element, element)
    return runtime.complete(task.id, data, actor)


def nominate(runtime, unit_type: str, credit_code: str, city="620100", **changes):
    actor = official(city)
    case = runtime.start("cultivation", {}, actor)
    return step(runtime, case.id, "Task_nominate_candidate", nomination(unit_type, credit_code, **changes), actor)


def record_fact(runtime, actor, credit_code: str, kind: str, occurred_on: str, ended_on: str | None = None,
                source: str = "credit_china", name: str = "某企业"):
    case = runtime.start("adverse_fact", {}, actor)
    data = {"organisation_name": name, "credit_code": credit_code, "kind": kind, "occurred_on": occurred_on,
            "source": source, "reference": "信用中国公示 2025-001"}
    if ended_on:
        data["ended_on"] = ended_on
    return step(runtime, case.id, "Task_record_fact", data, actor)
