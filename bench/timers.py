"""Timer benchmark: N cases whose timers all fall due at one moment (15 April,
the dynamic-management deadline, for every unit), among many cases waiting on
later timers.

Prints, per database (SQLite, and PostgreSQL with BENCH_POSTGRES_URL):
- the rate of waking due cases through the persisted engine (the path every
  wake-up takes), against the in-memory rate of refreshing and stepping the
  same workflows with plain SpiffWorkflow;
- under the real clock, with the scheduler (`engine.timers.TimerService`), two
  cases: the scheduler runs when the moment comes (all due at once), and the
  scheduler starts only after they all fell due (a restart): how long after the
  due moment (or after the start) each case fired (median, 95th percentile,
  last), whether every case fired within 2 minutes, and whether any fired twice.

The cases are seeded in bulk, as copies of what the engine writes: one case is
started through the engine for each due moment, and its rows (process_instance,
instance_task, pending_timer) are copied with INSERT ... SELECT (`copy_cases`).
The copies have no audit events of their own and share the template's task ids
under their own case ids; the scheduler and the step path read them as they
read any case. The scheduler process has none of them in its cache, as a real
scheduler would not.

Run: make bench-timers   (or PYTHONPATH=. .venv/bin/python bench/timers.py [--cases N] [--waiting W])
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


def copy_cases(template_id: int, count: int) -> list[int]:
    """`count` copies of a case as the engine wrote it (its row, its serialised tasks, its
    pending timers), made in three INSERT ... SELECT statements; returns the new ids.
    Meant for cases that wait on timers only (no inbox rows, no domain records)."""
    from sqlalchemy import func, insert, literal, select, true

    from engine.db import db
    from engine.models import InstanceTask, PendingTimer, ProcessInstance

    case, task, timer = ProcessInstance.__table__, InstanceTask.__table__, PendingTimer.__table__
    conn = db.session.connection()
    top = conn.scalar(select(func.max(case.c.id)))
    n = select(literal(1).label("i")).cte("n", recursive=True)
    n = n.union_all(select(n.c.i + 1).where(n.c.i < count))
    columns = [c for c in case.c if c.name != "id"]
    conn.execute(insert(case).from_select([c.name for c in columns], select(*columns).select_from(
        case.join(n, true())).where(case.c.id == template_id)))
    copies = case.c.id > top
    conn.execute(insert(task).from_select(["instance_id", "task_id", "body"], select(
        case.c.id, task.c.task_id, task.c.body).select_from(case.join(task, task.c.instance_id == template_id))
        .where(copies)))
    conn.execute(insert(timer).from_select(["instance_id", "task_id", "element", "due_at", "provisional_year"], select(
        case.c.id, timer.c.task_id, timer.c.element, timer.c.due_at, timer.c.provisional_year).select_from(
        case.join(timer, timer.c.instance_id == template_id)).where(copies)))
    ids = list(conn.scalars(select(case.c.id).where(copies).order_by(case.c.id)))
    db.session.commit()
    return ids


def seed(app, n: int, due: datetime) -> list[int]:
    """n cases waiting on a timer due at `due`: one started through the engine, n - 1 copies."""
    from engine.runtime import Actor

    runtime = app.extensions["green_ladder.runtime"]
    with app.app_context():
        template = runtime.start("table_deadline", {"due": due.isoformat()}, Actor("bench", "admin")).id
        ids = [template, *copy_cases(template, n - 1)] if n > 1 else [template]
        runtime.forget()  # a scheduler process has none of these cases in memory
        return ids


def persisted_rate(url: str, n: int, due: datetime) -> float:
    """Virtual clock: every case due at one moment, woken in due order, one step each."""
    from engine.db import db
    from engine.models import ProcessInstance
    from engine.timers import run_until

    clock.install(clock.VirtualClock(due - timedelta(days=30)))
    app = fresh_app(url, {"t.bpmn": DIAGRAM}, "virtual")
    seed(app, n, due)
    with app.app_context():
        runtime = app.extensions["green_ladder.runtime"]
        t0 = time.perf_counter()
        fired = run_until(runtime, due + timedelta(seconds=2))
        rate = len(fired) / (time.perf_counter() - t0)
        done = db.session.scalar(db.select(db.func.count()).where(ProcessInstance.status == "completed"))
        assert len(fired) == n and done == n, (len(fired), done)
        db.engine.dispose()
    return rate


def _fired(app, ids: list[int], since: datetime, expect_by: float) -> dict:
    """Wait until every case of `ids` fired (or `expect_by`, monotonic, passed); delays from `since`."""
    from engine.db import db
    from engine.models import AuditEvent

    first = min(ids)  # the cases of one run are one range of ids
    query = db.select(AuditEvent.instance_id, AuditEvent.at).where(
        AuditEvent.action == "timer", AuditEvent.instance_id >= first, AuditEvent.instance_id <= max(ids))
    with app.app_context():
        while time.monotonic() < expect_by:
            db.session.rollback()
            count = db.session.scalar(db.select(db.func.count()).select_from(query.subquery()))
            if count >= len(ids):
                break
            time.sleep(0.5)
        time.sleep(2)  # a second firing would show now
        db.session.rollback()
        fired = db.session.execute(query).all()
        db.session.remove()
    per_case = {}
    for instance_id, at in fired:
        per_case.setdefault(instance_id, []).append(at)
    delays = sorted((min(ats) - since).total_seconds() for ats in per_case.values())
    return {
        "fired": len(per_case), "expected": len(ids), "twice": sum(len(a) > 1 for a in per_case.values()),
        "median": statistics.median(delays) if delays else float("nan"),
        "p95": delays[int(0.95 * (len(delays) - 1))] if delays else float("nan"),
        "last": delays[-1] if delays else float("nan"),
    }


def real_clock_runs(url: str, n: int, waiting: int, lead_seconds: float) -> list[tuple[str, dict]]:
    """Real clock and the real scheduler, on one database with `waiting` cases due in 30 days:
    first n cases fall due `lead_seconds` after the scheduler started; then, the scheduler
    stopped, n more fall due, and a scheduler starts only after they have (a restart)."""
    from engine.db import db
    from engine.timers import TimerService

    clock.install(clock.SystemClock())
    app = fresh_app(url, {"t.bpmn": DIAGRAM}, "system")
    t0 = time.perf_counter()
    seed(app, waiting, clock.now() + timedelta(days=30))
    seeded = time.perf_counter() - t0
    runs = []

    due = (clock.now() + timedelta(seconds=lead_seconds)).replace(microsecond=0)
    ids = seed(app, n, due)
    # A case started after its moment fires inside its own start step, with no "timer" event: the
    # earlier version of this bench started 10,000 cases one by one and, on a loaded machine, the
    # last 40% after the moment, and counted them as never fired. Seeding by copy takes a second.
    assert clock.now() < due, "the cases were seeded after their due moment: give a longer --lead"
    service = TimerService(app)
    service.start()
    result = _fired(app, ids, due, time.monotonic() + (due - clock.now()).total_seconds() + 180)
    service.shutdown()
    runs.append((f"all due at once, {waiting} waiting (seeded in {seeded:.0f} s)", result))

    due = (clock.now() + timedelta(seconds=2)).replace(microsecond=0)
    ids = seed(app, n, due)
    while clock.now() < due + timedelta(seconds=5):
        time.sleep(0.2)
    started = clock.now().replace(microsecond=0)  # as audit events keep their times
    service = TimerService(app)
    service.start()
    result = _fired(app, ids, started, time.monotonic() + 180)
    service.shutdown()
    runs.append((f"restart after they fell due, {waiting} waiting; delays from the start", result))
    with app.app_context():
        db.engine.dispose()
    return runs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--waiting", type=int, default=100_000, help="cases waiting on timers due in 30 days")
    ap.add_argument("--lead", type=float, default=20, help="seconds between the scheduler's start and the due moment")
    ap.add_argument("--only", choices=("sqlite", "postgresql"), help="one database only")
    args = ap.parse_args()
    due = datetime(2026, 4, 16, 0, 0, tzinfo=clock.SHANGHAI)  # 15 April is over

    print(f"{args.cases} cases due at one moment, {args.waiting} waiting; rates from one run each, delays per case")
    mem = in_memory_rate(args.cases, due)
    print(f"in-memory SpiffWorkflow refresh+step:   {mem:8.0f} timers/s")
    databases = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "sqlite"):
            databases["SQLite"] = lambda name: f"sqlite:///{tmp}/{name}.sqlite3"
        pg = os.environ.get("BENCH_POSTGRES_URL")
        if pg and args.only in (None, "postgresql"):
            databases["PostgreSQL"] = lambda name: "postgresql+psycopg://" + pg.split("://", 1)[1]
        for label, url in databases.items():
            rate = persisted_rate(url("virtual"), args.cases, due)
            print(f"persisted engine, {label:10}            {rate:8.0f} timers/s   ({rate / mem:.2f} of in-memory)",
                  flush=True)
            for what, d in real_clock_runs(url("real"), args.cases, args.waiting, args.lead):
                within = d["fired"] == d["expected"] and d["last"] <= 120
                print(f"real clock, {label:10} fired {d['fired']}/{d['expected']}, twice {d['twice']}; {what}; "
                      f"delay median {d['median']:.1f} s, p95 {d['p95']:.1f} s, last {d['last']:.1f} s; "
                      f"all within 2 minutes: {'yes' if within else 'NO'}", flush=True)


if __name__ == "__main__":
    main()
