"""The State Council's holiday arrangements entered by an operator (节假日安排),
for years the `chinese_calendar` package does not cover yet."""
from __future__ import annotations

import csv
import io
from datetime import date

import chinese_calendar
from flask import has_app_context

from . import calendar, clock
from .audit import append as audit
from .db import db
from .models import OfficialCalendarDay, OfficialCalendarYear


class ArrangementInvalid(ValueError):
    pass


def load_from_database() -> dict[int, dict[date, bool]]:
    if not has_app_context():  # a calculation outside the app knows only the package's years
        return {}
    years: dict[int, dict[date, bool]] = {y: {} for y in db.session.scalars(db.select(OfficialCalendarYear.year))}
    for day, working in db.session.execute(db.select(OfficialCalendarDay.day, OfficialCalendarDay.working)):
        years.setdefault(day.year, {})[day] = working
    return years


def parse(text: str, year: int) -> list[tuple[date, bool, str | None]]:
    """Lines `date,working,note`: `2027-02-15,no,春节` for a weekday off,
    `2027-02-07,yes,春节调休` for a weekend day worked."""
    days, seen = [], set()
    for n, row in enumerate(csv.reader(io.StringIO(text)), 1):
        if not row or row[0].strip().startswith("#") or row[0].strip() in ("date", "日期"):
            continue
        try:
            day = date.fromisoformat(row[0].strip())
            working = {"yes": True, "no": False, "上班": True, "休息": False}[row[1].strip().lower()]
        except (ValueError, IndexError, KeyError):
            raise ArrangementInvalid(f"line {n}: expected 'YYYY-MM-DD,yes|no,note', got {','.join(row)!r}") from None
        if day.year != year:
            raise ArrangementInvalid(f"line {n}: {day} is not in {year}")
        if day in seen:
            raise ArrangementInvalid(f"line {n}: {day} is given twice")
        if working == (day.weekday() < 5):
            raise ArrangementInvalid(f"line {n}: {day} is a {'weekday' if working else 'weekend day'} already; "
                                     "list only the days that differ")
        seen.add(day)
        days.append((day, working, row[2].strip() if len(row) > 2 and row[2].strip() else None))
    if not days:
        raise ArrangementInvalid("no days given")
    return days


def enter(year: int, text: str, source: str, actor: str | None) -> int:
    """Enter (or replace) a year's arrangement; refused for a year the package covers."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        pass
    else:
        raise ArrangementInvalid(f"{year} is covered by the chinesecalendar package already")
    days = parse(text, year)
    existing = db.session.get(OfficialCalendarYear, year)
    if existing is not None:
        db.session.delete(existing)
        db.session.flush()
    db.session.add(OfficialCalendarYear(year=year, source=source, entered_by=actor, entered_at=clock.now()))
    db.session.flush()  # the year's row before its days
    db.session.add_all(OfficialCalendarDay(day=d, year=year, working=w, note=note) for d, w, note in days)
    audit(actor, "calendar.enter", detail={"year": year, "source": source, "days": len(days)})
    db.session.commit()
    calendar.ARRANGEMENTS.forget()
    return len(days)
