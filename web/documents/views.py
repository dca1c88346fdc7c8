"""Documents (文书) as PDFs: a case's documents for whoever may see the case and have them
(`papers.may_have`), a public notice's for everyone, and the administrators' page that sets
how each department writes its document numbers (文号格式).

A document is produced from the record on each download; a missing font is the
deployment's fault and answered 503 with what to install, never a 500.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine import clock
from engine.db import db
from engine.green import documents
from engine.green.notices import PublicNotice
from engine.green.registrations import Registration
from engine.models import ProcessInstance

from .. import personal
from ..accounts.users import actor_of
from ..cases.views import CASE_ID, visible_case
from ..handler import Refused, writes
from ..inputs import ID_MAX
from ..policy import require
from ..runtime import runtime
from ..templating import name_in
from . import papers
from .render import FontMissing, Paper, font_file, pdf

bp = Blueprint("documents", __name__, template_folder="templates")


def _pdf(paper: Paper, name: str) -> Response:
    try:
        body = pdf(paper, font_file(current_app.config.get("DOCUMENT_FONT")))
    except FontMissing as exc:
        current_app.logger.error("%s", exc)
        return Response(_("文书字体未安装，暂不能生成文书，请联系管理员。") + f"\n{exc}", status=503,
                        mimetype="text/plain")
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f"attachment; filename={name}", "Cache-Control": "private, no-store"})


@bp.get(f"/cases/{CASE_ID}/documents/<any({', '.join(papers.TITLES)}):kind>.pdf")
@login_required
def case_document(instance_id, kind):
    case = _case_for_reader(instance_id)
    try:
        paper = papers.paper(case, kind, actor_of(current_user))
    except papers.NoSuchDocument:
        abort(404)
    if kind in papers.PERSONAL_DOCUMENTS:  # the reporter's name read, as on the case page: audited
        personal.case_data(case, actor_of(current_user), via=f"document {kind}")
    return _pdf(paper, papers.file_name(case, kind))


def _case_for_reader(instance_id: int) -> ProcessInstance:
    """The case, if the reader may see it or is the unit its decisions are addressed to; else 404,
    as for a missing case."""
    case = db.session.get(ProcessInstance, instance_id)
    if case is not None and current_user.role == "applicant" and current_user.registration_id is not None \
            and not runtime().may_see(actor_of(current_user), instance_id):
        registration = db.session.get(Registration, current_user.registration_id)
        if registration.status == "confirmed" and registration.credit_code in papers.addressed_units(case):
            return case
    return visible_case(instance_id)


@bp.get(f"/public/notices/<int(max={ID_MAX}):notice_id>.pdf")
def public_notice(notice_id):
    """A public notice (公示) as published: anyone may have it, as anyone may read it."""
    notice = db.session.get(PublicNotice, notice_id)
    if notice is None:
        abort(404)
    return _pdf(papers.public_notice(notice), f"public-notice-{notice.id}.pdf")


@bp.get("/admin/document-numbers")
@login_required
@require("documents.number_patterns")
def number_patterns():
    return _patterns_page()


def _pattern_problem(why: str) -> str:
    return {
        "empty": _("请填写文号格式。"),
        "too_long": _("文号格式不超过 %(n)s 个字符。", n=documents.MAX_PATTERN),
        "placeholders": _("文号格式须含 {year}（年份）和 {number}（序号）各一次。"),
        "unknown_placeholder": _("文号格式只能用 {year} 和 {number} 两个占位符。"),
    }.get(why, why)


def _patterns_page(entry: dict | None = None, status: int = 200):
    year = clock.now().year
    rows = [{"department": d, "name": name_in(documents.DEPARTMENTS, d), "pattern": documents.pattern_of(d),
             "next": documents.write(documents.pattern_of(d), year, n)}
            for d, n in documents.next_numbers(year).items()]
    return render_template("documents/number_patterns.html", rows=rows, year=year, entry=entry or {}), status


@bp.post("/admin/document-numbers/<department>")
@login_required
@require("documents.number_patterns")
@writes  # the pattern and its audit event, together
def set_number_pattern(department):
    if department not in documents.DEPARTMENTS:
        abort(404)
    pattern = request.form.get("pattern", "")
    try:
        documents.set_pattern(department, pattern, current_user.name)
    except documents.PatternInvalid as exc:
        problem = _pattern_problem(exc.why)
        raise Refused(_patterns_page({"department": department, "pattern": pattern, "problem": problem}, 422)) \
            from None
    flash(_("已设置%(name)s的文号格式。", name=name_in(documents.DEPARTMENTS, department)), "info")
    return redirect(url_for(".number_patterns"), 303)
