"""Dates counted on a provisional holiday calendar (暂定): marked so wherever they are shown,
and settled when an administrator enters the year's notice: the dry run first, then every
date moved in one audited operation, its timer with it and its assignee told."""
from __future__ import annotations

import time
from datetime import datetime

import pytest
from conftest import MODELS, upload
from holiday_notices import SAMPLE_2027, SOURCE_2027, enter_2027
from test_provincial_selection import all_cities_recommend, review_all, round_case  # noqa: F401 (fixture)
from webclient import csrf_token, sign_in

from engine import clock, settlement, statutory_calendar
from engine.db import db
from engine.green.designations import Designation
from engine.green.notices import PublicNotice
from engine.models import AuditEvent, HumanTask, Notification, PendingTimer, ProcessInstance
from engine.timers import run_until
from web.accounts.users import add_user

SHANGHAI = clock.SHANGHAI


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def december_case(client, users):
    """A city's case started on 15 December 2026, before the 2027 notice is out."""
    upload(client, users("ana", "analyst"), MODELS / "provisional_limits.bpmn")
    clock.current().set(datetime(2026, 12, 15, 10, 0, tzinfo=SHANGHAI))
    official = users("lz", "municipal", "620100")
    r = client.post("/api/v1/instances", json={"process": "long_limits"}, headers=official)
    assert r.status_code == 201, r.json
    return r.json, official


def tasks_by_element(instance):
    return {t["element"]: t for t in instance["tasks"]}


def enter_on_the_page(client, text=SAMPLE_2027):
    add_user("root", "admin", password="correct-horse")
    sign_in(client, "root")
    form = {"year": "2027", "source": SOURCE_2027, "text": text,
            "csrf_token": csrf_token(client, "/admin/calendar/")}
    preview = client.post("/admin/calendar/preview", data=form)
    return preview, lambda: client.post("/admin/calendar/enter", data=form)


def test_limits_reaching_into_2027_are_provisional_in_the_api_and_the_inbox(client, december_case):
    instance, official = december_case
    tasks = tasks_by_element(instance)
    # 20 working days from Tuesday 15 December 2026, 1 January off: Wednesday 13 January
    assert tasks["Task_review"]["due"] == "2027-01-14T00:00:00+08:00" and tasks["Task_review"]["due_provisional"]
    # 40 working days: the law's Spring Festival (5-10 February 2027) lies in between
    assert tasks["Task_report"]["due"] == "2027-02-17T00:00:00+08:00" and tasks["Task_report"]["due_provisional"]
    assert db.session.scalar(db.select(PendingTimer.provisional_year)) == 2027

    add_user("lz-web", "municipal", "620100", password="correct-horse")
    sign_in(client, "lz-web")
    inbox = client.get("/inbox/?tab=role").get_data(as_text=True)
    rows = inbox.split('id="tasks"')[1].split("</table>")[0]
    assert rows.count('class="badge provisional"') == 2 and "2027 年节假日安排尚未公布" in inbox
    page = client.get(f"/tasks/{tasks['Task_report']['id']}").get_data(as_text=True)
    assert "暂定" in page and "按《全国年节及纪念日放假办法》暂定计算" in page


def test_the_dry_run_lists_each_provisional_date_and_changes_nothing(client, december_case):
    instance, official = december_case
    preview, _ = enter_on_the_page(client)
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'id="settlement"' in page
    rows = page.split('id="settlement"')[1]
    assert rows.count("<tr class=\"outcome-moved\"") == 3  # the report, its reminder, the timer
    assert rows.count("<tr class=\"outcome-same\"") == 1  # the review ends on 13 January either way
    assert not statutory_calendar.is_official(2027)
    again = client.get(f"/api/v1/instances/{instance['id']}", headers=official).json
    assert tasks_by_element(again)["Task_report"]["due"] == "2027-02-17T00:00:00+08:00"


def test_entering_2027_moves_the_dates_their_timer_and_tells_the_assignee(client, users, runtime, december_case):
    instance, official = december_case
    _, confirm = enter_on_the_page(client)
    assert confirm().status_code == 302
    after = tasks_by_element(client.get(f"/api/v1/instances/{instance['id']}", headers=official).json)
    assert after["Task_review"]["due"] == "2027-01-14T00:00:00+08:00" and not after["Task_review"]["due_provisional"]
    # officially 31 January is worked and 5-12 February are off: one working day later
    assert after["Task_report"]["due"] == "2027-02-18T00:00:00+08:00" and not after["Task_report"]["due_provisional"]
    report = db.session.get(HumanTask, after["Task_report"]["id"])
    assert report.remind_at == at("2027-02-15T00:00:00+08:00")
    timer = db.session.scalar(db.select(PendingTimer))
    assert timer.due_at == at("2027-02-18T00:00:00+08:00") and timer.provisional_year is None

    [told] = client.get("/api/v1/notifications", headers=official).json["notifications"]
    assert (told["kind"], told["element"], told["due"]) == ("rescheduled", "Task_report", after["Task_report"]["due"])
    [event] = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "reschedule")).all()
    assert event.instance_id == instance["id"] and SOURCE_2027 in event.detail

    # the timer fires at its new moment, not at the provisional one
    run_until(runtime, at("2027-02-18T00:00:00+08:00"))
    assert db.session.scalar(db.select(HumanTask).where(HumanTask.element == "Task_after_period")) is None
    run_until(runtime, at("2027-02-18T00:00:02+08:00"))
    assert db.session.scalar(db.select(HumanTask).where(HumanTask.element == "Task_after_period")) is not None


def test_a_date_that_passed_before_the_notice_is_reported_not_moved(client, users, runtime, december_case):
    instance, official = december_case
    run_until(runtime, at("2027-02-17T12:00:00+08:00"))  # the report is overdue on the provisional count
    preview, confirm = enter_on_the_page(client)
    assert '<tr class="outcome-passed"' in preview.get_data(as_text=True)
    confirm()
    report = tasks_by_element(client.get(f"/api/v1/instances/{instance['id']}", headers=official).json)["Task_report"]
    assert report["due"] == "2027-02-17T00:00:00+08:00" and report["overdue"] and not report["due_provisional"]


def test_a_bad_notice_on_the_page_is_refused_with_the_line_and_the_entries_kept(client, december_case):
    preview, _ = enter_on_the_page(client, SAMPLE_2027 + "2027-13-01,no,x\n")
    page = preview.get_data(as_text=True)
    assert preview.status_code == 422 and "第 15 行" in page and "2027-13-01,no,x" in page
    assert not statutory_calendar.is_official(2027)


@pytest.mark.parametrize("role, city", [("municipal", "620100"), ("provincial", None), ("analyst", None)])
def test_only_an_administrator_may_enter_a_year(client, role, city):
    add_user("someone", role, city, password="correct-horse")
    sign_in(client, "someone")
    assert client.get("/admin/calendar/").status_code == 403
    form = {"year": "2027", "source": SOURCE_2027, "text": SAMPLE_2027, "csrf_token": csrf_token(client, "/inbox/")}
    assert client.post("/admin/calendar/enter", data=form).status_code == 403
    assert not statutory_calendar.is_official(2027)


def test_a_notice_over_spring_festival_is_lengthened_and_the_round_waits_for_its_new_end(
        client, runtime, round_case):  # noqa: F811 (fixture)
    case, units = round_case
    all_cities_recommend(runtime, case, units)
    clock.current().set(datetime(2027, 2, 2, 10, 0, tzinfo=SHANGHAI))  # the 2027 notice is late
    review_all(runtime, case)
    notice = db.session.scalar(db.select(PublicNotice))
    # 3, 4 February, then the law's Spring Festival (5-10), then 11, 12, 15
    assert notice.ends_at == at("2027-02-16T00:00:00+08:00") and notice.provisional_year == 2027
    public = client.get(f"/public/notices/{notice.id}").get_data(as_text=True)
    assert 'class="badge provisional"' in public

    _, confirm = enter_on_the_page(client)
    confirm()
    db.session.expire_all()
    notice = db.session.get(PublicNotice, notice.id)
    # officially 5-12 February are off: 15, 16, 17 complete the five working days
    assert notice.ends_at == at("2027-02-18T00:00:00+08:00") and notice.provisional_year is None
    assert db.session.get(ProcessInstance, case.id).next_timer_at == notice.ends_at
    assert 'class="badge provisional"' not in client.get(f"/public/notices/{notice.id}").get_data(as_text=True)

    run_until(runtime, at("2027-02-16T00:00:05+08:00"))
    assert db.session.get(PublicNotice, notice.id).closed_at is None  # still open on its old end
    run_until(runtime, at("2027-02-18T00:00:02+08:00"))
    assert db.session.get(ProcessInstance, case.id).status == "completed"
    assert db.session.scalar(db.select(db.func.count()).select_from(Designation).where(
        Designation.level == "provincial")) == 3


def test_a_notice_is_never_shortened_by_the_official_calendar(client, runtime, round_case):  # noqa: F811
    case, units = round_case
    all_cities_recommend(runtime, case, units)
    clock.current().set(datetime(2027, 1, 28, 10, 0, tzinfo=SHANGHAI))
    review_all(runtime, case)
    notice = db.session.scalar(db.select(PublicNotice))
    assert notice.ends_at == at("2027-02-05T00:00:00+08:00")  # officially 31 January is worked: 4 February
    preview, confirm = enter_on_the_page(client)
    assert '<tr class="outcome-kept"' in preview.get_data(as_text=True)
    confirm()
    db.session.expire_all()
    notice = db.session.get(PublicNotice, notice.id)
    assert notice.ends_at == at("2027-02-05T00:00:00+08:00") and notice.provisional_year is None
    assert db.session.scalar(db.select(Notification).where(Notification.kind == "rescheduled")) is None


def test_a_date_counted_before_this_process_saw_the_year_is_settled_by_the_sweep(client, runtime, december_case):
    instance, official = december_case
    enter_2027(runtime)  # "another process": this one's calendar still lacks 2027 until it refreshes
    statutory_calendar.ARRANGEMENTS._years, statutory_calendar.ARRANGEMENTS._loaded = {}, time.monotonic()
    late = client.post("/api/v1/instances", json={"process": "long_limits"}, headers=official).json
    assert tasks_by_element(late)["Task_report"]["due_provisional"]

    statutory_calendar.ARRANGEMENTS.forget()  # the refresh interval passes
    assert settlement.settle_leftovers(runtime) > 0
    settled = tasks_by_element(client.get(f"/api/v1/instances/{late['id']}", headers=official).json)
    report = settled["Task_report"]
    assert report["due"] == "2027-02-18T00:00:00+08:00" and not report["due_provisional"]
    assert settlement.settle_leftovers(runtime) == 0  # nothing left: the sweep does nothing
