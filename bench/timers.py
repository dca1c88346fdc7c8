"""Timer benchmark: N cases whose timers all fall due at one moment (15 April,
the dynamic-management deadline, for every unit).

Prints, per database (SQLite, and PostgreSQL with BENCH_POSTGRES_URL):
- the rate of waking due cases through the persisted engine (the path every
  scheduler job takes), against the in-memory rate of refreshing and stepping
  the same workflows with plain SpiffWorkflow;
- under the real clock, with the APScheduler service: how long after the due
  moment each case fired (median, 95th percentile, last), whether every case
  fired within 2 minutes, and whether any fired twice.

Run: make bench-timers   (or PYTHONPATH=. .venv/bin/python bench/timers.py [--cases N])
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lxml import etree  # noqa: E402
from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser  # noqa: E402

from bench.fresh import fresh_app  # noqa: E402
from engine import clock  # noqa: E402

DIAGRAM = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://example.org">
<bpmn:process id="table_deadline" isExecutable="true">
<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:intermediateCatchEvent id="deadline"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
<bpmn:timerEventDefinition id="t"><bpmn:timeDate>due</bpmn:timeDate></bpmn:timerEventDefinition>
</bpmn:intermediateCatchEvent>
<bpmn:scriptTask id="record"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
<bpmn:script>table_missing = True</bpmn:script></bpmn:scriptTask>
<bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="deadline"/>
<bpmn:sequenceFlow id="f2" sourceRef="deadline" targetRef="record"/>
<bpmn:sequenceFlow id="f3" sourceRef="record" targetRef="end"/>
</bpmn:process></bpmn:definitions>"""


def in_memory_rate(n: int, due: datetime) -> float:
    from engine.scripting import make_script_engine

    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.ElementTree(etree.fromstring(DIAGRAM)), "t.bpmn")
    spec = parser.get_spec("table_deadline")
    clock.install(clock.VirtualClock(due - timedelta(days=30)))
    flows = []
    for _ in range(n):
        wf = BpmnWorkflow(spec, script_engine=make_script_engine())
        wf.task_tree.set_data(due=due.isoformat())
        wf.do_engine_steps()
        flows.append(wf)
    clock.current().set(due + timedelta(seconds=1))
    t0 = time.perf_counter()
    for wf in flows:
        wf.refresh_timers()
        wf.do_engine_steps()
    rate = n / (time.perf_counter() - t0)
    assert all(wf.is_completed() for wf in flows)
    return rate


def _start(app, n: int, due: datetime) -> list[int]:
    from engine.runtime import Actor

    runtime = app.extensions["green_ladder.runtime"]
    actor = Actor("bench", "admin")
    with app.app_context():
        return [runtime.start("table_deadline", {"due": due.isoformat()}, actor).id for _ in range(n)]


def persisted_rate(url: str, n: int, due: datetime) -> float:
    """Virtual clock: every case due at one moment, woken in due order as the
    scheduler's jobs would, one step each."""
    from engine.db import db
    from engine.models import ProcessInstance
    from engine.timers import run_until

    clock.install(clock.VirtualClock(due - timedelta(days=30)))
    app = fresh_app(url, {"t.bpmn": DIAGRAM}, "virtual")
    _start(app, n, due)
    with app.app_context():
        runtime = app.extensions["green_ladder.runtime"]
        runtime.forget()  # a scheduler process has none of these cases in memory
        t0 = time.perf_counter()
        fired = run_until(runtime, due + timedelta(seconds=2))
        rate = len(fired) / (time.perf_counter() - t0)
        done = db.session.scalar(db.select(db.func.count()).where(ProcessInstance.status == "completed"))
        assert len(fired) == n and done == n, (len(fired), done)
        db.engine.dispose()
    return rate


def real_clock_delays(url: str, n: int, lead_seconds: float) -> dict:
    """Real clock and the real scheduler: cases are created first, then the
    scheduler starts (its sweep finds them, as after a restart) and the due
    moment arrives `lead_seconds` later."""
    from engine.db import db
    from engine.models import AuditEvent
    from engine.timers import TimerService

    clock.install(clock.SystemClock())
    app = fresh_app(url, {"t.bpmn": DIAGRAM}, "system")
    due = (clock.now() + timedelta(seconds=lead_seconds + n / 400)).replace(microsecond=0)
    ids = _start(app, n, due)
    service = TimerService(app)
    service.start()
    with app.app_context():
        deadline = time.monotonic() + (due - clock.now()).total_seconds() + 180
        while time.monotonic() < deadline:
            db.session.rollback()
            count = db.session.scalar(db.select(db.func.count()).select_from(AuditEvent)
                                      .where(AuditEvent.action == "timer"))
            if count >= n:
                break
            time.sleep(0.5)
        time.sleep(2)  # a second firing would show now
        db.session.rollback()
        fired = db.session.execute(db.select(AuditEvent.instance_id, AuditEvent.at)
                                   .where(AuditEvent.action == "timer")).all()
        service.shutdown()
        db.engine.dispose()
    per_case = {}
    for instance_id, at in fired:
        per_case.setdefault(instance_id, []).append(at)
    delays = sorted((min(ats) - due).total_seconds() for ats in per_case.values())
    return {
        "fired": len(per_case), "expected": len(ids), "twice": sum(len(a) > 1 for a in per_case.values()),
        "median": statistics.median(delays) if delays else None,
        "p95": delays[int(0.95 * (len(delays) - 1))] if delays else None,
        "last": delays[-1] if delays else None,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--lead", type=float, default=20, help="seconds between the scheduler's start and the due moment")
    args = ap.parse_args()
    due = datetime(2026, 4, 16, 0, 0, tzinfo=clock.SHANGHAI)  # 15 April is over

    print(f"{args.cases} cases due at one moment; rates are medians of one run each, delays per case")
    mem = in_memory_rate(args.cases, due)
    print(f"in-memory SpiffWorkflow refresh+step:   {mem:8.0f} timers/s")
    databases = {}
    with tempfile.TemporaryDirectory() as tmp:
        databases["SQLite"] = lambda name: f"sqlite:///{tmp}/{name}.sqlite3"
        pg = os.environ.get("BENCH_POSTGRES_URL")
        if pg:
            databases["PostgreSQL"] = lambda name: "postgresql+psycopg://" + pg.split("://", 1)[1]
        for label, url in databases.items():
            rate = persisted_rate(url("virtual"), args.cases, due)
            print(f"persisted engine, {label:10}            {rate:8.0f} timers/s   ({rate / mem:.2f} of in-memory)")
            d = real_clock_delays(url("real"), args.cases, args.lead)
            within = d["fired"] == d["expected"] and d["last"] is not None and d["last"] <= 120
            print(f"real clock, {label:10} fired {d['fired']}/{d['expected']}, twice {d['twice']}; delay after due "
                  f"median {d['median']:.1f} s, p95 {d['p95']:.1f} s, last {d['last']:.1f} s; "
                  f"all within 2 minutes: {'yes' if within else 'NO'}")


if __name__ == "__main__":
    main()
