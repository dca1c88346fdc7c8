"""Shared set-up for the national round and award tests: provincial and national
designations made through a process step, as the provincial round makes them
(designation.list, then award.grant), and the diagrams deployed together."""
from __future__ import annotations

from conftest import MODELS, ROOT

from engine.db import db
from engine.green.credit_code import check_character
from engine.green.models import Designation
from engine.models import HumanTask
from engine.runtime import Actor

ADMIN = Actor("registrar", "admin")
PROVINCE = Actor("prov", "provincial")
FILES = {
    "art18_exclusions.dmn": ROOT / "processes" / "art18_exclusions.dmn",
    "agency_yearly_cap.dmn": ROOT / "processes" / "agency_yearly_cap.dmn",
    "national_recommendation.bpmn": ROOT / "processes" / "national_recommendation.bpmn",
    "award_amounts.dmn": ROOT / "processes" / "award_amounts.dmn",
    "listing_with_award.bpmn": MODELS / "listing_with_award.bpmn",
}


def deploy(runtime, **replace):
    files = {name: path.read_bytes() for name, path in FILES.items()}
    files.update(replace)
    return runtime.registry.deploy(files)[0]


def code(n: int, city: str = "620100") -> str:
    first17 = f"91{city}MA{n:07d}"
    return first17 + check_character(first17)


def list_unit(runtime, n, name, unit_type, level="provincial", city="620100", reference=None):
    """List a unit through a process step and grant its award; the case, designation and award."""
    case = runtime.start("listing_with_award", {
        "credit_code": code(n, city), "organisation_name": name, "unit_type": unit_type, "level": level,
        "platform_reference": reference, "decision": f"{name}：公布为{level}"}, ADMIN, city)
    assert case.status == "completed", case.error_message
    db.session.expire_all()
    return case, db.session.get(Designation, case.data["designation"]["designation_id"]), case.data["award"]


def ready(instance_id, element=None) -> list[HumanTask]:
    db.session.rollback()  # a fresh read: pages answered in their own sessions meanwhile
    query = db.select(HumanTask).where(HumanTask.instance_id == instance_id).order_by(HumanTask.element)
    if element:
        query = query.where(HumanTask.element == element)
    return list(db.session.scalars(query))


def task_data(runtime, task: HumanTask) -> dict:
    from uuid import UUID

    return runtime.read_workflow(task.instance_id).get_task_from_id(UUID(task.id)).data
