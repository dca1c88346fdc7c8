"""The award ledger (奖励台账, Art 25) for officials: every award decision with its
amount or the reason for none, a yearly total per city, and an Excel export.
The province sees every city; a city's officials see their own units only."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from engine.db import db
from engine.green.awards import Award
from engine.green.models import LEVELS, UNIT_TYPES, Organisation
from engine.green.roles import JURISDICTIONS

from .. import exports, paging
from ..inputs import YEAR
from ..policy import demand
from ..templating import name_in

bp = Blueprint("awards", __name__, template_folder="templates")
PAGE = 200


def _scope(query):
    """The caller's ledger, narrowed by the page's filters."""
    demand("awards.read")
    args = request.args
    city = current_user.jurisdiction or args.get("city")
    if city in JURISDICTIONS:
        query = query.where(Award.jurisdiction == city)
    elif current_user.jurisdiction:  # a city official without a known city sees nothing
        abort(403)
    if (year := args.get("year", type=YEAR)) is not None:
        query = query.where(Award.year == year)
    if args.get("level") in LEVELS:
        query = query.where(Award.level == args["level"])
    if args.get("unit_type") in UNIT_TYPES:
        query = query.where(Award.unit_type == args["unit_type"])
    return query


def totals() -> list[tuple[int, str | None, int, int]]:
    """(year, city, yuan awarded, units paid) for the caller's ledger, newest year first."""
    return db.session.execute(_scope(
        select(Award.year, Award.jurisdiction, func.sum(Award.amount), func.count().filter(Award.amount > 0)))
        .group_by(Award.year, Award.jurisdiction).order_by(Award.year.desc(), Award.jurisdiction)).all()


# newest year first, then the latest decision
ORDER = [paging.Key(Award.year, int, descending=True), paging.Key(Award.decided_at, datetime, descending=True),
         paging.Key(Award.id, int, descending=True)]


def _ledger():
    return _scope(select(Award, Organisation).join(Organisation, Award.organisation_id == Organisation.id))


def _rows():
    return db.session.execute(_ledger().order_by(*paging.order_by(ORDER))).all()


@bp.get("/awards/")
@login_required
def index():
    page = paging.requested(db.session, _ledger(), ORDER, PAGE,
                            lambda row: [row.Award.year, row.Award.decided_at, row.Award.id])
    sums = totals()
    years = db.session.scalars(_scope(select(Award.year).distinct()).order_by(Award.year.desc())).all()
    return render_template("awards/awards.html", rows=page.rows, next=page.next, totals=sums,
                           grand_total=sum(t[2] or 0 for t in sums), args=request.args, years=years,
                           levels=LEVELS, unit_types=UNIT_TYPES, cities=JURISDICTIONS)


@bp.get("/awards.xlsx")
@login_required
def export():
    rows, sums = _rows(), totals()
    book = exports.workbook()
    ledger = exports.sheet(book, _("奖励台账"), [
        _("年度"), _("单位名称"), _("统一社会信用代码"), _("地区"), _("级别"), _("类型"),
        _("奖励金额（元）"), _("理由"), _("依据案件"), _("核定时间")], (8, 36, 22, 16, 8, 22, 14, 60, 10, 18))
    for a, org in rows:
        ledger.append([a.year, org.name, org.credit_code, name_in(JURISDICTIONS, a.jurisdiction) if a.jurisdiction
                       else "", name_in(LEVELS, a.level), name_in(UNIT_TYPES, a.unit_type), a.amount, a.reason,
                       a.instance_id, a.decided_at.strftime("%Y-%m-%d %H:%M")])
    sheet = exports.sheet(book, _("年度分地区合计"), [_("年度"), _("地区"), _("奖励金额（元）"), _("获奖单位数")],
                          (8, 18, 16, 12))
    for year, city, amount, paid in sums:
        sheet.append([year, name_in(JURISDICTIONS, city) if city else "", amount or 0, paid])
    return exports.download(book, "award-ledger")
