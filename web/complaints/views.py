"""Real-name reports from the public (实名举报, Art 24): the intake form with
evidence, a receipt to follow the report, and the evidence for officials."""
from __future__ import annotations

import hashlib
import io
import secrets

from flask import Blueprint, abort, current_app, render_template, request, send_file
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.db import db
from engine.errors import EngineError
from engine.green import attachments, credit_code, real_name
from engine.green import case_file as case_files
from engine.green.models import Attachment, ComplaintReceipt
from engine.green.roles import JURISDICTIONS
from engine.models import ProcessInstance
from engine.runtime import Actor

from .. import personal
from ..accounts import ratelimit
from ..accounts.users import actor_of
from ..handler import writes
from ..inputs import ID_MAX, record_id
from ..runtime import runtime

bp = Blueprint("complaints", __name__, template_folder="templates")
PROCESS = "complaint"
# the public has no account: the intake desk starts the case on their behalf
INTAKE = Actor("public-intake", "admin")
FIELDS = ("reporter_name", "contact", "target_kind", "target_name", "target_credit_code", "city", "description")


def _problems(form) -> dict[str, str]:
    p = {}
    if real_name.name_problem(form.get("reporter_name", "")):
        p["reporter_name"] = _("请填写真实姓名（举报须实名），不接受“匿名”“无”“某某”“test”等代称。")
    if real_name.contact_problem(form.get("contact", "")):
        p["contact"] = _("请填写有效的手机号码、带区号的固定电话或电子邮箱，以便答复。")
    if form.get("target_kind") not in ("unit", "agency"):
        p["target_kind"] = _("请选择被举报的是绿色制造单位还是第三方评价机构。")
    if len(form.get("target_name", "").strip()) < 2:
        p["target_name"] = _("请填写被举报单位或机构的名称。")
    code = form.get("target_credit_code", "").strip().upper()
    if code and (why := credit_code.problem(code)):
        p["target_credit_code"] = why
    if form.get("city") not in JURISDICTIONS:
        p["city"] = _("请选择所在地区。")
    if len(form.get("description", "").strip()) < 10:
        p["description"] = _("请具体说明举报事项（至少10个字）。")
    return p


@bp.route("/public/complaint", methods=["GET", "POST"])
@writes  # the rate limit's hits
def intake():
    form = {k: request.form.get(k, "") for k in FIELDS}
    if request.method == "GET":
        return render_template("complaints/complaint.html", form=form, problems={}, cities=JURISDICTIONS)
    key = f"public-report:{ratelimit.address()}"
    if ratelimit.exceeded(key, ratelimit.PUBLIC_REPORTS_PER_ADDRESS):
        return render_template("complaints/complaint.html", form=form, cities=JURISDICTIONS,
                               problems={"evidence": _("提交过于频繁，请一小时后再试。")}), 429
    problems = _problems(form)
    files = [(f.filename or "", f.read()) for f in request.files.getlist("evidence") if f and f.filename]
    checked, refused = attachments.check_evidence(files, _("请上传证据材料（举报须附证据）。"))
    if refused:
        problems["evidence"] = refused
    if problems:
        return render_template("complaints/complaint.html", form=form, problems=problems, cities=JURISDICTIONS), 422
    code = secrets.token_urlsafe(9)
    data = {
        "reporter": {"name": form["reporter_name"].strip(), "contact": form["contact"].strip()},
        "target": {"kind": form["target_kind"], "name": form["target_name"].strip(),
                   "credit_code": form["target_credit_code"].strip().upper() or None},
        "description": form["description"].strip(),
    }

    def records(case):
        attachments.store(current_app.config["UPLOAD_DIR"], case.id, checked, by=data["reporter"]["name"], personal=True)
        db.session.add(ComplaintReceipt(instance_id=case.id, code_hash=_hash(code)))

    ratelimit.count(key)
    try:
        case = runtime().start(PROCESS, data, INTAKE, form["city"], records=records)
    except EngineError as exc:
        current_app.logger.error("complaint intake failed: %s", exc.message)
        abort(503)
    return render_template("complaints/complaint_receipt.html", number=case.id, code=code), 201


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


@bp.get("/public/complaint/status")
def status():
    number, code = request.args.get("no", "").strip(), request.args.get("code", "").strip()
    case, receipt_no = None, record_id(number)
    if receipt_no is not None and code:
        receipt = db.session.get(ComplaintReceipt, receipt_no)
        if receipt is not None and secrets.compare_digest(receipt.code_hash, _hash(code)):
            case = db.session.get(ProcessInstance, receipt_no)
    asked = bool(number or code)
    return render_template("complaints/complaint_status.html", case=case, asked=asked, number=number), (404 if asked and not case else 200)


@bp.get(f"/attachments/<int(max={ID_MAX}):attachment_id>")
@login_required
def download(attachment_id):
    item = db.session.get(Attachment, attachment_id)
    # evidence is as confidential as its case, and a reporter's as their name: not found for others
    if item is None or not personal.may_download(item, actor_of(current_user)):
        abort(404)
    content = attachments.read(current_app.config["UPLOAD_DIR"], item)
    # a preview opens in the browser: only the types whose content the upload checked (PDF, PNG, JPEG)
    preview = request.args.get("preview") == "1" and item.content_type in case_files.PREVIEWABLE
    return send_file(io.BytesIO(content), mimetype=item.content_type, as_attachment=not preview,
                     download_name=item.original_name)
