"""The step (一步): one transaction that saves everything a case's step changed.

Every operation goes through `Steps._step`: in one database transaction it
stores the instance's changed state, the human-task index, its pending
timers, its data snapshot and an audit event, or nothing at all. The instance
row's `revision` is checked on write, so of two concurrent steps on one
instance exactly one lands and the other gets a Conflict.

Live workflow objects are cached per instance and reused while the stored
revision is the one they were built from, so a step does not re-read and
re-build what did not change.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.exc import SQLAlchemyError

from .. import clock, deadlines, outbox, persistence, services, store
from ..actors import SYSTEM, Actor
from ..audit import append as audit
from ..db import busy, db, write_intent
from ..errors import Busy, Conflict, EngineError, NotFound, en, zh
from ..model_registry import Registry
from ..scripting import make_script_engine
from . import boundary, sync
from .boundary import NOTHING_MOVES, Failure, StepFailed, describe

log = logging.getLogger(__name__)


class Unchanged(Exception):
    """Raised inside a step that finds nothing to do."""


class Live:
    """A case's workflow as last saved, with what the database holds for it:
    `ready` maps each inbox entry to its pending [reminder, overdue] moments,
    `timers` each waiting timer to its due time, `data` the case data as saved
    (None until a step of this process saved it)."""

    __slots__ = ("revision", "workflow", "snapshot", "ready", "timers", "data")

    def __init__(self, revision, workflow, snapshot, ready, timers):
        self.revision, self.workflow, self.snapshot = revision, workflow, snapshot
        self.ready, self.timers = ready, timers
        self.data = None

    def saved_data(self) -> dict:
        """The case data before this step, as the audit compares it with after."""
        if self.data is None:
            self.data = persistence.plain(visible_data(self.workflow))
        return self.data


class Steps:
    """The step and its persistence; `Runtime` adds the operations on top."""

    def __init__(self, registry: Registry, role_of: Callable[[str | None], str | None], cache_size: int):
        clock.drive_spiffworkflow_timers()
        persistence.name_tasks_in_time_order()
        self.registry = registry
        self.role_of = role_of
        self.cache_size = cache_size
        self._cache: OrderedDict[int, Live] = OrderedDict()
        self._cache_lock = threading.Lock()
        # Tests inject failures here to prove a step is all or nothing.
        self.before_commit: Callable[[store.Case], None] | None = None
        # The timer service learns here when a case's next due time changed.
        self.after_commit: Callable[[int, datetime | None], None] | None = None

    def _address(self, task, case: store.Case) -> dict:
        """A newly ready task's inbox columns that depend on who does it (role,
        assignee, labels): the operations know the parties, the step does not."""
        raise NotImplementedError

    def _entered(self, case: store.Case, task, entry: dict, now: datetime) -> None:
        """A new inbox entry was written (whom to tell of it: the operations know the parties)."""

    def _concluded(self, case: store.Case, wf: BpmnWorkflow, now: datetime) -> None:
        """The case has just completed (whom to tell of its outcome)."""

    # ------------------------------------------------------------------ cache
    def _cached(self, instance_id, revision) -> Live | None:
        with self._cache_lock:
            live = self._cache.get(instance_id)
            if live is not None and live.revision == revision:
                self._cache.move_to_end(instance_id)
                return live
        return None

    def _remember(self, instance_id, live: Live):
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
            raise NotFound(f"办件 {instance_id} 不存在 (instance {instance_id} does not exist)")
        version = self.registry.load(case.version_id)
        [shell] = store.SELECT_SHELL.first(c, {"id": instance_id})
        rows = dict(store.SELECT_TASK_ROWS.all(c, {"id": instance_id}))
        db.session.commit()
        workflow, _ = persistence.restore(shell, rows, version.specs[case.process_id],
                                          version.subprocess_specs[case.process_id])
        return workflow

    def _load(self, case: store.Case) -> Live:
        live = self._cached(case.id, case.revision)
        if live is not None:
            return live
        version = self.registry.load(case.version_id)
        c = store.conn()
        [shell] = store.SELECT_SHELL.first(c, {"id": case.id})
        rows = dict(store.SELECT_TASK_ROWS.all(c, {"id": case.id}))
        workflow, snapshot = persistence.restore(
            shell, rows, version.specs[case.process_id], version.subprocess_specs[case.process_id]
        )
        workflow.script_engine = make_script_engine()
        ready = {tid: [remind, None if noticed else due]
                 for tid, remind, due, noticed in store.SELECT_INBOX_ALERTS.all(c, {"id": case.id})}
        timers = dict(store.SELECT_TIMERS.all(c, {"id": case.id}))
        return Live(case.revision, workflow, snapshot, ready, timers)

    # ------------------------------------------------------------------ the step
    @contextmanager
    def _transaction(self):
        """One write transaction: on SQLite it begins holding the write lock."""
        session = db.session()
        if write_intent.get():
            session.commit()  # a `writing()` caller's work before the step commits first, as it always has
        elif session.in_transaction() and session.get_bind().dialect.name == "sqlite":
            # The caller's read transaction becomes the step's, holding the write lock
            # (`store.lock_for_writing`), as PostgreSQL's (read committed: every statement sees
            # the latest commits, and the case row is locked when read) simply goes on as the
            # step's transaction, which saves the round trip of an empty commit.
            store.lock_for_writing(session)
        token = write_intent.set(True)
        held = store.hold_connection(session)
        try:
            yield
        except BaseException as exc:
            db.session.rollback()
            outbox.take_requested()  # what the failed step asked to start was rolled back with it
            if busy(exc):
                raise Busy() from exc
            raise
        finally:
            store.release_connection(held)
            write_intent.reset(token)

    @contextmanager
    def _step(self, instance_id: int | Callable[[], store.Case], actor: Actor | None = None,
              action: str | None = None):
        """A step with its boundary: what the step's work raises that is not a refusal
        (`EngineError`) rolls the step back, and the case is then held in `error` with
        what failed, written on its own (see `boundary`); the caller gets that case."""
        held = None
        try:
            with self._locked_step(instance_id) as (case, live):
                held = case
                with _boundary(action):
                    yield case, live
        except StepFailed as failed:
            self._record_failure(held, failed.failure, actor)

    @contextmanager
    def _locked_step(self, instance_id: int | Callable[[], store.Case]):
        """Yields (case, live workflow) under the case's lock; on exit saves
        everything the step changed, or on any error nothing at all. Instead of
        `instance_id`, a function may find the case and lock its row (checking who
        may act) inside the step's transaction, so that finding it is not a
        transaction, nor a round trip, of its own."""
        with self._transaction():
            try:
                if callable(instance_id):
                    case = instance_id()
                    instance_id = case.id
                else:
                    case = store.case_for_step(instance_id)
                if case is None:
                    raise NotFound(f"办件 {instance_id} 不存在 (instance {instance_id} does not exist)")
                live = self._load(case)
                due_before = case.next_timer_at
                try:
                    with store.deferring():
                        yield case, live
                        self._save(case, live)
                except Unchanged:
                    db.session.rollback()  # nothing was written: what was loaded is still this revision
                    self._remember(case.id, live)
                    return
                if self.before_commit is not None:
                    self.before_commit(case)
                store.commit(db.session)
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
                raise NotFound(f"办件 {instance_id} 不存在 (instance {instance_id} does not exist)")
            live = self._load(case)
            held.append((case, case.next_timer_at))
            with store.deferring():
                yield case, live
                self._save(case, live)

        with self._transaction():
            try:
                yield hold
                store.commit(db.session)
            except BaseException:
                for case, _ in held:
                    self.forget(case.id)
                raise
        for case, due_before in held:
            if case.next_timer_at != due_before and self.after_commit is not None:
                self.after_commit(case.id, case.next_timer_at)

    def _record_failure(self, case: store.Case, failure: Failure, actor: Actor | None) -> None:
        """After a step that raised half-way was rolled back: hold the case in `error`
        with what failed, as a small write of its own (its workflow stays as it was
        before the step), audited, and not woken by its timers until it is retried.
        `case` is updated to what was written."""
        log.warning("case %s: %s failed at %s: %s", case.id, failure.action or "a step", failure.element,
                    failure.text)
        with self._transaction():
            row = store.case_for_step(case.id)
            if row is None:
                raise NotFound(f"办件 {case.id} 不存在 (instance {case.id} does not exist)")
            row.status, row.error_element, row.error_message = "error", failure.element, failure.text
            row.updated_at = clock.now()
            audit((actor or SYSTEM).name, "error", instance=row, task=failure.element,
                  detail={"step": failure.action, "message": failure.message, "data": failure.names})
            due_before = row.next_timer_at
            if not store.hold_in_error(row):
                raise Conflict("本案的另一操作已先保存，请刷新后重试 (another action on this case was saved first; reload and try again)")
            store.commit(db.session)
        self.forget(case.id)
        vars(case).update(vars(row))
        if due_before is not None and self.after_commit is not None:
            self.after_commit(case.id, None)

    def start_requested(self, request_ids: list[int]) -> None:
        """After a commit: start the cases its step asked for (the outbox). A failure
        here loses nothing: the request stays pending and the timer sweep starts it."""
        if not request_ids:
            return
        try:
            outbox.drain(self, request_ids)
        except Exception:
            log.exception("starting requested cases %s failed; the timer sweep will start them", request_ids)

    def _save(self, case: store.Case, live: Live, created: bool = False):
        """Write what the step changed; the case row last, with its revision check."""
        wf: BpmnWorkflow = live.workflow
        now = clock.now()
        changes = persistence.diff(wf, None if created else live.snapshot)
        scan = sync.scan(wf)
        was = case.status
        case.status = _status(wf, case, scan)
        c = store.conn()
        known = live.snapshot.fingerprints
        if changes.deletes:
            store.DELETE_TASK_ROW(c, [{"b_instance": case.id, "b_task": t} for t in changes.deletes])
        new = [{"instance_id": case.id, "task_id": t, "body": b} for t, b in changes.upserts.items() if t not in known]
        old = [{"b_instance": case.id, "b_task": t, "body": b} for t, b in changes.upserts.items() if t in known]
        if new:
            store.INSERT_TASK_ROWS(c, new)
        if old:
            store.UPDATE_TASK_ROW(c, old)
        finished = case.status in ("cancelled", "completed")
        live.ready = sync.sync_inbox(c, case, {} if finished else scan.ready, live.ready, now, self._address,
                                     lambda task, entry: self._entered(case, task, entry, now))
        if case.status == "completed" and was != "completed":
            self._concluded(case, wf, now)
        live.timers = sync.sync_timers(c, case, {} if finished else scan.timers, live.timers)
        case.updated_at = now
        if case.data is None:  # (an operation that compared it for its audit event has it already)
            case.data = persistence.plain(visible_data(wf))
        case.next_timer_at = min([*live.timers.values(), *(m for alert in live.ready.values() for m in alert if m)],
                                 default=None)
        if not store.save_case(case, changes.shell):
            raise Conflict("本案的另一操作已先保存，请刷新后重试 (another action on this case was saved first; reload and try again)")
        live.snapshot = changes.snapshot
        live.revision = case.revision
        live.data = case.data
        self._remember(case.id, live)

    def _advance(self, case: store.Case, wf: BpmnWorkflow, actor: Actor):
        """Run the engine until it waits, and give each newly ready task its time
        limit; a script, DMN, service or time-limit error becomes the case's error."""
        token = services.current_step.set(
            services.StepContext(case.id, case.process_id, case.version_id, actor.name))
        try:
            wf.do_engine_steps()
            case.error_message = case.error_element = None
        except Exception as exc:
            failure = describe(exc)
            task = boundary.failing_task(exc)
            if task is None or task.state != TaskState.ERROR:
                raise  # raised half-way through changing the workflow: the step's boundary rolls it back
            # SpiffWorkflow marked the task failed and stopped there: a state to keep, and retry from
            case.error_element, case.error_message = failure.element, failure.text
        finally:
            services.current_step.reset(token)
        now = clock.now()
        for task in _newly_ready(wf):
            try:
                task.internal_data[deadlines.KEY] = deadlines.compute(task, self.role_of, now)
            except Exception as exc:  # the diagram's time limit is wrong: hold the case for an administrator
                task.error()
                case.error_element = task.task_spec.bpmn_id
                case.error_message = (f"{task.task_spec.bpmn_id} 的 {deadlines.DUE_PROPERTY}：{zh(str(exc))} "
                                      f"({deadlines.DUE_PROPERTY} of {task.task_spec.bpmn_id}: {en(str(exc))})")


def _status(wf: BpmnWorkflow, case: store.Case, scan: sync.Scan) -> str:
    if case.status == "cancelled":
        return "cancelled"
    if _completed(wf):
        return "completed"
    if scan.failed or case.error_message is not None:  # held until a retry or a step that runs clears it
        return "error"
    # running: people have work on it now; waiting: only timers or messages can move it
    if scan.ready:
        return "running"
    if scan.listening:
        return "waiting"
    # Nothing that can come will move it (a join waiting for a branch that was never taken):
    # an administrator is told now, rather than the case waiting forever unnoticed.
    case.error_element = _last_reached(wf, scan)
    case.error_message = NOTHING_MOVES
    return "error"


def _last_reached(wf: BpmnWorkflow, scan: sync.Scan) -> str | None:
    """Where a case that nothing can move stopped: the element it waits at, else the last it ran."""
    task = scan.stuck or wf.last_task
    return getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name if task is not None else None


@contextmanager
def _boundary(action: str | None):
    """Turns what a step's work raised, other than a refusal or "nothing to do", into
    `StepFailed`: the step then rolls back and the case's error is written after it."""
    try:
        yield
    except (EngineError, Unchanged, StepFailed, SQLAlchemyError):
        raise  # a refusal, nothing to do, or the database's own trouble: not the case's error
    except Exception as exc:
        if busy(exc):  # another's lock, held past the wait: the step may be sent again, the case is fine
            raise Busy() from exc
        raise StepFailed(describe(exc, action)) from exc


def visible_data(wf: BpmnWorkflow) -> dict:
    """The case's data as a person sees it: the workflow's, with its last task's on top while it runs."""
    data = dict(wf.data)
    if not _completed(wf) and wf.last_task is not None:
        data.update(wf.last_task.data)
    return data


def _newly_ready(wf: BpmnWorkflow) -> list:
    """The human tasks that became ready since the last step (no time limit given yet),
    in the order SpiffWorkflow's tree lists them. Found in the workflows' dicts of tasks,
    as `sync.scan` finds the inbox: the tree walk costs a few µs a task, and is needed only
    to order two or more, where the order decides which failure the case reports."""
    fresh = [t for w in (wf, *wf.subprocesses.values()) for t in w.tasks.values()
             if t._state == TaskState.READY and t.task_spec.manual and deadlines.KEY not in t.internal_data]
    if len(fresh) > 1:
        order = {t.id: i for i, t in enumerate(wf.get_tasks(state=TaskState.READY, manual=True))}
        fresh.sort(key=lambda t: order.get(t.id, len(order)))
    return fresh


def _completed(wf: BpmnWorkflow) -> bool:
    """`wf.is_completed()`, which a step asks several times: SpiffWorkflow's answer for
    a running workflow walks the task tree with its iterator (a few µs a task) to the
    first unfinished task on every call; the workflow's dict of the same tasks answers
    it at a fraction of that (and sees past the iterator's depth limit of 1000). Asked from
    the newest task back: the tasks yet to come are the ones created last (predicted), and
    the first of them found ends the walk, where the oldest are done."""
    if not wf.completed and not any(t._state & TaskState.NOT_FINISHED_MASK for t in reversed(wf.tasks.values())):
        wf.completed = True
    return wf.completed
