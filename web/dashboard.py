"""The dashboard (统计看板) for the province and each city: units by type,
level and city, the pipeline of open cases, overdue steps by city."""
from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required
from sqlalchemy import func, select

from engine import clock
from engine.db import db
from engine.green.models import LEVELS, UNIT_TYPES, Designation
from engine.green.roles import JURISDICTIONS
from engine.models import HumanTask, ProcessInstance

from . import name_in
from .cases import STATUS
from .registry import READERS

bp = Blueprint("dashboard", __name__)
OPEN = ("running", "waiting", "error")


def _scoped(query, column):
    """A city's officials count their own city only."""
    return query.where(column == current_user.jurisdiction) if current_user.jurisdiction else query


@bp.get("/dashboard")
@login_required
def index():
    if current_user.role not in READERS:
        abort(403)
    listed = _scoped(select(Designation.unit_type, Designation.level, func.count())
                     .where(Designation.status == "listed"), Designation.jurisdiction)
    by_type_level = db.session.execute(listed.group_by(Designation.unit_type, Designation.level)).all()
    by_type = {t: 0 for t in UNIT_TYPES}
    by_level = {lv: 0 for lv in LEVELS}
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
    return render_template(
        "dashboard.html",
        by_type=[(name_in(UNIT_TYPES, t), n) for t, n in by_type.items()],
        by_level=[(name_in(LEVELS, lv), n) for lv, n in by_level.items()],
        by_city=[(name_in(JURISDICTIONS, c), by_city.get(c, 0)) for c in cities],
        pipeline=[(f"{p} · {STATUS.get(s, s)}", n) for p, s, n in sorted(pipeline)],
        overdue=[(name_in(JURISDICTIONS, c), overdue.get(c, 0)) for c in cities],
        total_listed=sum(by_type.values()),
    )
