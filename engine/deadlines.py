"""Time limits of human tasks (办理时限): due dates, reminders, overdue notices.

A user task declares its limit in the diagram, as `spiffworkflow:property`:
- `dueDate`: a Python expression over the case data and the statutory helpers
  of `engine.statutory_calendar`. It gives a date (due when that day is over, Beijing
  time), an aware datetime, ISO text of either, or an ISO duration from the
  moment the task became ready, e.g. `working_days_after(today(), 5)`,
  `next_annual(3, 31)`, `"P90D"`.
- `remindBefore`: an ISO duration, e.g. `"P7D"`: a reminder goes to whoever
  may do the task that long before it is due.
- `escalateTo`: a role (code or name) told when the task is overdue; without
  it, the task's own role is told.
The limit is computed once, when the task becomes ready, and kept with it. A
limit counted on a provisional holiday calendar (a year no State Council notice
covers yet) keeps the provisional years and the moment it was computed, so the
notice, once entered, can count it again as of then (`engine.settlement`).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from . import clock, statutory_calendar

DUE_PROPERTY = "dueDate"
REMIND_PROPERTY = "remindBefore"
ESCALATE_PROPERTY = "escalateTo"
KEY = "deadline"  # where a task keeps its computed limit, in its internal data


def _duration(text: str, start: datetime) -> timedelta:
    parsed = TimerEventDefinition.parse_iso_duration(text)
    return TimerEventDefinition.get_timedelta_from_start(parsed, start)


def moment(value, now: datetime) -> datetime:
    """The due moment a `dueDate` value stands for."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"办理时限 {value} 没有时区偏移；请写上 +08:00 (due date {value} has no offset; write it with +08:00)")
        return value.astimezone(clock.SHANGHAI)
    if isinstance(value, date):
        return datetime.combine(value + timedelta(days=1), time(0), clock.SHANGHAI)
    if isinstance(value, str):
        text = value.strip()
        if text.upper().startswith("P"):
            return now + _duration(text.upper(), now)
        return moment(datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text), now)
    raise ValueError(f"办理时限 {value!r} 不是日期、时间或 ISO 时长 (due date {value!r} is not a date, a time or an ISO duration)")


def compute(task, role_of, now: datetime) -> dict | None:
    """The limit of a task that just became ready, or None when it has none.
    Raises with a message naming the property when the diagram's value is wrong."""
    props = task.task_spec.extensions.get("properties", {})
    expression = props.get(DUE_PROPERTY)
    if not expression:
        return None
    with statutory_calendar.noting_provisional() as provisional:
        due = moment(task.workflow.script_engine.evaluate(task, expression), now)
    remind = None
    if props.get(REMIND_PROPERTY):
        before = props[REMIND_PROPERTY].strip().strip('"').upper()
        if not before.startswith("P"):
            raise ValueError(f"{REMIND_PROPERTY}「{before}」不是 P7D 这样的 ISO 时长 ({REMIND_PROPERTY} '{before}' is not an ISO duration such as P7D)")
        remind = due - _duration(before, due)
    escalate = props.get(ESCALATE_PROPERTY)
    if escalate and role_of(escalate) is None:
        raise ValueError(f"{ESCALATE_PROPERTY}「{escalate}」没有指定已知角色 ({ESCALATE_PROPERTY} '{escalate}' names no known role)")
    limit = {
        "from": now.isoformat(),  # when the task became ready: the time taken is counted from here
        "due": due.isoformat(),
        "remind": remind.isoformat() if remind and remind > now else None,
        "escalate_to": role_of(escalate) if escalate else None,
    }
    if provisional:
        limit.update(provisional=sorted(provisional), at=now.isoformat())
    return limit
