"""Engine benchmark: 20 user tasks in a line, completed step by step, plain and with rules.

Prints, as medians over several rounds:
- in-memory SpiffWorkflow steps/s (parse once, run, nothing stored; each round
  runs 10x the instances, so that it lasts about as long as a persisted round,
  and its rounds alternate with the SQLite lines', so that a moment's load on the
  machine does not swing the ratios below);
- the naive persisted baseline: SpiffWorkflow's own serialiser, whole workflow
  (spec included) deserialised and serialised again every step, without a
  database and with one row per instance in SQLite;
- the persisted engine's steps/s on SQLite and, with BENCH_POSTGRES_URL, on
  PostgreSQL, each step one committed transaction through `Runtime.complete`,
  timed alone: like a web request, the benchmark first reads which task is
  waiting (a request's own reads: the account, the page), and the step goes on
  in that request's transaction (on SQLite it ends it and takes the write lock),
  with the app's startup objects frozen out of the collector's way as in a production
  worker (deploy/gunicorn.conf.py);
  with its live-workflow cache (the runs hit it) and with the cache cleared
  before each step (as with several web workers, whose caches miss), and the
  naive line both ways too: reloading every step, and keeping the workflow;
- the ceiling, measured in the same run on the same database: SpiffWorkflow's
  own step plus one transaction writing the rows the engine's step writes
  (the changed task rows, the inbox entry out and the next one in its row, an audit event, the case
  row with its revision check) through the bare driver, each kind of row one
  statement, one commit; the engine's fraction of it; and the statements and
  commits the engine sends per step (counted on one more round, not timed: the
  counting wraps the engine's calls to the driver, which cost a step 2-3%);
- stored bytes per finished instance;
- the same 20 steps with a decision table (13 rules) and an exclusive gateway
  after each user task, in memory and on SQLite: the path of conditions and
  decision-table cells through the restricted script engine and its time limit;
- `ceiling fraction sqlite: X`, `ceiling fraction postgresql: Y`,
  `uncached/cached sqlite: Z`;
- last line: `persisted/in-memory sqlite: R` (the line diagram).

Run: make bench   (or PYTHONPATH=. .venv/bin/python bench/engine.py [--instances N] [--rounds R])
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lxml import etree  # noqa: E402
from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer  # noqa: E402
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser  # noqa: E402
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402

from bench.fresh import fresh_app  # noqa: E402

TASKS = 20


def line_diagram(n: int = TASKS) -> bytes:
    nodes, flows = ['<bpmn:startEvent id="start"/>'], []
    prev = "start"
    for i in range(1, n + 1):
        nodes.append(f'<bpmn:userTask id="task_{i}" name="Step {i}"/>')
        flows.append(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{prev}" targetRef="task_{i}"/>')
        prev = f"task_{i}"
    nodes.append('<bpmn:endEvent id="end"/>')
    flows.append(f'<bpmn:sequenceFlow id="f_end" sourceRef="{prev}" targetRef="end"/>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="bench" '
        'targetNamespace="http://example.org"><bpmn:process id="line20" isExecutable="true">'
        + "".join(nodes) + "".join(flows) + "</bpmn:process></bpmn:definitions>"
    ).encode()


UNIT_TYPES = ("green_factory", "green_park", "green_supply_chain", "water_saving_enterprise", "water_saving_park",
              "other")


def band_table() -> bytes:
    """A decision table like the regulation's: a unit type and a score band per rule."""
    rules = []
    for n, unit in enumerate(UNIT_TYPES):
        for cell, band in (("&gt;= 60", "high"), ("&lt; 60", "low")):
            rules.append(f'<rule id="r{n}_{band}"><inputEntry id="u{n}_{band}"><text>"{unit}"</text></inputEntry>'
                         f'<inputEntry id="s{n}_{band}"><text>{cell}</text></inputEntry>'
                         f'<outputEntry id="o{n}_{band}"><text>"{band}"</text></outputEntry></rule>')
    # a rule with a literal score, from which the registry's deployment check takes its sample
    rules.append('<rule id="r_closed"><inputEntry id="u_closed"><text>"closed"</text></inputEntry>'
                 '<inputEntry id="s_closed"><text>0</text></inputEntry>'
                 '<outputEntry id="o_closed"><text>"none"</text></outputEntry></rule>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="bench_band" name="Band" '
        'namespace="http://example.org"><decision id="band" name="Band">'
        '<decisionTable id="band_table" hitPolicy="UNIQUE">'
        '<input id="in_unit" label="Unit type"><inputExpression id="ie_unit" typeRef="string"><text>unit_type</text>'
        '</inputExpression></input>'
        '<input id="in_score" label="Score"><inputExpression id="ie_score" typeRef="number"><text>score</text>'
        '</inputExpression></input>'
        '<output id="out_band" label="Band" name="band" typeRef="string"/>'
        + "".join(rules) + "</decisionTable></decision></definitions>"
    ).encode()


def rules_diagram(n: int = TASKS) -> bytes:
    """Each user task followed by the band table and a gateway on its result."""
    nodes, flows = ['<bpmn:startEvent id="start"/>'], []
    prev = "start"
    for i in range(1, n + 1):
        nodes.append(f'<bpmn:userTask id="task_{i}" name="Step {i}"/>')
        nodes.append(f'<bpmn:businessRuleTask id="rule_{i}" name="Band {i}"><bpmn:extensionElements>'
                     '<spiffworkflow:calledDecisionId>band</spiffworkflow:calledDecisionId>'
                     '</bpmn:extensionElements></bpmn:businessRuleTask>')
        nodes.append(f'<bpmn:exclusiveGateway id="gw_{i}" default="low_{i}"/>')
        nodes.append(f'<bpmn:exclusiveGateway id="join_{i}"/>')
        flows.append(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{prev}" targetRef="task_{i}"/>')
        flows.append(f'<bpmn:sequenceFlow id="r{i}" sourceRef="task_{i}" targetRef="rule_{i}"/>')
        flows.append(f'<bpmn:sequenceFlow id="g{i}" sourceRef="rule_{i}" targetRef="gw_{i}"/>')
        flows.append(f'<bpmn:sequenceFlow id="high_{i}" sourceRef="gw_{i}" targetRef="join_{i}">'
                     '<bpmn:conditionExpression>band == "high" and score &gt;= 60</bpmn:conditionExpression>'
                     '</bpmn:sequenceFlow>')
        flows.append(f'<bpmn:sequenceFlow id="low_{i}" sourceRef="gw_{i}" targetRef="join_{i}"/>')
        prev = f"join_{i}"
    nodes.append('<bpmn:endEvent id="end"/>')
    flows.append(f'<bpmn:sequenceFlow id="f_end" sourceRef="{prev}" targetRef="end"/>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="bench_rules" '
        'targetNamespace="http://example.org"><bpmn:process id="rules20" isExecutable="true">'
        + "".join(nodes) + "".join(flows) + "</bpmn:process></bpmn:definitions>"
    ).encode()


def step_data(i: int) -> dict:
    return {f"field_{i}": f"value {i}", "score": i}


def rules_data(i: int) -> dict:
    # the 10th of the table's 13 rules decides; the gateway goes either way along the line
    return {f"field_{i}": f"value {i}", "score": i * 5, "unit_type": "water_saving_park"}


def in_memory(spec, instances: int, subprocess_specs=None, data=step_data) -> float:
    from engine.scripting import make_script_engine

    steps, t0 = 0, time.perf_counter()
    for _ in range(instances):
        wf = BpmnWorkflow(spec, subprocess_specs, script_engine=make_script_engine())
        wf.do_engine_steps()
        for i in range(1, TASKS + 1):
            [task] = wf.get_tasks(state=TaskState.READY, manual=True)
            task.set_data(**data(i))
            task.run()
            wf.do_engine_steps()
            steps += 1
        assert wf.is_completed()
    return steps / (time.perf_counter() - t0)


def naive_persisted(spec, instances: int) -> float:
    from engine.scripting import make_script_engine

    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    steps, t0 = 0, time.perf_counter()
    for _ in range(instances):
        wf = BpmnWorkflow(spec, script_engine=make_script_engine())
        wf.do_engine_steps()
        stored = serializer.serialize_json(wf)
        for i in range(1, TASKS + 1):
            wf = serializer.deserialize_json(stored)
            wf.script_engine = make_script_engine()
            [task] = wf.get_tasks(state=TaskState.READY, manual=True)
            task.set_data(**step_data(i))
            task.run()
            wf.do_engine_steps()
            stored = serializer.serialize_json(wf)
            steps += 1
    return steps / (time.perf_counter() - t0)


def naive_with_database(url: str, spec, instances: int, rounds: int, reload: bool = True) -> list[float]:
    """The naive design on the same database: one row per instance holding the
    whole serialised workflow, read, rebuilt and rewritten every step; with
    `reload` False the workflow stays in memory between steps (a cache that
    always hits), and only the rewrite remains."""
    from sqlalchemy import Column, Integer, MetaData, Table, Text, bindparam, create_engine, insert, select, update

    from engine.scripting import make_script_engine

    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    meta = MetaData()
    table = Table("bench_naive", meta, Column("id", Integer, primary_key=True), Column("state", Text))
    engine = create_engine(url)
    meta.drop_all(engine)
    meta.create_all(engine)
    read = select(table.c.state).where(table.c.id == bindparam("i")).with_for_update()
    write = update(table).where(table.c.id == bindparam("i")).values(state=bindparam("s"))
    rates = []
    for _ in range(rounds):
        steps, t0 = 0, time.perf_counter()
        for _ in range(instances):
            wf = BpmnWorkflow(spec, script_engine=make_script_engine())
            wf.do_engine_steps()
            with engine.begin() as conn:
                iid = conn.execute(insert(table).values(state=serializer.serialize_json(wf))).inserted_primary_key[0]
            for i in range(1, TASKS + 1):
                with engine.begin() as conn:
                    stored = conn.execute(read, {"i": iid}).scalar_one()
                    if reload:
                        wf = serializer.deserialize_json(stored)
                        wf.script_engine = make_script_engine()
                    [task] = wf.get_tasks(state=TaskState.READY, manual=True)
                    task.set_data(**step_data(i))
                    task.run()
                    wf.do_engine_steps()
                    conn.execute(write, {"i": iid, "s": serializer.serialize_json(wf)})
                steps += 1
        rates.append(steps / (time.perf_counter() - t0))
    meta.drop_all(engine)
    engine.dispose()
    return rates


class Counter:
    """Statements, round trips and commits the engine sends, counted inside
    `Runtime.complete` only (the benchmark's own "find my task" read is not the
    step's). A round trip is a statement sent alone, a commit, or a batch of
    writes sent together (psycopg's pipeline on PostgreSQL); on SQLite, which
    runs in the process, every statement is one."""

    active: Counter | None = None  # the counter of the step under way
    together = False

    def __init__(self, engine):
        from sqlalchemy import event

        from engine import store

        # read_ends: the request's read transaction ended by the step (SQLite), a commit of nothing,
        # where it could not become the step's
        self.statements, self.trips, self.commits, self.read_ends = 0, 0, 0, 0
        self.engine = engine
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)
        # (the benchmark also runs on the engine from before it had them)
        self._undo = _count_driver_calls(store) if hasattr(store, "Write") else None

    def close(self) -> None:
        """Take the counting out of the engine's way again: it costs a step a few per cent."""
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)
        if self._undo is not None:
            self._undo()

    def _statement(self, conn, cursor, statement, params, context, executemany):
        if Counter.active is self and statement.split(None, 1)[0].upper() not in ("BEGIN", "COMMIT"):
            self.statements += 1
            self.trips += 1

    def _commit(self, conn):
        if Counter.active is self:
            self.commits += 1
            self.trips += 1

    def per_step(self, steps: int) -> tuple[float, float, float, float]:
        return self.statements / steps, self.trips / steps, self.commits / steps, self.read_ends / steps


def _count_driver_calls(store):
    """The step's writes and reads go to the driver's cursor directly, past SQLAlchemy's events:
    they are wrapped to be counted. Returns what puts them back."""
    lock_name = "lock_for_writing" if hasattr(store, "lock_for_writing") else "end_reads_and_lock"
    send, send_all, read, end_reads = store.Write._send, store._send_all, store.Read.all, getattr(store, lock_name)
    commit = getattr(store, "commit", None)

    def counted_send(self, connection, params, cursor=None):
        if Counter.active is not None:
            Counter.active.statements += 1
            Counter.active.trips += 0 if Counter.together else 1
        return send(self, connection, params, cursor)

    def counted_send_all(connection, writes):
        Counter.together = connection.dialect.name == "postgresql"
        try:
            if Counter.active is not None and Counter.together:
                Counter.active.trips += 1
            return send_all(connection, writes)
        finally:
            Counter.together = False

    def counted_read(self, connection, params, one=False):
        if Counter.active is not None:
            Counter.active.statements += 1
            Counter.active.trips += 1
        return read(self, connection, params, one)

    def counted_lock(session):
        ended = end_reads(session)
        if Counter.active is not None:
            if ended is False:  # the read transaction became the step's: one statement that takes the lock
                Counter.active.statements += 1
                Counter.active.trips += 1
            else:
                Counter.active.read_ends += 1
                Counter.active.trips += 2  # its commit, and the BEGIN that takes the lock
        return ended

    def counted_commit(session):
        if Counter.active is not None:
            Counter.active.commits += 1
            Counter.active.trips += 1
        return commit(session)

    store.Write._send, store._send_all, store.Read.all = counted_send, counted_send_all, counted_read
    setattr(store, lock_name, counted_lock)
    if commit is not None:  # the step's commit, sent to the driver (SQLAlchemy's commit event does not see it)
        store.commit = counted_commit

    def undo():
        store.Write._send, store._send_all, store.Read.all = send, send_all, read
        setattr(store, lock_name, end_reads)
        if commit is not None:
            store.commit = commit

    return undo


def persisted(app, instances: int, results: dict, process_id: str = "line20", data=step_data,
              uncached: bool = False):
    """Yields steps/s, one round at a time (so that the lines compared are measured
    in alternation, under the same load); then leaves in `results` the statements
    per step, counted on one more round that is not timed (the counting wraps the
    engine's calls to the driver), and stored bytes per instance. With `uncached`,
    the live-workflow cache is cleared before each step, so each step restores the
    workflow from the database (as after another web worker's step)."""
    from engine import store
    from engine.db import db
    from engine.models import InstanceTask, ProcessInstance
    from engine.runtime import Actor

    with app.app_context():
        runtime = app.extensions["green_ladder.runtime"]
    actor = Actor("bench", "admin")
    ids = []
    clock = time.perf_counter

    def one_round(counter: Counter | None = None) -> float:
        n, spent = 0, 0.0
        for _ in range(instances):
            t0 = clock()
            inst = runtime.start(process_id, {}, actor)
            spent += clock() - t0
            ids.append(inst.id)
            for i in range(1, TASKS + 1):
                # A request's own reads (here: which task is mine), then the step in the same
                # request; only the step is timed, as the ceiling times only its step.
                task_id = store.conn().execute(store.SELECT_INBOX_IDS_FIRST, {"id": inst.id}).scalar()
                if uncached:
                    runtime.forget()
                Counter.active = counter
                t0 = clock()
                runtime.complete(task_id, data(i), actor)
                spent += clock() - t0
                Counter.active = None
                n += 1
        return n / spent

    while True:
        with app.app_context():
            rate = one_round()
        if (yield rate) == "done":
            break
    with app.app_context():
        counter = Counter(db.engine)
        try:
            one_round(counter)
        finally:
            counter.close()
        results["per_step"] = counter.per_step(instances * TASKS)
        done = db.session.scalars(db.select(ProcessInstance).where(ProcessInstance.id.in_(ids))).all()
        assert all(i.status == "completed" for i in done)
        task_bytes = db.session.scalar(
            db.select(db.func.sum(db.func.length(InstanceTask.body))).where(InstanceTask.instance_id.in_(ids)))
        shell_bytes = sum(len(i.shell) + len(str(i.data)) for i in done)
        results["bytes"] = (task_bytes + shell_bytes) / len(done)
    yield None


def rounds_of(measure, *args):
    """A line measured by a function, a round at a time, for `alternate`."""
    while (yield measure(*args)) != "done":
        pass
    yield None


def alternate(rounds: int, lines: dict) -> dict[str, list[float]]:
    """Run the lines' rounds in turn (one round of each, then the next), so a moment's load
    on a shared machine falls on all of them alike; returns each line's rates."""
    rates = {name: [] for name in lines}
    for _ in range(rounds):
        for name, line in lines.items():
            rates[name].append(next(line))
    for line in lines.values():
        line.send("done")
    return rates


def ceiling(app, spec, instances: int):
    """SpiffWorkflow's own step plus one transaction writing the rows the engine's
    step writes, through the bare driver (no ORM, no serialisation: each row's
    text is a stand-in of the engine's size): the changed task rows (a task whose
    state changed, and its children that hold data, stored as deltas against it) in one
    executemany, the inbox entry out and the next one in (one UPDATE of its row, as the
    step hands it over: store.hand_over), an audit event, and the
    case row with its revision check (its status only when it changes: SQLite rewrites
    the index of every indexed column an UPDATE sets); one commit. A start writes its case, all its
    task rows, its inbox entry and audit event the same way. Yields steps/s a round."""
    from engine.scripting import make_script_engine

    with app.app_context():
        from engine.db import db

        version_id = app.extensions["green_ladder.runtime"].registry.latest_version_for("line20")
        raw = db.engine.raw_connection()
        sqlite = db.engine.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"

    def sql(text):
        return text.replace("?", mark)

    body, shell, audit_detail = "x" * 400, "x" * 1300, '{"in":{"field":"value","score":1}}'
    new_case = sql("INSERT INTO process_instance (process_id, version_id, status, created_at, updated_at, revision, "
                   "shell, serializer_version, data) VALUES ('line20', ?, 'running', ?, ?, 0, ?, '1.4', '{}') "
                   "RETURNING id")
    new_tasks = sql("INSERT INTO instance_task (instance_id, task_id, body) VALUES (?, ?, ?)")
    put_task = sql("UPDATE instance_task SET body = ? WHERE instance_id = ? AND task_id = ?")
    take_inbox = sql("DELETE FROM human_task WHERE id = ?")
    # the task done's row becomes the next one's, every column but the case's and an unchanged address
    hand_inbox = sql("UPDATE human_task SET id = ?, element = ?, name = ?, lane = NULL, form = NULL, created_at = ?, "
                     "due_at = NULL, remind_at = NULL, escalate_to = NULL, overdue_noticed = ?, "
                     "due_provisional_year = NULL, unit_type = NULL, level = NULL, subject = NULL WHERE id = ?")
    put_inbox = sql("INSERT INTO human_task (id, instance_id, process_id, element, name, role, assignee, created_at, "
                    "overdue_noticed) VALUES (?, ?, 'line20', ?, ?, 'admin', 'bench', ?, ?)")
    put_audit = sql("INSERT INTO audit_event (at, actor, action, instance_id, task, detail, prev_hash, hash) "
                    "VALUES (?, 'bench', 'complete', ?, ?, ?, ?, ?)")
    put_case = sql("UPDATE process_instance SET revision = ?, shell = ?, data = ?, updated_at = ?, "
                   "audit_hash = ? WHERE id = ? AND revision = ?")
    put_case_ending = sql("UPDATE process_instance SET revision = ?, shell = ?, status = ?, data = ?, updated_at = ?, "
                          "audit_hash = ? WHERE id = ? AND revision = ?")
    digest = "0" * 64

    def begin(cur):
        if sqlite:
            cur.execute("BEGIN IMMEDIATE")

    while True:
        steps, t0 = 0, time.perf_counter()
        for _ in range(instances):
            wf = BpmnWorkflow(spec, script_engine=make_script_engine())
            wf.do_engine_steps()
            [ready] = wf.get_tasks(state=TaskState.READY, manual=True)
            now = datetime.now(UTC)
            cur = raw.cursor()
            begin(cur)
            cur.execute(new_case, (version_id, now, now, shell))
            iid = cur.fetchone()[0]
            cur.executemany(new_tasks, [(iid, str(t), body) for t in wf.tasks])
            cur.execute(put_inbox, (str(ready.id), iid, ready.task_spec.bpmn_id, ready.task_spec.bpmn_name, now,
                                    False))
            cur.execute(put_audit, (now, iid, "line20", audit_detail, digest, digest))
            raw.commit()
            revision = 0
            for i in range(1, TASKS + 1):
                [task] = wf.get_tasks(state=TaskState.READY, manual=True)
                states = {tid: t.state for tid, t in wf.tasks.items()}
                task.set_data(**step_data(i))
                task.run()
                wf.do_engine_steps()
                moved = {tid for tid, t in wf.tasks.items() if states.get(tid) != t.state}
                # and their children stored as deltas against them (a task not yet reached, holding no
                # data, is stored whole and not written again: persistence.diff)
                changed = moved | {c.id for tid in moved for c in wf.tasks[tid].children if c.data}
                ready = wf.get_tasks(state=TaskState.READY, manual=True)
                now = datetime.now(UTC)
                cur = raw.cursor()
                begin(cur)
                cur.execute(put_audit, (now, iid, task.task_spec.bpmn_id, audit_detail, digest, digest))
                cur.executemany(put_task, [(body, iid, str(tid)) for tid in changed])
                if ready:
                    cur.execute(hand_inbox, (str(ready[0].id), ready[0].task_spec.bpmn_id, ready[0].task_spec.bpmn_name,
                                             now, False, str(task.id)))
                else:
                    cur.execute(take_inbox, (str(task.id),))
                if ready:  # the status only when it changes, as the engine writes it (see store.save_case)
                    cur.execute(put_case, (revision + 1, shell, '{"score":1}', now, digest, iid, revision))
                else:
                    cur.execute(put_case_ending, (revision + 1, shell, "completed", '{"score":1}', now, digest, iid,
                                                  revision))
                assert cur.rowcount == 1
                raw.commit()
                revision += 1
                steps += 1
            assert wf.is_completed()
        if (yield steps / (time.perf_counter() - t0)) == "done":
            break
    raw.close()
    yield None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Short rounds, many of them: the load on a shared host swings within a second, and the lines
    # compared take turns a round at a time. Three runs of 20 instances x 5 rounds gave
    # persisted/in-memory 0.29, 0.33 and 0.31; three of 5 x 20 (the same work) 0.34, 0.34, 0.33.
    ap.add_argument("--instances", type=int, default=5, help="instances per round")
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()

    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.ElementTree(etree.fromstring(line_diagram())), "line20.bpmn")
    parser.add_bpmn_xml(etree.ElementTree(etree.fromstring(rules_diagram())), "rules20.bpmn")
    parser.add_dmn_xml(etree.fromstring(band_table()), "band.dmn")
    spec = parser.get_spec("line20")
    rules_spec, rules_subprocesses = parser.get_spec("rules20"), parser.get_subprocess_specs("rules20")

    naive = [naive_persisted(spec, args.instances) for _ in range(args.rounds)]
    with tempfile.TemporaryDirectory() as tmp:
        app = fresh_app(f"sqlite:///{tmp}/bench.sqlite3", {"line20.bpmn": line_diagram()})
        cached, uncached_results = {}, {}
        sqlite_rates = alternate(args.rounds, {
            "in memory": rounds_of(in_memory, spec, 10 * args.instances),
            "ceiling": ceiling(app, spec, args.instances),
            "cached": persisted(app, args.instances, cached),
            "uncached": persisted(app, args.instances, uncached_results, uncached=True),
        })
        mem, ceiling_sqlite = sqlite_rates["in memory"], sqlite_rates["ceiling"]
        sqlite, uncached = sqlite_rates["cached"], sqlite_rates["uncached"]
        sqlite_bytes, sqlite_per_step, uncached_per_step = cached["bytes"], cached["per_step"], uncached_results["per_step"]
        with app.app_context():
            from engine.db import db

            db.engine.dispose()
        naive_sqlite = naive_with_database(f"sqlite:///{tmp}/naive.sqlite3", spec, args.instances, args.rounds)
        naive_kept = naive_with_database(f"sqlite:///{tmp}/naive_kept.sqlite3", spec, args.instances, args.rounds,
                                         reload=False)
        rules_app = fresh_app(f"sqlite:///{tmp}/rules.sqlite3", {"rules20.bpmn": rules_diagram(),
                                                                  "band.dmn": band_table()})
        rules_rates = alternate(args.rounds, {
            "in memory": rounds_of(in_memory, rules_spec, 10 * args.instances, rules_subprocesses, rules_data),
            "rules": persisted(rules_app, args.instances, {}, "rules20", rules_data)})
        rules_mem, rules_sqlite = rules_rates["in memory"], rules_rates["rules"]
    pg_url = os.environ.get("BENCH_POSTGRES_URL")
    pg = None
    if pg_url:
        pg_app = fresh_app("postgresql+psycopg://" + pg_url.split("://", 1)[1], {"line20.bpmn": line_diagram()})
        pg_results = {}
        pg_rates = alternate(args.rounds, {"ceiling": ceiling(pg_app, spec, args.instances),
                                           "cached": persisted(pg_app, args.instances, pg_results)})
        ceiling_pg, pg, pg_per_step = pg_rates["ceiling"], pg_rates["cached"], pg_results["per_step"]
        with pg_app.app_context():
            from engine.db import db

            db.engine.dispose()

    med = statistics.median
    print(f"diagram: {TASKS} user tasks in a line; {args.instances} instances x {args.rounds} rounds "
          f"(in memory {10 * args.instances}); medians")
    print(f"in-memory SpiffWorkflow:            {med(mem):8.0f} steps/s")
    print(f"naive reload+reserialise, no db:    {med(naive):8.0f} steps/s   ({med(naive) / med(mem):.2f} of in-memory)")
    print(f"naive reload+reserialise, SQLite:   {med(naive_sqlite):8.0f} steps/s   ({med(naive_sqlite) / med(mem):.2f} of in-memory)")
    print(f"naive kept+reserialise, SQLite:     {med(naive_kept):8.0f} steps/s   ({med(naive_kept) / med(mem):.2f} of in-memory)")
    print(f"ceiling, SQLite:                    {med(ceiling_sqlite):8.0f} steps/s   "
          "(SpiffWorkflow's step + one commit of the same rows)")
    print(f"persisted engine, SQLite:           {med(sqlite):8.0f} steps/s   "
          f"({med(sqlite) / med(naive_kept):.1f}x the naive design kept in memory)")
    print(f"persisted engine uncached, SQLite:  {med(uncached):8.0f} steps/s   "
          f"({med(uncached) / med(naive_sqlite):.1f}x the naive design reloading)")
    print(f"per step, SQLite:                   {sqlite_per_step[0]:8.1f} statements, {sqlite_per_step[2]:.1f} commits "
          f"(uncached: {uncached_per_step[0]:.1f}, {uncached_per_step[2]:.1f}), and {sqlite_per_step[3]:.1f} ends "
          "of the request's read transaction")
    if pg is not None:
        print(f"ceiling, PostgreSQL:                {med(ceiling_pg):8.0f} steps/s")
        print(f"persisted engine, PostgreSQL:       {med(pg):8.0f} steps/s   ({med(pg) / med(mem):.2f} of in-memory)")
        print(f"per step, PostgreSQL:               {pg_per_step[0]:8.1f} statements, {pg_per_step[2]:.1f} commits, "
              f"{pg_per_step[1]:.1f} round trips with the commit")
    print(f"stored bytes per finished instance: {sqlite_bytes:8.0f} (SQLite)")
    print("with a decision table and a gateway after each task:")
    print(f"  in-memory SpiffWorkflow:          {med(rules_mem):8.0f} steps/s")
    print(f"  persisted engine, SQLite:         {med(rules_sqlite):8.0f} steps/s   "
          f"({med(rules_sqlite) / med(rules_mem):.2f} of in-memory)")
    print(f"ceiling fraction sqlite: {med(sqlite) / med(ceiling_sqlite):.2f}")
    if pg is not None:
        print(f"ceiling fraction postgresql: {med(pg) / med(ceiling_pg):.2f}")
    print(f"uncached/cached sqlite: {med(uncached) / med(sqlite):.2f}")
    print(f"persisted/in-memory sqlite: {med(sqlite) / med(mem):.2f}")


if __name__ == "__main__":
    main()
