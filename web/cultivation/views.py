"""Cultivation pools (培育库) and adverse facts (不良信息) for officials: a city sees
its own pool and the facts about or recorded in its city; the province sees all.
A city starts a nomination here; a city or the province starts recording a fact."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import or_, select

from engine.db import db
from engine.errors import EngineError
from engine.green.cultivation import POOL_STATUSES, CultivationPoolEntry
from engine.green.exclusions import KINDS, SOURCES, AdverseFact
from engine.green.models import UNIT_TYPES, Organisation
from engine.green.roles import JURISDICTIONS
from engine.models import HumanTask

from .. import exports, paging
from ..accounts.users import actor_of
from ..inputs import YEAR
from ..model_texts import model_text
from ..policy import demand, may, require
from ..runtime import runtime

bp = Blueprint("cultivation", __name__, template_folder="templates")
PAGE = 100


def _pool_query():
    demand("cultivation.read")
    query = select(CultivationPoolEntry, Organisation).join(Organisation)
    args = request.args
    city = current_user.jurisdiction or args.get("city")
    if city in JURISDICTIONS:
        query = query.where(CultivationPoolEntry.jurisdiction == city)
    if (unit_type := args.get("unit_type")) in UNIT_TYPES:
        query = query.where(CultivationPoolEntry.unit_type == unit_type)
    if (status := args.get("status")) in POOL_STATUSES:
        query = query.where(CultivationPoolEntry.status == status)
    if (year := args.get("year", type=YEAR)) is not None:
        query = query.where(CultivationPoolEntry.year == year)
    return query


# by city, newest year first
POOL_ORDER = [paging.Key(CultivationPoolEntry.jurisdiction, str), paging.Key(CultivationPoolEntry.year, int, descending=True),
              paging.Key(CultivationPoolEntry.id, int, descending=True)]


@bp.get("/cultivation/")
@login_required
def pool():
    page = paging.requested(db.session, _pool_query(), POOL_ORDER, PAGE, lambda row: [
        row.CultivationPoolEntry.jurisdiction, row.CultivationPoolEntry.year, row.CultivationPoolEntry.id])
    return render_template("cultivation/cultivation_pool.html", rows=page.rows, next=page.next,
                           args=request.args, unit_types=UNIT_TYPES, statuses=POOL_STATUSES, cities=JURISDICTIONS,
                           may_nominate=may(current_user, "cultivation.nominate"),
                           may_record=may(current_user, "adverse_facts.record"))


@bp.get("/cultivation.xlsx")
@login_required
def export():
    rows = db.session.execute(_pool_query().order_by(*paging.order_by(POOL_ORDER))).all()
    book = exports.workbook()
    sheet = exports.sheet(book, _("培育库"), [
        _("单位名称"), _("统一社会信用代码"), _("类型"), _("地区"), _("年度"), _("状态"), _("入库日期"),
        _("备案日期"), _("培育目标"), _("培育措施"), _("目标年度"), _("对标标准"), _("意见"), _("案件")],
        (36, 22, 22, 14, 8, 14, 12, 12, 40, 50, 10, 30, 40, 8))
    for e, org in rows:
        plan = e.plan or {}
        sheet.append([org.name, org.credit_code, UNIT_TYPES[e.unit_type][0], JURISDICTIONS[e.jurisdiction][0], e.year,
                      POOL_STATUSES[e.status][0], e.nominated_on, e.filed_on, plan.get("goals"), plan.get("measures"),
                      plan.get("target_year"), plan.get("standard"), e.remarks, e.instance_id])
    return exports.download(book, "cultivation-pool")


@bp.get("/adverse-facts/")
@login_required
@require("cultivation.read")
def facts():
    query = select(AdverseFact, Organisation).join(Organisation)
    if current_user.jurisdiction:  # recorded by this city, or about an organisation of this city
        query = query.where(or_(AdverseFact.jurisdiction == current_user.jurisdiction,
                                Organisation.jurisdiction == current_user.jurisdiction))
    if (kind := request.args.get("kind")) in KINDS:
        query = query.where(AdverseFact.kind == kind)
    if code := (request.args.get("credit_code") or "").strip().upper():
        query = query.where(Organisation.credit_code == code)
    rows = db.session.execute(query.order_by(AdverseFact.occurred_on.desc(), AdverseFact.id.desc()).limit(PAGE)).all()
    return render_template("cultivation/adverse_facts.html", rows=rows, args=request.args, kinds=KINDS, sources=SOURCES,
                           may_record=may(current_user, "adverse_facts.record"))


def _start(process_id: str, permission: str):
    demand(permission)
    try:
        case = runtime().start(process_id, {}, actor_of(current_user))
    except EngineError as exc:
        flash(model_text(exc.message), "error")
        return redirect(url_for(".pool"), 303)
    task = db.session.scalar(select(HumanTask.id).where(HumanTask.instance_id == case.id))
    return redirect(url_for("tasks.view", task_id=task) if task else url_for("cases.show", instance_id=case.id), 303)


@bp.post("/cultivation/nominate")
@login_required
def nominate():
    """A city starts a nomination (推荐培育对象) and goes straight to its form."""
    return _start("cultivation", "cultivation.nominate")


@bp.post("/adverse-facts/new")
@login_required
def record():
    """A city or the province starts recording an adverse fact."""
    return _start("adverse_fact", "adverse_facts.record")
