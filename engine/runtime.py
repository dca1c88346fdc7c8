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

import logging
import threading
from collections import OrderedDict
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Callable
from uuid import UUID

from sqlalchemy import exists, or_, true
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException, WorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from . import clock, deadlines, outbox, persistence, services, statutory_calendar, store
from .actors import SYSTEM, Actor, addressed_to, may_act, role_queue  # noqa: F401  (re-exported)
from .audit import append as audit
from .db import db, write_intent
from .errors import Conflict, EngineError, Forbidden, FormInvalid, NotFound
from .forms import accepted_data, refuse_unstorable
from .models import HumanTask, ProcessHead, ProcessInstance
from .registry import FORM_PROPERTY, Registry, UnknownProcess
from .scripting import TIMER_SET, make_script_engine, reserved_names

ACTIVE = ("running", "waiting", "error")
log = logging.getLogger(__name__)
# A case about an organisation that someone else started (a spot check the province
# opened) names the account acting for that organisation here; its party's tasks go there.
PARTY_ACCOUNT = "party_account"
# A start event's property naming the roles that may start the process, when more
# than the role of its lane may (a revocation is proposed by a city or by the province).
START_ROLES_PROPERTY = "startRoles"
# A start event's property naming the data a case cannot start without (a revocation
# needs its designation and ground); such a process is started from the page that has them.
START_DATA_PROPERTY = "startData"


class _Unchanged(Exception):
    """Raised inside a step that finds nothing to do."""


class _Live:
    """A case's workflow as last saved, with what the database holds for it:
    `ready` maps each inbox entry to its pending [reminder, overdue] moments,
    `timers` each waiting timer to its due time."""

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
        task_labels: Callable[[dict], dict] | None = None,
        cache_size: int = 512,
        party_assignee: Callable[[str, dict], str | None] | None = None,
        submission_check: Callable[[dict | None, dict, int], dict] | None = None,
    ):
        self.registry = registry
        self.role_of = role_of
        self.party_roles = party_roles
        self.province_wide_roles = province_wide_roles
        # from a task's data, the inbox columns unit_type and level
        self.task_labels = task_labels or (lambda data: {})
        # who does a party role's task, from the case data (e.g. the chosen agency's
        # account); None: the case's starter
        self.party_assignee = party_assignee or (lambda role, data: None)
        # checks a form cannot state alone (a file field must name a file of this case):
        # field errors, given (schema, accepted data, instance id)
        self.submission_check = submission_check or (lambda schema, data, instance_id: {})
        self.cache_size = cache_size
        self._cache: OrderedDict[int, _Live] = OrderedDict()
        self._cache_lock = threading.Lock()
        # the party's account is the process's to set (from the designation), never a submission's
        self._reserved = reserved_names() | {PARTY_ACCOUNT}
        # Tests inject failures here to prove a step is all or nothing.
        self.before_commit: Callable[[store.Case], None] | None = None
        # The timer service learns here when a case's next due time changed.
        self.after_commit: Callable[[int, datetime | None], None] | None = None

    # ------------------------------------------------------------------ who sees what

    def visible_instances(self, actor: Actor):
        """Cases the actor may see: all for an administrator and province-wide
        roles; otherwise those they started, those with a task for them, and,
        for a city's officials, every case of their city."""
        if actor.is_admin or actor.role in self.province_wide_roles:
            return true()
        conds = [
            ProcessInstance.started_by == actor.name,
            exists().where(HumanTask.instance_id == ProcessInstance.id, addressed_to(actor, HumanTask)),
        ]
        if actor.jurisdiction is not None and actor.role not in self.party_roles:
            conds.append(ProcessInstance.jurisdiction == actor.jurisdiction)
        return or_(*conds)

    def visible_tasks(self, actor: Actor):
        return true() if actor.is_admin else addressed_to(actor, HumanTask)

    def may_see(self, actor: Actor, instance_id: int) -> bool:
        return bool(db.session.scalar(db.select(
            exists().where(ProcessInstance.id == instance_id, self.visible_instances(actor)))))

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

    def read_workflow(self, instance_id: int) -> BpmnWorkflow:
        """A case's workflow as stored, for display: one consistent read (the row
        held against a step's write on PostgreSQL), never the live cached object
        a step may be changing."""
        c = store.conn()
        case = c.execute(store.SELECT_CASE_FOR_READING, {"id": instance_id}).first()
        if case is None:
            raise NotFound(f"instance {instance_id} does not exist")
        version = self.registry.load(case.version_id)
        shell = c.execute(store.SELECT_SHELL, {"id": instance_id}).scalar_one()
        rows = dict(c.execute(store.SELECT_TASK_ROWS, {"id": instance_id}).all())
        db.session.commit()
        workflow, _ = persistence.restore(shell, rows, version.specs[case.process_id],
                                          version.subprocess_specs[case.process_id])
        return workflow

    def _load(self, case: store.Case) -> _Live:
        live = self._cached(case.id, case.revision)
        if live is not None:
            return live
        version = self.registry.load(case.version_id)
        c = store.conn()
        shell = c.execute(store.SELECT_SHELL, {"id": case.id}).scalar_one()
        rows = dict(c.execute(store.SELECT_TASK_ROWS, {"id": case.id}).all())
        workflow, snapshot = persistence.restore(
            shell, rows, version.specs[case.process_id], version.subprocess_specs[case.process_id]
        )
        workflow.script_engine = make_script_engine()
        ready = {tid: [remind, None if noticed else due]
                 for tid, remind, due, noticed in c.execute(store.SELECT_INBOX_ALERTS, {"id": case.id})}
        timers = dict(c.execute(store.SELECT_TIMERS, {"id": case.id}).all())
        return _Live(case.revision, workflow, snapshot, ready, timers)

    # ------------------------------------------------------------------ the step
    @contextmanager
    def _transaction(self):
        """One write transaction: on SQLite it begins holding the write lock."""
        db.session.commit()  # end any read transaction first
        token = write_intent.set(True)
        try:
            yield
        except BaseException:
            db.session.rollback()
            outbox.take_requested()  # what the failed step asked to start was rolled back with it
            raise
        finally:
            write_intent.reset(token)

    @contextmanager
    def _step(self, instance_id: int):
        """Yields (case, live workflow) under the case's lock; on exit saves
        everything the step changed, or on any error nothing at all."""
        with self._transaction():
            try:
                case = store.case_for_step(instance_id)
                if case is None:
                    raise NotFound(f"instance {instance_id} does not exist")
                live = self._load(case)
                due_before = case.next_timer_at
                try:
                    yield case, live
                except _Unchanged:
                    db.session.rollback()  # nothing was written: what was loaded is still this revision
                    self._remember(case.id, live)
                    return
                self._save(case, live)
                if self.before_commit is not None:
                    self.before_commit(case)
                db.session.commit()
            except BaseException:
                self.forget(instance_id)
                raise
        if case.next_timer_at != due_before and self.after_commit is not None:
            self.after_commit(case.id, case.next_timer_at)
        self.start_requested(outbox.take_requested())

    @contextmanager
    def batch(self):
        """One write transaction over several cases, for an operation that must change them
        all or none (settling a year's provisional dates): yields `hold(instance_id)`, a
        context manager giving (case, live workflow) under the case's lock and saving what
        was changed on exit, revision checked. Commits at the end; the scheduler then learns
        the cases' new due times."""
        held: list[tuple[store.Case, datetime | None]] = []

        @contextmanager
        def hold(instance_id: int):
            case = store.case_for_step(instance_id)
            if case is None:
                raise NotFound(f"instance {instance_id} does not exist")
            live = self._load(case)
            held.append((case, case.next_timer_at))
            yield case, live
            self._save(case, live)

        with self._transaction():
            try:
                yield hold
                db.session.commit()
            except BaseException:
                for case, _ in held:
                    self.forget(case.id)
                raise
        for case, due_before in held:
            if case.next_timer_at != due_before and self.after_commit is not None:
                self.after_commit(case.id, case.next_timer_at)

    def _save(self, case: store.Case, live: _Live, created: bool = False):
        """Write what the step changed; the case row last, with its revision check."""
        wf: BpmnWorkflow = live.workflow
        now = clock.now()
        changes = persistence.diff(wf, None if created else live.snapshot)
        scan = _scan(wf)
        case.status = self._status(wf, case, scan)
        c = store.conn()
        known = live.snapshot.fingerprints
        if changes.deletes:
            c.execute(store.DELETE_TASK_ROW, [{"b_instance": case.id, "b_task": t} for t in changes.deletes])
        new = [{"instance_id": case.id, "task_id": t, "body": b} for t, b in changes.upserts.items() if t not in known]
        old = [{"b_instance": case.id, "b_task": t, "body": b} for t, b in changes.upserts.items() if t in known]
        if new:
            c.execute(store.INSERT_TASK_ROWS, new)
        if old:
            c.execute(store.UPDATE_TASK_ROW, old)
        finished = case.status in ("cancelled", "completed")
        live.ready = self._sync_inbox(c, case, {} if finished else scan.ready, live.ready, now)
        live.timers = self._sync_timers(c, case, {} if finished else scan.timers, live.timers)
        case.updated_at = now
        case.data = persistence.plain(self._visible_data(wf))
        case.next_timer_at = min([*live.timers.values(), *(m for alert in live.ready.values() for m in alert if m)],
                                 default=None)
        if not store.save_case(case, changes.shell):
            raise Conflict("another action on this case was saved first; reload and try again")
        live.snapshot = changes.snapshot
        live.revision = case.revision
        self._remember(case.id, live)

    def _status(self, wf: BpmnWorkflow, case: store.Case, scan: "_Scan") -> str:
        if case.status == "cancelled":
            return "cancelled"
        if _completed(wf):
            return "completed"
        if scan.failed:
            return "error"
        # running: people have work on it now; waiting: only timers or messages can move it
        return "running" if scan.ready else "waiting"

    @staticmethod
    def _visible_data(wf: BpmnWorkflow) -> dict:
        data = dict(wf.data)
        if not _completed(wf) and wf.last_task is not None:
            data.update(wf.last_task.data)
        return data

    def _sync_inbox(self, conn, case: store.Case, ready: dict, before: dict, now) -> dict:
        gone = [{"b_id": tid} for tid in before if tid not in ready]
        if gone:
            conn.execute(store.DELETE_INBOX, gone)
        after, added = {}, []
        for tid, task in ready.items():
            if tid in before:
                after[tid] = before[tid]
                continue
            spec = task.task_spec
            role = self.role_of(spec.lane)
            limit = task.internal_data.get(deadlines.KEY) or {}
            due = datetime.fromisoformat(limit["due"]) if limit.get("due") else None
            remind = datetime.fromisoformat(limit["remind"]) if limit.get("remind") else None
            added.append({
                "id": tid, "instance_id": case.id, "process_id": case.process_id, "element": spec.bpmn_id,
                "name": spec.bpmn_name, "lane": spec.lane, "role": role,
                "jurisdiction": case.jurisdiction or _task_jurisdiction(task),
                "assignee": ((role and self.party_assignee(role, task.data)) or task.data.get(PARTY_ACCOUNT)
                             or case.started_by)
                if (spec.lane is None or role in self.party_roles) else None,
                "form": spec.extensions.get("properties", {}).get(FORM_PROPERTY),
                "created_at": now, "due_at": due, "remind_at": remind,
                "due_provisional_year": statutory_calendar.first(limit.get("provisional")),
                "escalate_to": limit.get("escalate_to"), "overdue_noticed": False,
                "unit_type": None, "level": None, **self.task_labels(task.data),
            })
            after[tid] = [remind, due]
        if added:
            conn.execute(store.INSERT_INBOX, added)
        return after

    def _sync_timers(self, conn, case: store.Case, waiting: dict, before: dict) -> dict:
        due = {tid: _timer_due(task.internal_data["event_value"]) for tid, task in waiting.items()}
        gone = [{"b_instance": case.id, "b_task": tid} for tid in before if due.get(tid) != before[tid]]
        if gone:
            conn.execute(store.DELETE_TIMER, gone)
        added = [{"instance_id": case.id, "task_id": tid, "element": waiting[tid].task_spec.bpmn_id, "due_at": at,
                  "provisional_year": statutory_calendar.first(waiting[tid].internal_data.get(TIMER_SET, {}).get("provisional"))}
                 for tid, at in due.items() if before.get(tid) != at]
        if added:
            conn.execute(store.INSERT_TIMERS, added)
        return due

    def _advance(self, case: store.Case, wf: BpmnWorkflow, actor: Actor):
        """Run the engine until it waits, and give each newly ready task its time
        limit; a script, DMN, service or time-limit error becomes the case's error."""
        token = services.current_step.set(
            services.StepContext(case.id, case.process_id, case.version_id, actor.name))
        try:
            wf.do_engine_steps()
            case.error_message = case.error_element = None
        except SpiffWorkflowException as exc:
            task = getattr(exc, "task", None)
            case.error_element = task.task_spec.bpmn_id if task is not None else None
            case.error_message = str(exc)
            if task is None:
                raise
        finally:
            services.current_step.reset(token)
        now = clock.now()
        for task in _newly_ready(wf):
            try:
                task.internal_data[deadlines.KEY] = deadlines.compute(task, self.role_of, now)
            except Exception as exc:  # the diagram's time limit is wrong: hold the case for an administrator
                task.error()
                case.error_element = task.task_spec.bpmn_id
                case.error_message = f"{deadlines.DUE_PROPERTY} of {task.task_spec.bpmn_id}: {exc}"

    def _send_alerts(self, case: store.Case, live: _Live, now) -> list[str]:
        """Reminders and overdue notices whose moment has come; returns what was sent."""
        c = store.conn()
        sent = []
        for tid, alert in live.ready.items():
            task = _find_task(live.workflow, tid)
            if task is None or task.state != TaskState.READY:  # this very wake-up ended it
                continue
            remind, due = alert
            for kind, at in (("reminder", remind), ("overdue", due)):
                if at is None or at > now:
                    continue
                entry = c.execute(store.SELECT_INBOX_ENTRY, {"id": tid}).one()
                overdue = kind == "overdue"
                c.execute(store.INSERT_NOTICE, {
                    "at": now, "kind": kind, "instance_id": case.id, "task_id": tid, "element": entry.element,
                    "task_name": entry.name, "due_at": entry.due_at,
                    "due_provisional": entry.due_provisional_year is not None,
                    "role": (entry.escalate_to or entry.role) if overdue else entry.role,
                    "jurisdiction": entry.jurisdiction,
                    "assignee": entry.assignee if not (overdue and entry.escalate_to) else None,
                })
                c.execute(store.MARK_OVERDUE_NOTICED if overdue else store.MARK_REMINDED, {"b_id": tid})
                alert[1 if overdue else 0] = None
                sent.append(f"{kind}:{entry.element}")
        return sent

    def startable(self, actor: Actor) -> list[tuple[str, str]]:
        """(process id, name) of the deployed processes the actor's role may start
        (its start event's lane, or its `startRoles`); an administrator: all (a
        process with neither is started by the system, the public intake or an
        administrator only)."""
        out = []
        for head in db.session.scalars(db.select(ProcessHead).order_by(ProcessHead.process_id)):
            spec = self.registry.load(head.version_id).specs.get(head.process_id)
            if spec is None:
                continue
            if _start_data(spec):
                continue
            if actor.is_admin or actor.role in self._start_roles(spec):
                out.append((head.process_id, spec.description or head.process_id))
        return out

    # ------------------------------------------------------------------ operations
    def start(self, process_id: str, data: dict | None, actor: Actor, jurisdiction: str | None = None,
              records: Callable[[store.Case], None] | None = None, party: str | None = None):
        """Start a case. `records` writes domain records that belong to its first
        step (e.g. the evidence handed in with it), in the same transaction.
        `party`: the case's own party when the system starts it for someone
        (a start request); their applicant and agency tasks go to them."""
        data = dict(data or {})
        refuse_unstorable(data)
        bad = [k for k in data if k in self._reserved or k.startswith("_")]
        if bad:
            raise EngineError(f"data may not set reserved names: {', '.join(sorted(bad))}")
        try:
            version = self.registry.load(self.registry.latest_version_for(process_id))
        except UnknownProcess:
            raise NotFound(f"no deployed process '{process_id}'") from None
        spec = version.specs[process_id]
        start_lane, start_roles = _start_lane(spec), self._start_roles(spec)
        if not actor.is_admin and actor.role not in start_roles:
            raise Forbidden(_start_refusal(process_id, start_lane, start_roles))
        missing = [k for k in _start_data(spec) if data.get(k) in (None, "", [], {})]
        if missing:
            raise FormInvalid({k: [f"{process_id} cannot start without {k}"] for k in missing})
        if actor.jurisdiction is not None:
            if jurisdiction not in (None, actor.jurisdiction):
                raise Forbidden("you may only start cases in your own jurisdiction")
            jurisdiction = actor.jurisdiction
        if jurisdiction is not None:
            data["jurisdiction"] = jurisdiction

        with self._transaction():
            wf = BpmnWorkflow(spec, version.subprocess_specs[process_id], script_engine=make_script_engine())
            wf.task_tree.set_data(**data)
            now = clock.now()
            case = store.Case(
                id=0, process_id=process_id, version_id=version.id, status="running", jurisdiction=jurisdiction,
                started_by=party or actor.name, created_at=now, updated_at=now, revision=0, error_message=None,
                error_element=None, next_timer_at=None, audit_hash=None,
            )
            case.id = store.conn().execute(store.INSERT_CASE, {
                "process_id": process_id, "version_id": version.id, "status": "running",
                "jurisdiction": jurisdiction, "started_by": party or actor.name, "created_at": now, "updated_at": now,
                "revision": 0, "shell": "{}", "serializer_version": persistence.SERIALIZER_VERSION, "data": {},
            }).scalar_one()
            self._advance(case, wf, actor)
            audit(actor.name, "start", instance=case, task=process_id,
                  detail={"in": persistence.plain(data), "error": case.error_message})
            self._save(case, _Live(0, wf, persistence.Snapshot(), {}, {}), created=True)
            if records is not None:
                records(case)
            if self.before_commit is not None:
                self.before_commit(case)
            db.session.commit()
        if case.next_timer_at is not None and self.after_commit is not None:
            self.after_commit(case.id, case.next_timer_at)
        self.start_requested(outbox.take_requested())
        return case

    def start_requested(self, request_ids: list[int]) -> None:
        """After a commit: start the cases its step asked for (the outbox). A failure
        here loses nothing: the request stays pending and the timer sweep starts it."""
        if not request_ids:
            return
        try:
            outbox.drain(self, request_ids)
        except Exception:
            log.exception("starting requested cases %s failed; the timer sweep will start them", request_ids)

    def complete(self, task_id: str, data, actor: Actor) -> store.Case:
        entry = store.inbox_entry(task_id) if _is_uuid(task_id) else None
        if entry is None:
            done_in = store.case_of_task(task_id) if _is_uuid(task_id) else None
            if done_in is not None and self.may_see(actor, done_in):  # e.g. the loser of two completions
                raise Conflict("this task has already been completed or is no longer waiting")
            raise NotFound(f"task {task_id} is not waiting for anyone")
        if not may_act(actor, entry):
            raise Forbidden("you may not act on this task")
        with self._step(entry.instance_id) as (case, live):
            task = _find_task(live.workflow, task_id)
            if task is None or task.state != TaskState.READY or not task.task_spec.manual:
                raise Conflict("this task has already been completed or is no longer waiting")
            version = self.registry.load(case.version_id)
            form_name = task.task_spec.extensions.get("properties", {}).get(FORM_PROPERTY)
            schema = version.forms.get(form_name) if form_name else None
            accepted = accepted_data(schema, data, self._reserved | {"jurisdiction"}, context=task.data)
            problems = self.submission_check(schema, accepted, case.id)
            if problems:
                raise FormInvalid(problems)
            before = persistence.plain(self._visible_data(live.workflow))
            task.set_data(**accepted)
            task.run()
            self._advance(case, live.workflow, actor)
            audit(actor.name, "complete", instance=case, task=task.task_spec.bpmn_id,
                  detail={"in": persistence.plain(accepted), "out": _changed(before, self._visible_data(live.workflow)),
                          "error": case.error_message})
        return case

    def assign(self, task_id: str, actor: Actor, to: "Actor | None") -> None:
        """Claim (to=actor), release (to=None) or hand over (to=a colleague) a
        task of a role. A task that belongs to the case's own party is not
        passed around."""
        entry = store.inbox_entry(task_id) if _is_uuid(task_id) else None
        if entry is None:
            raise NotFound(f"task {task_id} is not waiting for anyone")
        if entry.role is None or entry.role in self.party_roles:
            raise Conflict("this task belongs to the case's own party and cannot be claimed or handed over")
        if not (actor.is_admin or may_act(actor, entry)):
            raise Forbidden("you may not act on this task")
        if to is not None and not (to.role == entry.role and (entry.jurisdiction is None or to.jurisdiction in
                                                              (None, entry.jurisdiction))):
            raise Forbidden(f"{to.name} is not of this task's role and jurisdiction")
        with self._step(entry.instance_id) as (case, live):
            current = store.inbox_entry(task_id)
            if current is None:
                raise Conflict("this task has already been completed or is no longer waiting")
            if current.assignee != entry.assignee:
                raise Conflict("someone else claimed or handed over this task meanwhile; reload")
            store.conn().execute(store.ASSIGN, {"b_id": task_id, "assignee": to.name if to else None})
            action = "release" if to is None else ("claim" if to.name == actor.name else "handover")
            audit(actor.name, action, instance=case, task=entry.element,
                  detail={"task": task_id, "from": entry.assignee, "to": to.name if to else None})

    def cancel(self, instance_id: int, actor: Actor, reason: str | None = None) -> store.Case:
        refuse_unstorable({"reason": reason})
        with self._step(instance_id) as (case, live):
            if not actor.is_admin and case.started_by != actor.name:
                raise Forbidden("only an administrator or the case's starter may cancel it")
            if case.status not in ACTIVE:
                raise Conflict(f"the case is {case.status}")
            live.workflow.cancel()
            case.status = "cancelled"
            audit(actor.name, "cancel", instance=case, detail={"reason": reason})
        return case

    def retry(self, instance_id: int, actor: Actor, data: dict | None = None) -> store.Case:
        """Run the failed element again, after its cause (data or model) is fixed."""
        if not actor.is_admin:
            raise Forbidden("only an administrator may retry a failed case")
        with self._step(instance_id) as (case, live):
            failed = live.workflow.get_tasks(state=TaskState.ERROR)
            if not failed:
                raise Conflict("the case has no failed step")
            patch = accepted_data(None, data or {}, self._reserved)
            for task in failed:
                live.workflow.reset_from_task_id(task.id)
                # the reset task inherits its parent's data again; the correction goes on top
                task.data.update(patch)
            self._advance(case, live.workflow, actor)
            audit(actor.name, "retry", instance=case, task=failed[0].task_spec.bpmn_id,
                  detail={"in": persistence.plain(patch), "error": case.error_message})
        return case

    def fire_timers(self, instance_id: int, actor: Actor = SYSTEM) -> store.Case:
        """Wake an instance: every timer now due fires, through the same step path as a person."""
        with self._step(instance_id) as (case, live):
            now = clock.now()
            fired = [self._timer_element(live, t) for t, at in live.timers.items() if at < now]
            alerts = any(at is not None and at <= now for alert in live.ready.values() for at in alert)
            if case.status not in ACTIVE or not (fired or alerts):
                raise _Unchanged  # woken early, or twice: nothing to do, nothing written
            live.workflow.refresh_timers()
            self._advance(case, live.workflow, actor)
            sent = self._send_alerts(case, live, now)
            audit(actor.name, "timer", instance=case, task=",".join(sorted(fired)) or None,
                  detail={"alerts": sent} if sent else None)
        return case

    def send_message(self, instance_id: int, name: str, payload: dict | None, actor: Actor) -> store.Case:
        refuse_unstorable(payload or {})
        with self._step(instance_id) as (case, live):
            if case.status not in ACTIVE:
                raise Conflict(f"the case is {case.status}")
            self._may_send(live.workflow, name, actor)
            try:
                live.workflow.send_event(BpmnEvent(MessageEventDefinition(name), payload or {}))
            except WorkflowException as exc:  # nothing in the case waits for this message now
                raise Conflict(str(exc)) from None
            self._advance(case, live.workflow, actor)
            audit(actor.name, "message", instance=case, task=name, detail={"in": persistence.plain(payload or {})})
        return case

    def _may_send(self, wf: BpmnWorkflow, name: str, actor: Actor) -> None:
        """A message that a catching event in a lane waits for is the lane's role's
        to send (an incident report is the city's, not the unit's); events outside
        any lane take a message from whoever may see the case."""
        if actor.is_admin:
            return
        roles = {self.role_of(t.task_spec.lane) if t.task_spec.lane else None for t in _catching(wf, name)}
        if roles and None not in roles and actor.role not in roles:
            raise Forbidden(f"only {', '.join(sorted(roles))} may send '{name}' to this case")

    def awaits_message(self, instance_id: int, name: str) -> bool:
        """Whether something in the case waits for message `name` now (a page offers to send it only then)."""
        return bool(_catching(self.read_workflow(instance_id), name))

    def _start_roles(self, spec) -> frozenset[str]:
        """Who may start a process besides an administrator: the roles its start event
        names in `startRoles`, else the role of the start event's lane. Empty when it
        has neither: no role may then (an unlaned diagram is not an open door)."""
        event = _start_event(spec)
        named = (event.extensions.get("properties", {}).get(START_ROLES_PROPERTY) if event is not None
                 and hasattr(event, "extensions") else None)
        if named:
            return frozenset(r for r in (self.role_of(n) for n in named.replace(",", " ").split()) if r)
        lane = _start_lane(spec)
        return frozenset({self.role_of(lane)}) if lane else frozenset()

    @staticmethod
    def _timer_element(live, task_id):
        try:
            return live.workflow.get_task_from_id(UUID(task_id)).task_spec.bpmn_id
        except Exception:
            return task_id


def _catching(wf: BpmnWorkflow, name: str) -> list:
    """The events of a workflow and its subprocesses waiting for message `name`. Read from each
    workflow's dict of tasks, as `_scan` does: a subprocess's get_tasks walks its tree, and the top
    workflow's walks every subprocess's again."""
    return [task for w in (wf, *wf.subprocesses.values()) for task in w.tasks.values()
            if task.state == TaskState.WAITING
            and isinstance(getattr(task.task_spec, "event_definition", None), MessageEventDefinition)
            and task.task_spec.event_definition.name == name]


class _Scan:
    """One pass over an instance's tasks: what people, timers and administrators wait on."""

    __slots__ = ("ready", "timers", "failed")

    def __init__(self):
        self.ready: dict[str, object] = {}
        self.timers: dict[str, object] = {}
        self.failed = False


def _scan(wf: BpmnWorkflow) -> _Scan:
    scan = _Scan()
    for w in (wf, *wf.subprocesses.values()):
        for task in w.tasks.values():
            state = task.state
            if state == TaskState.READY and task.task_spec.manual:
                scan.ready[str(task.id)] = task
            elif state == TaskState.WAITING and "event_value" in task.internal_data and isinstance(
                getattr(task.task_spec, "event_definition", None), TimerEventDefinition
            ):
                scan.timers[str(task.id)] = task
            elif state == TaskState.ERROR:
                scan.failed = True
    return scan


def _newly_ready(wf: BpmnWorkflow) -> list:
    """The human tasks that became ready since the last step (no time limit given yet),
    in the order SpiffWorkflow's tree lists them. Found in the workflows' dicts of tasks,
    as `_scan` finds the inbox: the tree walk costs a few µs a task, and is needed only
    to order two or more, where the order decides which failure the case reports."""
    fresh = [t for w in (wf, *wf.subprocesses.values()) for t in w.tasks.values()
             if t.state == TaskState.READY and t.task_spec.manual and deadlines.KEY not in t.internal_data]
    if len(fresh) > 1:
        order = {t.id: i for i, t in enumerate(wf.get_tasks(state=TaskState.READY, manual=True))}
        fresh.sort(key=lambda t: order.get(t.id, len(order)))
    return fresh


def _completed(wf: BpmnWorkflow) -> bool:
    """`wf.is_completed()`, which a step asks several times: SpiffWorkflow's answer for
    a running workflow walks the task tree with its iterator (a few µs a task) to the
    first unfinished task on every call; the workflow's dict of the same tasks answers
    it at a fraction of that (and sees past the iterator's depth limit of 1000)."""
    if not wf.completed and not any(t.state & TaskState.NOT_FINISHED_MASK for t in wf.tasks.values()):
        wf.completed = True
    return wf.completed


def _start_refusal(process_id: str, lane: str | None, roles: frozenset[str]) -> str:
    if lane and roles:
        return f"only the role of lane '{lane}' may start {process_id}"
    if roles:
        return f"only {', '.join(sorted(roles))} may start {process_id}"
    return (f"only an administrator may start {process_id}: its start event lies in no lane "
            f"and names no {START_ROLES_PROPERTY}")


def _start_data(spec) -> list[str]:
    event = _start_event(spec)
    named = event.extensions.get("properties", {}).get(START_DATA_PROPERTY) if event is not None \
        and hasattr(event, "extensions") else None
    return named.replace(",", " ").split() if named else []


def _start_event(spec):
    for ts in spec.task_specs.values():
        if isinstance(ts, StartEvent):
            return ts
    return None


def _start_lane(spec) -> str | None:
    """The lane of the process's start event: the role that may start a case."""
    for ts in spec.task_specs.values():
        if isinstance(ts, StartEvent) and ts.lane:
            return ts.lane
    return None


def _task_jurisdiction(task) -> str | None:
    """A province-wide case can address one task to one city: a multi-instance
    over the cities gives each instance its `jurisdiction` (e.g. each city's
    recommendation in the provincial round)."""
    value = task.data.get("jurisdiction")
    return value if isinstance(value, str) else None


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
    after = persistence.plain(after)
    return {k: v for k, v in after.items() if before.get(k) != v}


def _timer_due(event_value) -> datetime:
    if isinstance(event_value, dict):  # cycle
        event_value = event_value.get("next")
    due = TimerEventDefinition.get_datetime(event_value)
    return due.astimezone(timezone.utc).astimezone(clock.SHANGHAI)
