"""Public notices (公示) of proposed lists, and the objections the public lodges
against them while the notice is open (Art 15).

A notice is published by a process step with its length in working days, which
the diagram gives (an analyst changes it there); it ends at the close of its
last working day on China's official calendar. The step that waits for that
moment then closes the notice and takes the objections into the case.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine import audit, clock, services, settlement, statutory_calendar
from engine.db import db
from engine.models import Aware
from engine.services import ServiceError, StepContext

from .credit_code import problem as credit_code_problem

MAX_WORKING_DAYS = 60


class PublicNotice(db.Model):
    """A proposed list on public notice (公示), open to objections until `ends_at`."""

    __tablename__ = "public_notice"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    year: Mapped[int] = mapped_column(Integer)
    items: Mapped[list] = mapped_column(JSON)  # [{credit_code, name, unit_type, level, jurisdiction}]
    working_days: Mapped[int] = mapped_column(Integer)
    published_on: Mapped[date] = mapped_column(Date)
    ends_at: Mapped[datetime] = mapped_column(Aware(), index=True)
    # the end is provisional (暂定): counted on the holiday law alone for this year, until settled
    provisional_year: Mapped[int | None] = mapped_column(Integer)
    closed_at: Mapped[datetime | None] = mapped_column(Aware())
    # after the objections are dealt with: the credit codes listed, and those struck off
    listed: Mapped[list | None] = mapped_column(JSON)
    struck_off: Mapped[list | None] = mapped_column(JSON)
    objections: Mapped[list[Objection]] = relationship(back_populates="notice", order_by="Objection.id")

    def is_open(self, now: datetime | None = None) -> bool:
        return self.closed_at is None and (now or clock.now()) < self.ends_at

    def item(self, code: str) -> dict | None:
        return next((i for i in self.items if i.get("credit_code") == code), None)


class Objection(db.Model):
    """A written, real-name objection (异议) to one unit on a notice, with evidence."""

    __tablename__ = "notice_objection"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("public_notice.id", ondelete="CASCADE"), index=True)
    credit_code: Mapped[str] = mapped_column(String(18))  # the unit objected to
    real_name: Mapped[str] = mapped_column(String(100))
    organisation: Mapped[str | None] = mapped_column(String(200))
    contact: Mapped[str] = mapped_column(String(200))
    reasons: Mapped[str] = mapped_column(Text)
    attachment_ids: Mapped[list] = mapped_column(JSON)
    submitted_at: Mapped[datetime] = mapped_column(Aware())
    notice: Mapped[PublicNotice] = relationship(back_populates="objections")


class NoticeClosed(ValueError):
    """The objection window is over (or the unit is not on the notice)."""


def lodge_objection(notice: PublicNotice, *, credit_code: str, real_name: str, organisation: str | None,
                    contact: str, reasons: str, attachment_ids: list[int]) -> Objection:
    """Record an objection while the notice is open. The caller commits, after
    storing the evidence under the notice's case."""
    if not notice.is_open():
        raise NoticeClosed("公示期已结束，不再受理异议。 (the notice period is over; objections are no longer received)")
    if notice.item(credit_code) is None:
        raise NoticeClosed("该单位不在本次公示名单中。 (the unit is not on this notice's list)")
    objection = Objection(notice_id=notice.id, credit_code=credit_code, real_name=real_name,
                          organisation=organisation or None, contact=contact, reasons=reasons,
                          attachment_ids=list(attachment_ids), submitted_at=clock.now())
    db.session.add(objection)
    db.session.flush()
    # the public has no case step to carry this, so the global chain records it
    audit.append(f"public:{real_name}", "objection",
                 detail={"notice": notice.id, "objection": objection.id, "credit_code": credit_code})
    return objection


def _items(value) -> list[dict]:
    if not isinstance(value, list) or not value:
        raise ServiceError("公示须列出拟公示的单位名单 (a public notice needs the list of units it proposes)")
    items = []
    for unit in value:
        code = (unit or {}).get("credit_code") if isinstance(unit, dict) else None
        if not code or credit_code_problem(code) is not None:
            raise ServiceError(f"公示单位须有有效的统一社会信用代码，不能为 {code!r} (a notice item needs a valid credit code, not {code!r})")
        items.append({k: unit.get(k) for k in ("credit_code", "name", "unit_type", "level", "jurisdiction")})
    return items


def publish(params: dict, step: StepContext) -> dict:
    """Put a proposed list on public notice for `working_days` working days from tomorrow."""
    days = params.get("working_days")
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_WORKING_DAYS:
        raise ServiceError(f"公示期须为 1 至 {MAX_WORKING_DAYS} 个工作日，不能为 {days!r} (the notice length must be 1 to {MAX_WORKING_DAYS} working days, not {days!r})")
    today = clock.now().date()
    last_day, provisional = _last_day(today, days)
    notice = PublicNotice(instance_id=step.instance_id, title=str(params.get("title") or "公示"),
                          year=int(params.get("year") or today.year), items=_items(params.get("items")),
                          working_days=days, published_on=today, ends_at=datetime.fromisoformat(
                              statutory_calendar.end_of_day(last_day)),
                          provisional_year=statutory_calendar.first(provisional))
    db.session.add(notice)
    db.session.flush()
    return _window(notice, last_day)


def _last_day(published_on: date, days: int) -> tuple[date, set[int]]:
    """The notice's last working day, and the provisional years it was counted on. The day
    of publication does not count (as for any period in days under Chinese law)."""
    with statutory_calendar.noting_provisional() as provisional:
        return statutory_calendar.working_days_after(published_on, days), provisional


def _window(notice: PublicNotice, last_day: date) -> dict:
    """What the case keeps of its notice (its timer waits for `ends_at`)."""
    return {"notice_id": notice.id, "published_on": notice.published_on.isoformat(), "last_day": last_day.isoformat(),
            "ends_at": notice.ends_at.isoformat(), "working_days": notice.working_days,
            "provisional": notice.provisional_year is not None}


def settle(now: datetime, write: bool) -> list[settlement.Change]:
    """Open notices whose end was counted on a provisional year that is official now, counted
    again from their publication. A notice is lengthened, never shortened: the public was told
    its end. A moved end is handed to the case's data, so its timer moves with it."""
    changes = []
    for notice in db.session.scalars(db.select(PublicNotice).where(
            PublicNotice.provisional_year.is_not(None), PublicNotice.closed_at.is_(None))):
        if not statutory_calendar.is_official(notice.provisional_year):
            continue
        last_day, provisional = _last_day(notice.published_on, notice.working_days)
        old, new = notice.ends_at, datetime.fromisoformat(statutory_calendar.end_of_day(last_day))
        result = settlement.outcome(old, new, now)
        if result == settlement.MOVED and new < old:
            result = settlement.KEPT
        still = statutory_calendar.first(provisional) if result in (settlement.MOVED, settlement.SAME) else None
        patch = None
        if result == settlement.MOVED:
            window = {"ends_at": new.isoformat(), "last_day": last_day.isoformat(), "provisional": still is not None}
            def patch(value, nid=notice.id, w=window):
                return {**value, **w} if isinstance(value, dict) and value.get("notice_id") == nid else value
        changes.append(settlement.Change("notice", notice.instance_id, f"notice:{notice.id}", notice.title, old, new,
                                         result, provisional_year=still, patch=patch))
        if write:
            notice.provisional_year = still
            if result == settlement.MOVED:
                notice.ends_at = new
    return changes


def _notice(params) -> PublicNotice:
    notice = db.session.get(PublicNotice, params.get("notice_id") or 0)
    if notice is None:
        raise ServiceError(f"没有公示 {params.get('notice_id')!r} (no public notice {params.get('notice_id')!r})")
    return notice


def close(params: dict, step: StepContext) -> list[dict]:
    """End the objection window and hand the objections to the case: what each is about and
    its reasons. Who lodged it, their contact and evidence stay on the objection's record,
    where the investigation task shows them to the province only (case data travels to every
    task, audit event and API answer of the case)."""
    notice = _notice(params)
    if clock.now() < notice.ends_at:
        raise ServiceError(f"公示 {notice.id} 至 {notice.ends_at.isoformat()} 结束 (notice {notice.id} is open until {notice.ends_at.isoformat()})")
    notice.closed_at = notice.closed_at or clock.now()
    return [{"objection_id": o.id, "credit_code": o.credit_code, "unit": (notice.item(o.credit_code) or {}).get("name"),
             "reasons": o.reasons, "evidence": len(o.attachment_ids or []),
             "submitted_at": o.submitted_at.isoformat()} for o in notice.objections]


def conclude(params: dict, step: StepContext) -> dict:
    """Record the outcome on the notice: who was listed, who was struck off after an objection."""
    notice = _notice(params)
    listed = [u.get("credit_code") for u in params.get("listed") or []]
    notice.listed = listed
    notice.struck_off = [i["credit_code"] for i in notice.items if i["credit_code"] not in listed]
    return {"notice_id": notice.id, "listed": len(listed), "struck_off": len(notice.struck_off)}


def register() -> None:
    services.OPERATIONS.update({"notice.publish": publish, "notice.close": close, "notice.conclude": conclude})
    if settle not in settlement.RECORDS:
        settlement.RECORDS.append(settle)
