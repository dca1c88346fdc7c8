"""Settling provisional dates (暂定日期的确定) once a year's official arrangement is known.

A date counted on the provisional holiday calendar (`engine.statutory_calendar`: a year no State Council
notice covers yet) is marked with the first such year: a task's due date and its reminder, a
timer's due time, a public notice's end (a domain record, through `RECORDS`). When the notice
for that year is entered, each is counted again as of the moment it was first computed, on the
same data, now on the official calendar:

- `plan` is the dry run: every such date with its old and new value; nothing is written.
- `settle` changes them, all cases in one transaction (`Runtime.batch`): the task's limit and
  inbox row, the timer (and so the scheduler's job), the record; each case audited, and the
  person or role whose task moved told (a `rescheduled` notification).

What is not moved, and is reported instead: a date that has passed already (its step has
happened), and a date the official calendar would put in the past (a task is not made overdue
after the fact, nor a timer fired early by an arrangement entered late). A date that also
counted on a later year still unknown stays provisional, marked with that year.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import update

from . import clock, deadlines, notifications, statutory_calendar, store
from .audit import append as audit
from .db import db
from .models import HumanTask, PendingTimer
from .scripting import TIMER_SET, make_script_engine, names_read

MOVED, SAME, PASSED, KEPT = "moved", "same", "passed", "kept"


@dataclass
class Change:
    """One provisional date counted again: what it is, where, its old and new value."""

    what: str  # task | reminder | timer | notice
    instance_id: int
    element: str
    name: str | None
    old: datetime | None
    new: datetime | None
    outcome: str  # moved | same | passed (already, kept) | kept (the new one has passed)
    provisional_year: int | None = None  # still provisional on this later year
    # a record's change: applied to the case's data (e.g. the notice its timer waits for)
    patch: Callable[[object], object] | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("patch")
        for k in ("old", "new"):
            d[k] = d[k].isoformat() if d[k] else None
        return d


# Domain records with dates of their own (a public notice's end): each callable is given
# (now, write) and returns the Changes of its records that a provisional year ended in, the
# entered years now counting as official; with write=True it also changes the records.
RECORDS: list[Callable[[datetime, bool], list[Change]]] = []


def outcome(old: datetime | None, new: datetime | None, now: datetime) -> str:
    if old is None or old <= now:
        return PASSED
    if new == old:
        return SAME
    return KEPT if new is None or new <= now else MOVED


def _settled(years, years_now_official: set[int]) -> bool:
    return bool(set(years or ()) & years_now_official)


def _official_years() -> set[int]:
    return {y for y in _candidate_years() if statutory_calendar.is_official(y)}


def _candidate_years() -> set[int]:
    rows = db.session.execute(
        db.select(HumanTask.due_provisional_year).where(HumanTask.due_provisional_year.is_not(None))
        .union(db.select(PendingTimer.provisional_year).where(PendingTimer.provisional_year.is_not(None)))).scalars()
    return set(rows)


def _cases(years: set[int]) -> list[int]:
    rows = db.session.execute(
        db.select(HumanTask.instance_id).where(HumanTask.due_provisional_year.in_(years))
        .union(db.select(PendingTimer.instance_id).where(PendingTimer.provisional_year.in_(years)))).scalars()
    return sorted(set(rows))


def _recount_deadline(task, role_of, now, years) -> list[Change]:
    limit = task.internal_data.get(deadlines.KEY) or {}
    if not _settled(limit.get("provisional"), years):
        return []
    at = datetime.fromisoformat(limit["at"])
    with clock.as_of(at):
        recounted = deadlines.compute(task, role_of, at)
    old, new = _moment(limit.get("due")), _moment(recounted["due"])
    result = outcome(old, new, now)
    if result in (MOVED, SAME):
        task.internal_data[deadlines.KEY] = recounted  # still provisional where it reaches a later year
    else:
        task.internal_data[deadlines.KEY] = {k: v for k, v in limit.items() if k not in ("provisional", "at")}
    where = {"instance_id": 0, "element": task.task_spec.bpmn_id, "name": task.task_spec.bpmn_name}
    changes = [Change("task", old=old, new=new, outcome=result,
                      provisional_year=statutory_calendar.first(task.internal_data[deadlines.KEY].get("provisional")),
                      **where)]
    if limit.get("remind") or recounted.get("remind"):
        old_r, new_r = _moment(limit.get("remind")), _moment(recounted.get("remind"))
        changes.append(Change("reminder", old=old_r, new=new_r,
                              outcome=outcome(old_r, new_r, now) if result == MOVED else result, **where))
    return changes


def _recount_timer(task, now, years, changed_names: set[str]) -> Change | None:
    definition = task.task_spec.event_definition
    mark = task.internal_data.get(TIMER_SET) or {}
    if not (_settled(mark.get("provisional"), years) or changed_names & names_read(definition.expression)):
        return None
    old_value = task.internal_data.get("event_value")
    old = _timer_moment(old_value)
    where = {"instance_id": 0, "element": task.task_spec.bpmn_id, "name": task.task_spec.bpmn_name}
    if isinstance(definition, CycleTimerEventDefinition):  # its next moment moves on with each cycle
        return Change("timer", old=old, new=old, outcome=KEPT, **where)
    at = datetime.fromisoformat(mark["at"]) if mark.get("at") else now
    task.internal_data.pop("event_value", None)
    with clock.as_of(at):
        definition.has_fired(task)  # evaluates the expression again, as of when the timer was set
    new = _timer_moment(task.internal_data.get("event_value"))
    result = outcome(old, new, now)
    if result not in (MOVED, SAME):
        task.internal_data["event_value"] = old_value
        task.internal_data[TIMER_SET] = {"at": at.isoformat()}
    return Change("timer", old=old, new=new, outcome=result,
                  provisional_year=statutory_calendar.first(task.internal_data[TIMER_SET].get("provisional")), **where)


def _recount_case(wf, role_of, now, years, patches: list[Callable]) -> list[Change]:
    """Count the case's provisional dates again on the official years; changes `wf` in place."""
    changed_names: set[str] = set()
    open_tasks = [t for w in (wf, *wf.subprocesses.values()) for t in w.tasks.values()
                  if t.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED)]
    for patch in patches:
        for task in open_tasks:
            for name, value in list(task.data.items()):
                patched = patch(value)
                if patched is not value:
                    task.data[name] = patched
                    changed_names.add(name)
    changes: list[Change] = []
    for task in open_tasks:
        if task.state == TaskState.READY and task.task_spec.manual:
            changes += _recount_deadline(task, role_of, now, years)
        elif task.state == TaskState.WAITING and isinstance(
                getattr(task.task_spec, "event_definition", None), TimerEventDefinition):
            change = _recount_timer(task, now, years, changed_names)
            if change is not None:
                changes.append(change)
    return changes


def _affected(now: datetime, write: bool) -> tuple[set[int], list[Change], list[int]]:
    """The years now official, the records' changes, and the cases whose dates are counted again."""
    years = _official_years()
    records = [c for hook in RECORDS for c in hook(now, write)]
    return years, records, sorted(set(_cases(years)) | {c.instance_id for c in records if c.patch})


def _recounted(instance_id: int, wf, role_of, now, years, records) -> list[Change]:
    found = _recount_case(wf, role_of, now, years, _patches(records, instance_id))
    for change in found:
        change.instance_id = instance_id
    return found


def plan(runtime, now: datetime | None = None) -> list[Change]:
    """The dry run: every provisional date whose year is now official, counted again; nothing
    written. Call it inside `statutory_calendar.entering(...)` to see what entering a year would do."""
    now = now or clock.now()
    years, records, cases = _affected(now, write=False)
    changes = list(records)
    for instance_id in cases:
        wf = runtime.read_workflow(instance_id)
        wf.script_engine = make_script_engine()
        changes += _recounted(instance_id, wf, runtime.role_of, now, years, records)
    return changes


def settle(runtime, actor: str, source: str | None = None,
           also: Callable[[list[Change]], None] | None = None, now: datetime | None = None) -> list[Change]:
    """Count again and change every provisional date whose year is now official, all in one
    transaction with what `also` writes, given the changes (the year's arrangement entered)."""
    now = now or clock.now()
    with runtime.batch() as hold:
        years, records, cases = _affected(now, write=True)
        changes = list(records)
        for instance_id in cases:
            with hold(instance_id) as (case, live):
                found = _recounted(instance_id, live.workflow, runtime.role_of, now, years, records)
                _write(case, live, found, now)
                changes += found
                audit(actor, "reschedule", instance=case, detail={"source": source,
                                                                  "changes": [c.as_dict() for c in found]})
        if also is not None:
            also(changes)
    return changes


def _patches(records: list[Change], instance_id: int) -> list[Callable]:
    return [c.patch for c in records if c.patch is not None and c.instance_id == instance_id]


def _write(case, live, changes: list[Change], now: datetime) -> None:
    """The inbox rows, timers' flags and notifications that go with the recounted workflow
    (the workflow itself, its timers' due times and the case row are saved by the batch)."""
    conn = store.conn()
    for tid, _alert in list(live.ready.items()):
        task = live.workflow.get_task_from_id(UUID(tid))
        limit = task.internal_data.get(deadlines.KEY) or {}
        entry = conn.execute(store.SELECT_INBOX_ENTRY, {"id": tid}).one()
        due = _moment(limit.get("due"))
        remind = _moment(limit.get("remind")) if entry.remind_at is not None else None
        year = statutory_calendar.first(limit.get("provisional"))
        if (entry.due_at, entry.remind_at, entry.due_provisional_year) == (due, remind, year):
            continue
        conn.execute(update(HumanTask).where(HumanTask.id == tid).values(
            due_at=due, remind_at=remind, due_provisional_year=year))
        live.ready[tid] = [remind, None if entry.overdue_noticed else due]
        if entry.due_at != due:
            notifications.post(conn, {
                "at": now, "kind": "rescheduled", "instance_id": case.id, "task_id": tid,
                "element": entry.element, "task_name": entry.name, "due_at": due,
                "due_provisional": year is not None, "role": entry.role,
                "jurisdiction": entry.jurisdiction, "assignee": entry.assignee})
    timers = {c.element for c in changes if c.what == "timer"}
    for w in (live.workflow, *live.workflow.subprocesses.values()):
        for task in w.tasks.values():
            if task.state == TaskState.WAITING and task.task_spec.bpmn_id in timers:
                conn.execute(update(PendingTimer).where(
                    PendingTimer.instance_id == case.id, PendingTimer.task_id == str(task.id)).values(
                    provisional_year=statutory_calendar.first(
                        task.internal_data.get(TIMER_SET, {}).get("provisional"))))


def settle_leftovers(runtime) -> int:
    """The scheduler's sweep: dates a process counted provisionally after another one entered
    the year (its calendar had not been refreshed yet) are settled too. Returns how many."""
    if not _official_years() and not any(hook(clock.now(), False) for hook in RECORDS):
        return 0
    return sum(1 for c in settle(runtime, "system", "calendar refreshed") if c.outcome != SAME)


def _moment(text) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _timer_moment(event_value) -> datetime | None:
    if event_value is None:
        return None
    if isinstance(event_value, dict):
        event_value = event_value.get("next")
    try:
        return TimerEventDefinition.get_datetime(event_value).astimezone(clock.SHANGHAI)
    except (TypeError, ValueError):
        return None

