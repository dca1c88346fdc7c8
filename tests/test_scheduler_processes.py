"""Two scheduler processes on one database: one fires, the other stands by and
takes over when the first is killed; every timer fires exactly once."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT

from engine import clock
from engine.db import db
from engine.models import AuditEvent, HumanTask
from engine.runtime import Actor

TIMED = (Path(__file__).parent / "conformance" / "boundary_timer_interrupting.bpmn").read_bytes() \
    .replace(b'"PT1H"', b'"PT2S"')
ADMIN = Actor("root", "admin")


def wait_for(predicate, seconds=30, what="condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def escalated(ids):
    db.session.rollback()
    rows = db.session.scalars(db.select(HumanTask.instance_id).where(
        HumanTask.instance_id.in_(ids), HumanTask.element == "Task_escalation")).all()
    return sorted(rows) == sorted(ids)


def timer_events(ids):
    db.session.rollback()
    return sorted(db.session.scalars(db.select(AuditEvent.instance_id).where(
        AuditEvent.action == "timer", AuditEvent.instance_id.in_(ids))).all())


def test_one_scheduler_fires_the_other_takes_over(app, runtime, tmp_path):
    clock.install(clock.SystemClock())
    runtime.registry.deploy({"timed.bpmn": TIMED})
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "PYTHONPATH": str(ROOT),
           "TIMER_SWEEP_SECONDS": "1", "TIMER_STANDBY_SECONDS": "0.3", "CLOCK": "system"}
    env.pop("SCHEDULER", None)
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    procs = []

    def spawn(log):
        return subprocess.Popen([sys.executable, "-m", "flask", "--app", "web", "timers", "run"], cwd=ROOT, env=env,
                                stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)

    try:
        procs.append(spawn(logs[0]))
        wait_for(lambda: "now fires timers" in logs[0].read_text(), what="the first scheduler to lead")
        procs.append(spawn(logs[1]))
        wait_for(lambda: "standing by" in logs[1].read_text(), what="the second scheduler to stand by")

        first = [runtime.start("cf_timer_interrupting", {}, ADMIN).id for _ in range(3)]
        wait_for(lambda: escalated(first), what="the first timers to fire")
        time.sleep(1.5)
        assert timer_events(first) == first  # once each
        assert "now fires timers" not in logs[1].read_text()

        os.killpg(procs[0].pid, signal.SIGKILL)
        procs[0].wait()
        wait_for(lambda: "now fires timers" in logs[1].read_text(), what="the standby to take over")
        second = [runtime.start("cf_timer_interrupting", {}, ADMIN).id for _ in range(2)]
        wait_for(lambda: escalated(second), what="timers after the takeover")
        time.sleep(1.5)
        assert timer_events(first + second) == sorted(first + second)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
