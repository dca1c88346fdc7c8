"""Running instances (流程运行): start, complete, cancel, retry, timers, messages.

Every step goes through `Runtime._step`: in one database transaction it
stores the instance's changed state, the human-task index, its pending
timers, its data snapshot and an audit event, or nothing at all. The instance
row's `revision` is checked on write, so of two concurrent steps on one
instance exactly one lands and the other gets a Conflict.

Parsed specs come from the registry; live workflow objects are cached per
instance and reused while the stored revision is the one they were built
from, so a step does not re-read and re-build what did not change.
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable
from uuid import UUID

from sqlalchemy import and_, delete, exists, or_, true, update
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from . import clock, persistence
from .audit import append as audit
from .db import db, write_intent
from .errors import Conflict, EngineError, Forbidden, NotFound
from .forms import accepted_data
from .models import HumanTask, InstanceTask, PendingTimer, ProcessInstance
from .registry import FORM_PROPERTY, Registry, UnknownProcess
from .scripting import make_script_engine, reserved_names

ACTIVE = ("running", "waiting", "error")


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user, or the system itself (timers)."""

    name: str | None
    role: str | None = None
    jurisdiction: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


SYSTEM = Actor("system", "admin")


def may_act(actor: Actor, task: HumanTask) -> bool:
    """Server-side rule for acting on a human task: an assigned task is its
    assignee's; otherwise the task's role, within the actor's jurisdiction
    when the actor has one (municipal users do; provincial users do not)."""
    if actor.is_admin:
        return True
    if task.assignee is not None:
        return actor.name == task.assignee
    if task.role is None or task.role != actor.role:
        return False
    return actor.jurisdiction is None or actor.jurisdiction == task.jurisdiction


def json_safe(obj):
    return json.loads(json.dumps(persistence._REGISTRY.clean(obj) if isinstance(obj, dict) else obj,
                                 cls=persistence._ENCODER))


class _Live:
    __slots__ = ("revision", "workflow", "snapshot", "ready", "timers")

    def __init__(self, revision, workflow, snapshot, ready, timers):
        self.revision, self.workflow, self.snapshot = revision, workflow, snapshot
        self.ready, self.timers = ready, timers


class Runtime:
    def __init__(
        self,
        registry: Registry,
        role_of: Callable[[str | None], str | None],
        party_roles: frozenset[str] = frozenset(),
        province_wide_roles: frozenset[str] = frozenset(),
        cache_size: int = 512,
    ):
        self.registry = registry
        self.role_of = role_of
        self.party_roles = party_roles
        self.province_wide_roles = province_wide_roles
        self.cache_size = cache_size
        self._cache: OrderedDict[int, _Live] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._reserved = reserved_names()
        # Tests inject failures here to prove a step is all or nothing.
        self.before_commit: Callable[[ProcessInstance], None] | None = None

    # ------------------------------------------------------------------ who sees what
    def _actionable(self, actor: Actor):
        """SQL form of `may_act` over the task index."""
        by_role = and_(HumanTask.assignee.is_(None), HumanTask.role == actor.role)
        if actor.jurisdiction is not None:
            by_role = and_(by_role, HumanTask.jurisdiction == actor.jurisdiction)
        return or_(HumanTask.assignee == actor.name, by_role)

    def visible_instances(self, actor: Actor):
        """Cases the actor may see: all for an administrator and province-wide
        roles; otherwise those they started, those with a task for them, and,
        for a city's officials, every case of their city."""
        if actor.is_admin or actor.role in self.province_wide_roles:
            return true()
        conds = [
            ProcessInstance.started_by == actor.name,
            exists().where(HumanTask.instance_id == ProcessInstance.id, self._actionable(actor)),
        ]
        if actor.jurisdiction is not None and actor.role not in self.party_roles:
            conds.append(ProcessInstance.jurisdiction == actor.jurisdiction)
        return or_(*conds)

    def visible_tasks(self, actor: Actor):
        return true() if actor.is_admin else self._actionable(actor)

    def may_see(self, actor: Actor, inst: ProcessInstance) -> bool:
        return bool(db.session.scalar(db.select(
            exists().where(ProcessInstance.id == inst.id, self.visible_instances(actor)))))

    # ------------------------------------------------------------------ cache
    def _cached(self, instance_id, revision) -> _Live | None:
        with self._cache_lock:
            live = self._cache.get(instance_id)
            if live is not None and live.revision == revision:
                self._cache.move_to_end(instance_id)
                return live
        return None

    def _remember(self, instance_id, live: _Live):
        with self._cache_lock:
            self._cache[instance_id] = live
            self._cache.move_to_end(instance_id)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def forget(self, instance_id=None):
        with self._cache_lock:
            if instance_id is None:
                self._cache.clear()
            else:
                self._cache.pop(instance_id, None)

    def _load(self, inst: ProcessInstance) -> _Live:
        live = self._cached(inst.id, inst.revision)
        if live is not None:
            return live
        version = self.registry.load(inst.version_id)
        rows = dict(db.session.execute(
            db.select(InstanceTask.task_id, InstanceTask.body).where(InstanceTask.instance_id == inst.id)
        ).all())
        workflow, snapshot = persistence.restore(
            inst.shell, rows, version.specs[inst.process_id], version.subprocess_specs[inst.process_id]
        )
        workflow.script_engine = make_script_engine()
        ready = set(db.session.scalars(db.select(HumanTask.id).where(HumanTask.instance_id == inst.id)))
        timers = dict(db.session.execute(
            db.select(PendingTimer.task_id, PendingTimer.due_at).where(PendingTimer.instance_id == inst.id)
        ).all())
        return _Live(inst.revision, workflow, snapshot, ready, timers)

    # ------------------------------------------------------------------ the step
    @contextmanager
    def _step(self, instance_id: int):
        """Yields (instance row, live workflow); saves everything on exit or nothing."""
        db.session.commit()  # end any read transaction: the step must begin holding the write lock
        token = write_intent.set(True)
        try:
            inst = db.session.execute(
                db.select(ProcessInstance).where(ProcessInstance.id == instance_id).with_for_update()
            ).scalar_one_or_none()
            if inst is None:
                raise NotFound(f"instance {instance_id} does not exist")
            live = self._load(inst)
            yield inst, live
            self._save(inst, live)
            if self.before_commit is not None:
                self.before_commit(inst)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            self.forget(instance_id)
            raise
        finally:
            write_intent.reset(token)

    def _save(self, inst: ProcessInstance, live: _Live, created: bool = False):
        wf: BpmnWorkflow = live.workflow
        now = clock.now()
        changes = persistence.diff(wf, None if created else live.snapshot)
        expected = inst.revision
        status = self._status(wf, inst)
        if not created:
            moved = db.session.execute(
                update(ProcessInstance)
                .where(ProcessInstance.id == inst.id, ProcessInstance.revision == expected)
                .values(revision=expected + 1)
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:
                raise Conflict("another action on this case was saved first; reload and try again")
            inst.revision = expected + 1
            db.session.flush()
        inst.shell = changes.shell
        inst.status = status
        inst.updated_at = now
        inst.data = json_safe(self._visible_data(wf))
        if changes.deletes:
            db.session.execute(delete(InstanceTask).where(
                InstanceTask.instance_id == inst.id, InstanceTask.task_id.in_(changes.deletes)))
        for tid, body in changes.upserts.items():
            if tid in live.snapshot.fingerprints and not created:
                db.session.execute(update(InstanceTask).where(
                    InstanceTask.instance_id == inst.id, InstanceTask.task_id == tid).values(body=body))
            else:
                db.session.add(InstanceTask(instance_id=inst.id, task_id=tid, body=body))
        live.ready = self._sync_inbox(inst, wf, live.ready, now, status)
        live.timers = self._sync_timers(inst, wf, live.timers, status)
        inst.next_timer_at = min(live.timers.values(), default=None)
        live.snapshot = changes.snapshot
        live.revision = inst.revision
        self._remember(inst.id, live)

    def _status(self, wf: BpmnWorkflow, inst: ProcessInstance) -> str:
        if inst.status == "cancelled":
            return "cancelled"
        if wf.is_completed():
            return "completed"
        if wf.get_tasks(state=TaskState.ERROR):
            return "error"
        # running: people have work on it now; waiting: only timers or messages can move it
        return "running" if wf.get_tasks(state=TaskState.READY, manual=True) else "waiting"

    @staticmethod
    def _visible_data(wf: BpmnWorkflow) -> dict:
        data = dict(wf.data)
        if not wf.is_completed() and wf.last_task is not None:
            data.update(wf.last_task.data)
        return data

    def _sync_inbox(self, inst, wf, before: set[str], now, status) -> set[str]:
        ready = {} if status in ("cancelled", "completed") else {
            str(t.id): t for t in wf.get_tasks(state=TaskState.READY, manual=True)
        }
        gone = [tid for tid in before if tid not in ready]
        if gone:
            db.session.execute(delete(HumanTask).where(HumanTask.id.in_(gone)))
        for tid, task in ready.items():
            if tid in before:
                continue
            spec = task.task_spec
            role = self.role_of(spec.lane)
            assignee = inst.started_by if (spec.lane is None or role in self.party_roles) else None
            db.session.add(HumanTask(
                id=tid, instance_id=inst.id, process_id=inst.process_id, element=spec.bpmn_id,
                name=spec.bpmn_name, lane=spec.lane, role=role, jurisdiction=inst.jurisdiction,
                assignee=assignee, form=spec.extensions.get("properties", {}).get(FORM_PROPERTY),
                created_at=now, due_at=None,
            ))
        return set(ready)

    def _sync_timers(self, inst, wf, before: dict, status) -> dict:
        due: dict[str, datetime] = {}
        if status not in ("cancelled", "completed"):
            for task in wf.get_tasks(state=TaskState.WAITING):
                event = getattr(task.task_spec, "event_definition", None)
                if isinstance(event, TimerEventDefinition) and "event_value" in task.internal_data:
                    due[str(task.id)] = _timer_due(task.internal_data["event_value"])
        gone = [tid for tid in before if due.get(tid) != before[tid]]
        if gone:
            db.session.execute(delete(PendingTimer).where(
                PendingTimer.instance_id == inst.id, PendingTimer.task_id.in_(gone)))
        for tid, at in due.items():
            if before.get(tid) != at:
                task = wf.get_task_from_id(UUID(tid))
                db.session.add(PendingTimer(instance_id=inst.id, task_id=tid,
                                            element=task.task_spec.bpmn_id, due_at=at))
        return due

    def _advance(self, inst: ProcessInstance, wf: BpmnWorkflow):
        """Run the engine until it waits; a script or DMN error becomes the instance's error."""
        try:
            wf.do_engine_steps()
            inst.error_message = inst.error_element = None
        except SpiffWorkflowException as exc:
            task = getattr(exc, "task", None)
            inst.error_element = task.task_spec.bpmn_id if task is not None else None
            inst.error_message = str(exc)
            if task is None:
                raise

    # ------------------------------------------------------------------ operations
    def start(self, process_id: str, data: dict | None, actor: Actor, jurisdiction: str | None = None):
        data = dict(data or {})
        bad = [k for k in data if k in self._reserved or k.startswith("_")]
        if bad:
            raise EngineError(f"data may not set reserved names: {', '.join(sorted(bad))}")
        try:
            version = self.registry.load(self.registry.latest_version_for(process_id))
        except UnknownProcess:
            raise NotFound(f"no deployed process '{process_id}'") from None
        spec = version.specs[process_id]
        start_lane = _start_lane(spec)
        start_role = self.role_of(start_lane)
        if start_lane and not actor.is_admin and start_role != actor.role:
            raise Forbidden(f"only the role of lane '{start_lane}' may start {process_id}")
        if actor.jurisdiction is not None:
            if jurisdiction not in (None, actor.jurisdiction):
                raise Forbidden("you may only start cases in your own jurisdiction")
            jurisdiction = actor.jurisdiction
        if jurisdiction is not None:
            data["jurisdiction"] = jurisdiction

        db.session.commit()
        token = write_intent.set(True)
        try:
            wf = BpmnWorkflow(spec, version.subprocess_specs[process_id], script_engine=make_script_engine())
            wf.task_tree.set_data(**data)
            now = clock.now()
            inst = ProcessInstance(
                process_id=process_id, version_id=version.id, status="running", jurisdiction=jurisdiction,
                started_by=actor.name, created_at=now, updated_at=now, revision=0, shell="{}",
                serializer_version=persistence.SERIALIZER_VERSION, data={},
            )
            db.session.add(inst)
            db.session.flush()
            self._advance(inst, wf)
            live = _Live(0, wf, persistence.Snapshot(), set(), {})
            self._save(inst, live, created=True)
            audit(actor.name, "start", instance_id=inst.id, task=process_id,
                  detail={"in": json_safe(data), "status": inst.status, "error": inst.error_message})
            if self.before_commit is not None:
                self.before_commit(inst)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        finally:
            write_intent.reset(token)
        return inst

    def complete(self, task_id: str, data, actor: Actor) -> ProcessInstance:
        row = db.session.get(HumanTask, task_id) if _is_uuid(task_id) else None
        if row is None:
            raise NotFound(f"task {task_id} is not waiting for anyone")
        if not may_act(actor, row):
            raise Forbidden("you may not act on this task")
        with self._step(row.instance_id) as (inst, live):
            task = _find_task(live.workflow, task_id)
            if task is None or task.state != TaskState.READY or not task.task_spec.manual:
                raise Conflict("this task has already been completed or is no longer waiting")
            version = self.registry.load(inst.version_id)
            form_name = task.task_spec.extensions.get("properties", {}).get(FORM_PROPERTY)
            schema = version.forms.get(form_name) if form_name else None
            accepted = accepted_data(schema, data, self._reserved | {"jurisdiction"})
            before = dict(inst.data or {})
            task.set_data(**accepted)
            task.run()
            self._advance(inst, live.workflow)
            audit(actor.name, "complete", instance_id=inst.id, task=task.task_spec.bpmn_id,
                  detail={"in": json_safe(accepted), "out": _changed(before, self._visible_data(live.workflow)),
                          "status": self._status(live.workflow, inst), "error": inst.error_message})
        return inst

    def cancel(self, instance_id: int, actor: Actor, reason: str | None = None) -> ProcessInstance:
        with self._step(instance_id) as (inst, live):
            if not actor.is_admin and inst.started_by != actor.name:
                raise Forbidden("only an administrator or the case's starter may cancel it")
            if inst.status not in ACTIVE:
                raise Conflict(f"the case is {inst.status}")
            live.workflow.cancel()
            inst.status = "cancelled"
            audit(actor.name, "cancel", instance_id=inst.id, detail={"reason": reason})
        return inst

    def retry(self, instance_id: int, actor: Actor, data: dict | None = None) -> ProcessInstance:
        """Run the failed element again, after its cause (data or model) is fixed."""
        if not actor.is_admin:
            raise Forbidden("only an administrator may retry a failed case")
        with self._step(instance_id) as (inst, live):
            failed = live.workflow.get_tasks(state=TaskState.ERROR)
            if not failed:
                raise Conflict("the case has no failed step")
            patch = accepted_data(None, data or {}, self._reserved)
            for task in failed:
                live.workflow.reset_from_task_id(task.id)
                # the reset task inherits its parent's data again; the correction goes on top
                task.data.update(patch)
            self._advance(inst, live.workflow)
            audit(actor.name, "retry", instance_id=inst.id, task=failed[0].task_spec.bpmn_id,
                  detail={"in": json_safe(patch), "error": inst.error_message})
        return inst

    def fire_timers(self, instance_id: int, actor: Actor = SYSTEM) -> ProcessInstance:
        """Wake an instance: every timer now due fires, through the same step path as a person."""
        with self._step(instance_id) as (inst, live):
            if inst.status not in ACTIVE:
                return inst
            due = [e for e, at in ((self._timer_element(live, t), at) for t, at in live.timers.items())
                   if at <= clock.now()]
            live.workflow.refresh_timers()
            self._advance(inst, live.workflow)
            audit(actor.name, "timer", instance_id=inst.id, task=",".join(sorted(due)) or None,
                  detail={"status": self._status(live.workflow, inst)})
        return inst

    def send_message(self, instance_id: int, name: str, payload: dict | None, actor: Actor) -> ProcessInstance:
        with self._step(instance_id) as (inst, live):
            if inst.status not in ACTIVE:
                raise Conflict(f"the case is {inst.status}")
            live.workflow.send_event(BpmnEvent(MessageEventDefinition(name), payload or {}))
            self._advance(inst, live.workflow)
            audit(actor.name, "message", instance_id=inst.id, task=name, detail={"in": json_safe(payload or {})})
        return inst

    @staticmethod
    def _timer_element(live, task_id):
        try:
            return live.workflow.get_task_from_id(UUID(task_id)).task_spec.bpmn_id
        except Exception:
            return task_id


def _start_lane(spec) -> str | None:
    """The lane of the process's start event: the role that may start a case."""
    for ts in spec.task_specs.values():
        if isinstance(ts, StartEvent) and ts.lane:
            return ts.lane
    return None


def _find_task(wf: BpmnWorkflow, task_id: str):
    try:
        return wf.get_task_from_id(UUID(task_id))
    except TaskNotFoundException:
        return None


def _is_uuid(value: str) -> bool:
    try:
        UUID(str(value))
        return True
    except ValueError:
        return False


def _changed(before: dict, after: dict) -> dict:
    after = json_safe(after)
    return {k: v for k, v in after.items() if before.get(k) != v}


def _timer_due(event_value) -> datetime:
    if isinstance(event_value, dict):  # cycle
        event_value = event_value.get("next")
    due = TimerEventDefinition.get_datetime(event_value)
    return due.astimezone(timezone.utc).astimezone(clock.SHANGHAI)
