"""Service operations on designations, called from the diagrams' service tasks."""
from __future__ import annotations

from engine import clock, services
from engine.db import db
from engine.errors import en, zh
from engine.services import ServiceError, StepContext

from . import credit_code, documents, lifecycle, revocations
from .models import LEVELS, STATUSES, UNIT_TYPES, Designation, DesignationEvent, Organisation
from .national_types import NATIONAL_UNIT_TYPES
from .revocations import END_STATUSES, announce
from .roles import JURISDICTIONS


def organisation_by_code(code: str, name: str | None, jurisdiction: str | None) -> Organisation:
    """The organisation with this credit code, recorded first if it is new (a name is then needed)."""
    if (why := credit_code.problem(code)) is not None:
        raise ServiceError(f"统一社会信用代码 {code!r}：{zh(why)} (credit code {code!r}: {en(why)})")
    org = db.session.scalar(db.select(Organisation).where(Organisation.credit_code == code))
    if org is None:
        if not name:
            raise ServiceError(f"统一社会信用代码为 {code} 的单位尚未登记；请填写其名称 (no organisation with credit code {code} is known; give its name)")
        org = Organisation(credit_code=code, name=name, jurisdiction=jurisdiction, created_at=clock.now())
        db.session.add(org)
        db.session.flush()
    return org


def list_designation(params: dict, step: StepContext) -> dict:
    """List an organisation as a unit type at a level (公布), from today; a national
    listing carries MIIT's platform number (`platform_reference`, Art 5). With `issues`
    (listing_announcement) the step publishes the list and takes its number (文号), which
    leads the decision's words; a listing entered from the past keeps the number it was given."""
    unit_type, level = params.get("unit_type"), params.get("level")
    if unit_type not in UNIT_TYPES:
        raise ServiceError(f"未知的单位类型 {unit_type!r} (unknown unit type {unit_type!r})")
    if level not in LEVELS:
        raise ServiceError(f"未知的级别 {level!r} (unknown level {level!r})")
    jurisdiction = params.get("jurisdiction")
    if jurisdiction is not None and jurisdiction not in JURISDICTIONS:
        raise ServiceError(f"未知的辖区 {jurisdiction!r} (unknown jurisdiction {jurisdiction!r})")
    if level == "national" and unit_type not in NATIONAL_UNIT_TYPES:
        raise ServiceError(f"{UNIT_TYPES[unit_type][0]}没有国家级：工业节水型单位只实行省市联动（第二条） "
                           f"({UNIT_TYPES[unit_type][1]} has no national level: water-saving units are linked "
                           "province-city only (Art 2))")
    reference = (params.get("platform_reference") or "").strip() or None
    if reference is not None:
        holder = db.session.scalar(db.select(Designation).where(Designation.platform_reference == reference))
        if holder is not None:
            raise ServiceError(f"工业和信息化部平台编号 {reference} 已用于认定 {holder.id} (MIIT platform number {reference} is already on designation {holder.id})")
    org = organisation_by_code(params.get("credit_code"), params.get("name"), jurisdiction)
    held = db.session.scalar(db.select(Designation).where(
        Designation.organisation_id == org.id, Designation.unit_type == unit_type,
        Designation.level == level, Designation.status == "listed"))
    if held is not None:
        raise ServiceError(f"{org.name} 已持有{LEVELS[level][0]}{UNIT_TYPES[unit_type][0]}认定（自 {held.listed_on.isoformat()} 起） ({org.name} already holds {UNIT_TYPES[unit_type][1].lower()} at {LEVELS[level][1].lower()} level "
                           f"(since {held.listed_on.isoformat()}))")
    today = clock.now().date()
    decision = params.get("decision")
    if params.get("issues") and level != "national":  # a national listing is MIIT's, under its own number
        # the whole list a step publishes is one announcement, under one number
        reference = documents.issue(params["issues"], documents.department_for(
            level, jurisdiction or org.jurisdiction), step).reference
        decision = f"{reference} {decision}" if decision else reference
    designation = Designation(
        organisation_id=org.id, unit_type=unit_type, level=level, status="listed",
        jurisdiction=jurisdiction or org.jurisdiction, decision=decision, listed_on=today,
        instance_id=step.instance_id, version_id=step.version_id, platform_reference=reference,
    )
    db.session.add(designation)
    db.session.flush()
    db.session.add(DesignationEvent(designation_id=designation.id, at=clock.now(), action="listed",
                                    reason=decision, instance_id=step.instance_id, actor=step.actor))
    # its annual dynamic management (Arts 19-22) starts once this step has committed
    lifecycle.request_lifecycle(designation, org, step)
    return {"designation_id": designation.id, "organisation_id": org.id, "listed_on": today.isoformat(),
            "unit_type": unit_type, "level": level, "status": "listed", "platform_reference": reference,
            "decision": decision}


def end_designation(params: dict, step: StepContext) -> dict:
    """End a designation under Art 21 (取消资格): revoked on one of its grounds, or
    withdrawn at the unit's request, with the announcement that makes it public
    at once or with the year's publication (see `revocations`).

    Parameters: designation_id; status (revoked | withdrawn); ground (an Art 21
    code); article (the ground's words); announcement (immediate |
    with_publication); public_on (the announcement's date; today when immediate);
    bars_reapplication (Art 18(3)); reason (the facts); decision (the document number);
    issues (revocation_decision: the step decides, and takes the number of the city or the
    province deciding; a national unit's decision is MIIT's, under the number given)."""
    designation = db.session.get(Designation, params.get("designation_id") or 0)
    if designation is None:
        raise ServiceError(f"没有认定记录 {params.get('designation_id')!r} (no designation {params.get('designation_id')!r})")
    status = params.get("status", "revoked")
    if status not in END_STATUSES:
        raise ServiceError(f"认定只能以撤销或退出结束，不能为 {status!r} (a designation ends as revoked or withdrawn, not {status!r})")
    if designation.status != "listed":
        raise ServiceError(f"认定 {designation.id} 已是「{STATUSES[designation.status][0]}」状态 (designation {designation.id} is already {designation.status})")
    reason = params.get("reason")
    if not reason:
        raise ServiceError("请说明理由（查明的事实） (give the reason (the facts found))")
    if params.get("issues") and designation.level != "national":
        params = {**params, "decision": documents.issue(params["issues"], documents.department_for(
            designation.level, designation.jurisdiction), step).reference}
    record = announce(designation, params, status, step)
    end_reason = f"{record.article}：{reason}"
    designation.status, designation.ended_on, designation.end_reason = status, clock.now().date(), end_reason
    db.session.add(DesignationEvent(designation_id=designation.id, at=clock.now(), action=status, reason=end_reason,
                                    instance_id=step.instance_id, actor=step.actor))
    return {"designation_id": designation.id, "status": status, "ended_on": designation.ended_on.isoformat(),
            "ground": record.ground, "public_on": record.public_on.isoformat(),
            "bars_reapplication": record.bars_reapplication, "decision": record.decision}


def register() -> None:
    """Make these operations callable from the diagrams' service tasks."""
    services.OPERATIONS.update({"designation.list": list_designation, "designation.end": end_designation})
    revocations.register()
