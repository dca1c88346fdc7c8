"""The province's yearly rounds (年度评选): the provincial selection (Arts 14-15,
processes/provincial_selection.bpmn) and the national recommendation (Art 16,
processes/national_recommendation.bpmn).

Each is held once a year: a second start for the same year is refused, naming the
round already there, so that no unit can sit in two rounds of a year and no list
is published twice. A round's year is the one its diagram sets when it opens
(`year`, `round_year`); the same rule is reproduced here to know, before a case
exists, which year a start would open. A unit is in a round while the round is
open and has it among its candidates; it cannot be recommended into another."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.db import db
from engine.errors import Conflict, NotFound
from engine.models import AuditEvent, HumanTask, ProcessInstance
from engine.statutory_calendar import next_annual

OPEN = ("running", "waiting", "error")
# process id -> (the case data's name for the round's year, the round's name)
ROUNDS = {
    "provincial_selection": ("year", "省级绿色制造单位评选", "provincial selection"),
    "national_recommendation": ("round_year", "国家级绿色制造单位推荐", "national recommendation"),
}


def year_opened(process_id: str, today: date | None = None) -> int:
    """The year a round started today is for: the provincial round the year it opens in; the
    national one the year of the next 31 July (MIIT's date), as Script_open_round sets them."""
    today = today or clock.now().date()
    if process_id == "national_recommendation":
        return next_annual(7, 31, today).year
    return today.year


def round_of_year(process_id: str, year: int) -> ProcessInstance | None:
    """The round of this process for the year that is open or was held (a cancelled one does not count)."""
    key = ROUNDS[process_id][0]
    cases = db.session.scalars(db.select(ProcessInstance).where(
        ProcessInstance.process_id == process_id, ProcessInstance.status != "cancelled")
        .order_by(ProcessInstance.id)).all()
    return next((c for c in cases if (c.data or {}).get(key) == year), None)


def refuse_second_round(process_id: str) -> None:
    """Refuse to open a round when this year's is already there, naming it."""
    if process_id not in ROUNDS:
        return
    year = year_opened(process_id)
    held = round_of_year(process_id, year)
    if held is None:
        return
    _key, zh, en = ROUNDS[process_id]
    state = ("进行中", "open") if held.status in OPEN else ("已办结", "concluded")
    raise Conflict(f"{year}年度{zh}已有办件 {held.id}（{state[0]}），每年只开展一轮 "
                   f"(the {year} {en} is case {held.id}, {state[1]}; there is one round a year)")


def open_rounds_holding(process_id: str, instance_id: int) -> dict[str, int]:
    """In the other open rounds of this process, each candidate ("credit code:unit type" for a
    provincial round, the designation id as text for a national one) and the round's case id."""
    held = {}
    for case in db.session.scalars(db.select(ProcessInstance).where(
            ProcessInstance.process_id == process_id, ProcessInstance.status.in_(OPEN),
            ProcessInstance.id != instance_id)):
        candidates = (case.data or {}).get("candidates") or {}
        keys = candidates.keys() if isinstance(candidates, dict) else \
            [str(c.get("designation_id")) for c in candidates if isinstance(c, dict)]
        for key in keys:
            held.setdefault(str(key), case.id)
    return held


# The message the provincial round's cities wait for once their recommendation is overdue
# (provincial_selection.bpmn `Catch_close_collection`): sent, it records each of them as not
# having recommended and lets the round go on without them.
CLOSE_COLLECTION = "close_collection"


def overdue_cities(instance_id: int) -> list[str]:
    """The cities whose recommendation the provincial round still waits for."""
    return list(db.session.scalars(db.select(HumanTask.jurisdiction).where(
        HumanTask.instance_id == instance_id, HumanTask.element == "Task_recommend")
        .order_by(HumanTask.jurisdiction)))


def may_close_collection(runtime, case: ProcessInstance) -> bool:
    """Whether the round's collection can be closed now: after the deadline and its overdue
    notice, while some city has not recommended (before then nothing waits for the message)."""
    return (case.process_id == "provincial_selection" and case.status in OPEN
            and runtime.awaits_message(case.id, CLOSE_COLLECTION))


def close_collection(runtime, instance_id: int, actor) -> list[str]:
    """The province closes the collection of recommendations (关闭推荐收集); returns the
    cities recorded as not having recommended. Refused before the deadline has passed."""
    case = db.session.get(ProcessInstance, instance_id)
    if case is None or case.process_id != "provincial_selection":
        raise NotFound(f"没有省级推荐轮次 {instance_id} (no provincial round {instance_id})")
    if not may_close_collection(runtime, case):
        raise Conflict("推荐收集现在不能关闭：截止日未过，或各市州均已推荐 "
                       "(the collection closes only after the deadline, while a city has not recommended)")
    missing = overdue_cities(instance_id)
    runtime.send_message(instance_id, CLOSE_COLLECTION, {}, actor)
    return missing


RECOMMEND = "Task_recommend"  # provincial_selection.bpmn: a city's recommendation
NOT_RECOMMENDED = "Script_not_recommended"  # its collection closed before the city answered


@dataclass
class CityRecommendation:
    """Where one city stands in the round's collection of recommendations (各市州推荐情况)."""

    city: str
    state: str  # waiting | recommended | not_recommended
    due_at: datetime | None  # the end of 31 March, as its task was given
    by: str | None = None  # the account that recommended
    at: datetime | None = None
    units: int | None = None  # how many units it recommended
    late: bool = False  # answered after the time limit, or still waiting past it, or never answered


def city_recommendations(runtime, case: ProcessInstance) -> list[CityRecommendation]:
    """Each city asked in a provincial round: recommended or not, by whom, when, late or not.

    A city's finished recommendation is read from the round's workflow (the task carries the
    city it was for and the units given); who completed it, and when, from the audit trail's
    completions of that task, which the workflow's completions match one for one in the order
    they were done. Empty for any other case."""
    if case.process_id != "provincial_selection":
        return []
    data = case.data or {}
    cities = [c for c in data.get("cities") or [] if isinstance(c, str)]
    due = _end_of(data.get("recommendation_due"))
    waiting = {t.jurisdiction: t for t in db.session.scalars(db.select(HumanTask).where(
        HumanTask.instance_id == case.id, HumanTask.element == RECOMMEND))}
    done, closed = [], set()
    workflow = runtime.read_workflow(case.id)
    for wf in (workflow, *workflow.subprocesses.values()):
        for task in wf.tasks.values():
            element = getattr(task.task_spec, "bpmn_id", None)
            if element not in (RECOMMEND, NOT_RECOMMENDED) or task.state != TaskState.COMPLETED:
                continue
            if element == RECOMMEND:
                done.append((task.last_state_change, task.data.get("jurisdiction"), task.data.get("units")))
            else:
                closed.add(task.data.get("jurisdiction"))
    done.sort(key=lambda d: d[0])
    completions = db.session.execute(db.select(AuditEvent.actor, AuditEvent.at).where(
        AuditEvent.instance_id == case.id, AuditEvent.action == "complete", AuditEvent.task == RECOMMEND)
        .order_by(AuditEvent.seq)).all()
    answered = {city: (who, units) for (_t, city, units), who in zip(done, completions)}
    now = clock.now()
    out = []
    for city in cities:
        if city in waiting:
            task = waiting[city]
            out.append(CityRecommendation(city, "waiting", task.due_at or due,
                                          late=bool((task.due_at or due) and (task.due_at or due) < now)))
        elif city in answered:
            (actor, at), units = answered[city]
            out.append(CityRecommendation(city, "recommended", due, by=actor, at=at,
                                          units=len(units) if isinstance(units, list) else None,
                                          late=bool(due and at > due)))
        elif city in closed:
            out.append(CityRecommendation(city, "not_recommended", due, late=True))
        else:  # asked, not yet reached (the round is held in error before the cities' tasks)
            out.append(CityRecommendation(city, "waiting", due, late=bool(due and due < now)))
    return out


def _end_of(day) -> datetime | None:
    """The moment a time limit "by this day" ends: the next day's first instant, Beijing time."""
    try:
        day = day if isinstance(day, date) else date.fromisoformat(str(day))
    except ValueError:
        return None
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=clock.SHANGHAI)
