"""Engine benchmark: 20 user tasks in a line, completed step by step, plain and with rules.

Prints, as medians over several rounds:
- in-memory SpiffWorkflow steps/s (parse once, run, nothing stored; each round
  runs 10x the instances, so that it lasts about as long as a persisted round
  and a moment's load on the machine does not swing the ratio below);
- the naive persisted baseline: SpiffWorkflow's own serialiser, whole workflow
  (spec included) deserialised and serialised again every step, without a
  database and with one row per instance in SQLite;
- the persisted engine's steps/s on SQLite and, with BENCH_POSTGRES_URL, on
  PostgreSQL, each step one committed transaction through `Runtime.complete`;
- stored bytes per finished instance;
- the same 20 steps with a decision table (13 rules) and an exclusive gateway
  after each user task, in memory and on SQLite: the path of conditions and
  decision-table cells through the restricted script engine and its time limit;
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


def naive_with_database(url: str, spec, instances: int, rounds: int) -> list[float]:
    """The naive design on the same database: one row per instance holding the
    whole serialised workflow, read, rebuilt and rewritten every step."""
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
                    wf = serializer.deserialize_json(conn.execute(read, {"i": iid}).scalar_one())
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


def persisted(url: str, instances: int, rounds: int, files: dict[str, bytes] | None = None,
              process_id: str = "line20", data=step_data) -> tuple[list[float], float]:
    from engine import store
    from engine.db import db
    from engine.models import InstanceTask, ProcessInstance
    from engine.runtime import Actor

    app = fresh_app(url, files or {"line20.bpmn": line_diagram()})
    rates, per_instance = [], 0.0
    with app.app_context():
        runtime = app.extensions["green_ladder.runtime"]
        actor = Actor("bench", "admin")
        for _ in range(rounds):
            ids, steps, t0 = [], 0, time.perf_counter()
            for _ in range(instances):
                inst = runtime.start(process_id, {}, actor)
                ids.append(inst.id)
                for i in range(1, TASKS + 1):
                    task_id = store.conn().execute(store.SELECT_INBOX_IDS_FIRST, {"id": inst.id}).scalar()
                    runtime.complete(task_id, data(i), actor)
                    steps += 1
            rates.append(steps / (time.perf_counter() - t0))
        done = db.session.scalars(db.select(ProcessInstance).where(ProcessInstance.id.in_(ids))).all()
        assert all(i.status == "completed" for i in done)
        task_bytes = db.session.scalar(
            db.select(db.func.sum(db.func.length(InstanceTask.body))).where(InstanceTask.instance_id.in_(ids)))
        shell_bytes = sum(len(i.shell) + len(str(i.data)) for i in done)
        per_instance = (task_bytes + shell_bytes) / len(done)
        db.session.remove()
        db.engine.dispose()
    return rates, per_instance


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=20, help="instances per round")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.ElementTree(etree.fromstring(line_diagram())), "line20.bpmn")
    parser.add_bpmn_xml(etree.ElementTree(etree.fromstring(rules_diagram())), "rules20.bpmn")
    parser.add_dmn_xml(etree.fromstring(band_table()), "band.dmn")
    spec = parser.get_spec("line20")
    rules_spec, rules_subprocesses = parser.get_spec("rules20"), parser.get_subprocess_specs("rules20")

    mem = [in_memory(spec, 10 * args.instances) for _ in range(args.rounds)]
    naive = [naive_persisted(spec, args.instances) for _ in range(args.rounds)]
    rules_mem = [in_memory(rules_spec, 10 * args.instances, rules_subprocesses, rules_data)
                 for _ in range(args.rounds)]
    with tempfile.TemporaryDirectory() as tmp:
        sqlite, sqlite_bytes = persisted(f"sqlite:///{tmp}/bench.sqlite3", args.instances, args.rounds)
        naive_sqlite = naive_with_database(f"sqlite:///{tmp}/naive.sqlite3", spec, args.instances, args.rounds)
        rules_sqlite, _ = persisted(f"sqlite:///{tmp}/rules.sqlite3", args.instances, args.rounds,
                                    {"rules20.bpmn": rules_diagram(), "band.dmn": band_table()}, "rules20", rules_data)
    pg_url = os.environ.get("BENCH_POSTGRES_URL")
    pg = None
    if pg_url:
        pg, pg_bytes = persisted("postgresql+psycopg://" + pg_url.split("://", 1)[1], args.instances, args.rounds)

    med = statistics.median
    print(f"diagram: {TASKS} user tasks in a line; {args.instances} instances x {args.rounds} rounds "
          f"(in memory {10 * args.instances}); medians")
    print(f"in-memory SpiffWorkflow:            {med(mem):8.0f} steps/s")
    print(f"naive reload+reserialise, no db:    {med(naive):8.0f} steps/s   ({med(naive) / med(mem):.2f} of in-memory)")
    print(f"naive reload+reserialise, SQLite:   {med(naive_sqlite):8.0f} steps/s   ({med(naive_sqlite) / med(mem):.2f} of in-memory)")
    print(f"persisted engine, SQLite:           {med(sqlite):8.0f} steps/s   "
          f"({med(sqlite) / med(naive_sqlite):.1f}x the naive design on the same database)")
    if pg is not None:
        print(f"persisted engine, PostgreSQL:       {med(pg):8.0f} steps/s   ({med(pg) / med(mem):.2f} of in-memory)")
    print(f"stored bytes per finished instance: {sqlite_bytes:8.0f} (SQLite)")
    print("with a decision table and a gateway after each task:")
    print(f"  in-memory SpiffWorkflow:          {med(rules_mem):8.0f} steps/s")
    print(f"  persisted engine, SQLite:         {med(rules_sqlite):8.0f} steps/s   "
          f"({med(rules_sqlite) / med(rules_mem):.2f} of in-memory)")
    print(f"persisted/in-memory sqlite: {med(sqlite) / med(mem):.2f}")


if __name__ == "__main__":
    main()
