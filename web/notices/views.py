"""Public notices on the public site (公示, Art 15): the proposed lists with their
objection window, and the written, real-name objection with evidence."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import gettext as _

from engine import clock
from engine.db import db
from engine.green import attachments, real_name
from engine.green.notices import NoticeClosed, PublicNotice, lodge_objection

from ..accounts import ratelimit
from ..handler import Refused, writes
from ..inputs import ID_MAX
from ..model_texts import model_text

bp = Blueprint("notices", __name__, template_folder="templates", url_prefix="/public/notices")
FIELDS = ("credit_code", "real_name", "organisation", "contact", "reasons")


@bp.get("/")
def index():
    now = clock.now()
    notices = db.session.scalars(db.select(PublicNotice).order_by(PublicNotice.ends_at.desc()).limit(100)).all()
    current = [n for n in notices if n.is_open(now)]
    past = [n for n in notices if not n.is_open(now)]
    return render_template("notices/notices.html", current=current, past=past)


def _notice(notice_id: int) -> PublicNotice:
    notice = db.session.get(PublicNotice, notice_id)
    if notice is None:
        abort(404)
    return notice


def _problems(notice: PublicNotice, form) -> dict[str, str]:
    p = {}
    if notice.item(form["credit_code"]) is None:
        p["credit_code"] = _("请选择提出异议的单位。")
    if real_name.name_problem(form["real_name"]):
        p["real_name"] = _("请填写真实姓名（异议须实名），不接受“匿名”“无”“某某”“test”等代称。")
    if real_name.contact_problem(form["contact"]):
        p["contact"] = _("请填写有效的手机号码、带区号的固定电话或电子邮箱，以便核查和答复。")
    if len(form["reasons"].strip()) < 10:
        p["reasons"] = _("请具体说明异议的事实和理由（至少10个字）。")
    return p


@bp.route(f"/<int(max={ID_MAX}):notice_id>", methods=["GET", "POST"])
@writes  # the rate limit's hits, the evidence and the objection, together
def show(notice_id):
    notice = _notice(notice_id)
    form = {k: request.form.get(k, "") for k in FIELDS}
    if request.method == "GET":
        return render_template("notices/notice.html", notice=notice, form=form, problems={})
    if not notice.is_open():
        return render_template("notices/notice.html", notice=notice, form=form,
                               problems={"$": _("公示期已结束，不再受理异议。")}), 409
    key = f"public-report:{ratelimit.address()}"
    if ratelimit.exceeded(key, ratelimit.PUBLIC_REPORTS_PER_ADDRESS):
        return render_template("notices/notice.html", notice=notice, form=form,
                               problems={"$": _("提交过于频繁，请一小时后再试。")}), 429
    problems = _problems(notice, form)
    files = [(f.filename or "", f.read()) for f in request.files.getlist("evidence") if f and f.filename]
    checked, refused = attachments.check_evidence(files, _("请上传证据材料（异议须附证据，单位提出的须加盖公章）。"))
    if refused:
        problems["evidence"] = refused
    if problems:
        return render_template("notices/notice.html", notice=notice, form=form, problems=problems), 422
    ratelimit.count(key)
    saved = attachments.store(current_app.config["UPLOAD_DIR"], notice.instance_id, checked, by=form["real_name"].strip(),
                              personal=True)
    db.session.flush()
    try:
        objection = lodge_objection(notice, credit_code=form["credit_code"], real_name=form["real_name"].strip(),
                                    organisation=form["organisation"].strip(), contact=form["contact"].strip(),
                                    reasons=form["reasons"].strip(), attachment_ids=[a.id for a in saved])
    except NoticeClosed as exc:  # the window closed while the files were being stored: they are not kept
        raise Refused((render_template("notices/notice.html", notice=notice, form=form, problems={"$": model_text(str(exc))}),
                       409)) from None
    return render_template("notices/notice_objection_receipt.html", notice=notice, objection=objection), 201
