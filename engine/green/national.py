"""The province's yearly recommendation to MIIT (国家级绿色制造单位推荐, Arts 5, 16).

The province picks candidates among its current provincial green factories,
parks and supply-chain enterprises, consults the ecology-environment,
emergency-management and market-regulation departments, selects, submits to
MIIT by 31 July, and records MIIT's decision with the platform's reference
numbers. Each candidate's path is kept as a `NationalRecommendation`.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine import clock, services
from engine.db import db
from engine.models import Aware
from engine.services import ServiceError, StepContext

from . import rounds
from .models import UNIT_TYPES, Designation, Organisation
from .national_types import NATIONAL_UNIT_TYPES

# What became of a candidate of a round.
OUTCOMES = {
    "submitted": ("已报送工信部", "Submitted to MIIT"),
    "not_recommended": ("省级未推荐", "Not recommended by the province"),
    "refused": ("推荐时核查不予推荐", "Refused on recommendation (Art 18 or Art 23)"),
    "missed": ("未按期报送", "Not submitted by 31 July"),
    "listed": ("工信部公布为国家级", "Listed nationally by MIIT"),
    "not_selected": ("工信部未入选", "Not selected by MIIT"),
}


class NationalRecommendation(db.Model):
    """One provincial designation considered in a year's national round (国家级推荐)."""

    __tablename__ = "national_recommendation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    instance_id: Mapped[int] = mapped_column(Integer, index=True)  # the round's case
    designation_id: Mapped[int] = mapped_column(ForeignKey("designation.id"), index=True)  # the provincial one
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    unit_type: Mapped[str] = mapped_column(String(40))
    jurisdiction: Mapped[str | None] = mapped_column(String(12))
    consultation: Mapped[dict] = mapped_column(JSON)  # department → {opinion, reason}
    keep_reason: Mapped[str | None] = mapped_column(Text)  # why the province kept an objected candidate
    # why it could not be recommended: the Art 18 facts, or its evaluation report refused under Art 23
    refused_reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    submitted_on: Mapped[date | None] = mapped_column(Date)
    decided_on: Mapped[date | None] = mapped_column(Date)
    platform_reference: Mapped[str | None] = mapped_column(String(40))
    national_designation_id: Mapped[int | None] = mapped_column(ForeignKey("designation.id"))
    updated_at: Mapped[datetime] = mapped_column(Aware())
    organisation: Mapped[Organisation] = relationship()


def _unit_types(value) -> list[str]:
    types = list(value or [])
    if not types:
        raise ServiceError("请列明本轮的单位类型 (name the unit types of this round)")
    for t in types:
        if t not in UNIT_TYPES:
            raise ServiceError(f"未知的单位类型 {t!r} (unknown unit type {t!r})")
        if t not in NATIONAL_UNIT_TYPES:
            raise ServiceError(f"{UNIT_TYPES[t][0]}（{t}）没有国家级：节水型企业和园区只实行省市联动（第二条）；请将其移出本轮 ({UNIT_TYPES[t][1]} ({t}) has no national level: water-saving enterprises and "
                               "parks are linked province-city only (Art 2); remove it from the round)")
    return types


def candidate(designation: Designation) -> dict:
    org = designation.organisation
    return {"designation_id": designation.id, "organisation_name": org.name, "credit_code": org.credit_code,
            "unit_type": designation.unit_type, "jurisdiction": designation.jurisdiction,
            "listed_on": designation.listed_on.isoformat()}


def eligible(params: dict, step: StepContext) -> list[dict]:
    """The provincial designations that may be recommended: listed, provincial,
    of the round's types, not already national for the same type, and not a
    candidate of another open national round (last year's, still waiting for
    MIIT): MIIT's decision there would list it, and this round's would fail."""
    types = _unit_types(params.get("unit_types"))
    elsewhere = rounds.open_rounds_holding("national_recommendation", step.instance_id)
    provincial, national = db.aliased(Designation), db.aliased(Designation)
    already = db.exists().where(national.organisation_id == provincial.organisation_id,
                                national.unit_type == provincial.unit_type, national.level == "national",
                                national.status == "listed")
    rows = db.session.scalars(db.select(provincial).where(
        provincial.level == "provincial", provincial.status == "listed", provincial.unit_type.in_(types), ~already)
        .order_by(provincial.jurisdiction, provincial.unit_type, provincial.id)).all()
    return [candidate(d) for d in rows if str(d.id) not in elsewhere]


def _by_id(rows, what: str) -> dict:
    out = {}
    for row in rows or []:
        if not isinstance(row, dict) or "designation_id" not in row:
            raise ServiceError(f"{what}：每行须有 designation_id ({what}: every row needs its designation_id)")
        out[row["designation_id"]] = row
    return out


def record_selection(params: dict, step: StepContext) -> list[dict]:
    """Record the consulted candidates with the departments' opinions and the
    province's choice; `submitted_on` empty means the 31 July deadline passed.
    A candidate the province chose but that an Art 18 fact bars or whose national
    evaluation report Art 23 refuses (`refused`: designation id -> the reasons, from
    the diagram's checks) is recorded as refused, with them.
    Returns the candidates submitted to MIIT, for recording its decision."""
    year = int(params.get("round_year") or 0)
    consulted = _by_id(params.get("consulted"), "consulted")
    selection = _by_id(params.get("selection"), "selection")
    submitted_on = params.get("submitted_on")
    submitted_on = date.fromisoformat(str(submitted_on)) if submitted_on else None
    refused = {int(k): v for k, v in (params.get("refused") or {}).items()}
    if set(selection) != set(consulted):
        raise ServiceError("遴选结果须对每个征求意见的候选单位作出答复 (the selection must answer for every consulted candidate)")
    out = []
    for designation_id, row in consulted.items():
        designation = db.session.get(Designation, designation_id)
        if designation is None:
            raise ServiceError(f"没有认定记录 {designation_id} (no designation {designation_id})")
        chosen = selection[designation_id]
        keep = bool(chosen.get("recommend"))
        if keep and row.get("objected") and not (chosen.get("keep_reason") or "").strip():
            raise ServiceError(f"{row.get('organisation_name')}：被提出异议的候选单位须说明理由方可保留 ({row.get('organisation_name')}: an objected candidate is kept only with a reason)")
        status = "not_recommended" if not keep else ("submitted" if submitted_on else "missed")
        if designation_id in refused:
            status, keep = "refused", False
        db.session.add(NationalRecommendation(
            year=year, instance_id=step.instance_id, designation_id=designation_id,
            organisation_id=designation.organisation_id, unit_type=designation.unit_type,
            jurisdiction=designation.jurisdiction, consultation=row.get("opinions") or {},
            keep_reason=(chosen.get("keep_reason") or None) if keep else None, status=status,
            refused_reason=refused.get(designation_id),
            submitted_on=submitted_on if keep else None, updated_at=clock.now()))
        if status == "submitted":
            out.append({k: row.get(k) for k in ("designation_id", "organisation_name", "unit_type")})
    return out


def record_decision(params: dict, step: StepContext) -> dict:
    """Record MIIT's decision on each submitted candidate: listed (with the
    national designation made for it and its platform number) or not selected."""
    decisions = _by_id(params.get("decisions"), "decisions")
    made = {(d.get("organisation_id"), d.get("unit_type")): d for d in params.get("national_designations") or []
            if isinstance(d, dict)}
    today = clock.now().date()
    rows = db.session.scalars(db.select(NationalRecommendation).where(
        NationalRecommendation.instance_id == step.instance_id,
        NationalRecommendation.status == "submitted")).all()
    if {r.designation_id for r in rows} != set(decisions):
        raise ServiceError("须为每个已报送的候选单位记录工业和信息化部的决定 (MIIT's decision must be recorded for every submitted candidate)")
    listed = not_selected = 0
    for r in rows:
        decision = decisions[r.designation_id]
        if decision.get("outcome") == "listed":
            national = made.get((r.organisation_id, r.unit_type))
            if national is None:
                raise ServiceError(f"认定 {r.designation_id} 已列入工业和信息化部名单，但未作出国家级认定 (designation {r.designation_id} was listed by MIIT but no national "
                                   "designation was made for it)")
            r.status, r.national_designation_id = "listed", national["designation_id"]
            r.platform_reference = national.get("platform_reference")
            listed += 1
        else:
            r.status = "not_selected"
            not_selected += 1
        r.decided_on, r.updated_at = today, clock.now()
    return {"listed": listed, "not_selected": not_selected}


def register() -> None:
    services.OPERATIONS.update({
        "national.eligible": eligible,
        "national.record_selection": record_selection,
        "national.record_decision": record_decision,
    })
