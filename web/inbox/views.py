"""The inbox (待办): my tasks and my role's unclaimed ones, with claim,
release and hand-over to a colleague of the same role and jurisdiction; the
tasks of whoever named me substitute for today (代办); for a head, the tasks he
supervises, each assigned to a named colleague (督办); and checkboxes for doing
several at once (`bulk`)."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, or_

from engine import clock
from engine.db import db
from engine.errors import EngineError, Forbidden, NotFound
from engine.green import delegation
from engine.green.models import LEVELS, UNIT_TYPES, User
from engine.green.roles import JURISDICTIONS
from engine.models import HumanTask, ProcessHead, ProcessInstance
from engine.runtime import role_queue

from .. import paging
from ..accounts.users import actor_of
from ..case_lists.lists import COMPANY, CREDIT_CODE
from ..model_texts import model_text
from ..runtime import runtime

bp = Blueprint("inbox", __name__, template_folder="templates", url_prefix="/inbox")
PAGE = 50
SOON = timedelta(days=3)  # "nearly due" in the list
# The most tasks one bulk action takes: each is a step of its own, and one request should end
# in seconds, not minutes.
BULK_CAP = 100
# A tab's count stops here: counting the administrator's whole task table on every visit
# costs as much as reading it, and "1000+" tells as much as the exact figure.
COUNT_CAP = 1000
# soonest due first, tasks without a due date last; the uuid makes the order total
ORDER = [paging.Key(HumanTask.due_at, datetime, nullable=True), paging.Key(HumanTask.created_at, datetime),
         paging.Key(HumanTask.id, str)]
# the columns a user may sort by (a header's link; `-` the other way round), each ending in the task's id
SORTS = {
    "due": ORDER,
    "-due": [paging.Key(HumanTask.due_at, datetime, descending=True, nullable=True),
             paging.Key(HumanTask.created_at, datetime, descending=True), paging.Key(HumanTask.id, str, descending=True)],
    "case": [paging.Key(HumanTask.instance_id, int), paging.Key(HumanTask.id, str)],
    "-case": [paging.Key(HumanTask.instance_id, int, descending=True), paging.Key(HumanTask.id, str, descending=True)],
    "company": [paging.Key(COMPANY, str, nullable=True), paging.Key(HumanTask.id, str)],
    "-company": [paging.Key(COMPANY, str, descending=True, nullable=True), paging.Key(HumanTask.id, str, descending=True)],
}


def _key_of(sort: str):
    def key_of(row):
        task = row.HumanTask
        return {"due": [task.due_at, task.created_at, task.id], "case": [task.instance_id, task.id],
                "company": [row.company if isinstance(row.company, str) else None, task.id]}[sort.lstrip("-")]
    return key_of


def tab_filters(actor):
    """Each tab as a condition on the task index, for this user only."""
    tabs = {"mine": HumanTask.assignee.in_(actor.accounts), "role": role_queue(actor, HumanTask)}
    if actor.principals:  # named substitute for today: her tasks, apart from his own
        tabs["delegated"] = HumanTask.assignee.in_(actor.principals)
    if (supervised := delegation.supervised(actor, HumanTask)) is not None:
        tabs["supervised"] = supervised
    if actor.is_admin:
        tabs["all"] = HumanTask.id.is_not(None)
    return tabs


@bp.get("/")
@login_required
def index():
    actor = actor_of(current_user)
    tabs = tab_filters(actor)
    tab = request.args.get("tab") or ("mine" if _count(tabs["mine"]) else "role")
    if tab not in tabs:
        abort(404)
    sort = request.args.get("sort") if request.args.get("sort") in SORTS else "due"
    # the case's company beside each task, read in the same statement (no query per row)
    q = db.select(HumanTask, COMPANY.label("company"), CREDIT_CODE.label("credit_code")).join(
        ProcessInstance, ProcessInstance.id == HumanTask.instance_id).where(tabs[tab])
    if process := request.args.get("process"):
        q = q.where(HumanTask.process_id == process)
    if (unit_type := request.args.get("unit_type")) in UNIT_TYPES:
        q = q.where(HumanTask.unit_type == unit_type)
    if (level := request.args.get("level")) in LEVELS:
        q = q.where(HumanTask.level == level)
    if (city := request.args.get("city")) and city in JURISDICTIONS:
        q = q.where(HumanTask.jurisdiction == city)
    now = clock.now()
    if request.args.get("due") == "overdue":
        q = q.where(HumanTask.due_at < now)
    elif request.args.get("due") == "soon":
        q = q.where(HumanTask.due_at >= now, HumanTask.due_at < now + SOON)
    page = paging.requested(db.session, q, SORTS[sort], PAGE, _key_of(sort))
    rows = [row.HumanTask for row in page.rows]
    companies = {row.HumanTask.id: (row.company if isinstance(row.company, str) else None,
                                    row.credit_code if isinstance(row.credit_code, str) else None) for row in page.rows}
    counts = {name: _shown(_count(cond)) for name, cond in tabs.items()}
    colleagues = []
    if actor.role not in runtime().party_roles:
        colleagues = db.session.scalars(db.select(User.name).where(
            User.role == actor.role, User.jurisdiction.is_(actor.jurisdiction) if actor.jurisdiction is None
            else User.jurisdiction == actor.jurisdiction, User.name != actor.name).order_by(User.name)).all()
    # a head assigns each task he supervises to one of the colleagues of its role and city
    assignable = delegation.colleagues_for({(t.role, t.jurisdiction) for t in rows}) if tab == "supervised" else {}
    if actor.is_admin:  # every task is in the "all" tab: the deployed processes, not a scan of the task table
        processes = db.session.scalars(db.select(ProcessHead.process_id)).all()
    else:
        processes = db.session.scalars(db.select(HumanTask.process_id).where(or_(*tabs.values())).distinct()).all()
    # each name from its head version, which the registry keeps parsed: no statement per process
    heads = dict(db.session.execute(db.select(ProcessHead.process_id, ProcessHead.version_id)).tuples().all())
    process_names = {p: model_text(runtime().registry.process_name(p, heads.get(p))) if p in heads else p
                     for p in {*processes, *(t.process_id for t in rows)}}
    return render_template("inbox/inbox.html", tab=tab, tasks=rows, companies=companies, sort=sort, counts=counts, next=page.next, now=now, soon=now + SOON,
                           colleagues=colleagues, assignable=assignable, principals=actor.principals,
                           bulk_cap=BULK_CAP, processes=sorted(processes), process_names=process_names, cities=JURISDICTIONS,
                           unit_types=UNIT_TYPES, levels=LEVELS,
                           party=actor.role in runtime().party_roles, args=request.args)


def _count(condition) -> int:
    """How many tasks meet the condition, up to COUNT_CAP + 1."""
    capped = db.select(HumanTask.id).where(condition).limit(COUNT_CAP + 1).subquery()
    return db.session.scalar(db.select(func.count()).select_from(capped))


def _shown(count: int) -> str:
    return f"{COUNT_CAP}+" if count > COUNT_CAP else str(count)


@bp.post("/<task_id>/<action>")
@login_required
def assign(task_id, action):
    actor = actor_of(current_user)
    if action == "claim":
        to = actor
    elif action == "release":
        to = None
    elif action in ("handover", "reassign"):  # a supervisor's reassignment: the engine tells which it is
        colleague = db.session.scalar(db.select(User).where(User.name == request.form.get("to", "")))
        if colleague is None:
            flash(_("没有这位同事。"), "error")
            return redirect(request.referrer or url_for(".index"))
        to = actor_of(colleague)
    else:
        abort(404)
    try:
        runtime().assign(task_id, actor, to)
    except EngineError as exc:
        if action == "reassign" and isinstance(exc, NotFound | Forbidden):
            raise  # not his to assign, or not to that colleague: 404 or 403, by web.handler
        flash(model_text(exc.message), "error")
        return redirect(url_for(".index")), 303
    messages = {"claim": _("已认领。"), "release": _("已退回本角色待办。"), "handover": _("已转交。"),
                "reassign": _("已指派给 %(name)s。", name=to.name if to else "")}
    flash(messages[action], "info")
    tab = {"claim": "mine", "reassign": "supervised"}.get(action)
    return redirect(url_for(".index", tab=tab)), 303

