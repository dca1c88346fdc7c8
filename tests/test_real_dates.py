"""The service on the day it is really used, not only on the suite's virtual clock: `make run`'s
set-up on today's real date, and a 20-working-day step, a year's notice and its settlement on
days travelled to across 2026-2031 — December, Spring Festival, years no notice covers yet."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import date, datetime, timedelta

import pytest
import time_machine
from conftest import MODELS, ROOT

from engine import clock, statutory_calendar
from engine.db import db
from engine.holidays import enter, read
from engine.model_registry import collect
from engine.models import HumanTask, PendingTimer
from engine.runtime import Actor

LANZHOU = Actor("lz", "municipal", "620100")


def test_make_runs_set_up_works_on_todays_real_date(tmp_path):
    """What `make run` does before serving, as a newcomer runs it: real clock, fresh SQLite."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path}/run.db", "CLOCK": "system"}
    flask = [sys.executable, "-m", "flask", "--app", "web"]
    for args in (["db", "upgrade"], ["demo"], ["models", "check", "processes/"]):
        done = subprocess.run([*flask, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{args} on {date.today()}:\n{done.stdout}\n{done.stderr}"
    assert " 0 errors" in " " + done.stdout.splitlines()[-1]
    with sqlite3.connect(tmp_path / "run.db") as conn:
        assert conn.execute("select count(*) from process_instance where status = 'error'").fetchone() == (0,)
        assert conn.execute("select count(*) from process_instance").fetchone()[0] > 20


def test_an_analyst_checks_the_models_before_any_database_is_set_up(tmp_path):
    """`flask models check` on a fresh checkout, before `make run` made the database: the time
    limits are computed on today's real date from the package's calendar, not failed for want
    of the table of entered years."""
    from web import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/fresh.db", "CLOCK": "system"})
    statutory_calendar.ARRANGEMENTS.forget()
    try:
        result = app.test_cli_runner().invoke(args=["models", "check", str(ROOT / "processes")])
    finally:
        statutory_calendar.ARRANGEMENTS.forget()
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("0 errors")


def _law_notice(year: int) -> str:
    """A notice in the shape the State Council's take: the law's days off, one more day off after
    Spring Festival, and the Saturday before it worked in lieu."""
    off = statutory_calendar.provisional_arrangement(year)
    lines = [f"{d.isoformat()},no,{name}" for d, name in sorted(off.items()) if d.weekday() < 5]
    spring = max(d for d, name in off.items() if name.startswith("春节"))
    extra = next(spring + timedelta(days=k) for k in range(1, 10)
                 if (spring + timedelta(days=k)).weekday() < 5 and spring + timedelta(days=k) not in off)
    saturday = next(spring - timedelta(days=k) for k in range(7, 20) if (spring - timedelta(days=k)).weekday() == 5)
    return "\n".join([*lines, f"{extra.isoformat()},no,春节", f"{saturday.isoformat()},yes,春节调休"]) + "\n"


def _mid_december(year: int) -> datetime:
    day = date(year, 12, 14)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, datetime.min.time().replace(hour=10), clock.SHANGHAI)


@pytest.fixture
def real_clock(app):
    clock.install(clock.SystemClock())  # the fixture puts its virtual clock back afterwards


@pytest.mark.parametrize("year", [2026, 2027, 2028, 2030])
def test_a_20_working_day_step_started_in_mid_december_runs_and_settles_when_the_notice_comes(
        app, runtime, real_clock, year):
    start = _mid_december(year)
    if not statutory_calendar.is_official(year):  # entered a year ago, as an operator would have
        with time_machine.travel(_mid_december(year - 1), tick=False):
            enter(runtime, read(year, _law_notice(year), f"国办发明电〔{year - 1}〕（测试）"), "ops")
    with time_machine.travel(start, tick=False):
        runtime.registry.deploy(collect([ROOT / "processes", MODELS / "provisional_limits.bpmn"]))
        case = runtime.start("long_limits", {}, LANZHOU)
        review = db.session.scalar(db.select(HumanTask).where(HumanTask.instance_id == case.id,
                                                              HumanTask.element == "Task_review"))
        due_day = review.due_at.date() - timedelta(days=1)
        assert statutory_calendar.is_working_day(due_day)
        assert statutory_calendar.working_days_between(start, due_day) == 20
        assert due_day.year == year + 1 and review.due_provisional_year == year + 1
        timer = db.session.scalar(db.select(PendingTimer).where(PendingTimer.instance_id == case.id))
        assert timer.provisional_year == year + 1

    with time_machine.travel(start + timedelta(days=5), tick=False):
        changes = enter(runtime, read(year + 1, _law_notice(year + 1), f"国办发明电〔{year}〕（测试）"), "ops")
        db.session.expire_all()
        review = db.session.get(HumanTask, review.id)
        assert review.due_provisional_year is None and statutory_calendar.is_official(year + 1)
        assert statutory_calendar.working_days_between(start, review.due_at.date() - timedelta(days=1)) == 20
        assert db.session.get(PendingTimer, (case.id, timer.task_id)).provisional_year is None
        assert {c.what for c in changes} >= {"task", "timer"}


@pytest.mark.parametrize("day", [date.today(), date(2027, 2, 3), date(2029, 1, 22), date(2031, 9, 30)])
def test_the_processes_deploy_and_a_round_opens_on_any_day(app, runtime, real_clock, day):
    moment = datetime.combine(day, datetime.min.time().replace(hour=9), clock.SHANGHAI)
    with time_machine.travel(moment, tick=False):
        version = runtime.registry.deploy(collect([ROOT / "processes"]))
        assert version
        case = runtime.start("provincial_selection", {}, Actor("prov", "provincial"))
        assert case.status == "running" and case.error_message is None
        due = {t.due_at for t in db.session.scalars(db.select(HumanTask).where(HumanTask.instance_id == case.id))}
        assert len(due) == 1 and due.pop().date() - timedelta(days=1) == statutory_calendar.next_annual(3, 31, day)
