"""Statutory dates (法定期限): fixed annual dates, calendar-day periods, and
working-day periods on China's official holiday calendar.

Working days follow the State Council's yearly arrangement as published in
the `chinese_calendar` package, adjusted working weekends (调休) included. A
year the package does not cover yet can be entered by an operator from the
State Council's notice (`flask calendar load`): see `Arrangements`. A date in
a year neither covers is an error that says so: a deadline is never guessed.

The helpers are also available inside BPMN expressions (timer, script,
condition, due date): see `EXPRESSION_HELPERS`.
"""
from __future__ import annotations

import calendar as _cal
import time as time_module
from datetime import date, datetime, time, timedelta

import chinese_calendar

from . import clock

SHANGHAI = clock.SHANGHAI


class CalendarNotCovered(ValueError):
    """The holiday calendar has no data for this year yet."""

    def __init__(self, day: date):
        super().__init__(
            f"{day.isoformat()}: the official holiday calendar for {day.year} is not known to this system yet "
            f"(chinesecalendar covers up to {_last_covered_year()}); working days in {day.year} cannot be counted "
            f"until the State Council's arrangement for {day.year} is entered (flask calendar load)"
        )
        self.day = day


def _last_covered_year() -> int:
    return max(chinese_calendar.constants.holidays).year


class Arrangements:
    """Years entered from the State Council's notice, for when the package lags:
    {year: {day: working?}} for the days that differ from Monday-to-Friday.
    The app installs a loader that reads them from the database."""

    REFRESH_SECONDS = 300  # another process may enter or correct a year

    def __init__(self):
        self._years: dict[int, dict[date, bool]] = {}
        self._loaded = float("-inf")
        self.loader = None

    def forget(self) -> None:
        self._loaded = float("-inf")

    def years(self) -> set[int]:
        """The years entered so far."""
        self.for_year(0)  # refreshes when stale
        return set(self._years)

    def for_year(self, year: int) -> dict[date, bool] | None:
        stale = time_module.monotonic() - self._loaded > self.REFRESH_SECONDS
        if self.loader is not None and (stale or year not in self._years):
            self._years, self._loaded = self.loader(), time_module.monotonic()
        return self._years.get(year)


ARRANGEMENTS = Arrangements()


def covered_until() -> date:
    """The last day whose working status this system knows: the end of the last year
    the holiday package or an entered State Council notice covers."""
    return date(max([_last_covered_year(), *ARRANGEMENTS.years()]), 12, 31)


def _as_date(value) -> date:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("give the time with its offset, e.g. +08:00")
        return value.astimezone(SHANGHAI).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return _as_date(datetime.fromisoformat(value)) if "T" in value else date.fromisoformat(value)
    raise TypeError(f"not a date: {value!r}")


def today() -> date:
    return clock.now().date()


def is_working_day(day) -> bool:
    day = _as_date(day)
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        entered = ARRANGEMENTS.for_year(day.year)
        if entered is None:
            raise CalendarNotCovered(day) from None
        return entered.get(day, day.weekday() < 5)


def working_days_after(start, n: int) -> date:
    """The day on which a period of `n` working days that begins after `start` ends.
    `start` itself is not counted (a notice published on day D runs from D+1)."""
    if n < 0:
        raise ValueError("a period cannot be negative")
    day = _as_date(start)
    while n > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            n -= 1
    return day


def working_days_between(start, end) -> int:
    """Working days after `start` up to and including `end`."""
    start, end = _as_date(start), _as_date(end)
    if end < start:
        return -working_days_between(end, start)
    return sum(1 for k in range(1, (end - start).days + 1) if is_working_day(start + timedelta(days=k)))


def days_after(start, n: int) -> date:
    """The last day of a period of `n` calendar days that begins after `start`."""
    return _as_date(start) + timedelta(days=n)


def annual_date(year: int, month: int, day: int) -> date:
    """(month, day) in `year`; 29 February is 28 February in a common year."""
    last = _cal.monthrange(year, month)[1]
    return date(year, month, min(day, last))


def next_annual(month: int, day: int, on_or_after=None) -> date:
    """The first `month`-`day` on or after a date (today by default): the
    deadline "by 31 March" seen from that date."""
    ref = _as_date(on_or_after) if on_or_after is not None else today()
    this_year = annual_date(ref.year, month, day)
    return this_year if this_year >= ref else annual_date(ref.year + 1, month, day)


def end_of_day(day) -> str:
    """The moment a day is over, Beijing time, as ISO text for a timer: a
    deadline "by 31 March" falls due at 1 April 00:00 +08:00."""
    moment = datetime.combine(_as_date(day) + timedelta(days=1), time(0), SHANGHAI)
    return moment.isoformat()


def years_before(moment, years: int) -> date:
    """The same calendar day `years` earlier (29 February → 28 February): the
    start of a look-back such as Art 18's three years."""
    d = _as_date(moment)
    return annual_date(d.year - years, d.month, d.day)


EXPRESSION_HELPERS = {
    "today": today,
    "is_working_day": is_working_day,
    "working_days_after": working_days_after,
    "working_days_between": working_days_between,
    "days_after": days_after,
    "next_annual": next_annual,
    "end_of_day": end_of_day,
    "years_before": years_before,
}
