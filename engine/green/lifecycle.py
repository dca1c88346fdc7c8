"""Annual dynamic management of a designation (动态管理, Arts 19, 20, 22) and
incident reports (事故报告, Art 20): the records each year leaves and the
service operations `processes/designation_lifecycle.bpmn` calls to write them.

One lifecycle case per designation, from its listing until it ends. Listing
(`designation.list`) asks for the case through the engine's outbox; the case's
first step (`lifecycle.open`) claims the designation, so a second case for the
same designation fails instead of running twice.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine import clock, outbox, services
from engine.db import db
from engine.green.models import User
from engine.models import Aware, ProcessInstance
from engine.services import ServiceError, StepContext

from .models import Designation, DesignationEvent, Organisation

PROCESS = "designation_lifecycle"
CHANGE_KINDS = {  # Art 22: what a unit declares in the table, and the table's fields for it
    "name": ("名称", "name_changed", "new_name"),
    "scope": ("经营范围", "scope_changed", "new_scope"),
    "address": ("地址", "address_changed", "new_address"),
    "boundary": ("组织边界", "boundary_changed", "new_boundary"),
}
# The fields of forms/dynamic_management_table.json (Annex 6) a filing keeps (a test keeps them in step).
TABLE_FIELDS = (
    "organisation_name", "credit_code", "industry", "contact_person", "contact_phone",
    "name_changed", "new_name", "scope_changed", "new_scope", "address_changed", "new_address",
    "boundary_changed", "new_boundary", "change_explanation",
    "accidents_declared", "accident_details", "credit_status", "credit_details",
    "output_value", "main_product", "main_product_output", "total_energy", "energy_per_unit",
    "carbon_per_unit", "water_per_unit", "water_reuse_rate", "solid_waste_utilisation", "renewable_share",
    "pollutant_emissions", "truthful",
)
# Only these fields exist when the field that gates them says so; a value left from an earlier year is not kept.
_GATED = {"new_name": "name_changed", "new_scope": "scope_changed", "new_address": "address_changed",
          "new_boundary": "boundary_changed", "accident_details": "accidents_declared"}


class DesignationLifecycle(db.Model):
    """The lifecycle case of a designation (动态管理案件): at most one each."""

    __tablename__ = "designation_lifecycle"
    designation_id: Mapped[int] = mapped_column(ForeignKey("designation.id"), primary_key=True)
    instance_id: Mapped[int] = mapped_column(Integer, unique=True)
    first_filing_year: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[datetime] = mapped_column(Aware())


class DynamicTableFiling(db.Model):
    """A year's dynamic-management table (动态管理表, Annex 6) as filed."""

    __tablename__ = "dynamic_table_filing"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    designation_id: Mapped[int] = mapped_column(ForeignKey("designation.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)  # the filing year: its table reports the year before
    due_on: Mapped[date] = mapped_column(Date)
    filed_at: Mapped[datetime] = mapped_column(Aware())
    on_time: Mapped[bool] = mapped_column(Boolean)
    values: Mapped[dict] = mapped_column(JSON)
    filed_by: Mapped[str | None] = mapped_column(String(80))
    instance_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("designation_id", "year"),)


class MissedFiling(db.Model):
    """The city's handling of a table not filed by 15 April (Art 21(6)): a
    revocation proposed, or a justified excuse recorded with a date to file by."""

    __tablename__ = "missed_filing"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    designation_id: Mapped[int] = mapped_column(ForeignKey("designation.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(16))  # revoke | excused
    reason: Mapped[str] = mapped_column(Text)
    file_by: Mapped[date | None] = mapped_column(Date)
    decided_at: Mapped[datetime] = mapped_column(Aware())
    decided_by: Mapped[str | None] = mapped_column(String(80))
    instance_id: Mapped[int | None] = mapped_column(Integer)


class OnsiteReview(db.Model):
    """The city's annual on-site review of a unit (年度现场复核, Art 20 ¶1)."""

    __tablename__ = "onsite_review"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    designation_id: Mapped[int] = mapped_column(ForeignKey("designation.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    visited_on: Mapped[date] = mapped_column(Date)
    result: Mapped[str] = mapped_column(String(16))  # pass | problems
    findings: Mapped[str] = mapped_column(Text)
    follow_up: Mapped[str | None] = mapped_column(Text)
    follow_up_by: Mapped[date | None] = mapped_column(Date)
    reviewed_at: Mapped[datetime] = mapped_column(Aware())
    reviewer: Mapped[str | None] = mapped_column(String(80))
    instance_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("designation_id", "year"),)


class DesignationChange(db.Model):
    """A change declared in the table (Art 22) and what became of it: the city's
    confirmation and adjustment opinion (调整意见), which goes up with the city's
    yearly recommendation for a provincial unit, and the province's decision on it
    in that year's provincial round.
    status: confirmed (municipal) | pending_province | approved | passed_to_miit | not_meeting_standard."""

    __tablename__ = "designation_change"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    designation_id: Mapped[int] = mapped_column(ForeignKey("designation.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # name | scope | address | boundary
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str] = mapped_column(Text)
    explanation: Mapped[str | None] = mapped_column(Text)
    city_opinion: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(24))
    province_opinion: Mapped[str | None] = mapped_column(Text)
    applied: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(Aware())
    instance_id: Mapped[int | None] = mapped_column(Integer)
    # the provincial round (its case) the city's adjustment opinion went up with, and which decided it
    round_instance_id: Mapped[int | None] = mapped_column(Integer, index=True)


class IncidentReport(db.Model):
    """An accident or environmental incident a city reported into a designation's
    lifecycle case (Art 20); `revokes` when it is major-or-worse (Art 21 last ¶)."""

    __tablename__ = "incident_report"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    designation_id: Mapped[int] = mapped_column(ForeignKey("designation.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # production_safety | quality | environmental
    severity: Mapped[str] = mapped_column(String(24))
    occurred_on: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(200))
    revokes: Mapped[bool] = mapped_column(Boolean)
    reported_at: Mapped[datetime] = mapped_column(Aware())
    reported_by: Mapped[str | None] = mapped_column(String(80))
    instance_id: Mapped[int | None] = mapped_column(Integer)


# --------------------------------------------------------------------------- starting the case
def party_of(org: Organisation, step: StepContext) -> str | None:
    """Who files the organisation's tables: the applicant who started the listing
    case, else the applicant of an earlier case that listed the organisation."""
    instance_ids = {step.instance_id} | {d.instance_id for d in org.designations if d.instance_id}
    starters = db.session.execute(
        db.select(ProcessInstance.id, ProcessInstance.started_by).join(User, User.name == ProcessInstance.started_by)
        .where(ProcessInstance.id.in_(instance_ids), User.role == "applicant")
        .order_by(ProcessInstance.id.desc())).all()
    for instance_id, name in starters:
        if instance_id == step.instance_id:
            return name
    return starters[0][1] if starters else None


def request_lifecycle(designation: Designation, org: Organisation, step: StepContext) -> None:
    """Called by the listing step: the lifecycle case starts once that step has committed."""
    outbox.request_start(PROCESS, {
        "designation_id": designation.id, "organisation_id": org.id, "organisation_name": org.name,
        "credit_code": org.credit_code, "unit_type": designation.unit_type, "level": designation.level,
        "listed_on": designation.listed_on.isoformat(),
    }, key=f"{PROCESS}:designation:{designation.id}", jurisdiction=designation.jurisdiction,
        party=party_of(org, step), requested_by=step.instance_id)


def backfill() -> int:
    """Ask for the lifecycle case of every listed designation that has none and
    none requested (designations listed before this procedure was deployed).
    Commits the requests; the runtime's drain or the timer sweep starts them."""
    have = db.select(DesignationLifecycle.designation_id)
    designations = db.session.scalars(db.select(Designation).where(
        Designation.status == "listed", Designation.id.not_in(have)).order_by(Designation.id)).all()
    asked = 0
    for designation in designations:
        key = f"{PROCESS}:designation:{designation.id}"
        if db.session.scalar(db.select(outbox.StartRequest.id).where(outbox.StartRequest.key == key)) is not None:
            continue
        org = db.session.get(Organisation, designation.organisation_id)
        source = StepContext(designation.instance_id or 0, "", "", "backfill")
        request_lifecycle(designation, org, source)
        asked += 1
    db.session.commit()
    return asked


# --------------------------------------------------------------------------- operations
def _designation(params: dict) -> Designation:
    designation = db.session.get(Designation, params.get("designation_id") or 0)
    if designation is None:
        raise ServiceError(f"没有认定记录 {params.get('designation_id')!r} (no designation {params.get('designation_id')!r})")
    return designation


def _year(params: dict) -> int:
    try:
        return int(params.get("year"))
    except (TypeError, ValueError):
        raise ServiceError(f"年份 {params.get('year')!r} 不是有效年份 (year {params.get('year')!r} is not a year)") from None


def _date(value, what: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ServiceError(f"{what} {value!r} 不是有效日期 ({what} {value!r} is not a date)") from None


def open_lifecycle(params: dict, step: StepContext) -> dict:
    """Claim the designation for this case; a second case for it is refused."""
    designation = _designation(params)
    held = db.session.get(DesignationLifecycle, designation.id)
    if held is not None and held.instance_id != step.instance_id:
        raise ServiceError(f"认定 {designation.id} 已有动态管理办件 #{held.instance_id} (designation {designation.id} already has its lifecycle case #{held.instance_id})")
    if held is None:
        db.session.add(DesignationLifecycle(designation_id=designation.id, instance_id=step.instance_id,
                                            first_filing_year=_year({"year": params.get("first_filing_year")}),
                                            opened_at=clock.now()))
    return {"status": designation.status}


def designation_status(params: dict, step: StepContext) -> dict:
    """Whether the designation still stands: it may have ended in another procedure."""
    return {"status": _designation(params).status}


def _filed(designation_id: int, year: int) -> bool:
    return db.session.scalar(db.select(DynamicTableFiling.id).where(
        DynamicTableFiling.designation_id == designation_id, DynamicTableFiling.year == year)) is not None


def record_filing(params: dict, step: StepContext) -> dict:
    """Keep the year's table as filed, whether on time (by the end of its due day),
    and each change it declares (Art 22) for the city to review."""
    designation, year = _designation(params), _year(params)
    due = _date(params.get("due"), "due date")
    if due is None:
        raise ServiceError("请填写报送截止日期 (give the filing's due date)")
    if _filed(designation.id, year):
        raise ServiceError(f"认定 {designation.id} 的 {year} 年度报表已报送 (the {year} table of designation {designation.id} is filed already)")
    data = services.task_data()
    values = {k: data[k] for k in TABLE_FIELDS if k in data and (k not in _GATED or data.get(_GATED[k]))}
    now = clock.now()
    on_time = now.date() <= due
    db.session.add(DynamicTableFiling(designation_id=designation.id, year=year, due_on=due, filed_at=now,
                                      on_time=on_time, values=values, filed_by=step.actor,
                                      instance_id=step.instance_id))
    changes = []
    org = db.session.get(Organisation, designation.organisation_id)
    for kind, (_label, gate, field) in CHANGE_KINDS.items():
        if values.get(gate) and values.get(field):
            db.session.add(DesignationChange(
                designation_id=designation.id, year=year, kind=kind, new_value=values[field],
                old_value=org.name if kind == "name" else None, explanation=values.get("change_explanation"),
                status="declared", updated_at=now, instance_id=step.instance_id))
            changes.append(kind)
    return {"on_time": on_time, "changes": changes, "status": designation.status}


def record_missed_filing(params: dict, step: StepContext) -> dict:
    """The city's decision on a table not filed by its day; says whether it has been filed since."""
    designation, year = _designation(params), _year(params)
    decision = params.get("decision")
    if decision not in ("revoke", "excused"):
        raise ServiceError(f"决定 {decision!r} 既不是撤销也不是免责 (decision {decision!r} is neither revoke nor excused)")
    reason = (params.get("reason") or "").strip()
    if not reason:
        raise ServiceError("请说明决定的理由 (give the reason for the decision)")
    file_by = _date(params.get("file_by"), "file-by date") if decision == "excused" else None
    if decision == "excused" and file_by is None:
        raise ServiceError("免责决定须给出报表的报送截止日期 (an excuse gives the date by which the table must be filed)")
    db.session.add(MissedFiling(designation_id=designation.id, year=year, decision=decision, reason=reason,
                                file_by=file_by, decided_at=clock.now(), decided_by=step.actor,
                                instance_id=step.instance_id))
    return {"filed": _filed(designation.id, year), "status": designation.status}


def filing_state(params: dict, step: StepContext) -> dict:
    designation, year = _designation(params), _year(params)
    return {"filed": _filed(designation.id, year), "status": designation.status}


def record_onsite_review(params: dict, step: StepContext) -> dict:
    designation, year = _designation(params), _year(params)
    result = params.get("outcome")
    if result not in ("pass", "problems"):
        raise ServiceError(f"结果 {result!r} 既不是通过也不是存在问题 (outcome {result!r} is neither pass nor problems)")
    follow_up = (params.get("follow_up") or "").strip() or None
    if result == "problems" and not follow_up:
        raise ServiceError("发现的问题须有整改跟进 (problems found need their follow-up)")
    db.session.add(OnsiteReview(
        designation_id=designation.id, year=year, visited_on=_date(params.get("visited_on"), "visit date"),
        result=result, findings=params.get("findings") or "", follow_up=follow_up if result == "problems" else None,
        follow_up_by=_date(params.get("follow_up_by"), "follow-up date") if result == "problems" else None,
        reviewed_at=clock.now(), reviewer=step.actor, instance_id=step.instance_id))
    return {"status": designation.status}


def _changes(designation_id: int, year: int, status: str | None = None) -> list[DesignationChange]:
    q = db.select(DesignationChange).where(DesignationChange.designation_id == designation_id,
                                           DesignationChange.year == year)
    if status is not None:
        q = q.where(DesignationChange.status == status)
    return list(db.session.scalars(q.order_by(DesignationChange.id)))


def record_change_review(params: dict, step: StepContext) -> dict:
    """The city's review of the year's declared changes and its adjustment opinion:
    final for a municipal unit; for a provincial unit it waits for the province;
    for a national one it is recorded as passed to MIIT."""
    designation, year = _designation(params), _year(params)
    decision, opinion = params.get("decision"), (params.get("opinion") or "").strip()
    if decision not in ("confirmed", "not_meeting_standard"):
        raise ServiceError(f"决定 {decision!r} 既不是确认也不是不符合标准 (decision {decision!r} is neither confirmed nor not_meeting_standard)")
    if not opinion:
        raise ServiceError("请填写市级意见 (give the city's opinion)")
    changes = _changes(designation.id, year, "declared")
    if not changes:
        raise ServiceError(f"认定 {designation.id} 在 {year} 年申报无变更 (designation {designation.id} declared no change in {year})")
    status = "not_meeting_standard" if decision == "not_meeting_standard" else {
        "municipal": "confirmed", "provincial": "pending_province", "national": "passed_to_miit"}[designation.level]
    for change in changes:
        change.city_opinion, change.status, change.updated_at = opinion, status, clock.now()
    return {"status": status, "kinds": [c.kind for c in changes]}


def apply_name_change(params: dict, step: StepContext) -> dict:
    """A confirmed change of name becomes the organisation's name; every change
    confirmed this year enters the designation's history."""
    designation, year = _designation(params), _year(params)
    org = db.session.get(Organisation, designation.organisation_id)
    renamed = None
    for change in _changes(designation.id, year):
        if not change.applied and change.status in ("confirmed", "approved", "passed_to_miit"):
            renamed = _apply(change, designation, org, step) or renamed
    return {"renamed": renamed, "organisation_name": org.name}


def _apply(change: DesignationChange, designation: Designation, org: Organisation, step: StepContext) -> str | None:
    """Make one confirmed change the record's (a new name becomes the organisation's) and
    enter it in the designation's history; returns "old → new" for a change of name."""
    label = CHANGE_KINDS[change.kind][0]
    renamed = None
    if change.kind == "name":
        renamed = f"{org.name} → {change.new_value}"
        org.name = change.new_value
    change.applied, change.updated_at = True, clock.now()
    opinion = change.province_opinion or change.city_opinion or ""
    db.session.add(DesignationEvent(
        designation_id=designation.id, at=clock.now(), action="changed",
        reason=f"第二十二条 {label}变更：{renamed if change.kind == 'name' else change.new_value}（{opinion}）",
        instance_id=step.instance_id, actor=step.actor))
    return renamed


# --------------------------------------------------------------------------- the provincial round (Art 22)
def adjustment_opinions(params: dict, step: StepContext) -> list[dict]:
    """The cities' adjustment opinions on provincial units that go up with their yearly
    recommendations: every change the cities have confirmed and no earlier round
    took. The round that takes them decides them; one row each for its table."""
    changes = db.session.scalars(db.select(DesignationChange).where(
        DesignationChange.status == "pending_province", DesignationChange.round_instance_id.is_(None))
        .order_by(DesignationChange.id)).all()
    rows = []
    for change in changes:
        change.round_instance_id = step.instance_id
        designation = db.session.get(Designation, change.designation_id)
        rows.append({
            "change_id": change.id, "designation_id": designation.id,
            "organisation_name": designation.organisation.name, "jurisdiction": designation.jurisdiction,
            "kind": change.kind, "old_value": change.old_value or "", "new_value": change.new_value,
            "explanation": change.explanation or "", "city_opinion": change.city_opinion or "",
        })
    return rows


def decide_adjustments(params: dict, step: StepContext) -> dict:
    """The province's decision on each adjustment opinion of its round (Art 22: 省工信厅审定并公布):
    an approved change is applied and enters the designation's history; a unit that no
    longer meets the standard goes to the revocation procedure, once however many of its
    changes were refused."""
    decisions = params.get("decisions")
    if not isinstance(decisions, list):
        raise ServiceError("缺少省级决定 (the province's decisions are missing)")
    taken = {c.id: c for c in db.session.scalars(db.select(DesignationChange).where(
        DesignationChange.round_instance_id == step.instance_id, DesignationChange.status == "pending_province"))}
    by_id = {}
    for row in decisions:
        change = taken.get(row.get("change_id") if isinstance(row, dict) else None)
        if change is None:
            raise ServiceError(f"变更 {row.get('change_id') if isinstance(row, dict) else row!r} 不在等待本轮决定 (change {row.get('change_id') if isinstance(row, dict) else row!r} "
                               "does not wait for this round's decision)")
        if row.get("province_decision") not in ("approved", "not_meeting_standard"):
            raise ServiceError(f"决定 {row.get('province_decision')!r} 既不是同意也不是不符合标准 (decision {row.get('province_decision')!r} is neither approved nor not_meeting_standard)")
        by_id[change.id] = row
    if set(by_id) != set(taken):
        raise ServiceError(f"请对本轮每项变更作出决定：{sorted(set(taken) - set(by_id))} 尚未决定 (decide every change of the round: {sorted(set(taken) - set(by_id))} undecided)")
    approved, revoking = 0, {}
    for change_id, row in sorted(by_id.items()):
        change = taken[change_id]
        change.status, change.updated_at = row["province_decision"], clock.now()
        change.province_opinion = (row.get("province_opinion") or "").strip() or None
        designation = db.session.get(Designation, change.designation_id)
        if change.status == "approved" and designation.status == "listed":
            _apply(change, designation, designation.organisation, step)
            approved += 1
        elif change.status == "not_meeting_standard":
            revoking.setdefault(designation.id, (designation, change))
    for designation, change in revoking.values():
        if designation.status != "listed":
            continue  # ended meanwhile in another procedure
        outbox.request_start("revocation", {
            "designation_id": designation.id, "ground": "no_longer_meets_standard", "proposal_made": True,
            "facts": change.province_opinion or change.city_opinion or "变更后不再符合相关标准",
        }, key=f"revocation:art22:{designation.id}:{change.year}", jurisdiction=designation.jurisdiction,
            requested_by=step.instance_id)
    return {"approved": approved, "revocations": sorted(revoking)}


INCIDENT_KINDS = ("production_safety", "quality", "environmental")
SEVERITIES = ("particularly_serious", "serious", "larger", "general")


def record_incident(params: dict, step: StepContext) -> dict:
    designation = _designation(params)
    incident = params.get("incident")
    if not isinstance(incident, dict):
        raise ServiceError("缺少事故报告 (the incident report is missing)")
    if incident.get("kind") not in INCIDENT_KINDS or incident.get("severity") not in SEVERITIES:
        raise ServiceError(f"事故类型 {incident.get('kind')!r} / 等级 {incident.get('severity')!r} 未知 (incident kind {incident.get('kind')!r} / severity {incident.get('severity')!r} unknown)")
    occurred = _date(incident.get("occurred_on"), "incident date")
    if occurred is None or not (incident.get("description") or "").strip():
        raise ServiceError("事故报告须写明日期和经过 (an incident report gives the date and what happened)")
    db.session.add(IncidentReport(
        designation_id=designation.id, kind=incident["kind"], severity=incident["severity"], occurred_on=occurred,
        description=incident["description"].strip(), reference=(incident.get("reference") or None),
        revokes=bool(params.get("revokes")), reported_at=clock.now(),
        reported_by=incident.get("reported_by") or step.actor, instance_id=step.instance_id))
    return {"status": designation.status}


def case_of(designation_id: int) -> int | None:
    """The designation's lifecycle case, if it has one."""
    return db.session.scalar(db.select(DesignationLifecycle.instance_id)
                             .where(DesignationLifecycle.designation_id == designation_id))


def register() -> None:
    services.OPERATIONS.update({
        "lifecycle.open": open_lifecycle,
        "lifecycle.status": designation_status,
        "lifecycle.record_filing": record_filing,
        "lifecycle.record_missed_filing": record_missed_filing,
        "lifecycle.filing_state": filing_state,
        "lifecycle.record_onsite_review": record_onsite_review,
        "lifecycle.record_change_review": record_change_review,
        "lifecycle.adjustment_opinions": adjustment_opinions,
        "lifecycle.decide_adjustments": decide_adjustments,
        "lifecycle.apply_change": apply_name_change,
        "lifecycle.record_incident": record_incident,
    })
