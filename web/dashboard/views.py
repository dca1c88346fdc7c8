"""The dashboard (统计看板) for the province and each city: units by type,
level and city, the pipeline of open cases, overdue steps by city, and the
awards paid by year and city (Art 25)."""
from __future__ import annotations

import statistics
from datetime import timedelta

from flask import Blueprint, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select

from engine import clock, statutory_calendar
from engine.db import db
from engine.green.awards import Award
from engine.green.models import LEVELS, UNIT_TYPES, Designation
from engine.green.notices import PublicNotice
from engine.green.roles import JURISDICTIONS
from engine.model_registry import UnknownProcess
from engine.models import HandlingTime, HumanTask, PendingTimer, ProcessInstance

from ..cases.views import STATUS
from ..model_texts import model_text
from ..policy import may, require
from ..runtime import runtime
from ..security import allow_chart_styles
from ..templating import name_in

bp = Blueprint("dashboard", __name__, template_folder="templates")
OPEN = ("running", "waiting", "error")
# how far ahead the dashboard warns that the official calendar ends: longer than the longest
# working-day limit in the diagrams (20 working days, with a holiday week in between)
CALENDAR_NOTICE = timedelta(days=60)


def _scoped(query, column):
    """A city's officials count their own city only."""
    return query.where(column == current_user.jurisdiction) if current_user.jurisdiction else query


def _bars(pairs, link=None) -> list[dict]:
    """A chart's bars: label, value, and the list behind the bar (`link(code)`), from (code, label, value)."""
    return [{"label": label, "value": value, "href": link(code) if link else None} for code, label, value in pairs]


def _registry(**filters):
    return url_for("registry.index", status="listed", **filters)


@bp.get("/dashboard")
@login_required
@require("dashboard.read")
def index():
    listed = _scoped(select(Designation.unit_type, Designation.level, func.count())
                     .where(Designation.status == "listed"), Designation.jurisdiction)
    by_type_level = db.session.execute(listed.group_by(Designation.unit_type, Designation.level)).all()
    by_type = dict.fromkeys(UNIT_TYPES, 0)
    by_level = dict.fromkeys(LEVELS, 0)
    for unit_type, level, n in by_type_level:
        by_type[unit_type] += n
        by_level[level] += n
    by_city = dict(db.session.execute(_scoped(
        select(Designation.jurisdiction, func.count()).where(Designation.status == "listed"),
        Designation.jurisdiction).group_by(Designation.jurisdiction)).all())
    pipeline = db.session.execute(_scoped(
        select(ProcessInstance.process_id, ProcessInstance.status, func.count())
        .where(ProcessInstance.status.in_(OPEN)), ProcessInstance.jurisdiction)
        .group_by(ProcessInstance.process_id, ProcessInstance.status)).all()
    overdue = dict(db.session.execute(_scoped(
        select(HumanTask.jurisdiction, func.count()).where(HumanTask.due_at < clock.now()), HumanTask.jurisdiction)
        .group_by(HumanTask.jurisdiction)).all())
    cities = [current_user.jurisdiction] if current_user.jurisdiction else list(JURISDICTIONS)
    awards = _awards() if may(current_user, "awards.read") else None
    covered = statutory_calendar.covered_until()
    registry = runtime().registry
    allow_chart_styles()
    return render_template(
        "dashboard/dashboard.html",
        by_type=_bars([(t, name_in(UNIT_TYPES, t), n) for t, n in by_type.items()],
                      lambda t: _registry(unit_type=t)),
        by_level=_bars([(lv, name_in(LEVELS, lv), n) for lv, n in by_level.items()], lambda lv: _registry(level=lv)),
        by_city=_bars([(c, name_in(JURISDICTIONS, c), by_city.get(c, 0)) for c in cities],
                      lambda c: _registry(city=c)),
        pipeline=_bars([((p, s), f"{model_text(registry.process_name(p))} · {STATUS.get(s, s)}", n)
                        for p, s, n in sorted(pipeline)],
                       lambda ps: url_for("case_lists.search", process=ps[0], status=ps[1])),
        overdue=_bars([(c, name_in(JURISDICTIONS, c), overdue.get(c, 0)) for c in cities],
                      lambda c: url_for("case_lists.search", city=c, overdue=1)),
        handling=handling_times(registry, current_user.jurisdiction, clock.now()),
        total_listed=sum(by_type.values()),
        awards=awards,
        # deadlines past this day are counted provisionally until the next year's holiday notice is entered
        calendar_ends=covered if clock.now().date() + CALENDAR_NOTICE > covered else None,
        provisional=_provisional_dates(),
    )


# the time-taken chart looks back a year: long enough for every yearly procedure to have run
HANDLING_WINDOW = timedelta(days=365)


def handling_times(registry, city: str | None, now) -> list[dict]:
    """Each step with a statutory limit that was done in the last year (in `city` only, for a
    city): how many times, the median days it took and the median days its limit allowed
    (calendar days, from ready to done and from ready to the limit), and how many were late."""
    query = select(HandlingTime.process_id, HandlingTime.element, HandlingTime.began_at, HandlingTime.due_at,
                   HandlingTime.done_at).where(HandlingTime.done_at >= now - HANDLING_WINDOW)
    if city:
        query = query.where(HandlingTime.jurisdiction == city)
    steps: dict[tuple[str, str], list] = {}
    for process_id, element, began, due, done in db.session.execute(query):
        steps.setdefault((process_id, element), []).append(
            ((done - began).total_seconds() / 86400, (due - began).total_seconds() / 86400, done > due))
    rows = []
    for (process_id, element), done in sorted(steps.items()):
        rows.append({
            "label": f"{model_text(registry.process_name(process_id))} · {model_text(_step_name(registry, process_id, element))}",
            "count": len(done),
            "taken": round(statistics.median(d[0] for d in done), 1),
            "allowed": round(statistics.median(d[1] for d in done), 1),
            "late": sum(1 for d in done if d[2]),
            "href": url_for("case_lists.search", process=process_id),
        })
    return rows


def _step_name(registry, process_id: str, element: str) -> str:
    """A step as its diagram names it (the version new cases start on), else its id."""
    try:
        version = registry.load(registry.latest_version_for(process_id))
    except UnknownProcess:
        return element
    for spec in (version.specs.get(process_id), *version.subprocess_specs.get(process_id, {}).values()):
        task_spec = spec.task_specs.get(element) if spec is not None else None
        if task_spec is not None:
            return task_spec.bpmn_name or element
    return element


def _provisional_dates() -> dict[str, int]:
    """Open dates counted on a provisional holiday calendar (the reader's city only, for a city)."""
    tasks = _scoped(select(func.count()).select_from(HumanTask).where(HumanTask.due_provisional_year.is_not(None)),
                    HumanTask.jurisdiction)
    timers = _scoped(select(func.count()).select_from(PendingTimer).join(
        ProcessInstance, ProcessInstance.id == PendingTimer.instance_id).where(
        PendingTimer.provisional_year.is_not(None)), ProcessInstance.jurisdiction)
    notices = select(func.count()).select_from(PublicNotice).where(
        PublicNotice.provisional_year.is_not(None), PublicNotice.closed_at.is_(None))
    counts = {"tasks": db.session.scalar(tasks), "timers": db.session.scalar(timers),
              "notices": 0 if current_user.jurisdiction else db.session.scalar(notices)}
    return dict(counts, total=sum(counts.values()))


def _wan(yuan: int):
    """Yuan as 万元, the unit officials count awards in."""
    value = (yuan or 0) / 10000
    return int(value) if float(value).is_integer() else round(value, 1)


def _awards() -> dict:
    """Awards paid (万元) by year, and by year and city, for the caller's scope."""
    paid = _scoped(select(Award.year, Award.jurisdiction, func.sum(Award.amount)).where(Award.amount > 0),
                   Award.jurisdiction).group_by(Award.year, Award.jurisdiction)
    rows = db.session.execute(paid).all()
    by_year: dict[int, int] = {}
    for year, _city, amount in rows:
        by_year[year] = by_year.get(year, 0) + (amount or 0)
    return {
        "by_year": _bars([(y, str(y), _wan(a)) for y, a in sorted(by_year.items())],
                         lambda y: url_for("awards.index", year=y)),
        "by_year_city": _bars([((y, c), f"{y} · {name_in(JURISDICTIONS, c)}", _wan(a))
                               for y, c, a in sorted(rows, key=lambda r: (-r[0], list(JURISDICTIONS).index(r[1])
                                                                          if r[1] in JURISDICTIONS else 99))],
                              lambda yc: url_for("awards.index", year=yc[0], city=yc[1])),
    }
