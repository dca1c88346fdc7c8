"""Service operations on designations, called from the diagrams' service tasks."""
from __future__ import annotations

from engine import clock, services
from engine.db import db
from engine.services import ServiceError, StepContext

from . import credit_code, documents, lifecycle, revocations
from .models import LEVELS, UNIT_TYPES, Designation, DesignationEvent, Organisation
from .national_types import NATIONAL_UNIT_TYPES
from .revocations import END_STATUSES, announce
from .roles import JURISDICTIONS


def organisation_by_code(code: str, name: str | None, jurisdiction: str | None) -> Organisation:
    """The organisation with this credit code, recorded first if it is new (a name is then needed)."""
    if (why := credit_code.problem(code)) is not None:
        raise ServiceError(f"credit code {code!r}: {why}")
    org = db.session.scalar(db.select(Organisation).where(Organisation.credit_code == code))
    if org is None:
        if not name:
            raise ServiceError(f"no organisation with credit code {code} is known; give its name")
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
        raise ServiceError(f"unknown unit type {unit_type!r}")
    if level not in LEVELS:
        raise ServiceError(f"unknown level {level!r}")
    jurisdiction = params.get("jurisdiction")
    if jurisdiction is not None and jurisdiction not in JURISDICTIONS:
        raise ServiceError(f"unknown jurisdiction {jurisdiction!r}")
    if level == "national" and unit_type not in NATIONAL_UNIT_TYPES:
        raise ServiceError(f"{UNIT_TYPES[unit_type][0]} has no national level: water-saving units are linked "
                           "province-city only (Art 2) 工业节水型单位无国家级")
    reference = (params.get("platform_reference") or "").strip() or None
    if reference is not None:
        holder = db.session.scalar(db.select(Designation).where(Designation.platform_reference == reference))
        if holder is not None:
            raise ServiceError(f"MIIT platform number {reference} is already on designation {holder.id}")
    org = organisation_by_code(params.get("credit_code"), params.get("name"), jurisdiction)
    held = db.session.scalar(db.select(Designation).where(
        Designation.organisation_id == org.id, Designation.unit_type == unit_type,
        Designation.level == level, Designation.status == "listed"))
    if held is not None:
        raise ServiceError(f"{org.name} already holds {UNIT_TYPES[unit_type][0]} at {LEVELS[level][0]} level "
                           f"(since {held.listed_on.isoformat()})")
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
        raise ServiceError(f"no designation {params.get('designation_id')!r}")
    status = params.get("status", "revoked")
    if status not in END_STATUSES:
        raise ServiceError(f"a designation ends as revoked or withdrawn, not {status!r}")
    if designation.status != "listed":
        raise ServiceError(f"designation {designation.id} is already {designation.status}")
    reason = params.get("reason")
    if not reason:
        raise ServiceError("give the reason (the facts found)")
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
