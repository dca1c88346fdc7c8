"""Domain records of the green-manufacturing system: organisations and their
designations (称号), with the history of every change; and the accounts (账号) of the
people acting in its roles, which the domain reads (who started a case, in which role). A designation changes
only through a process step (a service operation), which the step's audit
event covers."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, or_
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import db
from engine.models import Aware

UNIT_TYPES = {
    "green_factory": ("绿色工厂", "Green factory"),
    "green_park": ("绿色工业园区", "Green industrial park"),
    "green_supply_chain": ("绿色供应链管理企业", "Green supply-chain management enterprise"),
    "water_saving_enterprise": ("工业节水型企业", "Industrial water-saving enterprise"),
    "water_saving_park": ("工业节水型园区", "Industrial water-saving park"),
}
LEVELS = {"municipal": ("市级", "Municipal"), "provincial": ("省级", "Provincial"), "national": ("国家级", "National")}
STATUSES = {"listed": ("有效", "Listed"), "revoked": ("已撤销", "Revoked"), "withdrawn": ("主动退出", "Withdrawn")}


def task_labels(data: dict) -> dict:
    """What an inbox can filter a task by: the unit type and level its case is about; and
    what one task of a case is about when the case has several (the candidate an expert's
    review is for: the item the review task was given, see `experts.assign`)."""
    labels = {"subject": None}
    review = data.get("_review")
    if isinstance(review, dict):
        kind = UNIT_TYPES.get(review.get("unit_type"), ("",))[0]
        labels["subject"] = f"{review.get('name')}（{kind}）" if kind else review.get("name")
        if review.get("unit_type") in UNIT_TYPES:
            labels["unit_type"] = review["unit_type"]
    if data.get("unit_type") in UNIT_TYPES:
        labels["unit_type"] = data["unit_type"]
    if data.get("level") in LEVELS:
        labels["level"] = data["level"]
    return labels


class Organisation(db.Model):
    """An enterprise or a park management body (申报主体), by its credit code."""

    __tablename__ = "organisation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    jurisdiction: Mapped[str | None] = mapped_column(String(12), index=True)
    created_at: Mapped[datetime] = mapped_column(Aware())
    designations: Mapped[list[Designation]] = relationship(back_populates="organisation",
                                                             order_by="Designation.listed_on")


class OrganisationLink(db.Model):
    """Art 2 horizontal linkage: a firm inside a park, or a supplier of a supply-chain leader."""

    __tablename__ = "organisation_link"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)  # park or leader
    member_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)  # firm or supplier
    since: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    instance_id: Mapped[int | None] = mapped_column(Integer)
    organisation: Mapped[Organisation] = relationship(foreign_keys=[organisation_id])
    member: Mapped[Organisation] = relationship(foreign_keys=[member_id])

    __table_args__ = (UniqueConstraint("kind", "organisation_id", "member_id", name="uq_organisation_link"),)


class Designation(db.Model):
    """One unit type at one level held by an organisation (绿色制造单位称号)."""

    __tablename__ = "designation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    unit_type: Mapped[str] = mapped_column(String(40))
    level: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    jurisdiction: Mapped[str | None] = mapped_column(String(12))
    decision: Mapped[str | None] = mapped_column(Text)  # the listing decision or notice
    listed_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(Text)
    instance_id: Mapped[int | None] = mapped_column(Integer)  # the case that listed it
    version_id: Mapped[str | None] = mapped_column(String(64))  # the model version that governed it
    platform_reference: Mapped[str | None] = mapped_column(String(40))  # MIIT 管理平台 number (Art 5)
    organisation: Mapped[Organisation] = relationship(back_populates="designations")
    events: Mapped[list[DesignationEvent]] = relationship(order_by="DesignationEvent.id")

    __table_args__ = (Index("ix_designation_level_type_status", "level", "unit_type", "status"),
                      # the registry's order (newest listing first), read page by page from its cursor
                      Index("ix_designation_listed_on_id", "listed_on", "id"))


# the public lists' order (web.designations PUBLIC_ORDER): by level, the unit types in the order
# Art 2 names them (their codes sort so), newest listing first
Index("ix_designation_public_order", Designation.level.desc(), Designation.unit_type, Designation.listed_on.desc(),
      Designation.id.desc())


class DesignationEvent(db.Model):
    """The history of a designation: listed, revoked, withdrawn, changed."""

    __tablename__ = "designation_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    designation_id: Mapped[int] = mapped_column(ForeignKey("designation.id"), index=True)
    at: Mapped[datetime] = mapped_column(Aware())
    action: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    instance_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str | None] = mapped_column(String(80))


class Attachment(db.Model):
    """A file handed in with a case (附件): stored outside the web root under the
    SHA-256 of its content, which is also how its integrity is checked."""

    __tablename__ = "attachment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"), index=True)
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(80))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(Aware())
    uploaded_by: Mapped[str | None] = mapped_column(String(120))
    # Evidence from a member of the public (a real-name report, an objection) or a file field a
    # form marks personal: only those who handle the case may download it (个人信息).
    personal: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ComplaintReceipt(db.Model):
    """What lets a reporter follow their report without an account (举报回执):
    the case number they are given, and the hash of the code shown to them once."""

    __tablename__ = "complaint_receipt"
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64))


class User(db.Model):
    """A person or system acting in a role (角色), within a jurisdiction (辖区) if municipal."""

    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[str] = mapped_column(String(40))
    jurisdiction: Mapped[str | None] = mapped_column(String(12))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(Aware())
    display_name: Mapped[str | None] = mapped_column(String(120))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # When the token ends (有效期); with `token_hash` None there is no token.
    token_expires_at: Mapped[datetime | None] = mapped_column(Aware())
    # Set by an administrator (停用): the account can neither sign in nor use its token.
    deactivated_at: Mapped[datetime | None] = mapped_column(Aware())
    # Every session carries the value this had when it began; signing out, a new password
    # or a deactivation raises it, so no cookie issued before still opens a page.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The organisation an applicant's or agency's account acts for (单位注册); its city is the account's.
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registration.id"), index=True)
    # The language the person chose for the pages ("zh_CN" or "en"); None: never chose, so Chinese.
    language: Mapped[str | None] = mapped_column(String(8))
    # Set by an administrator (负责人): the official supervises his role's tasks (engine.green.delegation).
    is_head: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    # Flask-Login's user protocol
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.deactivated_at is None

    def get_id(self) -> str:
        return f"{self.id}:{self.session_epoch or 0}"


def notification_recipients(role: str | None, jurisdiction: str | None, assignee: str | None):
    """The active accounts a notification reaches (`engine.notifications.RECIPIENTS`): its
    assignee, or everyone of its role who may see it (a city's officials for their own city,
    a province-wide official for every city), as the centre shows it to them."""
    live = User.deactivated_at.is_(None)
    if assignee is not None:
        return db.select(User.name).where(User.name == assignee, live)
    if role is None:
        return db.select(User.name).where(false())
    return db.select(User.name).where(User.role == role, live, or_(User.jurisdiction.is_(None),
                                                                    User.jurisdiction == jurisdiction))
