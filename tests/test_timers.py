"""The scheduler: one job per waiting case, reconciled with the cases, firing
through the step path, and catching up on timers missed while it was down."""
from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engine import clock
from engine.db import db
from engine.models import AuditEvent, HumanTask, ProcessInstance
from engine.runtime import Actor
from engine.timers import AFTER_DUE, TimerService

ADMIN = Actor("root", "admin")
TIMED = (Path(__file__).parent / "conformance" / "boundary_timer_interrupting.bpmn").read_bytes()


def ready_elements(instance_id):
    db.session.rollback()  # read past this thread's snapshot: the scheduler writes from its own
    return sorted(db.session.scalars(db.select(HumanTask.element).where(HumanTask.instance_id == instance_id)))


@pytest.fixture
def timers(app):
    service = TimerService(app)
    yield service
    if service.scheduler.running:
        # jobs set on the virtual clock are in the real past: clear them before the
        # scheduler's last pass on shutdown would try to run them
        service.scheduler.remove_all_jobs()
    service.shutdown()


def test_each_waiting_case_has_one_job_at_its_due_time(app, runtime, timers):
    timers.scheduler.start(paused=True)
    runtime.after_commit = timers.schedule
    runtime.registry.deploy({"timed.bpmn": TIMED})
    case = runtime.start("cf_timer_interrupting", {}, ADMIN)
    job = timers.scheduler.get_job(f"case-{case.id}")
    assert job.next_run_time == case.next_timer_at + AFTER_DUE
    assert round((case.next_timer_at - clock.now()).total_seconds()) == 3600

    other = runtime.start("cf_timer_interrupting", {}, ADMIN)
    task = db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == other.id))
    runtime.complete(task, {"decision": "approve"}, ADMIN)  # done before the deadline: no timer left
    assert timers.scheduler.get_job(f"case-{other.id}") is None

    # a job lost (another process set the timer, or the store was cleared) comes back with the sweep
    timers.scheduler.remove_job(f"case-{case.id}")
    timers.scheduler.add_job(print, "date", run_date=clock.now(), id="case-999999")
    assert timers.reconcile() == 2
    assert timers.scheduler.get_job(f"case-{case.id}").next_run_time == case.next_timer_at + AFTER_DUE
    assert timers.scheduler.get_job("case-999999") is None
    assert timers.reconcile() == 0


def test_a_timer_due_while_the_scheduler_was_down_fires_once_on_start(app, runtime, timers):
    # both cases start ten seconds ago, and the scheduler was down since
    clock.install(clock.VirtualClock(datetime.now(clock.SHANGHAI) - timedelta(seconds=10)))
    short = TIMED.replace(b'"PT1H"', b'"PT1S"')
    runtime.registry.deploy({"timed.bpmn": short})
    second_body = short.replace(b'"PT1S"', b'"PT2S"').replace(b'cf_timer_interrupting', b'cf_timer_later')
    runtime.registry.deploy({"later.bpmn": second_body})
    second = runtime.start("cf_timer_later", {}, ADMIN)  # started first, due a second later
    first = runtime.start("cf_timer_interrupting", {}, ADMIN)
    clock.install(clock.SystemClock())
    assert ready_elements(first.id) == ["Task_review"]  # overdue, and nothing fired them

    timers.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (
        ready_elements(first.id) != ["Task_escalation"] or ready_elements(second.id) != ["Task_escalation"]
    ):
        time.sleep(0.2)
    assert ready_elements(first.id) == ["Task_escalation"]
    assert ready_elements(second.id) == ["Task_escalation"]
    # nothing is left that could fire them again: no job, no due time
    assert timers.scheduler.get_job(f"case-{first.id}") is None
    assert timers.scheduler.get_job(f"case-{second.id}") is None
    fired = db.session.scalars(db.select(AuditEvent.instance_id).where(AuditEvent.action == "timer")
                               .order_by(AuditEvent.seq)).all()
    assert fired == [first.id, second.id]  # once each, in due order
    assert db.session.get(ProcessInstance, first.id).next_timer_at is None
