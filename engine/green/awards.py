"""One-time awards (一次性资金奖励, Art 25) and their ledger (奖励台账).

A unit entering the provincial or national system for the first time gets a
one-time award; within one year a unit receives one award only, however many
types it is listed under (奖励不叠加). The amounts and these rules are the DMN
decision `award_amounts` (processes/award_amounts.dmn), which an analyst edits;
this module gathers the facts the table decides on and records its answer.

Reading of Art 25 applied here (the facts are computed, the consequences are in
the table):
- "first entry" is per unit type and level: a unit already designated (or
  awarded) as that type at that level before gets nothing when listed again;
  a *different* type listed in a later year is a first entry of that type;
- "one award per year" counts every award the unit received in the year of
  the listing, whatever its type or level (`paid_this_year`): the table lets
  the unit keep the higher of two awards by paying only the difference.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine import clock, decisions, services
from engine.db import db
from engine.models import Aware
from engine.services import ServiceError, StepContext

from .models import STATUSES, UNIT_TYPES, Designation, Organisation

DECISION = "award_amounts"


class Award(db.Model):
    """One line of the award ledger (奖励台账): what a listing earned, or why nothing."""

    __tablename__ = "award"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    # one decision per designation: granting again answers with the first decision
    designation_id: Mapped[int] = mapped_column(ForeignKey("designation.id"), unique=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    level: Mapped[str] = mapped_column(String(16))
    unit_type: Mapped[str] = mapped_column(String(40))
    jurisdiction: Mapped[str | None] = mapped_column(String(12), index=True)
    amount: Mapped[int] = mapped_column(Integer)  # yuan; 0 when nothing is due
    reason: Mapped[str] = mapped_column(Text)
    instance_id: Mapped[int | None] = mapped_column(Integer)  # the case whose step granted it
    version_id: Mapped[str | None] = mapped_column(String(64))  # the model version whose table decided
    decided_at: Mapped[datetime] = mapped_column(Aware())
    actor: Mapped[str | None] = mapped_column(String(80))
    organisation: Mapped[Organisation] = relationship()
    designation: Mapped[Designation] = relationship()


def facts_for(designation: Designation) -> dict:
    """What Art 25 turns on, from the registry and the ledger."""
    org_id, year = designation.organisation_id, designation.listed_on.year
    earlier = db.session.scalar(db.select(func.count()).select_from(Designation).where(
        Designation.organisation_id == org_id, Designation.unit_type == designation.unit_type,
        Designation.level == designation.level, Designation.id != designation.id,
        (Designation.listed_on < designation.listed_on)
        | ((Designation.listed_on == designation.listed_on) & (Designation.id < designation.id))))
    awarded_before = db.session.scalar(db.select(func.count()).select_from(Award).where(
        Award.organisation_id == org_id, Award.unit_type == designation.unit_type,
        Award.level == designation.level, Award.amount > 0))
    paid = db.session.scalar(db.select(func.coalesce(func.sum(Award.amount), 0)).where(
        Award.organisation_id == org_id, Award.year == year))
    return {"level": designation.level, "unit_type": designation.unit_type,
            "first_entry": not earlier and not awarded_before, "paid_this_year": int(paid or 0)}


def grant(params: dict, step: StepContext) -> dict:
    """Decide and record the one-time award for a designation just listed.
    Returns the amount (yuan) and the reason, also when nothing is due."""
    try:
        designation = db.session.get(Designation, int(params.get("designation_id")))
    except (TypeError, ValueError):
        designation = None
    if designation is None:
        raise ServiceError(f"没有认定记录 {params.get('designation_id')!r} (no designation {params.get('designation_id')!r})")
    existing = db.session.scalar(db.select(Award).where(Award.designation_id == designation.id))
    if existing is not None:  # a step run again must not pay twice
        return _answer(existing, again=True)
    if designation.status != "listed":
        raise ServiceError(f"认定 {designation.id} 的状态为{STATUSES[designation.status][0]}；只有在册单位才能获得奖励 (designation {designation.id} is {designation.status}; only a listed unit is awarded)")
    # Two rounds listing the same unit at once must not both see "nothing paid this year":
    # the organisation's row is held until this step commits (PostgreSQL; SQLite writes one at a time).
    db.session.get(Organisation, designation.organisation_id, with_for_update=True, populate_existing=True)
    facts = facts_for(designation)
    result = decisions.decide(step.version_id, DECISION, facts)
    if "amount" not in result or not result.get("reason"):
        raise ServiceError(f"决策表「{DECISION}」没有适用于 {facts} 的规则 (the table '{DECISION}' has no rule for {facts})")
    amount = result["amount"]
    if isinstance(amount, float) and amount.is_integer():
        amount = int(amount)
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise ServiceError(f"决策表「{DECISION}」给出的金额为 {amount!r}；金额应为 0 或以上的整数元 (the table '{DECISION}' gave the amount {amount!r}; give whole yuan, 0 or more)")
    award = Award(organisation_id=designation.organisation_id, designation_id=designation.id,
                  year=designation.listed_on.year, level=designation.level, unit_type=designation.unit_type,
                  jurisdiction=designation.jurisdiction, amount=amount, reason=str(result["reason"]),
                  instance_id=step.instance_id, version_id=step.version_id, decided_at=clock.now(),
                  actor=step.actor)
    db.session.add(award)
    db.session.flush()
    return _answer(award)


def _answer(award: Award, again: bool = False) -> dict:
    return {"award_id": award.id, "designation_id": award.designation_id, "year": award.year,
            "amount": award.amount, "paid": award.amount > 0, "reason": award.reason,
            "unit_type": award.unit_type, "unit_type_name": UNIT_TYPES[award.unit_type][0],
            "level": award.level, "already_recorded": again}


def register() -> None:
    services.OPERATIONS["award.grant"] = grant
