"""A year on the virtual clock: cases started through 2026, each waiting on the
statutory clocks of the rules; every timer fires on the right day, once."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import chinese_calendar
from conftest import MODELS

from engine import clock
from engine.db import db
from engine.models import AuditEvent, ProcessInstance
from engine.runtime import Actor
from engine.timers import run_until

ADMIN = Actor("trainer", "admin")


def after(day: date) -> str:
    """A deadline "by `day`" is over, and its timer fires, on the next day."""
    return (day + timedelta(days=1)).isoformat()


def expected(started: datetime) -> dict:
    d = started.date()
    march = date(d.year, 3, 31) if d <= date(d.year, 3, 31) else date(d.year + 1, 3, 31)
    april = date(d.year, 4, 15) if d <= date(d.year, 4, 15) else date(d.year + 1, 4, 15)
    notice, counted = d, 0
    while counted < 5:  # five official working days after publication, counted by hand
        notice += timedelta(days=1)
        counted += chinese_calendar.is_workday(notice)
    return {"recommendations_closed": after(march), "tables_closed": after(april),
            "notice_closed": after(notice), "rectification_ended": (started + timedelta(days=90)).date().isoformat()}


def test_every_statutory_timer_fires_on_its_day(runtime):
    runtime.registry.deploy({"year.bpmn": (MODELS / "statutory_year.bpmn").read_bytes()})
    moment = datetime(2026, 1, 5, 9, 30, tzinfo=clock.SHANGHAI)
    clock.install(clock.VirtualClock(moment))  # a trainer's copy, set to the start of the year
    started = {}
    # one case every 8 days through the year: around Spring Festival, 31 March, 15 April, National Day
    while moment < datetime(2026, 11, 20, tzinfo=clock.SHANGHAI):
        run_until(runtime, moment)
        case = runtime.start("statutory_year", {"notice_published": moment.date().isoformat()}, ADMIN)
        started[case.id] = moment
        moment += timedelta(days=8, hours=5)
    fired = run_until(runtime, datetime(2027, 4, 17, tzinfo=clock.SHANGHAI))
    assert fired

    db.session.rollback()
    cases = db.session.scalars(db.select(ProcessInstance).where(ProcessInstance.id.in_(started))).all()
    assert len(cases) == len(started) > 35
    for case in cases:
        assert case.status == "completed", (case.id, case.error_message)
        assert {k: case.data[k] for k in expected(started[case.id])} == expected(started[case.id]), case.id
    # four timers a case, each woken once (two may share a wake-up when they fall due together)
    wakeups = db.session.scalars(db.select(AuditEvent.task).where(AuditEvent.action == "timer")).all()
    elements = [e for w in wakeups for e in (w or "").split(",") if e]
    assert len(elements) == 4 * len(cases)


def test_the_simulation_command_prints_what_fired(app, runtime):
    runtime.registry.deploy({"year.bpmn": (MODELS / "statutory_year.bpmn").read_bytes()})
    runtime.start("statutory_year", {"notice_published": "2026-03-02"}, ADMIN)
    out = app.test_cli_runner().invoke(args=["timers", "simulate", "--from", "2026-03-02T10:00:00+08:00",
                                             "--to", "2026-04-20T00:00:00+08:00"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith("2026-03-10T00:00:01+08:00")  # five working days after Monday 2 March
    assert "2026-04-01T00:00:01+08:00" in out.output and "2026-04-16T00:00:01+08:00" in out.output
    assert lines[-1].startswith("3 wake-ups")
    bad = app.test_cli_runner().invoke(args=["timers", "simulate", "--from", "2026-03-02", "--to", "x"])
    assert bad.exit_code != 0


def test_dates_from_the_helpers_survive_storage_and_show_as_iso_text(client, users, runtime):
    body = (MODELS / "statutory_year.bpmn").read_bytes().replace(
        b"recommendations_closed = today().isoformat()", b"recommendations_closed = today()")
    runtime.registry.deploy({"year.bpmn": body})
    admin = users("root", "admin")
    inst = client.post("/api/v1/instances", json={"process": "statutory_year",
                                                  "data": {"notice_published": "2026-03-02"}}, headers=admin).json
    runtime.forget()  # what follows is read back from the database
    client.post("/api/v1/clock", json={"to": "2026-04-01T00:00:02+08:00"}, headers=admin)
    runtime.forget()
    client.post("/api/v1/clock", json={"to": "2026-06-30T00:00:00+08:00"}, headers=admin)
    done = client.get(f"/api/v1/instances/{inst['id']}", headers=admin).json
    assert done["status"] == "completed" and done["data"]["recommendations_closed"] == "2026-04-01"
