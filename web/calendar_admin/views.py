"""The administrators' page for the official holiday calendar (节假日安排).

Each December the next year's working days are counted on a provisional calendar until
the State Council's notice comes out; here an administrator enters it from the notice's
own text (typed or uploaded, with its 文号), sees the dry run of every provisional date
it settles, and confirms. The operations are `engine.holidays`; this view reads the
request and answers. Only administrators (403 for everyone else, on the server).
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func

from engine import clock, statutory_calendar
from engine.db import db
from engine.errors import Conflict
from engine.holidays import ArrangementInvalid, enter, preview, read
from engine.models import HumanTask, OfficialCalendarYear, PendingTimer

from ..model_texts import model_text
from ..policy import demand
from ..runtime import runtime

bp = Blueprint("holiday_calendar", __name__, template_folder="templates", url_prefix="/admin/calendar")
MAX_NOTICE_BYTES = 64 * 1024  # a year's arrangement is a few dozen lines


@bp.before_request
@login_required
def _administrators_only():
    demand("calendar.enter")


def _years() -> list[dict]:
    """This year and the next two: where their working days come from, and what waits on them."""
    this_year = clock.now().year
    entered = {y.year: y for y in db.session.scalars(db.select(OfficialCalendarYear))}
    waiting = dict(db.session.execute(
        db.select(HumanTask.due_provisional_year, func.count()).where(HumanTask.due_provisional_year.is_not(None))
        .group_by(HumanTask.due_provisional_year)).all())
    for year, n in db.session.execute(
            db.select(PendingTimer.provisional_year, func.count()).where(PendingTimer.provisional_year.is_not(None))
            .group_by(PendingTimer.provisional_year)).all():
        waiting[year] = waiting.get(year, 0) + n
    return [{"year": y, "package": statutory_calendar.package_covers(y), "entered": entered.get(y),
             "provisional_dates": waiting.get(y, 0)} for y in range(this_year, this_year + 3)]


def _form() -> tuple[int | None, str, str]:
    year = request.form.get("year", type=int)
    source = request.form.get("source", "").strip()
    text = request.form.get("text", "")
    upload = request.files.get("file")
    if upload and upload.filename:
        raw = upload.read(MAX_NOTICE_BYTES + 1)
        if len(raw) > MAX_NOTICE_BYTES:
            raise ArrangementInvalid(_("文件过大：节假日安排不超过 64 KB。"))
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ArrangementInvalid(_("文件不是 UTF-8 编码的文本。")) from None
    if year is None:
        raise ArrangementInvalid(_("请填写年份。"))
    return year, source, text


@bp.get("/")
def index():
    return render_template("calendar_admin/holiday_calendar.html", years=_years(), entry={"year": clock.now().year + 1},
                           changes=None, arrangement=None)


@bp.post("/preview")
def dry_run():
    entry = {k: request.form.get(k, "") for k in ("year", "source", "text")}
    try:
        year, source, text = _form()
        entry.update(year=year, source=source, text=text)
        arrangement = read(year, text, source)
        changes = preview(runtime(), arrangement)
    except ArrangementInvalid as exc:
        return render_template("calendar_admin/holiday_calendar.html", years=_years(), entry=entry, error=model_text(str(exc)),
                               changes=None, arrangement=None), 422
    return render_template("calendar_admin/holiday_calendar.html", years=_years(), entry=entry, arrangement=arrangement,
                           changes=changes)


@bp.post("/enter")
def confirm():
    entry = {k: request.form.get(k, "") for k in ("year", "source", "text")}
    try:
        year, source, text = _form()
        changes = enter(runtime(), read(year, text, source), current_user.name)
    except (ArrangementInvalid, Conflict) as exc:  # a conflict: a case moved meanwhile; nothing was entered
        return render_template("calendar_admin/holiday_calendar.html", years=_years(), entry=entry, error=model_text(str(exc)),
                               changes=None, arrangement=None), 409 if isinstance(exc, Conflict) else 422
    if changes is None:
        flash(_("%(year)s 年节假日安排已录入，内容相同，未作改动。", year=year), "info")
    else:
        moved = sum(c.outcome == "moved" for c in changes)
        flash(_("已录入 %(year)s 年节假日安排（%(source)s）；%(moved)s 个暂定日期已更正。",
                year=year, source=source, moved=moved), "info")
    return redirect(url_for("holiday_calendar.index"))
