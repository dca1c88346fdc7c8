"""Statutory dates: working days on the official calendar, annual deadlines, look-backs."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import clock
from engine.statutory_calendar import (
    CalendarNotCovered,
    days_after,
    end_of_day,
    is_working_day,
    next_annual,
    noting_provisional,
    provisional_arrangement,
    statutory_holidays,
    working_days_after,
    working_days_between,
    years_before,
)

COVERED = st.dates(min_value=date(2005, 1, 1), max_value=date(2026, 9, 30))
# the weeks around Spring Festival and National Day, where adjusted weekends (调休) live
AROUND_HOLIDAYS = st.sampled_from([date(2024, 2, 1), date(2024, 9, 20), date(2025, 1, 20), date(2025, 9, 25),
                                   date(2026, 2, 5), date(2026, 9, 20)]).flatmap(
    lambda d: st.integers(0, 25).map(lambda k: d + timedelta(days=k)))


def test_known_days_of_the_official_calendar():
    assert not is_working_day(date(2024, 2, 12))      # Spring Festival holiday, a Monday
    assert is_working_day(date(2024, 2, 4))           # Sunday worked in lieu (调休)
    assert is_working_day(date(2024, 2, 18))          # Sunday worked in lieu
    assert not is_working_day(date(2025, 10, 8))      # National Day holiday, a Wednesday
    assert is_working_day(date(2025, 9, 28))          # Sunday worked in lieu
    assert is_working_day(date(2025, 10, 11))         # Saturday worked in lieu


def test_a_five_working_day_notice_over_national_day_2025():
    # published Tuesday 30 Sep 2025; 1-8 Oct are holidays, Sat 11 Oct is worked
    assert working_days_after(date(2025, 9, 30), 5) == date(2025, 10, 14)  # 9, 10, 11 (Sat), 13, 14
    assert working_days_after(date(2025, 9, 26), 1) == date(2025, 9, 28)  # the worked Sunday counts


@settings(max_examples=300)
@given(start=AROUND_HOLIDAYS, n=st.integers(0, 15))
def test_working_days_after_counts_exactly_n_official_working_days(start, n):
    end = working_days_after(start, n)
    days = [start + timedelta(days=k) for k in range(1, (end - start).days + 1)]
    assert sum(chinese_calendar.is_workday(d) for d in days) == n
    assert n == 0 or chinese_calendar.is_workday(end)  # the period ends on a working day
    assert working_days_between(start, end) == n


@settings(max_examples=300)
@given(start=COVERED, n=st.integers(1, 20))
def test_working_day_periods_add_up(start, n):
    mid = working_days_after(start, n)
    assert working_days_after(mid, n) == working_days_after(start, 2 * n)
    assert mid > start and (mid - start).days >= n


@settings(max_examples=300)
@given(ref=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
       md=st.sampled_from([(3, 31), (4, 15), (7, 31), (2, 29), (12, 31), (1, 1)]))
def test_next_annual_date_is_the_first_one_on_or_after(ref, md):
    due = next_annual(*md, on_or_after=ref)
    assert due >= ref and due.month == md[0]
    assert due.day == md[1] or (md == (2, 29) and due.day == 28)
    assert (due - ref).days < 366
    # the same date a year earlier is already past
    assert next_annual(*md, on_or_after=due) == due
    assert next_annual(*md, on_or_after=due + timedelta(days=1)).year == due.year + 1


def test_31_march_and_15_april_roll_over():
    assert next_annual(3, 31, on_or_after=date(2026, 3, 31)) == date(2026, 3, 31)
    assert next_annual(3, 31, on_or_after=date(2026, 4, 1)) == date(2027, 3, 31)
    assert next_annual(4, 15, on_or_after=date(2026, 11, 26)) == date(2027, 4, 15)
    assert end_of_day(date(2027, 4, 15)) == "2027-04-16T00:00:00+08:00"


def test_leap_years():
    assert next_annual(2, 29, on_or_after=date(2027, 1, 1)) == date(2027, 2, 28)
    assert next_annual(2, 29, on_or_after=date(2028, 1, 1)) == date(2028, 2, 29)
    assert days_after(date(2024, 2, 1), 90) == date(2024, 5, 1)   # 29 days in February 2024
    assert days_after(date(2025, 2, 1), 90) == date(2025, 5, 2)
    assert years_before(date(2028, 2, 29), 3) == date(2025, 2, 28)


def test_a_three_year_look_back_boundary():
    application = date(2026, 6, 1)
    start = years_before(application, 3)
    two_years_364_days = application - timedelta(days=3 * 365)  # within three years
    three_years_and_a_day = date(2023, 5, 31)
    assert start == date(2023, 6, 1)
    assert two_years_364_days >= start and three_years_and_a_day < start


def test_a_year_no_notice_covers_is_counted_on_the_holiday_law_and_noted_as_provisional():
    with noting_provisional() as provisional:
        assert working_days_after(date(2026, 12, 28), 5) == date(2027, 1, 5)  # 1 January off, then a weekend
    assert provisional == {2027}
    with noting_provisional() as provisional:
        assert working_days_after(date(2026, 11, 2), 5) == date(2026, 11, 9)
    assert provisional == set()
    # 2027's Spring Festival is 6 February (a Saturday): 除夕 to 初三 off, the weekend's two days owed after
    assert [d for d in (date(2027, 2, 4) + timedelta(days=k) for k in range(8)) if not is_working_day(d)] == [
        date(2027, 2, 5), date(2027, 2, 6), date(2027, 2, 7), date(2027, 2, 8), date(2027, 2, 9), date(2027, 2, 10)]
    assert provisional_arrangement(2028)[date(2028, 1, 3)] == "元旦补假"  # 1 January 2028 is a Saturday


def test_before_the_law_in_force_a_year_outside_the_package_is_a_clear_error():
    with pytest.raises(CalendarNotCovered, match="2003.*2025"):
        is_working_day(date(2003, 1, 2))


@pytest.mark.parametrize("year", [2025, 2026])
def test_every_day_off_the_law_gives_is_off_in_the_state_councils_own_arrangement(year):
    """The provisional calendar checked against the years under the amended law that the package covers."""
    for day, name in provisional_arrangement(year).items():
        assert not chinese_calendar.is_workday(day), (day, name)
    for name, days in statutory_holidays(year):
        assert all(chinese_calendar.get_holiday_detail(d)[0] for d in days), name


@settings(max_examples=40)
@given(st.integers(2027, 2099))
def test_each_year_gives_thirteen_weekdays_off_whatever_weekday_the_holidays_fall_on(year):
    off = provisional_arrangement(year)
    assert sum(1 for d in off if d.weekday() < 5) == 13
    assert all(d.year == year for d in off)
    assert date(year, 10, 1) in off and date(year, 5, 2) in off


def test_aware_datetimes_are_read_in_beijing_time():
    late_evening_utc = datetime(2025, 9, 30, 17, 0, tzinfo=clock.timezone.utc)  # 1 Oct 01:00 in Beijing
    assert not is_working_day(late_evening_utc)
    with pytest.raises(ValueError):
        is_working_day(datetime(2025, 9, 30, 17, 0))


def test_helpers_work_inside_bpmn_expressions():
    from engine.scripting import make_script_engine

    env = make_script_engine().environment
    clock.install(clock.VirtualClock(datetime(2026, 3, 2, 9, tzinfo=clock.SHANGHAI)))
    try:
        assert env.evaluate("end_of_day(next_annual(3, 31))", {}) == "2026-04-01T00:00:00+08:00"
        assert env.evaluate("working_days_after(published, 5)", {"published": date(2025, 9, 30)}) == date(2025, 10, 14)
    finally:
        clock.install(clock.SystemClock())
