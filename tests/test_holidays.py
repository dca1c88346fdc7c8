"""Years the holiday package does not cover yet, entered from the State Council's
notice: read line by line, checked against the holiday law, entered once."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from holiday_notices import SAMPLE_2027, SOURCE_2027, enter_2027

from engine import clock, statutory_calendar
from engine.db import db
from engine.holidays import ArrangementInvalid, enter, parse, read
from engine.models import AuditEvent, OfficialCalendarDay


def audit_events(action):
    return db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == action)).all()


def test_without_the_notice_a_2027_deadline_is_provisional_and_with_it_official(app, runtime):
    with statutory_calendar.noting_provisional() as provisional:
        assert statutory_calendar.working_days_after(date(2026, 12, 29), 5) == date(2027, 1, 6)
    assert provisional == {2027} and not statutory_calendar.is_official(2027)
    assert enter_2027(runtime) == []  # nothing was waiting on a provisional date
    with statutory_calendar.noting_provisional() as provisional:
        # 30, 31 Dec 2026; 1 Jan off; 2-3 Jan weekend; 4, 5, 6 Jan
        assert statutory_calendar.working_days_after(date(2026, 12, 29), 5) == date(2027, 1, 6)
        assert statutory_calendar.is_working_day(date(2027, 2, 20))
        assert not statutory_calendar.is_working_day(date(2027, 2, 12))
    assert provisional == set() and statutory_calendar.is_official(2027)
    assert len(db.session.scalars(db.select(OfficialCalendarDay)).all()) == 24  # ranges keep only the days that differ
    with statutory_calendar.noting_provisional() as provisional:
        statutory_calendar.is_working_day(date(2028, 1, 3))
    assert provisional == {2028}
    [event] = audit_events("calendar.enter")
    assert event.actor == "ops" and '"year":2027' in event.detail


@pytest.mark.parametrize("text, message", [
    ("2027-01-01,no,元旦\n2027-13-01,no,x\n", "line 2: expected"),
    ("2027-01-01,no,元旦\n2027-01-04,yes,not a change\n", "line 2: 2027-01-04 is a weekday already"),
    ("2028-01-03,no,x\n", "line 1: 2028-01-03 is not in 2027"),
    ("2027-10-01~2027-10-07,no,国庆节\n2027-10-04,no,again\n", "line 2: 2027-10-04 is given already on line 1"),
    ("2027-02-12~2027-02-05,no,春节\n", "line 1: expected"),
    ("# only a comment\n", "no days given"),
])
def test_a_wrong_line_is_refused_by_its_number(app, text, message):
    with pytest.raises(ArrangementInvalid, match=message):
        parse(text, 2027)


def test_a_notice_that_leaves_a_statutory_holiday_a_working_day_is_refused(app):
    without_new_year = SAMPLE_2027.replace("2027-01-01,no,元旦\n", "")
    with pytest.raises(ArrangementInvalid, match=r"2027-01-01 \(元旦\) is a statutory holiday.*no line gives it off"):
        read(2027, without_new_year, SOURCE_2027)
    # 初一 2027 is a Saturday: a line making it a working day is named
    spring_worked = SAMPLE_2027.replace("2027-01-31,yes,春节调休", "2027-02-06,yes,春节调休").replace(
        "2027-02-05~2027-02-12,no,春节", "2027-02-05,no,春节\n2027-02-08~2027-02-12,no,春节")
    with pytest.raises(ArrangementInvalid, match=r"line \d+: 2027-02-06 \(春节\).*this line makes it a working day"):
        read(2027, spring_worked, SOURCE_2027)


def test_a_year_out_of_range_or_without_its_notice_number_is_refused(app):
    with pytest.raises(ArrangementInvalid, match="covered by the chinesecalendar package"):
        read(2026, "2026-01-05,no,x\n", SOURCE_2027)
    with pytest.raises(ArrangementInvalid, match="2028 is out of range.*2027 is the latest"):
        read(2028, "2028-01-03,no,元旦补假\n", SOURCE_2027)  # seen from March 2026
    with pytest.raises(ArrangementInvalid, match="文号"):
        read(2027, SAMPLE_2027, "  ")


def test_a_year_is_entered_once_the_same_text_again_changes_nothing(app, runtime):
    assert enter_2027(runtime) == []
    events = len(audit_events("calendar.enter"))
    assert enter_2027(runtime) is None and len(audit_events("calendar.enter")) == events
    other = SAMPLE_2027.replace("2027-02-20,yes,春节调休\n", "")
    with pytest.raises(ArrangementInvalid, match="2027 was entered already from .*first difference: 2027-02-20"):
        enter(runtime, read(2027, other, "国办发明电〔2026〕99号"), "ops")
    assert db.session.scalar(db.select(db.func.count()).select_from(OfficialCalendarDay)) == 24


def test_the_cli_shows_the_dry_run_then_enters_the_year(app, tmp_path):
    notice = tmp_path / "2027.csv"
    notice.write_text(SAMPLE_2027, encoding="utf-8")
    args = ["calendar", "load", str(notice), "--year", "2027", "--source", SOURCE_2027]
    dry = app.test_cli_runner().invoke(args=[*args, "--dry-run"])
    assert dry.exit_code == 0 and "0 provisional dates" in dry.output and not statutory_calendar.is_official(2027)
    out = app.test_cli_runner().invoke(args=[*args, "--yes"])
    assert out.exit_code == 0 and "entered 24 days of 2027" in out.output
    again = app.test_cli_runner().invoke(args=[*args, "--yes"])
    assert again.exit_code == 0 and "nothing changed" in again.output
    notice.write_text("2027-01-04,yes,x\n", encoding="utf-8")
    bad = app.test_cli_runner().invoke(args=["calendar", "load", str(notice), "--year", "2027", "--source", "x"])
    assert bad.exit_code != 0 and "weekday already" in bad.output
    notice.write_bytes("2027-01-01,no,元旦".encode("gb18030"))
    garbled = app.test_cli_runner().invoke(args=["calendar", "load", str(notice), "--year", "2027", "--source", "x"])
    assert garbled.exit_code != 0 and "Traceback" not in garbled.output


def test_the_dashboard_warns_before_the_official_calendar_runs_out_and_counts_provisional_dates(app, client):
    from webclient import sign_in

    from web.accounts.users import add_user

    add_user("prov", "provincial", password="correct-horse")
    sign_in(client, "prov")
    clock.current().set(datetime(2026, 10, 30, 9, 0, tzinfo=clock.SHANGHAI))  # two months ahead is still 2026
    assert 'id="calendar-ends"' not in client.get("/dashboard").get_data(as_text=True)
    clock.current().set(datetime(2026, 11, 26, 9, 0, tzinfo=clock.SHANGHAI))
    page = client.get("/dashboard").get_data(as_text=True)
    assert 'id="calendar-ends"' in page and "只到 2026-12-31" in page and "2027 年节假日安排" in page
    assert "现有暂定日期 0 个" in page
    enter_2027(app.extensions["green_ladder.runtime"])
    statutory_calendar.ARRANGEMENTS.forget()  # as after the refresh interval: another process entered it
    assert 'id="calendar-ends"' not in client.get("/dashboard").get_data(as_text=True)
