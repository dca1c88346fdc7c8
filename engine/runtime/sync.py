"""What a case waits on, kept in step with the database (待办与定时同步).

The inbox (`human_task`) and the pending timers (`pending_timer`) are an
index of the workflow, written in the same transaction as its state. A step
scans the workflow once, and only the differences from what the database
already holds are written: the entries that appeared, the ones that went.
Reminders and overdue notices fall due with the timers and are written here, with
their deliveries, for `engine.notifications` to send once the step has committed.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.util.task import TaskState

from .. import clock, deadlines, notifications, statutory_calendar, store
from ..model_registry import FORM_PROPERTY
from ..persistence import as_uuid
from ..scripting import TIMER_SET

# What can come from outside a case and move a task waiting for it. An error, escalation
# or cancel event is thrown from inside the case, so waiting for one alone moves nothing.
_FROM_OUTSIDE = (TimerEventDefinition, MessageEventDefinition, SignalEventDefinition, MultipleEventDefinition)


class Scan:
    """One pass over an instance's tasks: what people, timers and administrators wait on.
    `listening`: a timer, message or signal can still come for it; `stuck`: a task that
    waits for something no event brings (a join for a branch never taken)."""

    __slots__ = ("ready", "timers", "failed", "listening", "stuck")

    def __init__(self):
        self.ready: dict[str, object] = {}
        self.timers: dict[str, object] = {}
        self.failed = False
        self.listening = False
        self.stuck = None


def scan(wf: BpmnWorkflow) -> Scan:
    found = Scan()
    for w in (wf, *wf.subprocesses.values()):
        for task in w.tasks.values():
            state = task._state  # (the `state` property is a call; a step scans every task more than once)
            if state == TaskState.READY and task.task_spec.manual:
                found.ready[str(task.id)] = task
            elif state == TaskState.WAITING:
                event = getattr(task.task_spec, "event_definition", None)
                if isinstance(event, _FROM_OUTSIDE):
                    found.listening = True
                    if "event_value" in task.internal_data and _waits_on_timer(event):
                        found.timers[str(task.id)] = task
                elif found.stuck is None:
                    found.stuck = task
            elif state == TaskState.ERROR:
                found.failed = True
    return found


def _waits_on_timer(event) -> bool:
    """A timer event, or an event-based gateway one of whose events is a timer: SpiffWorkflow
    keeps such a gateway's due time on the gateway's own task, and without its row the case
    would never be woken when the timer is the first of the gateway's events to come."""
    return isinstance(event, TimerEventDefinition) or (
        isinstance(event, MultipleEventDefinition)
        and any(isinstance(e, TimerEventDefinition) for e in event.event_definitions))


def sync_inbox(conn, case: store.Case, ready: dict, before: dict, now,
               address: Callable[[object, store.Case], dict],
               added_hook: Callable[[object, dict], None] | None = None) -> dict:
    """Index the ready human tasks; `address(task, case)` gives a new entry's role,
    assignee and labels, and `added_hook(task, entry)` hears of each new entry once it is
    written. Returns each entry's pending [reminder, overdue] moments."""
    gone = [tid for tid in before if tid not in ready]
    after, added = {}, []
    for tid, task in ready.items():
        if tid in before:
            after[tid] = before[tid]
            continue
        spec = task.task_spec
        limit = task.internal_data.get(deadlines.KEY) or {}
        due = datetime.fromisoformat(limit["due"]) if limit.get("due") else None
        remind = datetime.fromisoformat(limit["remind"]) if limit.get("remind") else None
        added.append({
            "id": tid, "instance_id": case.id, "process_id": case.process_id, "element": spec.bpmn_id,
            "name": spec.bpmn_name, "lane": spec.lane,
            "jurisdiction": case.jurisdiction or task_jurisdiction(task),
            "form": spec.extensions.get("properties", {}).get(FORM_PROPERTY),
            "created_at": now, "due_at": due, "remind_at": remind,
            "due_provisional_year": statutory_calendar.first(limit.get("provisional")),
            "escalate_to": limit.get("escalate_to"), "overdue_noticed": False,
            "unit_type": None, "level": None, **address(task, case),
        })
        after[tid] = [remind, due]
    inserted = added
    if case.entry is not None and case.entry[0] in gone and added:
        # the task done leaves and the next one enters: its row becomes the next one's
        gone.remove(case.entry[0])
        store.hand_over(conn, case.entry, added[0])
        inserted = added[1:]
    if gone:
        store.DELETE_INBOX(conn, [{"b_id": tid} for tid in gone])
    if inserted:
        store.INSERT_INBOX(conn, inserted)
    if added_hook is not None:
        for entry in added:
            added_hook(ready[entry["id"]], entry)
    return after


def sync_timers(conn, case: store.Case, waiting: dict, before: dict) -> dict:
    """Index the waiting timers; returns each one's due time."""
    due = {tid: _timer_due(task.internal_data["event_value"]) for tid, task in waiting.items()}
    gone = [{"b_instance": case.id, "b_task": tid} for tid in before if due.get(tid) != before[tid]]
    if gone:
        store.DELETE_TIMER(conn, gone)
    added = [{"instance_id": case.id, "task_id": tid, "element": waiting[tid].task_spec.bpmn_id, "due_at": at,
              "provisional_year": statutory_calendar.first(
                  waiting[tid].internal_data.get(TIMER_SET, {}).get("provisional"))}
             for tid, at in due.items() if before.get(tid) != at]
    if added:
        store.INSERT_TIMERS(conn, added)
    return due


def send_alerts(case: store.Case, live, now) -> list[str]:
    """Reminders and overdue notices whose moment has come; returns what was sent."""
    c = store.conn()
    sent = []
    for tid, alert in live.ready.items():
        task = find_task(live.workflow, tid)
        if task is None or task.state != TaskState.READY:  # this very wake-up ended it
            continue
        remind, due = alert
        for kind, at in (("reminder", remind), ("overdue", due)):
            if at is None or at > now:
                continue
            entry = c.execute(store.SELECT_INBOX_ENTRY, {"id": tid}).one()
            overdue = kind == "overdue"
            notifications.post(c, {
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


def find_task(wf: BpmnWorkflow, task_id: str):
    try:
        return wf.get_task_from_id(as_uuid(task_id))
    except TaskNotFoundException:
        return None


def task_jurisdiction(task) -> str | None:
    """A province-wide case can address one task to one city: a multi-instance
    over the cities gives each instance its `jurisdiction` (e.g. each city's
    recommendation in the provincial round)."""
    value = task.data.get("jurisdiction")
    return value if isinstance(value, str) else None


def _timer_due(event_value) -> datetime:
    if isinstance(event_value, dict):  # cycle
        event_value = event_value.get("next")
    due = TimerEventDefinition.get_datetime(event_value)
    return due.astimezone(UTC).astimezone(clock.SHANGHAI)
