"""The dashboard (统计看板) for the province and each city: units by type,
level and city, the pipeline of open cases, overdue steps by city, and the
awards paid by year and city (Art 25)."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import func, select

from engine import clock, statutory_calendar
from engine.db import db
from engine.green.awards import Award
from engine.green.models import LEVELS, UNIT_TYPES, Designation
from engine.green.notices import PublicNotice
from engine.green.roles import JURISDICTIONS
from engine.models import HumanTask, PendingTimer, ProcessInstance

from ..cases.views import STATUS
from ..model_texts import model_text
from ..policy import may, require
from ..runtime import runtime
from ..templating import name_in

bp = Blueprint("dashboard", __name__, template_folder="templates")
OPEN = ("running", "waiting", "error")
# how far ahead the dashboard warns that the official calendar ends: longer than the longest
# working-day limit in the diagrams (20 working days, with a holiday week in between)
CALENDAR_NOTICE = timedelta(days=60)


def _scoped(query, column):
    """A city's officials count their own city only."""
    return query.where(column == current_user.jurisdiction) if current_user.jurisdiction else query


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
    return render_template(
        "dashboard/dashboard.html",
        by_type=[(name_in(UNIT_TYPES, t), n) for t, n in by_type.items()],
        by_level=[(name_in(LEVELS, lv), n) for lv, n in by_level.items()],
        by_city=[(name_in(JURISDICTIONS, c), by_city.get(c, 0)) for c in cities],
        pipeline=[(f"{model_text(runtime().registry.process_name(p))} · {STATUS.get(s, s)}", n) for p, s, n in sorted(pipeline)],
        overdue=[(name_in(JURISDICTIONS, c), overdue.get(c, 0)) for c in cities],
        total_listed=sum(by_type.values()),
        awards=awards,
        # deadlines past this day are counted provisionally until the next year's holiday notice is entered
        calendar_ends=covered if clock.now().date() + CALENDAR_NOTICE > covered else None,
        provisional=_provisional_dates(),
    )


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
        "by_year": [(str(y), _wan(a)) for y, a in sorted(by_year.items())],
        "by_year_city": [(f"{y} · {name_in(JURISDICTIONS, c)}", _wan(a))
                         for y, c, a in sorted(rows, key=lambda r: (-r[0], list(JURISDICTIONS).index(r[1])
                                                                   if r[1] in JURISDICTIONS else 99))],
    }
