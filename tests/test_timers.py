"""The scheduler: asks the due-time index for the cases whose time has come, wakes them
through the step path in due order, once each, catches up on what fell due while it was down,
reads no more with 2,000 cases waiting than with none, and a stall shows on /healthz."""
from __future__ import annotations

import logging
import re
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from bench.timers import DIAGRAM, copy_cases
from engine import clock, timers
from engine.db import db
from engine.models import AuditEvent, HumanTask, ProcessInstance
from engine.runtime import Actor
from engine.timers import AFTER_DUE, TimerService

ADMIN = Actor("root", "admin")
TIMED = (Path(__file__).parent / "conformance" / "boundary_timer_interrupting.bpmn").read_bytes()


def ready_elements(instance_id):
    db.session.rollback()  # read past this thread's snapshot: the scheduler writes from its own
    return sorted(db.session.scalars(db.select(HumanTask.element).where(HumanTask.instance_id == instance_id)))


def timer_events():
    db.session.rollback()
    return db.session.scalars(db.select(AuditEvent.instance_id).where(AuditEvent.action == "timer")
                              .order_by(AuditEvent.seq)).all()


@pytest.fixture
def service(app, monkeypatch):
    # what the loop sets when it leads, for sweep() and the beat; put back after the test
    monkeypatch.setattr(timers, "_app", app)
    monkeypatch.setattr(timers, "_led_at", None)
    service = TimerService(app)
    yield service
    service.shutdown()


def deadline_case(runtime, due: datetime) -> int:
    return runtime.start("table_deadline", {"due": due.isoformat()}, ADMIN).id


def test_many_cases_due_at_once_fire_once_each_in_due_order(app, runtime, service):
    runtime.registry.deploy({"t.bpmn": DIAGRAM})
    now = clock.now()
    # three moments, given out of order; 25 cases at the middle one, as on 15 April
    moments = [now + timedelta(minutes=m) for m in (20, 5, 10)]
    cases = {deadline_case(runtime, at): at for at in moments[:2]}
    cases.update({deadline_case(runtime, moments[2]): moments[2] for _ in range(25)})
    later = deadline_case(runtime, now + timedelta(days=30))
    clock.current().advance(timedelta(minutes=21))

    woken = 0
    while (n := service.fire_due(limit=7)) > 0:  # small batches: order holds across them
        woken += n
    fired = timer_events()
    assert woken == len(cases) and sorted(fired) == sorted(cases)  # every case once, nothing twice
    assert [cases[i] for i in fired] == sorted(cases.values())  # in due order
    assert db.session.get(ProcessInstance, later).status == "waiting"
    assert service.fire_due() == 0  # nothing fires again
    assert db.session.scalar(db.select(db.func.count()).where(ProcessInstance.status == "completed")) == len(cases)


def test_a_failing_wake_up_holds_up_neither_the_loop_nor_the_cases_behind_it(app, runtime, service, monkeypatch,
                                                                               caplog):
    runtime.registry.deploy({"t.bpmn": DIAGRAM})
    now = clock.now()
    broken, fine = deadline_case(runtime, now), deadline_case(runtime, now + timedelta(seconds=1))
    clock.current().advance(timedelta(minutes=1))
    real = runtime.fire_timers
    monkeypatch.setattr(runtime, "fire_timers", lambda i, *a: (_ for _ in ()).throw(RuntimeError("disk full"))
                        if i == broken else real(i, *a))
    with caplog.at_level(logging.ERROR, logger="engine.timers"):
        assert service.fire_due() == 2
    assert timer_events() == [fine]
    assert f"waking case {broken} failed" in caplog.text
    assert service.fire_due() == 0  # not again at once: it waits a sweep interval
    monkeypatch.setattr(runtime, "fire_timers", real)
    service._retry_at[broken] = 0
    assert service.fire_due() == 1 and timer_events() == [fine, broken]


def test_a_timer_due_while_the_scheduler_was_down_fires_once_on_start(app, runtime, service):
    # both cases start ten seconds ago, and the scheduler was down since
    clock.install(clock.VirtualClock(datetime.now(clock.SHANGHAI) - timedelta(seconds=10)))
    short = TIMED.replace(b'"PT1H"', b'"PT1S"')
    runtime.registry.deploy({"timed.bpmn": short})
    second_body = short.replace(b'"PT1S"', b'"PT2S"').replace(b'cf_timer_interrupting', b'cf_timer_later')
    runtime.registry.deploy({"later.bpmn": second_body})
    second = runtime.start("cf_timer_later", {}, ADMIN)  # started first, due a second later
    first = runtime.start("cf_timer_interrupting", {}, ADMIN)
    runtime.registry.deploy({"t.bpmn": DIAGRAM})
    # and 40 more fell due at one moment while it was down
    many = [deadline_case(runtime, clock.now() + timedelta(seconds=3)) for _ in range(40)]
    clock.install(clock.SystemClock())
    assert ready_elements(first.id) == ["Task_review"]  # overdue, and nothing fired them

    service.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(timer_events()) < 42:
        time.sleep(0.2)
    assert ready_elements(first.id) == ["Task_escalation"]
    assert ready_elements(second.id) == ["Task_escalation"]
    fired = timer_events()
    assert fired[:2] == [first.id, second.id]  # in due order
    assert sorted(fired[2:]) == many  # once each
    time.sleep(1.5)
    assert len(timer_events()) == 42  # and nothing again
    assert db.session.scalar(db.select(db.func.count()).where(ProcessInstance.next_timer_at.is_not(None))) == 0


def test_a_timer_set_while_the_scheduler_runs_fires_within_a_poll(app, runtime, service):
    clock.install(clock.SystemClock())
    runtime.registry.deploy({"t.bpmn": DIAGRAM})
    service.start()
    case = deadline_case(runtime, clock.now() + timedelta(seconds=1))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not timer_events():
        time.sleep(0.1)
    assert timer_events() == [case]


def test_an_error_in_the_loop_is_logged_and_the_loop_goes_on(app, runtime, service, monkeypatch, caplog):
    clock.install(clock.SystemClock())
    runtime.registry.deploy({"t.bpmn": DIAGRAM})
    case = deadline_case(runtime, clock.now() + timedelta(seconds=1))
    real, calls = service.fire_due, []

    def flaky(*args):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the database went away")
        return real(*args)

    monkeypatch.setattr(service, "fire_due", flaky)
    with caplog.at_level(logging.ERROR, logger="engine.timers"):
        service.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not timer_events():
            time.sleep(0.1)
    assert timer_events() == [case]
    assert "the timer loop failed" in caplog.text and "the database went away" in caplog.text


def test_a_loop_that_keeps_failing_waits_longer_each_time(app, service, monkeypatch, caplog):
    """A database that is down: the loop backs off (doubling, up to a sweep interval) instead of
    logging a failure every poll, and is back at its pace once a pass gets through."""
    monkeypatch.setattr(timers, "POLL_SECONDS", 0.05)
    calls = []

    def down(*args):
        calls.append(1)
        if len(calls) <= 4:
            raise RuntimeError("the database is down")
        return 0

    monkeypatch.setattr(service, "fire_due", down)
    with caplog.at_level(logging.ERROR, logger="engine.timers"):
        service.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(calls) < 6:
            time.sleep(0.05)
    waits = re.findall(r"\((\d+) in a row\); it goes on after ([\d.]+) s", caplog.text)
    assert [(int(n), float(s)) for n, s in waits] == [(1, 0.05), (2, 0.1), (3, 0.2), (4, 0.4)]


class _CountingCursor:
    """A DB-API cursor that counts the rows handed to SQLAlchemy."""

    def __init__(self, cursor, tally):
        self._cursor, self._tally = cursor, tally

    def fetchone(self):
        row = self._cursor.fetchone()
        self._tally["rows"] += row is not None
        return row

    def fetchmany(self, *args):
        rows = self._cursor.fetchmany(*args)
        self._tally["rows"] += len(rows)
        return rows

    def fetchall(self):
        rows = self._cursor.fetchall()
        self._tally["rows"] += len(rows)
        return rows

    def __getattr__(self, name):
        return getattr(self._cursor, name)


def one_sweep(service, runtime) -> dict:
    """A sweep's chores and one round of firing, counting statements and rows read."""
    tally = {"statements": 0, "rows": 0}

    def count(conn, cursor, statement, parameters, context, executemany):
        tally["statements"] += 1
        context.cursor = _CountingCursor(cursor, tally)

    runtime.forget()
    event.listen(db.engine, "after_cursor_execute", count)
    try:
        timers.sweep()
        fired = service.fire_due()
    finally:
        event.remove(db.engine, "after_cursor_execute", count)
    return {**tally, "fired": fired}


def test_a_sweep_reads_the_due_cases_not_the_waiting_ones(app, runtime, service):
    runtime.registry.deploy({"t.bpmn": DIAGRAM})
    far = clock.now() + timedelta(days=30)
    template = deadline_case(runtime, far)
    deadline_case(runtime, clock.now() + timedelta(minutes=1))
    clock.current().advance(timedelta(minutes=2))
    few = one_sweep(service, runtime)

    copy_cases(template, 2000)  # 2,000 more cases waiting, as the engine would have written them
    deadline_case(runtime, clock.now() + timedelta(minutes=1))
    clock.current().advance(timedelta(minutes=2))
    many = one_sweep(service, runtime)

    assert few["fired"] == many["fired"] == 1
    assert many["statements"] == few["statements"]
    assert many["rows"] <= few["rows"] + 5, (few, many)  # an old-style sweep read every waiting case
    assert db.session.scalar(db.select(db.func.count()).where(ProcessInstance.status == "waiting")) == 2001


def test_a_stall_is_logged_and_fails_healthz(app, runtime, client, service, monkeypatch, caplog):
    runtime.registry.deploy({"t.bpmn": DIAGRAM})
    case = deadline_case(runtime, clock.now() + timedelta(minutes=1))
    # a scheduler takes the lead and sweeps, but fires nothing (as when firing had stopped)
    monkeypatch.setattr(timers, "_led_at", clock.now())
    clock.current().advance(timedelta(minutes=1) + AFTER_DUE)
    timers.sweep()
    assert client.get("/healthz").status_code == 200  # due just now: not late yet

    clock.current().advance(timedelta(seconds=timers.STALL_SECONDS + 1))
    with caplog.at_level(logging.ERROR, logger="engine.timers"):
        timers.sweep()
    assert "timers stalled: 1 case(s) due and not fired" in caplog.text
    r = client.get("/healthz")
    assert r.status_code == 503, r.json
    scheduler = r.json["scheduler"]
    assert scheduler["ok"] is False and scheduler["seconds_since_sweep"] == 0  # it sweeps, yet does not fire
    assert scheduler["due_unfired"] == 1 and scheduler["late_seconds"] == timers.STALL_SECONDS + 1
    assert "stalled" in scheduler["error"]

    assert service.fire_due() == 1 and timer_events() == [case]
    assert client.get("/healthz").status_code == 200


def test_what_fell_due_before_a_scheduler_took_the_lead_is_a_catch_up_not_a_stall(app, runtime, client, service,
                                                                                  monkeypatch):
    runtime.registry.deploy({"t.bpmn": DIAGRAM})
    deadline_case(runtime, clock.now())
    clock.current().advance(timedelta(hours=1))  # no scheduler ran for an hour
    monkeypatch.setattr(timers, "_led_at", clock.now())
    timers.sweep()
    assert client.get("/healthz").status_code == 200
    clock.current().advance(timedelta(seconds=timers.STALL_SECONDS + 1))
    timers.sweep()
    assert client.get("/healthz").json["scheduler"]["due_unfired"] == 1
