"""Engine conformance (引擎一致性): the persisted engine runs a model exactly as plain
SpiffWorkflow does.

Each case runs one small diagram from `tests/conformance/` twice, step by step and in
lockstep on the same virtual clock:

* in memory: SpiffBpmnParser + BpmnWorkflow with the project's script engine, driven
  directly (`task.run()`, `refresh_timers()`, `send_event()`);
* through `engine.runtime.Runtime`: deployed by the registry, driven through
  `start`/`complete`/`fire_timers`/`send_message`, with the live-workflow cache
  dropped after every step so the next step restores the case from the database.

After every step both runs must agree on the case status, the case data, the ready
human tasks (with each task's data), the pending timers and their due times, the
completed elements and the state of every task. On the persisted side, the workflow
still cached after a step must equal the one restored from the database (so a save is
lossless), and the inbox and timer tables must match the restored workflow.
Each case also asserts a few expected facts of its own (path taken, key data), so
two runs that are wrong in the same way still fail.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.db import db
from engine.errors import Conflict, FormInvalid
from engine.models import HumanTask, PendingTimer, ProcessInstance
from engine.runtime import Actor, boundary
from engine.scripting import make_script_engine

DIAGRAMS = Path(__file__).resolve().parent / "conformance"
ACTOR = Actor("tester", "admin")


# ---------------------------------------------------------------------- steps
@dataclass(frozen=True)
class Complete:
    """Complete the one ready human task of `element` (whose data matches `where`)."""

    element: str
    data: dict = field(default_factory=dict)
    where: dict | None = None
    then: tuple[str, ...] | None = None  # the ready human tasks expected afterwards
    status: str | None = None  # the case status expected afterwards


@dataclass(frozen=True)
class Wait:
    """Move the clock on, then wake the case's timers."""

    delta: timedelta
    then: tuple[str, ...] | None = None
    status: str | None = None


@dataclass(frozen=True)
class Send:
    """Deliver a message. `refused`: nothing waits for it, so both runs must refuse it
    and the stored case must not change."""

    name: str
    payload: dict = field(default_factory=dict)
    refused: bool = False
    then: tuple[str, ...] | None = None
    status: str | None = None


@dataclass
class Case:
    id: str
    files: tuple[str, ...]
    process: str
    start: dict
    steps: list
    status: str = "completed"
    data: dict = field(default_factory=dict)  # must hold in the final data
    absent: tuple[str, ...] = ()  # keys the final data must not have
    path: tuple[str, ...] = ()  # elements that must have completed (repeat one to require it n times)
    not_path: tuple[str, ...] = ()  # elements that must not have completed
    first_ready: tuple[str, ...] | None = None  # ready human tasks right after start


def H(hours: float) -> timedelta:
    return timedelta(hours=hours)


EXPERTS = {"experts": ["expert_a", "expert_b", "expert_c"]}
REVIEWERS = {"reviewers": ["chen", "li", "wang"]}
METERS = {
    "submitted_on": "2027-02-27",
    "meters": [{"site": "north", "kwh": 1200}, {"site": "south", "kwh": 800}, {"site": "north", "kwh": 350}],
}

CASES = [
    # -- exclusive gateway
    Case("exclusive-approve", ("exclusive_gateway.bpmn",), "cf_exclusive", {"unit": "U1"},
         [Complete("Task_decide", {"decision": "approve"}, then=())],
         data={"outcome": "approved", "decision": "approve", "unit": "U1"},
         path=("Script_approve", "End_approved"), not_path=("Script_reject", "Task_rework"),
         first_ready=("Task_decide",)),
    Case("exclusive-reject", ("exclusive_gateway.bpmn",), "cf_exclusive", {"unit": "U1"},
         [Complete("Task_decide", {"decision": "reject"}, then=())],
         data={"outcome": "rejected"}, path=("Script_reject", "End_rejected"),
         not_path=("Script_approve", "Task_rework")),
    Case("exclusive-default-loops-back", ("exclusive_gateway.bpmn",), "cf_exclusive", {"unit": "U1"},
         [Complete("Task_decide", {"decision": "unsure"}, then=("Task_rework",)),
          Complete("Task_rework", {"note": "added meter data"}, then=("Task_decide",)),
          Complete("Task_decide", {"decision": "approve"}, then=())],
         data={"outcome": "approved", "note": "added meter data"},
         path=("Task_decide", "Task_decide", "Gateway_decision", "Gateway_decision", "Task_rework",
               "Script_approve"), not_path=("Script_reject",)),
    # -- parallel gateway
    Case("parallel-fork-join", ("parallel_gateway.bpmn",), "cf_parallel", {},
         [Complete("Task_water", {"water_score": 30}, then=("Task_energy",)),
          Complete("Task_energy", {"energy_score": 55}, then=())],
         data={"total": 85, "energy_score": 55, "water_score": 30},
         path=("Task_energy", "Task_water", "Gateway_join", "Script_total"),
         first_ready=("Task_energy", "Task_water")),
    # -- inclusive gateway
    Case("inclusive-two-of-three", ("inclusive_gateway.bpmn",), "cf_inclusive", {"unit": "U5"},
         [Complete("Task_apply", {"amount": 250000, "emissions": True, "exports": False},
                   then=("Task_environment", "Task_finance")),
          Complete("Task_environment", {"environment_ok": True}, then=("Task_finance",)),
          Complete("Task_finance", {"finance_ok": False}, then=())],
         data={"results": {"finance": False, "environment": True, "customs": None},
               "signed_off": ["environment", "finance"], "review_count": 2},
         path=("Task_finance", "Task_environment", "Script_summary"),
         not_path=("Task_customs", "Script_no_review")),
    Case("inclusive-none-takes-default", ("inclusive_gateway.bpmn",), "cf_inclusive", {"unit": "U5"},
         [Complete("Task_apply", {"amount": 500, "emissions": False, "exports": False}, then=())],
         data={"results": {"finance": None, "environment": None, "customs": None},
               "signed_off": [], "review_count": 0, "reviews": []},
         path=("Script_no_review", "Script_summary"),
         not_path=("Task_finance", "Task_environment", "Task_customs")),
    # -- multi-instance
    Case("multi-instance-parallel", ("multi_instance_parallel.bpmn",), "cf_mi_parallel", EXPERTS,
         [Complete("Task_expert_review", {"score": 90}, where={"expert": "expert_b"}),
          Complete("Task_expert_review", {"score": 70}, where={"expert": "expert_c"}),
          Complete("Task_expert_review", {"score": 80}, where={"expert": "expert_a"}, then=())],
         data={"average": 80.0, "scores": [90, 70, 80], **EXPERTS}, path=("Task_expert_review", "Script_average"),
         first_ready=("Task_expert_review",) * 3),
    Case("multi-instance-sequential", ("multi_instance_sequential.bpmn",), "cf_mi_sequential", REVIEWERS,
         [Complete("Task_sign", {"opinion": "agree"}, where={"reviewer": "chen"}, then=("Task_sign",)),
          Complete("Task_sign", {"opinion": "disagree"}, where={"reviewer": "li"}, then=("Task_sign",)),
          Complete("Task_sign", {"opinion": "agree"}, where={"reviewer": "wang"}, then=())],
         data={"opinions": ["agree", "disagree", "agree"], "agreed": 2}, path=("Script_count",),
         first_ready=("Task_sign",)),
    # -- call activity
    Case("call-activity", ("call_parent.bpmn", "call_child.bpmn"), "cf_call_parent", {"unit": "U7"},
         [Complete("Task_inspect", {"findings": 1}, then=("Task_confirm",)),
          Complete("Task_confirm", {"confirmed": True}, then=())],
         data={"grade": "pass", "request": {"unit": "U7", "items": 2}, "confirmed": True},
         path=("Script_prepare", "Call_inspection", "Task_inspect", "Script_grade", "Task_confirm"),
         first_ready=("Task_inspect",)),
    # -- boundary timers
    Case("timer-interrupting-fires", ("boundary_timer_interrupting.bpmn",), "cf_timer_interrupting", {},
         [Wait(H(0.5), then=("Task_review",)),
          Wait(H(1), then=("Task_escalation",)),
          Complete("Task_escalation", {"ruling": "extend"}, then=())],
         data={"path": "escalated", "ruling": "extend"},
         path=("Timer_deadline", "Script_mark_overdue", "Task_escalation", "End_escalated"),
         not_path=("Task_review", "Script_on_time"), first_ready=("Task_review",)),
    Case("timer-interrupting-cancelled", ("boundary_timer_interrupting.bpmn",), "cf_timer_interrupting", {},
         [Wait(H(0.25), then=("Task_review",)),
          Complete("Task_review", {"verdict": "ok"}, then=()),
          Wait(H(2), then=())],
         data={"path": "on_time", "verdict": "ok"}, path=("Task_review", "Script_on_time"),
         not_path=("Timer_deadline", "Script_mark_overdue", "Task_escalation")),
    Case("timer-non-interrupting-fires", ("boundary_timer_non_interrupting.bpmn",),
         "cf_timer_non_interrupting", {"reviewer": "zhao"},
         [Wait(H(1.5), then=("Task_review",)),
          Complete("Task_review", {"verdict": "approve"}, then=())],
         data={"closed": "approve", "reviewer": "zhao"},
         path=("Timer_reminder", "Script_remind", "End_reminded", "Task_review", "Script_close")),
    Case("timer-non-interrupting-cancelled", ("boundary_timer_non_interrupting.bpmn",),
         "cf_timer_non_interrupting", {"reviewer": "zhao"},
         [Complete("Task_review", {"verdict": "approve"}, then=()),
          Wait(H(3), then=())],
         data={"closed": "approve"}, path=("Task_review", "Script_close"),
         not_path=("Timer_reminder", "Script_remind")),
    # -- messages
    Case("message-catch", ("message_catch.bpmn",), "cf_message_catch", {"threshold": 60},
         [Send("inspection_result", {"passed": True, "score": 99}, refused=True, then=("Task_submit",)),
          Complete("Task_submit", {"unit": "U3"}, then=()),
          Send("inspection_result", {"passed": True, "score": 75, "inspector": "王工"}, then=())],
         data={"passed": True, "inspection": {"passed": True, "score": 75, "inspector": "王工"}, "unit": "U3"},
         path=("Catch_inspection_result", "Script_record")),
    Case("boundary-message-interrupts", ("boundary_message.bpmn",), "cf_boundary_message", {},
         [Send("withdraw", {"reason": "merged with another unit"}, then=())],
         data={"outcome": "withdrawn: merged with another unit"},
         path=("Message_withdrawn", "Script_withdraw", "End_withdrawn"),
         not_path=("Task_review", "Script_decided")),
    Case("boundary-message-not-sent", ("boundary_message.bpmn",), "cf_boundary_message", {},
         [Complete("Task_review", {"verdict": "listed"}, then=()),
          Send("withdraw", {"reason": "too late"}, refused=True, then=())],
         data={"outcome": "decided: listed"}, path=("Task_review", "Script_decided"),
         not_path=("Message_withdrawn", "Script_withdraw")),
    # -- event subprocesses
    Case("event-subprocess-message", ("event_subprocess.bpmn",), "cf_event_subprocess", {},
         [Send("complaint", {"text": "noise at night"}, then=("Task_main",)),
          Send("complaint", {"text": "dust"}, then=("Task_main",)),
          Complete("Task_main", {"decision": "keep"}, then=())],
         data={"closed_as": "decided", "decision": "keep"},
         path=("Script_log_complaint", "Script_log_complaint", "Task_main", "Script_close", "End_case"),
         absent=("last_complaint", "complaint")),
    Case("event-subprocess-timer-while-open", ("event_subprocess_timer.bpmn",), "cf_event_subprocess_timer", {},
         [Wait(H(1), then=("Task_main",), status="running"),
          Wait(H(1.5), then=("Task_main",), status="running"),
          Complete("Task_main", {"decision": "keep"}, then=())],
         data={"closed_as": "decided"},
         path=("Script_remind", "Task_main", "Script_close")),
    Case("event-subprocess-timer-outlives-main", ("event_subprocess_timer.bpmn",), "cf_event_subprocess_timer", {},
         [Complete("Task_main", {"decision": "keep"}, then=(), status="waiting"),
          Wait(H(1), then=(), status="waiting"),
          Wait(H(1.5), then=())],
         data={"closed_as": "decided"},
         path=("Task_main", "Script_close", "Script_remind")),
    # -- script tasks
    Case("script-tasks", ("script_task.bpmn",), "cf_script", METERS, [],
         data={"total": 2350, "by_site": {"north": 1550, "south": 800}, "largest": "north",
               "grade": "B", "deadline": "2027-03-29"},
         path=("Script_totals", "Script_grade"), first_ready=()),
    # -- business rule task (DMN)
    *[Case(f"business-rule-{level}-{'first' if first else 'again'}", ("business_rule.bpmn", "award_by_level.dmn"),
           "cf_business_rule", {},
           [Complete("Task_level", {"level": level, "first_time": first}, then=())],
           data={"award": award, "tier": tier, "notice": f"{level}: {award} yuan"},
           path=("Rule_award", "Script_notice"))
      for level, first, award, tier in [
          ("national", True, 500000, "gold"),
          ("national", False, 200000, "gold"),
          ("municipal_plus", True, 100000, "silver"),
          ("county", False, 0, "none"),
      ]],
]

PARAMS = [pytest.param(c, id=c.id) for c in CASES]


# ---------------------------------------------------------------------- what we compare
def canon(value):
    """Plain JSON (raises on anything JSON cannot hold)."""
    return json.loads(json.dumps(value, sort_keys=True, ensure_ascii=False))


def _all_tasks(wf: BpmnWorkflow):
    yield from wf.tasks.values()
    for sp in wf.subprocesses.values():
        yield from sp.tasks.values()


def _label(task) -> str:
    return task.task_spec.bpmn_id or task.task_spec.name


def completed_elements(wf: BpmnWorkflow) -> Counter:
    return Counter(t.task_spec.bpmn_id for t in _all_tasks(wf)
                   if t.state == TaskState.COMPLETED and t.task_spec.bpmn_id)


def task_states(wf: BpmnWorkflow) -> Counter:
    return Counter((_label(t), TaskState.get_name(t.state)) for t in _all_tasks(wf))


def ready_human(wf: BpmnWorkflow):
    return wf.get_tasks(state=TaskState.READY, manual=True)


def waiting_timers(wf: BpmnWorkflow) -> list:
    due = []
    for task in wf.get_tasks(state=TaskState.WAITING):
        event = getattr(task.task_spec, "event_definition", None)
        if isinstance(event, TimerEventDefinition) and "event_value" in task.internal_data:
            value = task.internal_data["event_value"]
            if isinstance(value, dict):
                value = value["next"]
            at = TimerEventDefinition.get_datetime(value).astimezone(UTC)
            due.append((task.task_spec.bpmn_id, at.isoformat()))
    return sorted(due)


def status_of(wf: BpmnWorkflow) -> str:
    if wf.is_completed():
        return "completed"
    if wf.get_tasks(state=TaskState.ERROR):
        return "error"
    return "running" if ready_human(wf) else "waiting"


def visible_data(wf: BpmnWorkflow) -> dict:
    """A finished case's data is the workflow's; a running one's adds its last task's."""
    data = dict(wf.data)
    if not wf.is_completed() and wf.last_task is not None:
        data.update(wf.last_task.data)
    return canon(data)


def full_dump(wf: BpmnWorkflow) -> dict:
    """Everything a restore must bring back, keyed by task id (same ids on both sides)."""
    def workflow(w):
        return {"data": canon(w.data), "last_task": str(w.last_task.id) if w.last_task else None,
                "completed": w.completed, "success": w.success, "correlations": canon(w.correlations)}

    out = {"top": workflow(wf), "subprocesses": {str(k): workflow(v) for k, v in wf.subprocesses.items()},
           "bpmn_events": len(wf.bpmn_events), "tasks": {}}
    for task in _all_tasks(wf):
        out["tasks"][str(task.id)] = {
            "spec": task.task_spec.name, "workflow": str(task.workflow.task_tree.id),
            "state": TaskState.get_name(task.state), "parent": str(task._parent),
            "children": [str(c) for c in task._children], "triggered": task.triggered,
            "last_state_change": task.last_state_change,
            "data": canon(task.data), "internal_data": canon(task.internal_data),
        }
    return out


def _differences(kept: dict, restored: dict) -> list:
    """What differs between two full dumps, readably: (where, kept, restored)."""
    out = [(k, kept[k], restored.get(k)) for k in kept if k != "tasks" and kept[k] != restored.get(k)]
    for tid in sorted(set(kept["tasks"]) | set(restored["tasks"])):
        a, b = kept["tasks"].get(tid), restored["tasks"].get(tid)
        if a is None or b is None:
            out.append((tid, a, b))
            continue
        out += [(f"{a['spec']} {tid} {f}", a[f], b.get(f)) for f in a if a[f] != b.get(f)]
    return out


@dataclass
class View:
    status: str
    data: dict
    ready: list  # (element, task data) per ready human task
    timers: list  # (element, due in UTC)
    completed: Counter
    states: Counter


def _matches(data: dict, where: dict | None) -> bool:
    return all(data.get(k) == v for k, v in (where or {}).items())


# ---------------------------------------------------------------------- the two runs
class Memory:
    """Plain SpiffWorkflow, nothing stored."""

    def __init__(self, files: dict[str, bytes], process: str):
        parser = SpiffBpmnParser()
        for name, content in files.items():
            if name.endswith(".dmn"):
                parser.add_dmn_str(content, filename=name)
            else:
                parser.add_bpmn_str(content, filename=name)
        self.wf = BpmnWorkflow(parser.get_spec(process), parser.get_subprocess_specs(process),
                               script_engine=make_script_engine())

    def start(self, data):
        self.wf.task_tree.set_data(**data)
        self.wf.do_engine_steps()

    def complete(self, step: Complete):
        [task] = [t for t in ready_human(self.wf)
                  if t.task_spec.bpmn_id == step.element and _matches(t.data, step.where)]
        task.set_data(**step.data)
        task.run()
        self.wf.do_engine_steps()

    def wake(self):
        self.wf.refresh_timers()
        self.wf.do_engine_steps()

    def send(self, step: Send):
        self.wf.send_event(BpmnEvent(MessageEventDefinition(step.name), payload=step.payload))
        self.wf.do_engine_steps()

    def view(self) -> View:
        wf = self.wf
        ready = _sorted((t.task_spec.bpmn_id, canon(t.data)) for t in ready_human(wf))
        return View(status_of(wf), visible_data(wf), ready, waiting_timers(wf),
                    completed_elements(wf), task_states(wf))


def _sorted(pairs):
    return sorted(pairs, key=lambda p: (p[0], json.dumps(p[1], sort_keys=True)))


class Persisted:
    """The engine: every step through Runtime, every next step from the database."""

    def __init__(self, runtime, files: dict[str, bytes], process: str):
        self.rt = runtime
        self.process = process
        runtime.registry.deploy(files, actor=ACTOR.name, note="conformance")
        self.id = None

    def instance(self) -> ProcessInstance:
        db.session.expire_all()
        return db.session.get(ProcessInstance, self.id)

    def restored(self) -> BpmnWorkflow:
        """The workflow as the database holds it (the cache is empty here)."""
        return self.rt._load(self.instance()).workflow

    def _settled(self):
        """The workflow the step left in the cache must be exactly what a reload gives."""
        inst = self.instance()
        live = self.rt._cached(inst.id, inst.revision)
        assert live is not None, "a successful step leaves its workflow in the cache"
        kept = full_dump(live.workflow)
        self.rt.forget()
        restored = full_dump(self.restored())
        assert restored == kept, f"save and restore lost or changed: {_differences(kept, restored)}"

    def start(self, data):
        self.id = self.rt.start(self.process, dict(data), ACTOR).id
        self._settled()

    def complete(self, step: Complete):
        rows = db.session.scalars(db.select(HumanTask).where(
            HumanTask.instance_id == self.id, HumanTask.element == step.element)).all()
        wf = self.restored()
        [row] = [r for r in rows if _matches(wf.get_task_from_id(UUID(r.id)).data, step.where)]
        self.rt.complete(row.id, dict(step.data), ACTOR)
        self._settled()

    def wake(self):
        self.rt.fire_timers(self.id)
        self._settled()

    def send(self, step: Send):
        self.rt.send_message(self.id, step.name, dict(step.payload), ACTOR)
        self._settled()

    def view(self) -> View:
        inst = self.instance()
        wf = self.restored()
        rows = db.session.scalars(db.select(HumanTask).where(HumanTask.instance_id == self.id)).all()
        # The inbox index is exactly the restored workflow's ready human work.
        assert sorted(r.id for r in rows) == sorted(str(t.id) for t in ready_human(wf))
        for r in rows:
            assert r.element == wf.get_task_from_id(UUID(r.id)).task_spec.bpmn_id
        ready = _sorted((r.element, canon(wf.get_task_from_id(UUID(r.id)).data)) for r in rows)
        timers = sorted((t.element, t.due_at.astimezone(UTC).isoformat()) for t in db.session.scalars(
            db.select(PendingTimer).where(PendingTimer.instance_id == self.id)))
        # So is the timer table: one row per waiting timer, due when the workflow says.
        assert timers == waiting_timers(wf)
        due = min((t[1] for t in timers), default=None)
        assert (inst.next_timer_at.astimezone(UTC).isoformat() if inst.next_timer_at else None) == due
        return View(inst.status, canon(inst.data), ready, timers, completed_elements(wf), task_states(wf))


# ---------------------------------------------------------------------- the test
def _files(names) -> dict[str, bytes]:
    return {n: (DIAGRAMS / n).read_bytes() for n in names}


def _agree(where: str, memory: Memory, persisted: Persisted, then, status=None) -> View:
    mem, per = memory.view(), persisted.view()
    assert per.status == mem.status, where
    assert per.data == mem.data, where
    assert per.ready == mem.ready, where
    assert per.timers == mem.timers, where
    assert per.completed == mem.completed, where
    assert per.states == mem.states, where
    if then is not None:
        assert sorted(e for e, _ in mem.ready) == sorted(then), where
    if status is not None:
        assert mem.status == status, where
    return mem


@pytest.mark.parametrize("case", PARAMS)
def test_persisted_engine_runs_like_plain_spiffworkflow(runtime, case: Case):
    files = _files(case.files)
    check = runtime.registry.check(files)
    assert check.errors == [], [str(f) for f in check.errors]
    assert case.process in check.processes

    memory, persisted = Memory(files, case.process), Persisted(runtime, files, case.process)
    memory.start(case.start)
    persisted.start(case.start)
    view = _agree("after start", memory, persisted, case.first_ready)

    for n, step in enumerate(case.steps, 1):
        where = f"after step {n}: {step}"
        if isinstance(step, Complete):
            memory.complete(step)
            persisted.complete(step)
        elif isinstance(step, Wait):
            clock.current().advance(step.delta)
            memory.wake()
            persisted.wake()
        elif step.refused:
            before = persisted.instance().revision
            with pytest.raises(WorkflowException, match="not waiting for"):
                memory.send(step)
            # The engine refuses it as a conflict (HTTP 409), and the refusal changes nothing.
            with pytest.raises(Conflict):
                persisted.send(step)
            assert persisted.instance().revision == before, "a refused message changes nothing"
        else:
            memory.send(step)
            persisted.send(step)
        view = _agree(where, memory, persisted, step.then, step.status)

    # What the case itself says must happen (both runs agree by now).
    assert view.status == case.status
    if case.status == "completed":
        assert memory.wf.is_completed()
        assert view.data == canon(memory.wf.data)
        assert view.ready == [] and view.timers == []
    missing = {k: view.data.get(k, "<missing>") for k, v in case.data.items() if view.data.get(k) != v}
    assert not missing, f"final data differs from the expected {case.data}: {missing}"
    assert [k for k in case.absent if k in view.data] == []
    required = Counter(case.path)
    assert {e: view.completed[e] for e in required if view.completed[e] < required[e]} == {}, \
        f"expected elements did not run (often enough): {dict(required)}"
    assert [e for e in case.not_path if view.completed[e]] == [], "elements ran that should not have"


# ====================================================================== error cases (issue 15)
# Diagrams whose data makes SpiffWorkflow fail (or stop with nothing left to move it). Plain
# SpiffWorkflow raises at an element, or just stops; the engine must fail at the same element
# and say so: the case held in `error` naming the element and the data, its step rolled back
# (no 500, nothing half-written), or, when a completion left out what the task must set, the
# submission refused (422) naming the field with the case unchanged. Then the correction
# (an administrator's retry with corrected data, or the submission again with the field)
# must run on exactly as plain SpiffWorkflow runs the corrected data from the start.
@dataclass
class ErrorCase:
    id: str
    file: str
    process: str
    start: dict
    element: str  # where both runs fail
    names: tuple[str, ...]  # the data the failure is about, named by the engine
    complete: dict | None = None  # the data the one ready task is completed with (None: fails at start)
    refused: tuple[str, ...] = ()  # the completion is refused (422) naming these fields
    stalls: bool = False  # SpiffWorkflow raises nothing: the case just has nothing left to move it
    fix: dict = field(default_factory=dict)  # the correction (retry data, or the fields submitted again)
    then: tuple[str, ...] = ()  # the ready human tasks after the correction


ERROR_CASES = [
    ErrorCase("mi-input-missing", "error_mi_input_missing.bpmn", "cf_err_mi_input_missing", {},
              "Task_review", ("experts",), fix={"experts": ["a", "b"]}, then=("Task_review",) * 2),
    ErrorCase("mi-input-not-a-list", "error_mi_input_not_list.bpmn", "cf_err_mi_input_not_list", {"experts": 5},
              "Task_review", ("experts",), fix={"experts": ["a"]}, then=("Task_review",)),
    ErrorCase("sequential-mi-input-missing", "error_sequential_mi_input_missing.bpmn", "cf_err_seq_mi_input_missing",
              {}, "Task_review", ("experts",), fix={"experts": ["a", "b"]}, then=("Task_review",)),
    ErrorCase("loop-condition-on-unset-data", "error_loop_condition_unset.bpmn", "cf_err_loop_condition", {},
              "Task_tally", ("rounds_left",), fix={"rounds_left": 0}),
    ErrorCase("join-nothing-can-complete", "error_stall_join.bpmn", "cf_err_stall_join", {"desk_only": False},
              "Gateway_join", (), stalls=True),
    ErrorCase("mi-output-item-not-set", "error_mi_output_item_not_set.bpmn", "cf_err_mi_output_item_not_set",
              {"experts": ["a"]}, "Task_review", ("score",), complete={}, refused=("score",), fix={"score": 7}),
    ErrorCase("data-object-not-set", "error_data_object_not_set.bpmn", "cf_err_data_object", {},
              "Task_inspect", ("findings",), complete={}, refused=("findings",), fix={"findings": "no leaks"}),
    ErrorCase("io-spec-output-missing", "error_io_spec_output_missing.bpmn", "cf_err_io_output", {},
              "Task_decide", ("verdict",), complete={"note": "seen"}, refused=("verdict",),
              fix={"verdict": "approve"}),
]


def _memory_failure(run) -> str:
    """Where plain SpiffWorkflow failed: the task its exception names (or, for a TypeError, the
    task spec method's `my_task`)."""
    with pytest.raises(Exception) as raised:  # noqa: B017 - whatever SpiffWorkflow raises is what is compared
        run()
    task = boundary.failing_task(raised.value)
    assert task is not None, f"plain SpiffWorkflow raised without a task: {raised.value!r}"
    return task.task_spec.bpmn_id


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in ERROR_CASES])
def test_a_diagram_that_fails_fails_at_the_same_element_and_recovers_like_plain_spiffworkflow(runtime, case):
    files = _files((case.file,))
    assert runtime.registry.check(files).errors == []
    memory, persisted = Memory(files, case.process), Persisted(runtime, files, case.process)

    if case.complete is None:  # fails (or stalls) on start
        if case.stalls:
            memory.start(case.start)
            assert not memory.wf.is_completed() and ready_human(memory.wf) == [] and waiting_timers(memory.wf) == []
            [waiting] = memory.wf.get_tasks(state=TaskState.WAITING)
            failed_at = waiting.task_spec.bpmn_id
        else:
            failed_at = _memory_failure(lambda: memory.start(case.start))
        persisted.start(case.start)
        inst = persisted.instance()
        assert (inst.status, inst.error_element) == ("error", failed_at) and failed_at == case.element
        assert all(name in inst.error_message for name in case.names), inst.error_message
        if case.stalls:
            assert "nothing can move this case" in inst.error_message
            return
        # rolled back to before the step: nothing of the half-run start was kept
        assert persisted.view().ready == [] and completed_elements(persisted.restored()) == Counter()
        revision = inst.revision
        # an administrator corrects the data and retries: the case runs as if started with it
        persisted.rt.retry(persisted.id, ACTOR, dict(case.fix), reason="the data was incomplete")
        persisted.rt.forget()
        corrected = Memory(files, case.process)
        corrected.start({**case.start, **case.fix})
    else:
        memory.start(case.start)
        persisted.start(case.start)
        _agree("after start", memory, persisted, None)
        step = Complete(ready_human(memory.wf)[0].task_spec.bpmn_id, case.complete)
        failed_at = _memory_failure(lambda: memory.complete(step))
        revision = persisted.instance().revision
        with pytest.raises(FormInvalid) as refused:
            persisted.complete(step)
        assert failed_at == case.element and sorted(refused.value.fields) == sorted(case.refused)
        assert all(case.element in m for ms in refused.value.fields.values() for m in ms)
        inst = persisted.instance()
        assert (inst.status, inst.revision) == ("running", revision), "a refused completion changes nothing"
        # the submitter gives what was missing: the case runs on as plain SpiffWorkflow does with it
        persisted.complete(Complete(step.element, {**case.complete, **case.fix}))
        corrected = Memory(files, case.process)
        corrected.start(case.start)
        corrected.complete(Complete(step.element, {**case.complete, **case.fix}))
    assert persisted.instance().revision > revision
    _agree("after the correction", corrected, persisted, case.then)


def test_every_diagram_is_exercised():
    used = {name for case in CASES for name in case.files} | {case.file for case in ERROR_CASES}
    present = {p.name for p in DIAGRAMS.iterdir() if p.suffix in (".bpmn", ".dmn")}
    assert present == used
