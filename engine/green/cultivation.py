"""Cultivation pools (培育库, Arts 6-11) and the horizontal links of Art 2.

A city puts a candidate of a unit type into its cultivation pool with a
cultivation plan (培育计划) and files (备案) it with the province; each pool entry
remembers the case that made it. Park membership (园区内企业) and supplier links
(供应链核心企业的供应商) are recorded when a park or a supply-chain leader is
nominated, and read by the Art 18 check (a park is barred by its firms' facts).
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine import clock, services
from engine.db import db
from engine.errors import en, zh
from engine.models import Aware
from engine.services import ServiceError, StepContext

from . import credit_code, exclusions
from .designations import organisation_by_code
from .models import UNIT_TYPES, Organisation, OrganisationLink
from .roles import JURISDICTIONS

POOL_STATUSES = {
    "nominated": ("已入库待备案", "Nominated, awaiting filing"),
    "filed": ("已备案", "Filed with the province"),
    "withdrawn": ("已撤出", "Withdrawn"),
}
LINK_KINDS = {
    "park_member": ("园区内企业", "Firm in the park"),
    "supplier": ("供应商", "Supplier"),
}
PLAN_FIELDS = ("goals", "measures", "target_year", "standard")


class CultivationPoolEntry(db.Model):
    """A candidate in a city's cultivation pool (培育库), with its cultivation plan."""

    __tablename__ = "cultivation_pool_entry"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    unit_type: Mapped[str] = mapped_column(String(40))
    jurisdiction: Mapped[str] = mapped_column(String(12))
    year: Mapped[int] = mapped_column(Integer)
    plan: Mapped[dict] = mapped_column(JSON)  # goals, measures, target_year, standard
    status: Mapped[str] = mapped_column(String(16))
    nominated_on: Mapped[date] = mapped_column(Date)
    filed_on: Mapped[date | None] = mapped_column(Date)
    remarks: Mapped[str | None] = mapped_column(Text)  # the province's, when it sent the filing back
    instance_id: Mapped[int] = mapped_column(Integer, index=True)  # the case that nominated it
    version_id: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(Aware())
    organisation: Mapped[Organisation] = relationship()

    __table_args__ = (Index("ix_cultivation_pool_city_year", "jurisdiction", "year", "status"),)


def record_links(params: dict, step: StepContext) -> dict:
    """`organisation.link`: record the firms in a park or the suppliers of a leader
    (Art 2). Links already known are kept; new ones start today."""
    kind = params.get("kind")
    if kind not in LINK_KINDS:
        raise ServiceError(f"未知的关联类型 {kind!r} (unknown link kind {kind!r})")
    members = params.get("members") or []
    if not isinstance(members, list):
        raise ServiceError("成员应为列表，每项含统一社会信用代码和名称 (members must be a list of {credit_code, name})")
    jurisdiction = params.get("jurisdiction")
    owner = organisation_by_code(params.get("credit_code"), params.get("name"), jurisdiction)
    added = []
    for m in members:
        if not isinstance(m, dict):
            raise ServiceError("成员应为列表，每项含统一社会信用代码和名称 (members must be a list of {credit_code, name})")
        member = organisation_by_code(m.get("credit_code"), m.get("name"), jurisdiction)
        if member.id == owner.id:
            raise ServiceError(f"{owner.name} 不能作为自身的{LINK_KINDS[kind][0]} ({owner.name} cannot be its own {LINK_KINDS[kind][1].lower()})")
        known = db.session.scalar(db.select(OrganisationLink).where(
            OrganisationLink.kind == kind, OrganisationLink.organisation_id == owner.id,
            OrganisationLink.member_id == member.id))
        if known is None:
            db.session.add(OrganisationLink(kind=kind, organisation_id=owner.id, member_id=member.id,
                                            since=clock.now().date(), instance_id=step.instance_id))
            added.append(member.credit_code)
        elif known.ended_on is not None:
            known.ended_on, known.since, known.instance_id = None, clock.now().date(), step.instance_id
            added.append(member.credit_code)
    db.session.flush()
    return {"organisation_id": owner.id, "kind": kind, "added": added}


def links_of(org: Organisation) -> dict[str, list[tuple[OrganisationLink, Organisation]]]:
    """An organisation's current Art 2 links, both ways: the firms in its park and
    its suppliers; the parks it is in and the leaders it supplies."""
    def rows(own, other, kind):
        return db.session.execute(db.select(OrganisationLink, Organisation)
                                  .join(Organisation, Organisation.id == getattr(OrganisationLink, other))
                                  .where(getattr(OrganisationLink, own) == org.id, OrganisationLink.kind == kind,
                                         OrganisationLink.ended_on.is_(None))
                                  .order_by(Organisation.name)).all()

    return {"park_members": rows("organisation_id", "member_id", "park_member"),
            "parks": rows("member_id", "organisation_id", "park_member"),
            "suppliers": rows("organisation_id", "member_id", "supplier"),
            "supplies": rows("member_id", "organisation_id", "supplier")}


def _plan(params: dict) -> dict:
    plan = {k: params.get(k) for k in PLAN_FIELDS}
    missing = [k for k in PLAN_FIELDS if plan[k] in (None, "")]
    if missing:
        raise ServiceError(f"培育计划缺少 {', '.join(missing)} (the cultivation plan lacks {', '.join(missing)})")
    return plan


def enter_pool(params: dict, step: StepContext) -> dict:
    """`cultivation.enter_pool`: put the candidate into its city's pool with its
    plan, status nominated (awaiting the province's acknowledgement). Run again in
    the same case (after the province sent the filing back) it updates the entry."""
    unit_type, jurisdiction = params.get("unit_type"), params.get("jurisdiction")
    if unit_type not in UNIT_TYPES:
        raise ServiceError(f"未知的单位类型 {unit_type!r} (unknown unit type {unit_type!r})")
    if jurisdiction not in JURISDICTIONS:
        raise ServiceError(f"未知的辖区 {jurisdiction!r} (unknown jurisdiction {jurisdiction!r})")
    year = params.get("year")
    if isinstance(year, bool) or not isinstance(year, int):
        raise ServiceError(f"年份 {year!r} 不是有效年份 (year {year!r} is not a year)")
    plan = _plan(params)
    org = organisation_by_code(params.get("credit_code"), params.get("name"), jurisdiction)
    entry = db.session.scalar(db.select(CultivationPoolEntry).where(
        CultivationPoolEntry.instance_id == step.instance_id))
    if entry is None:
        other = db.session.scalar(db.select(CultivationPoolEntry).where(
            CultivationPoolEntry.organisation_id == org.id, CultivationPoolEntry.unit_type == unit_type,
            CultivationPoolEntry.status.in_(("nominated", "filed"))))
        if other is not None:
            raise ServiceError(f"{org.name} 已以 {UNIT_TYPES[unit_type][0]} 列入{JURISDICTIONS[other.jurisdiction][0]}培育库（办件 #{other.instance_id}） ({org.name} is already in the {JURISDICTIONS[other.jurisdiction][1]} cultivation "
                               f"pool as {UNIT_TYPES[unit_type][1].lower()} (case #{other.instance_id}))")
        entry = CultivationPoolEntry(organisation_id=org.id, unit_type=unit_type, jurisdiction=jurisdiction,
                                     instance_id=step.instance_id, nominated_on=clock.now().date())
        db.session.add(entry)
    entry.year, entry.plan, entry.status = year, plan, "nominated"
    entry.version_id, entry.updated_at = step.version_id, clock.now()
    db.session.flush()
    return {"entry_id": entry.id, "status": entry.status, "organisation_id": org.id}


def check_pool(params: dict, step: StepContext) -> dict:
    """`cultivation.check_pool`: whether the candidate is already in a pool as this
    unit type (nominated or filed, by another case), so the city hears it with the
    other reasons instead of after writing a plan."""
    code, unit_type = params.get("credit_code"), params.get("unit_type")
    if (why := credit_code.problem(code)) is not None:
        raise ServiceError(f"统一社会信用代码 {code!r}：{zh(why)} (credit code {code!r}: {en(why)})")
    if unit_type not in UNIT_TYPES:
        raise ServiceError(f"未知的单位类型 {unit_type!r} (unknown unit type {unit_type!r})")
    entries = db.session.scalars(db.select(CultivationPoolEntry).join(Organisation).where(
        Organisation.credit_code == code, CultivationPoolEntry.unit_type == unit_type,
        CultivationPoolEntry.status.in_(("nominated", "filed")),
        CultivationPoolEntry.instance_id != step.instance_id)).all()
    reasons = [f"第六条：{e.organisation.name}已在{JURISDICTIONS[e.jurisdiction][0]}培育库"
               f"（{UNIT_TYPES[unit_type][0]}，{POOL_STATUSES[e.status][0]}，案件 #{e.instance_id}）" for e in entries]
    return {"in_pool": bool(entries), "reasons": reasons}


def _entry_of(step: StepContext) -> CultivationPoolEntry:
    entry = db.session.scalar(db.select(CultivationPoolEntry).where(
        CultivationPoolEntry.instance_id == step.instance_id))
    if entry is None:
        raise ServiceError(f"办件 #{step.instance_id} 没有培育库记录 (case #{step.instance_id} has no cultivation pool entry)")
    return entry


def file_entry(params: dict, step: StepContext) -> dict:
    """`cultivation.file`: the province acknowledged the filing (备案): status filed."""
    entry = _entry_of(step)
    if entry.status != "nominated":
        raise ServiceError(f"该培育库记录的状态为 {entry.status}，不在待备案状态 (the pool entry is {entry.status}, not awaiting filing)")
    entry.status, entry.filed_on = "filed", clock.now().date()
    entry.remarks = params.get("remarks") or None
    entry.updated_at = clock.now()
    return {"entry_id": entry.id, "status": entry.status, "filed_on": entry.filed_on.isoformat()}


def send_back(params: dict, step: StepContext) -> dict:
    """`cultivation.send_back`: the province sent the filing back with remarks."""
    entry = _entry_of(step)
    if not params.get("remarks"):
        raise ServiceError("省级退回备案时须填写意见 (the province's remarks are required when it sends a filing back)")
    entry.remarks, entry.updated_at = params["remarks"], clock.now()
    return {"entry_id": entry.id, "status": entry.status}


def withdraw(params: dict, step: StepContext) -> dict:
    """`cultivation.withdraw`: the city takes its candidate out of the pool."""
    entry = _entry_of(step)
    entry.status, entry.updated_at = "withdrawn", clock.now()
    if params.get("reason"):
        entry.remarks = params["reason"]
    return {"entry_id": entry.id, "status": entry.status}


def register() -> None:
    services.OPERATIONS.update({
        "organisation.link": record_links,
        "cultivation.check_pool": check_pool,
        "cultivation.enter_pool": enter_pool,
        "cultivation.file": file_entry,
        "cultivation.send_back": send_back,
        "cultivation.withdraw": withdraw,
        "exclusions.check": exclusions.check,
        "exclusions.screen": exclusions.screen,
        "adverse_fact.record": exclusions.record,
    })
