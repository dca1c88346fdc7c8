"""The registry of designations (绿色制造单位名录) for officials, with each
designation's history and an Excel export; and the public lists."""
from __future__ import annotations

import io

from flask import Blueprint, abort, render_template, request, send_file
from flask_babel import gettext as _
from flask_login import current_user, login_required
from openpyxl import Workbook
from sqlalchemy import select

from engine import clock
from engine.db import db
from engine.green.models import LEVELS, STATUSES, UNIT_TYPES, Designation, Organisation
from engine.green.roles import JURISDICTIONS

bp = Blueprint("registry", __name__)
# Officials who read the registry; a city's officials see their own city only.
READERS = frozenset({"municipal", "provincial", "analyst", "admin", "ecology", "emergency", "market"})
PAGE = 100


def _filtered(query, args, city=None):
    if (level := args.get("level")) in LEVELS:
        query = query.where(Designation.level == level)
    if (unit_type := args.get("unit_type")) in UNIT_TYPES:
        query = query.where(Designation.unit_type == unit_type)
    if (status := args.get("status")) in STATUSES:
        query = query.where(Designation.status == status)
    city = city or args.get("city")
    if city in JURISDICTIONS:
        query = query.where(Designation.jurisdiction == city)
    return query


def _official_query():
    if current_user.role not in READERS:
        abort(403)
    query = select(Designation, Organisation).join(Organisation)
    return _filtered(query, request.args, city=current_user.jurisdiction)


@bp.get("/registry/")
@login_required
def index():
    page = max(request.args.get("page", 1, type=int), 1)
    rows = db.session.execute(_official_query().order_by(Designation.listed_on.desc(), Designation.id.desc())
                              .limit(PAGE + 1).offset((page - 1) * PAGE)).all()
    return render_template("registry.html", rows=rows[:PAGE], more=len(rows) > PAGE, page=page, args=request.args,
                           levels=LEVELS, unit_types=UNIT_TYPES, statuses=STATUSES, cities=JURISDICTIONS)


@bp.get("/registry/<int:designation_id>")
@login_required
def detail(designation_id):
    row = db.session.execute(_official_query().where(Designation.id == designation_id)).first()
    if row is None:
        abort(404)  # another city's designation is not disclosed
    return render_template("designation.html", d=row.Designation, org=row.Organisation,
                           levels=LEVELS, unit_types=UNIT_TYPES, statuses=STATUSES)


@bp.get("/registry.xlsx")
@login_required
def export():
    rows = db.session.execute(_official_query().order_by(Designation.level, Designation.unit_type,
                                                          Designation.listed_on)).all()
    book = Workbook()
    sheet = book.active
    sheet.title = _("绿色制造单位名录")
    sheet.append([_("单位名称"), _("统一社会信用代码"), _("类型"), _("级别"), _("地区"), _("状态"),
                  _("公布日期"), _("终止日期"), _("终止原因"), _("工信部平台编号")])
    for d, org in rows:
        sheet.append([org.name, org.credit_code, UNIT_TYPES[d.unit_type][0], LEVELS[d.level][0],
                      JURISDICTIONS.get(d.jurisdiction, ("",))[0], STATUSES[d.status][0], d.listed_on,
                      d.ended_on, d.end_reason, d.platform_reference])
    for column, width in zip("ABCDEFGHIJ", (36, 22, 22, 8, 16, 10, 12, 12, 40, 20)):
        sheet.column_dimensions[column].width = width
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    name = f"green-manufacturing-registry-{clock.now().date().isoformat()}.xlsx"
    return send_file(out, as_attachment=True, download_name=name,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.get("/public/lists")
def public_lists():
    """The published lists (公布名单), for everyone: units currently listed."""
    query = _filtered(select(Designation, Organisation).join(Organisation).where(Designation.status == "listed"),
                      request.args)
    rows = db.session.execute(query.order_by(Designation.level.desc(), Designation.unit_type,
                                             Designation.listed_on.desc())).all()
    return render_template("public_lists.html", rows=rows, args=request.args, levels=LEVELS,
                           unit_types=UNIT_TYPES, cities=JURISDICTIONS)


@bp.get("/public/revocations")
def public_revocations():
    """Revocation announcements (撤销公告): designations revoked, with the ground."""
    rows = db.session.execute(select(Designation, Organisation).join(Organisation)
                              .where(Designation.status == "revoked")
                              .order_by(Designation.ended_on.desc())).all()
    return render_template("public_revocations.html", rows=rows, levels=LEVELS, unit_types=UNIT_TYPES)
