"""The State Council's holiday arrangements entered by an operator (节假日安排),
for years the `chinese_calendar` package does not cover yet.

An arrangement is read from the notice's own text (`read`), never guessed: the
days off on weekdays and the weekend days worked in lieu, each line checked,
and every statutory holiday of the law checked to be off. Entering it settles
every date that was counted on the provisional calendar for that year
(`engine.settlement`): `preview` is the dry run, `enter` writes the year and
the settled dates in one transaction. A year is entered once: the same text
again changes nothing, a different text for it is refused.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta

from flask import has_app_context
from sqlalchemy import inspect as sa_inspect

from . import clock, settlement, statutory_calendar
from .audit import append as audit
from .db import db
from .models import OfficialCalendarDay, OfficialCalendarYear

RANGE_MARKS = ("~", "～", "..")


class ArrangementInvalid(ValueError):
    pass


@dataclass(frozen=True)
class Arrangement:
    """A year's arrangement as the notice gives it: the days that differ from Monday-to-Friday."""

    year: int
    source: str  # the notice's document number (文号), e.g. 国办发明电〔2026〕7号
    days: tuple[tuple[date, bool, str | None], ...]  # (day, working?, note)

    def working(self) -> dict[date, bool]:
        return {d: w for d, w, _ in self.days}


def load_from_database() -> dict[int, dict[date, bool]]:
    if not has_app_context():  # a calculation outside the app knows only the package's years
        return {}
    # asked on the session's own connection: the first load may come inside a step holding
    # SQLite's write lock, where a new connection would wait for it
    if not sa_inspect(db.session.connection()).has_table(OfficialCalendarYear.__tablename__):
        # a database not set up yet (`flask models check` on a fresh checkout): no year entered
        return {}
    years: dict[int, dict[date, bool]] = {y: {} for y in db.session.scalars(db.select(OfficialCalendarYear.year))}
    for day, working in db.session.execute(db.select(OfficialCalendarDay.day, OfficialCalendarDay.working)):
        years.setdefault(day.year, {})[day] = working
    return years


def _days_of(text: str) -> list[date]:
    for mark in RANGE_MARKS:
        if mark in text:
            first, last = (date.fromisoformat(p.strip()) for p in text.split(mark, 1))
            if last < first:
                raise ValueError("a range ends before it begins")
            return [first + timedelta(days=k) for k in range((last - first).days + 1)]
    return [date.fromisoformat(text)]


def parse(text: str, year: int) -> list[tuple[date, bool, str | None]]:
    """Lines `date,working,note`: `2027-02-15,no,春节` for a weekday off, `2027-02-07,yes,春节调休`
    for a weekend day worked; a range `2027-02-05~2027-02-11,no,春节` as the notice writes a
    holiday (its weekend days are off anyway and are passed over)."""
    return _parse(text, year)[0]


def _parse(text: str, year: int) -> tuple[list[tuple[date, bool, str | None]], dict[date, int]]:
    """The days that differ, and the line that gives each day."""
    days, seen = [], {}
    for n, row in enumerate(csv.reader(io.StringIO(text)), 1):
        if not row or not "".join(row).strip() or row[0].strip().startswith("#") \
                or row[0].strip() in ("date", "日期"):
            continue
        try:
            span = _days_of(row[0].strip())
            working = {"yes": True, "no": False, "上班": True, "休息": False}[row[1].strip().lower()]
        except (ValueError, IndexError, KeyError):
            raise ArrangementInvalid(f"第 {n} 行：格式应为 'YYYY-MM-DD,yes|no,备注'（或日期范围 'YYYY-MM-DD~YYYY-MM-DD'），实际为 {','.join(row)!r} (line {n}: expected 'YYYY-MM-DD,yes|no,note' (or a range "
                                     f"'YYYY-MM-DD~YYYY-MM-DD'), got {','.join(row)!r})") from None
        note = row[2].strip() if len(row) > 2 and row[2].strip() else None
        for day in span:
            if day.year != year:
                raise ArrangementInvalid(f"第 {n} 行：{day} 不在 {year} 年内 (line {n}: {day} is not in {year})")
            if day in seen:
                raise ArrangementInvalid(f"第 {n} 行：{day} 已在第 {seen[day]} 行填写 (line {n}: {day} is given already on line {seen[day]})")
            seen[day] = n
        differing = [d for d in span if working != (d.weekday() < 5)]
        if not differing:
            what, what_zh = ("weekday", "工作日") if working else ("weekend day", "周末")
            raise ArrangementInvalid(f"第 {n} 行：{row[0].strip()} 本来就是{what_zh}；只需列出有调整的日期 (line {n}: {row[0].strip()} is a {what} already; list only the days that differ)")
        days += [(d, working, note) for d in differing]
    if not days:
        raise ArrangementInvalid("未填写任何日期 (no days given)")
    return days, seen


def _check_statutory_days_off(year: int, days: list[tuple[date, bool, str | None]], lines: dict[date, int]) -> None:
    """Every holiday of the law is off in any arrangement the State Council makes."""
    working = {d: w for d, w, _ in days}
    for name, holiday in statutory_calendar.statutory_holidays(year):
        for day in holiday:
            if working.get(day, day.weekday() < 5):
                where = f"line {lines[day]}: " if day in lines else ""
                where_zh = f"第 {lines[day]} 行：" if day in lines else ""
                raise ArrangementInvalid(
                    f"{where_zh}{day}（{name}）是《全国年节及纪念日放假办法》规定的法定节假日，必须放假；"
                    f"{'本行却将其设为工作日' if where else '没有一行给出放假'} "
                    f"({where}{day} ({name}) is a statutory holiday under the national holidays regulation and must be "
                    f"a day off; {'this line makes it a working day' if where else 'no line gives it off'})")


def read(year: int, text: str, source: str) -> Arrangement:
    """A notice's text as an arrangement, or ArrangementInvalid naming the line that is wrong."""
    source = (source or "").strip()
    if not source:
        raise ArrangementInvalid("请写明安排所依据的通知（文号） (name the notice the arrangement comes from (its document number))")
    this_year = clock.now().year
    if statutory_calendar.package_covers(year):
        raise ArrangementInvalid(f"{year} 年已由 chinesecalendar 软件包提供 ({year} is covered by the chinesecalendar package already)")
    if not (statutory_calendar.PROVISIONAL_FROM <= year <= this_year + 1):
        raise ArrangementInvalid(f"{year} 年超出范围：国务院于前一年年底公布当年安排，目前最晚只能录入 {this_year + 1} 年 ({year} is out of range: the State Council publishes a year's arrangement late "
                                 f"in the year before, so {this_year + 1} is the latest that can be entered now)")
    days, lines = _parse(text, year)
    _check_statutory_days_off(year, days, lines)
    return Arrangement(year, source, tuple(days))


def _entered(arrangement: Arrangement) -> bool:
    """Whether this very arrangement is entered already; refused if the year was entered otherwise."""
    existing = db.session.get(OfficialCalendarYear, arrangement.year)
    if existing is None:
        return False
    stored = dict(db.session.execute(db.select(OfficialCalendarDay.day, OfficialCalendarDay.working)
                                     .where(OfficialCalendarDay.year == arrangement.year)).all())
    if stored == arrangement.working():
        return True
    differ = sorted(set(stored.items()) ^ set(arrangement.working().items()))
    raise ArrangementInvalid(
        f"{arrangement.year} 年已于 {existing.entered_at:%Y-%m-%d} 依据 {existing.source} 录入，且日期不同（第一处差异：{differ[0][0]}）；每年只依据通知原文录入一次 ({arrangement.year} was entered already from {existing.source} on {existing.entered_at:%Y-%m-%d}, with "
        f"other days (first difference: {differ[0][0]}); a year is entered once, from the notice's own text)")


def preview(runtime, arrangement: Arrangement) -> list[settlement.Change]:
    """The dry run: what entering the arrangement would do to the provisional dates."""
    if _entered(arrangement):
        return []
    with statutory_calendar.entering(arrangement.year, arrangement.working()):
        return settlement.plan(runtime)


def enter(runtime, arrangement: Arrangement, actor: str | None) -> list[settlement.Change] | None:
    """Enter the year and settle its provisional dates, in one audited transaction. None when
    the same arrangement was entered before (nothing changes)."""
    if _entered(arrangement):
        return None

    def write_the_year(changes: list[settlement.Change]):
        db.session.add(OfficialCalendarYear(year=arrangement.year, source=arrangement.source, entered_by=actor,
                                            entered_at=clock.now()))
        db.session.flush()  # the year's row before its days
        db.session.add_all(OfficialCalendarDay(day=d, year=arrangement.year, working=w, note=note)
                           for d, w, note in arrangement.days)
        audit(actor, "calendar.enter", detail={
            "year": arrangement.year, "source": arrangement.source, "days": len(arrangement.days),
            "moved": sum(c.outcome == settlement.MOVED for c in changes),
            "not_moved": sum(c.outcome in (settlement.PASSED, settlement.KEPT) for c in changes)})

    with statutory_calendar.entering(arrangement.year, arrangement.working()):
        changes = settlement.settle(runtime, actor or "system", arrangement.source, also=write_the_year)
    statutory_calendar.ARRANGEMENTS.forget()
    return changes
