"""Years the holiday package does not cover yet, entered from the State Council's
notice: deadlines across New Year 2027 are counted instead of refused."""
from __future__ import annotations

from datetime import date

import pytest

from engine import calendar
from engine.holidays import ArrangementInvalid, enter, parse
from engine.models import AuditEvent
from engine.db import db
from holiday_notices import SAMPLE_2027


def test_without_the_notice_a_2027_deadline_is_refused_with_what_to_do(app):
    with pytest.raises(calendar.CalendarNotCovered, match="flask calendar load"):
        calendar.working_days_after(date(2026, 12, 29), 5)


def test_with_the_notice_deadlines_into_2027_are_counted(app):
    assert enter(2027, SAMPLE_2027, "国办发明电（测试）", "ops") == 7
    # 30, 31 Dec 2026; 1 Jan off; 2-3 Jan weekend; 4, 5, 6 Jan
    assert calendar.working_days_after(date(2026, 12, 29), 5) == date(2027, 1, 6)
    assert calendar.is_working_day(date(2027, 2, 7)) and not calendar.is_working_day(date(2027, 2, 10))
    assert calendar.is_working_day(date(2027, 3, 1)) and not calendar.is_working_day(date(2027, 3, 6))
    with pytest.raises(calendar.CalendarNotCovered):
        calendar.is_working_day(date(2028, 1, 3))
    event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "calendar.enter"))
    assert event.actor == "ops" and '"year":2027' in event.detail


def test_a_wrong_notice_is_refused_line_by_line(app):
    with pytest.raises(ArrangementInvalid, match="line 2"):
        parse("2027-01-01,no,元旦\n2027-13-01,no,x\n", 2027)
    with pytest.raises(ArrangementInvalid, match="weekday already"):
        parse("2027-01-04,yes,not a change\n", 2027)
    with pytest.raises(ArrangementInvalid, match="not in 2027"):
        parse("2028-01-03,no,x\n", 2027)
    with pytest.raises(ArrangementInvalid, match="covered"):
        enter(2026, "2026-01-05,no,x\n", "x", "ops")


def test_the_cli_enters_a_year(app, tmp_path):
    notice = tmp_path / "2027.csv"
    notice.write_text(SAMPLE_2027, encoding="utf-8")
    out = app.test_cli_runner().invoke(args=["calendar", "load", str(notice), "--year", "2027",
                                             "--source", "国办发明电（测试）"])
    assert out.exit_code == 0 and "entered 7 days of 2027" in out.output
    notice.write_text("2027-01-04,yes,x\n", encoding="utf-8")
    bad = app.test_cli_runner().invoke(args=["calendar", "load", str(notice), "--year", "2027", "--source", "x"])
    assert bad.exit_code != 0 and "weekday already" in bad.output


def test_the_dashboard_warns_before_the_official_calendar_runs_out(app, client):
    from datetime import datetime

    from engine import clock
    from web.users import add_user
    from webclient import sign_in

    add_user("prov", "provincial", password="correct-horse")
    sign_in(client, "prov")
    clock.current().set(datetime(2026, 10, 30, 9, 0, tzinfo=clock.SHANGHAI))  # two months ahead is still 2026
    assert 'id="calendar-ends"' not in client.get("/dashboard").get_data(as_text=True)
    clock.current().set(datetime(2026, 11, 26, 9, 0, tzinfo=clock.SHANGHAI))
    page = client.get("/dashboard").get_data(as_text=True)
    assert 'id="calendar-ends"' in page and "只到 2026-12-31" in page and "2027 年节假日安排" in page
    enter(2027, SAMPLE_2027, "国办发明电（测试）", "ops")
    calendar.ARRANGEMENTS.forget()  # as after the refresh interval: another process entered it
    assert 'id="calendar-ends"' not in client.get("/dashboard").get_data(as_text=True)
