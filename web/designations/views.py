"""The registry of designations (绿色制造单位名录) for officials, with each
designation's history and an Excel export; and the public lists."""
from __future__ import annotations

import uuid
from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from engine import clock, jobs
from engine.db import db
from engine.errors import EngineError, Forbidden
from engine.green.cultivation import links_of
from engine.green.models import LEVELS, STATUSES, UNIT_TYPES, Designation, Organisation
from engine.green.revocations import GROUNDS, RevocationAnnouncement, not_yet_public, public_announcements
from engine.green.roles import JURISDICTIONS

from .. import exports, paging
from ..accounts.users import actor_of
from ..inputs import ID_MAX, YEAR
from ..jobs.views import export_dir
from ..model_texts import model_text
from ..policy import demand, may
from ..runtime import runtime
from ..templating import name_in

bp = Blueprint("registry", __name__, template_folder="templates")
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
    demand("designations.read")  # a city's officials see their own city only
    query = select(Designation, Organisation).join(Organisation)
    return _filtered(query, request.args, city=current_user.jurisdiction)


# newest listing first; the index ix_designation_listed_on_id (migration 0022) serves it
REGISTRY_ORDER = [paging.Key(Designation.listed_on, date, descending=True),
                  paging.Key(Designation.id, int, descending=True)]


@bp.get("/registry/")
@login_required
def index():
    page = paging.requested(db.session, _official_query(), REGISTRY_ORDER, PAGE,
                            lambda row: [row.Designation.listed_on, row.Designation.id])
    return render_template("designations/registry.html", rows=page.rows, next=page.next, args=request.args,
                           levels=LEVELS, unit_types=UNIT_TYPES, statuses=STATUSES, cities=JURISDICTIONS)


# the province spot-checks provincial and national units only (Art 20 ¶2)
SPOT_CHECKED_LEVELS = ("provincial", "national")


def _designation_row(designation_id):
    row = db.session.execute(_official_query().where(Designation.id == designation_id)).first()
    if row is None:
        abort(404)  # another city's designation is not disclosed
    return row


def _detail_page(row, form=None, problems=None, status=200):
    designation_id = row.Designation.id
    announcement = db.session.scalar(select(RevocationAnnouncement)
                                     .where(RevocationAnnouncement.designation_id == designation_id))
    listed = row.Designation.status == "listed"
    return render_template(
        "designations/designation.html", d=row.Designation, org=row.Organisation, announcement=announcement,
        grounds=GROUNDS, today=clock.now().date(), levels=LEVELS, unit_types=UNIT_TYPES, statuses=STATUSES,
        links=links_of(row.Organisation),
        may_spot_check=listed and may(current_user, "designations.spot_check") and row.Designation.level in SPOT_CHECKED_LEVELS,
        may_propose=listed and may(current_user, "designations.propose_revocation"), form=form or {}, problems=problems or {}), status


@bp.get(f"/registry/<int(max={ID_MAX}):designation_id>")
@login_required
def detail(designation_id):
    return _detail_page(_designation_row(designation_id))


def _start(process_id, data, designation):
    case = runtime().start(process_id, data, actor_of(current_user), designation.jurisdiction)
    flash(_("已立案：第 %(id)s 号案件。", id=case.id), "success")
    return redirect(url_for("cases.show", instance_id=case.id), 303)


@bp.post(f"/registry/<int(max={ID_MAX}):designation_id>/spot-check")
@login_required
def start_spot_check(designation_id):
    """The province opens a spot check (抽查复核) of one unit: one case per unit."""
    row = _designation_row(designation_id)
    designation = row.Designation
    demand("designations.spot_check")
    form = {"batch": request.form.get("batch", "").strip()}
    problems = {}
    if designation.status != "listed" or designation.level not in SPOT_CHECKED_LEVELS:
        problems["spot_check"] = _("只能抽查有效的省级、国家级绿色制造单位。")
    if len(form["batch"]) < 2:
        problems["batch"] = _("请填写抽查批次。")
    if problems:
        return _detail_page(row, form, problems, 422)
    try:
        return _start("spot_check", {"designation_id": designation.id, "batch": form["batch"]}, designation)
    except Forbidden:
        raise  # answered by web.handler: 403
    except EngineError as exc:
        return _detail_page(row, form, {"spot_check": model_text(exc.message)}, 422)


@bp.post(f"/registry/<int(max={ID_MAX}):designation_id>/revocation")
@login_required
def start_revocation(designation_id):
    """A city (its own units) or the province proposes to revoke (取消资格) on an Art 21 ground."""
    row = _designation_row(designation_id)
    designation = row.Designation
    demand("designations.propose_revocation")
    form = {"ground": request.form.get("ground", ""), "facts": request.form.get("facts", "").strip()}
    problems = {}
    if designation.status != "listed":
        problems["revocation"] = _("该称号已终止。")
    if form["ground"] not in GROUNDS:
        problems["ground"] = _("请选择第二十一条规定的取消情形。")
    if len(form["facts"]) < 4:
        problems["facts"] = _("请说明事实（至少4个字）。")
    if problems:
        return _detail_page(row, form, problems, 422)
    try:
        return _start("revocation", {"designation_id": designation.id, **form}, designation)
    except Forbidden:
        raise  # answered by web.handler: 403
    except EngineError as exc:
        return _detail_page(row, form, {"revocation": model_text(exc.message)}, 422)


# A larger register than this is exported in the background (a job with its progress bar):
# 10,000 rows take about 2 s, more than a page should keep an official waiting without a word.
EXPORT_IN_REQUEST = 5000


def _registry_columns():
    # plain columns, not ORM objects: 10,000 designations with their organisations would
    # cost more to build as objects than to write; streamed from the cursor in batches
    return select(Organisation.name, Organisation.credit_code, Designation.unit_type, Designation.level,
                  Designation.jurisdiction, Designation.status, Designation.listed_on, Designation.ended_on,
                  Designation.end_reason, Designation.platform_reference).join(Organisation)


def _registry_book(args, city, progress=None):
    """The register as a workbook, filtered as the list page is; (book, rows written)."""
    query = _filtered(_registry_columns(), args, city=city)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) if progress else None
    rows = db.session.execute(query.order_by(Designation.level, Designation.unit_type, Designation.listed_on,
                                             Designation.id).execution_options(yield_per=1000))
    book = exports.workbook()
    sheet = exports.sheet(book, _("绿色制造单位名录"), [
        _("单位名称"), _("统一社会信用代码"), _("类型"), _("级别"), _("地区"), _("状态"),
        _("公布日期"), _("终止日期"), _("终止原因"), _("工信部平台编号")], (36, 22, 22, 8, 16, 10, 12, 12, 40, 20))
    # the names in the reader's language, once per code rather than once per row
    unit_types, levels, statuses = ({code: name_in(table, code) for code in table}
                                    for table in (UNIT_TYPES, LEVELS, STATUSES))
    cities = {code: name_in(JURISDICTIONS, code) for code in JURISDICTIONS}
    n = 0
    for n, r in enumerate(rows, 1):
        sheet.append([r.name, r.credit_code, unit_types.get(r.unit_type, r.unit_type), levels.get(r.level, r.level),
                      cities.get(r.jurisdiction, r.jurisdiction or ""), statuses.get(r.status, r.status),
                      r.listed_on, r.ended_on, r.end_reason, r.platform_reference])
        if progress is not None and n % 500 == 0:
            progress(n, total)
    return book, n


@bp.get("/registry.xlsx")
@login_required
def export():
    demand("designations.read")
    city = current_user.jurisdiction
    count = db.session.scalar(select(func.count()).select_from(_filtered(
        select(Designation.id), request.args, city=city).subquery()))
    if count > current_app.config.get("EXPORT_IN_REQUEST", EXPORT_IN_REQUEST):
        job = jobs.submit("registry_export", {"args": request.args.to_dict(), "city": city,
                                              "locale": str(get_locale())}, by=current_user.name)
        return redirect(url_for("jobs.show", job_id=job.id), 303)
    book, _rows = _registry_book(request.args, city)
    return exports.download(book, "green-manufacturing-registry")


@jobs.kind("registry_export")
def _export_in_the_background(params: dict, progress) -> dict:
    """A large register export as a job: the same workbook, in the language of whoever asked, saved
    for the job page's download link."""
    with force_locale(params["locale"]):
        book, rows = _registry_book(params["args"], params["city"], progress)
        name = f"registry-{uuid.uuid4().hex}.xlsx"
        book.save(export_dir() / name)
        progress(rows, rows)
        return {"file": name, "rows": rows, "mimetype": exports.XLSX,
                "download_name": f"green-manufacturing-registry-{clock.now():%Y%m%d}.xlsx"}


@bp.get("/public/lists")
def public_lists():
    """The published lists (公布名单), for everyone: units currently listed. A
    designation whose end is decided but not yet announced is still on the list
    until its announcement (Art 21: revoked with the year's publication)."""
    shown = (Designation.status == "listed") | Designation.id.in_(not_yet_public())
    # a status filter here would tell which listed units are about to be revoked
    args = {k: v for k, v in request.args.items() if k != "status"}
    query = _filtered(select(Designation, Organisation).join(Organisation).where(shown), args)
    page = paging.requested(db.session, query, PUBLIC_ORDER, PAGE, lambda row: [
        row.Designation.level, row.Designation.unit_type, row.Designation.listed_on, row.Designation.id])
    return render_template("designations/public_lists.html", rows=page.rows, next=page.next, args=request.args,
                           levels=LEVELS, unit_types=UNIT_TYPES, cities=JURISDICTIONS)


# by level (as the list always ran), the unit types in the order Art 2 names them (their codes sort
# so), newest listing first: the order of the index ix_designation_public_order (migration 0022)
PUBLIC_ORDER = [paging.Key(Designation.level, str, descending=True), paging.Key(Designation.unit_type, str),
                paging.Key(Designation.listed_on, date, descending=True), paging.Key(Designation.id, int, descending=True)]


@bp.get("/public/revocations")
def public_revocations():
    """Revocation announcements (撤销公告), by year: only those already public
    (at once for a major accident or incident, else from the year's publication)."""
    rows = db.session.execute(public_announcements().order_by(RevocationAnnouncement.public_on.desc(),
                                                              RevocationAnnouncement.id.desc())).all()
    years = sorted({r.RevocationAnnouncement.public_on.year for r in rows}, reverse=True)
    year = request.args.get("year", type=YEAR)
    by_year = {y: [r for r in rows if r.RevocationAnnouncement.public_on.year == y]
               for y in years if year in (None, y)}
    return render_template("designations/public_revocations.html", by_year=by_year, years=years, year=year, levels=LEVELS,
                           unit_types=UNIT_TYPES, statuses=STATUSES, grounds=GROUNDS, cities=JURISDICTIONS)
