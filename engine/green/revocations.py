"""Revocation announcements (撤销公告, Art 21) and what a spot check or a
revocation needs to know about the designation it is about.

A designation ends (`designation.end`) on the day it is decided; the public
learns of it on the announcement's `public_on` day: at once for a major
accident or a Level II+ environmental incident, otherwise with the year's
publication of green-manufacturing units (在每年度公布绿色制造单位时). Until
then the public lists still show the unit and /public/revocations does not.
Which ground is announced when, and whether it bars applying again for three
years (Art 18(3)), is the analyst's DMN table `processes/revocation_grounds.dmn`;
the diagram passes its answers to the operation.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine import clock, services
from engine.db import db
from engine.green.models import User
from engine.models import Aware, ProcessInstance
from engine.services import ServiceError, StepContext
from engine.statutory_calendar import years_before

from . import documents
from .models import LEVELS, STATUSES, UNIT_TYPES, Designation, Organisation

# The grounds of Art 21 (code: Chinese, English), in the article's order, and the
# immediate case of its last paragraph. What each ground entails is the DMN table's.
GROUNDS: dict[str, tuple[str, str]] = {
    "spot_check_failed": ("抽查、复核不合格，整改后仍不合格", "Failed a spot check and still failing after rectification"),
    "terminated": ("单位被依法终止", "Unit lawfully terminated"),
    "false_materials": ("提供虚假材料和数据", "False materials or data"),
    "withdrawal": ("单位自行要求撤销资格", "Unit asked to withdraw"),
    "bad_faith": ("列入失信企业黑名单或违反诚实信用原则", "Blacklisted or in breach of good faith"),
    "refuses_supervision": ("不接受监督管理、不按时填报动态管理表", "Refuses supervision or late dynamic-management table"),
    "art18_situation": ("存在第十八条所列情形", "An Art 18 situation"),
    "other_violation": ("违反其他相关法律法规", "Other violation of law"),
    "major_incident": ("重大及以上生产安全和质量事故、Ⅱ级及以上突发环境污染事件",
                       "Major safety or quality accident, Level II+ environmental incident"),
    # Art 22: a change of name, scope, address or boundary after which the unit no longer meets the standard
    "no_longer_meets_standard": ("变更后不再符合相关标准（第二十二条）", "No longer meets the standard after a change (Art 22)"),
}
ANNOUNCEMENTS = ("immediate", "with_publication")
END_STATUSES = ("revoked", "withdrawn")
BAR_YEARS = 3  # Art 18: "近三年"


class RevocationAnnouncement(db.Model):
    """The announcement of a designation's end under Art 21 (取消资格公告):
    its ground, the article's words, when it was decided and when it is public."""

    __tablename__ = "revocation_announcement"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    designation_id: Mapped[int] = mapped_column(ForeignKey("designation.id"), unique=True)
    ground: Mapped[str] = mapped_column(String(40))
    article: Mapped[str] = mapped_column(Text)  # the article's words, as the DMN table gives them
    status: Mapped[str] = mapped_column(String(16))  # revoked | withdrawn
    decided_on: Mapped[date] = mapped_column(Date)
    public_on: Mapped[date] = mapped_column(Date, index=True)
    timing: Mapped[str] = mapped_column(String(20))  # immediate | with_publication
    bars_reapplication: Mapped[bool] = mapped_column(Boolean)
    decision: Mapped[str | None] = mapped_column(Text)  # the decision's document number
    instance_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(Aware())
    designation: Mapped[Designation] = relationship()


def announce(designation: Designation, params: dict, status: str, step: StepContext) -> RevocationAnnouncement:
    """The announcement record `designation.end` writes with the end itself."""
    ground = params.get("ground")
    if ground not in GROUNDS:
        raise ServiceError(f"未知的第二十一条情形 {ground!r}；应为 {', '.join(GROUNDS)} 之一 (unknown Art 21 ground {ground!r}; one of {', '.join(GROUNDS)})")
    timing = params.get("announcement")
    if timing not in ANNOUNCEMENTS:
        raise ServiceError(f"公告时间应为 immediate 或 with_publication，不能为 {timing!r} (announcement is immediate or with_publication, not {timing!r})")
    article = params.get("article")
    if not article:
        raise ServiceError("请给出该情形的条文原文（决策表的 `article`） (give the article's words for the ground (the DMN table's `article`))")
    today = clock.now().date()
    try:
        public_on = date.fromisoformat(str(params.get("public_on") or today.isoformat())[:10])
    except ValueError:
        raise ServiceError(f"public_on {params.get('public_on')!r} 不是有效日期 (public_on {params.get('public_on')!r} is not a date)") from None
    if timing == "immediate":
        public_on = min(public_on, today)
    elif public_on < today:
        raise ServiceError(f"本年度公布日期 {public_on.isoformat()} 已过；请设置下一个日期 (the year's publication date {public_on.isoformat()} has passed; set the next one)")
    bars = params.get("bars_reapplication")
    if isinstance(bars, str):
        bars = bars.strip().lower() in ("true", "1", "yes")
    record = RevocationAnnouncement(
        designation_id=designation.id, ground=ground, article=article, status=status, decided_on=today,
        public_on=public_on, timing=timing, bars_reapplication=bool(bars), decision=params.get("decision"),
        instance_id=step.instance_id, created_at=clock.now())
    db.session.add(record)
    return record


def public_announcements(on: date | None = None):
    """SQL: the announcements the public may read on a day (today by default)."""
    on = on or clock.now().date()
    return (select(RevocationAnnouncement, Designation, Organisation)
            .join(Designation, RevocationAnnouncement.designation_id == Designation.id)
            .join(Organisation, Designation.organisation_id == Organisation.id)
            .where(RevocationAnnouncement.public_on <= on))


def not_yet_public(on: date | None = None):
    """SQL: ids of designations whose end is decided but not announced yet; the
    public still sees them listed until the announcement."""
    on = on or clock.now().date()
    return select(RevocationAnnouncement.designation_id).where(RevocationAnnouncement.public_on > on)


def barred_by_revocation(credit_code: str, on) -> RevocationAnnouncement | None:
    """Art 18(3): a designation revoked by dynamic adjustment within the three years
    before `on` (a date) bars applying, recommending and listing; the latest such
    revocation, or None. A revocation 3 years before to the day still bars."""
    on = on if isinstance(on, date) else date.fromisoformat(str(on)[:10])
    return db.session.scalar(
        select(RevocationAnnouncement).join(Designation).join(Organisation)
        .where(Organisation.credit_code == credit_code, RevocationAnnouncement.bars_reapplication.is_(True),
               RevocationAnnouncement.decided_on >= years_before(on, BAR_YEARS),
               RevocationAnnouncement.decided_on <= on)
        .order_by(RevocationAnnouncement.decided_on.desc()).limit(1))


def _unit_account(designation: Designation) -> str | None:
    """The account that acts for the unit: whoever applied for the designation in
    the case that listed it, when that was the unit itself (an applicant)."""
    if designation.instance_id is None:
        return None
    starter = db.session.scalar(select(ProcessInstance.started_by)
                                .where(ProcessInstance.id == designation.instance_id))
    role = db.session.scalar(select(User.role).where(User.name == starter)) if starter else None
    return starter if role == "applicant" else None


def designation_facts(params: dict, step: StepContext) -> dict:
    """What a spot check or a revocation case is about: a listed designation in the
    case's own city (a city never acts on another city's unit), at the levels asked.
    With `issues` (a document kind, e.g. rectification_order), the step is the one that
    issues that document about the unit, and its number (文号) is taken here."""
    designation = db.session.get(Designation, params.get("designation_id") or 0)
    if designation is None:
        raise ServiceError(f"没有认定记录 {params.get('designation_id')!r} (no designation {params.get('designation_id')!r})")
    if designation.status != "listed":
        raise ServiceError(f"认定 {designation.id} 的状态为{STATUSES[designation.status][0]}，已不在册 (designation {designation.id} is {designation.status}, no longer listed)")
    if params.get("jurisdiction") != designation.jurisdiction:
        raise ServiceError(f"认定 {designation.id} 属于辖区 {designation.jurisdiction}；请在该辖区发起办件（jurisdiction={designation.jurisdiction}） (designation {designation.id} belongs to jurisdiction {designation.jurisdiction}; "
                           f"start the case there (jurisdiction={designation.jurisdiction}))")
    levels = (params.get("levels") or "").split()
    if levels and designation.level not in levels:
        raise ServiceError(f"认定 {designation.id} 为{LEVELS[designation.level][0]}；本程序适用于{'、'.join(LEVELS.get(v, (v,))[0] for v in levels)}单位 (designation {designation.id} is {designation.level}; this procedure is for "
                           f"{' and '.join(levels)} units)")
    org = designation.organisation
    facts = {"designation_id": designation.id, "organisation_name": org.name, "credit_code": org.credit_code,
             "unit_type": designation.unit_type, "unit_type_name": UNIT_TYPES[designation.unit_type][0],
             "level": designation.level, "level_name": LEVELS[designation.level][0],
             "listed_on": designation.listed_on.isoformat(), "unit_account": _unit_account(designation)}
    if params.get("issues"):
        facts["document_number"] = documents.issue(params["issues"], documents.department_for(
            designation.level, designation.jurisdiction), step).reference
    return facts


def announce_pending(params: dict, step: StepContext) -> dict:
    """The year's publication (年度公布) makes every waiting announcement public today,
    when it comes before the date the revocation diagram set."""
    today = clock.now().date()
    pending = db.session.scalars(select(RevocationAnnouncement).where(
        RevocationAnnouncement.public_on > today, RevocationAnnouncement.timing == "with_publication")).all()
    for record in pending:
        record.public_on = today
    return {"announced": len(pending), "public_on": today.isoformat()}


def register() -> None:
    services.OPERATIONS.update({"designation.facts": designation_facts,
                                "revocation.announce_pending": announce_pending})
