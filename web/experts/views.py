"""Expert review as the province runs it (专家评审, Art 15): the expert pool the province
keeps, and the page where an expert declares the units they may not review.

Thin over `engine.green.experts`: the operations check the input and say what is wrong
per field; the page shows it with what was typed kept."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine import clock
from engine.db import db, writing
from engine.green import experts
from engine.green.experts import CONFLICT_KINDS, Expert, ExpertAssignment, PoolInvalid
from engine.green.models import UNIT_TYPES, User

from ..policy import require

bp = Blueprint("experts", __name__, template_folder="templates")
POOL_FIELDS = ("name", "field", "organisation", "account")
CONFLICT_FIELDS = ("credit_code", "unit_name", "kind", "worked_until", "note")


def _pool_page(values=None, errors=None, status=200):
    pool = db.session.scalars(db.select(Expert).order_by(Expert.id)).all()
    accounts = db.session.scalars(db.select(User.name).where(
        User.role == "expert", User.name.not_in(db.select(Expert.account))).order_by(User.name)).all()
    return render_template("experts/pool.html", pool=pool, accounts=accounts, values=values or {},
                           errors=errors or {}, kinds=CONFLICT_KINDS, today=clock.now().date()), status


@bp.get("/experts/")
@login_required
@require("experts.manage")
def pool():
    return _pool_page()


@bp.post("/experts/")
@login_required
@require("experts.manage")
def add():
    values = {k: request.form.get(k, "") for k in POOL_FIELDS}
    try:
        with writing():
            expert = experts.add_expert(values, current_user.name)
            name = expert.name
    except PoolInvalid as exc:
        return _pool_page(values, exc.fields, 422)
    flash(_("已将%(name)s加入专家库。", name=name), "info")
    return redirect(url_for(".pool"), 303)


def _conflicts_page(values=None, errors=None, status=200):
    me = experts.expert_of(current_user.name)
    reviews = db.session.scalars(db.select(ExpertAssignment).where(ExpertAssignment.expert_id == me.id)
                                 .order_by(ExpertAssignment.id.desc())).all() if me else []
    return render_template("experts/conflicts.html", me=me, values=values or {}, errors=errors or {},
                           kinds=CONFLICT_KINDS, reviews=reviews, unit_types=UNIT_TYPES,
                           today=clock.now().date()), status


@bp.get("/experts/conflicts")
@login_required
@require("experts.declare")
def conflicts():
    return _conflicts_page()


@bp.post("/experts/conflicts")
@login_required
@require("experts.declare")
def declare():
    values = {k: request.form.get(k, "") for k in CONFLICT_FIELDS}
    me = experts.expert_of(current_user.name)
    if me is None:
        return _conflicts_page(values, {"$": [_("您尚未列入专家库，无需申报回避。")]}, 422)
    try:
        with writing():
            conflict = experts.declare_conflict(me, values)
            name = conflict.unit_name
    except PoolInvalid as exc:
        return _conflicts_page(values, exc.fields, 422)
    flash(_("已申报回避：%(name)s。", name=name), "info")
    return redirect(url_for(".conflicts"), 303)
