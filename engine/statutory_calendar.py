"""Statutory dates (法定期限): fixed annual dates, calendar-day periods, and
working-day periods on China's official holiday calendar.

Working days follow the State Council's yearly arrangement as published in
the `chinese_calendar` package, adjusted working weekends (调休) included. A
year the package does not cover yet can be entered by an operator from the
State Council's notice (`flask calendar load`): see `Arrangements`.

A year neither covers yet (each December the next one, until the notice comes
out) is counted on a provisional calendar (暂定日历) built from the holiday law
itself, 《全国年节及纪念日放假办法》 as in force since 2025: its statutory
holidays, a weekday off in lieu of each one that falls on a weekend (its
Art 6), weekends otherwise, and no adjusted working weekends, which only the
notice can tell. So the calendar never stops a deployment or a case, and
every date counted on a provisional year says so: `noting_provisional()`
collects the provisional years an evaluation read, and what it computed is
marked provisional until the year's notice is entered and settles it
(`engine.settlement`).

The lunar and solar-term dates of the provisional holidays come from
`lunar_python` (6tail's lunar library, pure Python, maintained, computing them
astronomically for any year rather than from a table typed in by hand).

The helpers are also available inside BPMN expressions (timer, script,
condition, due date): see `EXPRESSION_HELPERS`.
"""
from __future__ import annotations

import calendar as _cal
import time as time_module
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import chinese_calendar
from lunar_python import Lunar, Solar

from . import clock

SHANGHAI = clock.SHANGHAI


# The holiday law as amended by State Council Order No. 795 (2024), in force from 1 January 2025:
# the provisional calendar follows it from that year on. Earlier years are all in the package.
PROVISIONAL_FROM = 2025


class CalendarNotCovered(ValueError):
    """A day before the holiday law the provisional calendar follows, in no official arrangement."""

    def __init__(self, day: date):
        super().__init__(
            f"{day.isoformat()}：本系统没有 {day.year} 年的官方节假日安排，暂定日历只适用于 {PROVISIONAL_FROM} 起施行的节假日规定 "
            f"({day.isoformat()}: no official holiday arrangement for {day.year} is known to this system, and the "
            f"provisional calendar follows the holiday law in force from {PROVISIONAL_FROM} only)"
        )
        self.day = day


def _last_covered_year() -> int:
    return max(chinese_calendar.constants.holidays).year


def package_covers(year: int) -> bool:
    return min(chinese_calendar.constants.holidays).year <= year <= _last_covered_year()


class Arrangements:
    """Years entered from the State Council's notice, for when the package lags:
    {year: {day: working?}} for the days that differ from Monday-to-Friday.
    The app installs a loader that reads them from the database."""

    # Another process may enter a year meanwhile. What this one counts provisionally in the
    # meantime is marked so, and the scheduler's sweep settles it (engine.settlement).
    REFRESH_SECONDS = 300

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
        if self.loader is not None and stale:
            self._years, self._loaded = self.loader(), time_module.monotonic()
        return self._years.get(year)


ARRANGEMENTS = Arrangements()


# never mutated: `entering` sets a new dict for its block
_entering: ContextVar[dict[int, dict[date, bool]]] = ContextVar("entering", default={})  # noqa: B039


@contextmanager
def entering(year: int, days: dict[date, bool]):
    """Inside the block, this thread counts `year` on the arrangement given (a notice being
    entered: its dry run, and its settlement before the commit), whatever is stored."""
    token = _entering.set({**_entering.get(), year: days})
    try:
        yield
    finally:
        _entering.reset(token)


def _official_year(year: int) -> dict[date, bool] | None:
    being_entered = _entering.get()
    return being_entered[year] if year in being_entered else ARRANGEMENTS.for_year(year)


def first(years) -> int | None:
    """The first of the provisional years a date was counted on (what the tables keep), or None."""
    return min(years) if years else None


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


def _lunar_day(year: int, month: int, day: int) -> date:
    solar = Lunar.fromYmd(year, month, day).getSolar()
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


def _qingming(year: int) -> date:
    solar = Solar.fromYmd(year, 4, 15).getLunar().getJieQiTable()["清明"]
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


def statutory_holidays(year: int) -> list[tuple[str, list[date]]]:
    """The holidays of 《全国年节及纪念日放假办法》 (Art 2, as amended in 2024) in `year`."""
    spring = _lunar_day(year, 1, 1)
    return [
        ("元旦", [date(year, 1, 1)]),
        ("春节", [spring + timedelta(days=k) for k in range(-1, 3)]),  # 除夕 to 初三
        ("清明节", [_qingming(year)]),
        ("劳动节", [date(year, 5, 1), date(year, 5, 2)]),
        ("端午节", [_lunar_day(year, 5, 5)]),
        ("中秋节", [_lunar_day(year, 8, 15)]),
        ("国庆节", [date(year, 10, 1) + timedelta(days=k) for k in range(3)]),
    ]


@lru_cache(maxsize=64)
def provisional_arrangement(year: int) -> dict[date, str]:
    """The days off of a year no notice covers yet, as the law alone gives them: each statutory
    holiday, and for each of its days that falls on a Saturday or Sunday (or on another holiday) a
    weekday off after it (补假, Art 6 of the law). The State Council's notice usually adds more days
    off and adjusted working weekends; those cannot be known before it, so none are guessed."""
    off: dict[date, str] = {}
    for name, days in statutory_holidays(year):
        owed = 0
        for day in days:
            if day.weekday() >= 5 or day in off:
                owed += 1
            off.setdefault(day, name)
        day = days[-1]
        while owed:
            day += timedelta(days=1)
            if day.weekday() < 5 and day not in off:
                off[day] = f"{name}补假"
                owed -= 1
    return off


_provisional_seen: ContextVar[set[int] | None] = ContextVar("provisional_seen", default=None)


@contextmanager
def noting_provisional():
    """Collects the years a calculation inside the block counted on the provisional calendar
    (empty: every day it read is official). Nested blocks report to the enclosing one too."""
    outer = _provisional_seen.get()
    seen: set[int] = set()
    token = _provisional_seen.set(seen)
    try:
        yield seen
    finally:
        _provisional_seen.reset(token)
        if outer is not None:
            outer |= seen


def is_official(year: int) -> bool:
    """Whether the year's working days are known from the State Council's arrangement."""
    return package_covers(year) or _official_year(year) is not None


def is_working_day(day) -> bool:
    day = _as_date(day)
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        pass
    entered = _official_year(day.year)
    if entered is not None:
        return entered.get(day, day.weekday() < 5)
    if day.year < PROVISIONAL_FROM:
        raise CalendarNotCovered(day)
    seen = _provisional_seen.get()
    if seen is not None:
        seen.add(day.year)
    return day.weekday() < 5 and day not in provisional_arrangement(day.year)


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
