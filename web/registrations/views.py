"""Organisations' own accounts (单位注册): an enterprise, park body or agency registers
itself; the city its registered address lies in confirms it; a confirmed account adds
its colleagues. Thin over `engine.green.registrations` and the account operations."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user

from engine.green import registrations
from engine.green.roles import JURISDICTIONS
from engine.green.roles import ROLES as ROLE_NAMES

from ..accounts import ratelimit, users
from ..handler import Refused, writes
from ..inputs import ID_MAX
from ..policy import require
from ..templating import name_in

bp = Blueprint("registrations", __name__, template_folder="templates")
FIELDS = (*registrations.FIELDS, "account", "display_name")


def messages() -> dict[str, str]:
    """Each refusal code of a field, as the reader reads it."""
    return {
        "role": _("请选择注册为申报单位还是第三方评价机构。"),
        "organisation_name": _("请填写营业执照上的单位全称，不接受“测试”“某某”等代称。"),
        "credit_code": _("统一社会信用代码应为18位，且校验码正确。"),
        "registered": _("该统一社会信用代码已注册。同一单位的其他人员请由本单位已确认的账户添加。"),
        "person_name": _("请填写真实姓名，不接受“匿名”“无”“某某”“test”等代称。"),
        "address": _("请填写营业执照上的注册地址。"),
        "division_code": _("请填写注册地址所在的甘肃省行政区划代码（6位，如城关区 620102，兰州新区 620171）。"),
        "mobile": _("请填写11位中国大陆手机号码。"),
        "account": _("登录名为3至80位字母、数字、点、下划线或连字符，以字母或数字开头。"),
        "account_taken": _("该登录名已被使用，请换一个。"),
        "password": _("密码至少需要 %(n)s 个字符。", n=users.MIN_PASSWORD),
        "reason": _("请填写不予确认的理由。"),
    }


def _register_page(form, problems, status=200):
    return render_template("registrations/register.html", form=form, roles=ROLE_NAMES,
                           problems={k: messages()[v] for k, v in problems.items()}), status


@bp.route("/register", methods=["GET", "POST"])
@writes
def register():
    form = {k: request.form.get(k, "") for k in FIELDS}
    if request.method == "GET":
        return _register_page(form, {})
    key = f"register:{ratelimit.address()}"
    if ratelimit.exceeded(key, ratelimit.PUBLIC_REPORTS_PER_ADDRESS):
        flash(_("提交过于频繁，请一小时后再试。"), "error")
        return _register_page(form, {}, 429)
    ratelimit.count(key)
    details = {k: form[k] for k in registrations.FIELDS}
    try:
        user = users.register(details, form["account"], request.form.get("password", ""), form["display_name"])
    except users.RegistrationRefused as refused:
        raise Refused(_register_page(form, refused.fields, 422)) from None
    users.db.session.flush()  # the session names the account by its id
    login_user(user)
    row = registrations.registration_of(user)
    flash(_("注册信息已提交，待%(city)s工业和信息化主管部门确认后即可申报。", city=name_in(JURISDICTIONS, row.jurisdiction)),
          "info")
    return redirect(url_for(".organisation"), 303)


@bp.get("/organisation")
@login_required
def organisation(problems=None, form=None, status=200):
    row = registrations.registration_of(current_user)
    if row is None:
        return render_template("registrations/organisation.html", row=None), 404
    return render_template("registrations/organisation.html", row=row, members=registrations.accounts_of(row), problems=problems or {},
                           form=form or {}, statuses=registrations.STATUSES), status


@bp.post("/organisation/colleagues")
@login_required
@writes
def add_colleague():
    form = {k: request.form.get(k, "") for k in ("account", "display_name")}
    try:
        users.add_colleague(current_user, form["account"], request.form.get("password", ""), form["display_name"])
    except users.RegistrationRefused as refused:
        raise Refused(organisation({k: messages()[v] for k, v in refused.fields.items()}, form, 422)) from None
    flash(_("已为本单位添加账户 %(name)s。", name=form["account"]), "info")
    return redirect(url_for(".organisation"), 303)


@bp.get("/registrations/")
@login_required
@require("registrations.confirm")
def pending():
    rows = registrations.pending_in(users.actor_of(current_user))
    return render_template("registrations/pending.html", rows=rows, problems={})


@bp.post(f"/registrations/<int(max={ID_MAX}):registration_id>/<any(confirm, refuse):decision>")
@login_required
@require("registrations.confirm")
@writes
def decide(registration_id, decision):
    try:
        row = registrations.decide(registration_id, users.actor_of(current_user), decision == "confirm",
                                   request.form.get("reason"))
    except registrations.RegistrationRefused:
        rows = registrations.pending_in(users.actor_of(current_user))
        raise Refused((render_template("registrations/pending.html", rows=rows,
                                       problems={registration_id: messages()["reason"]}), 422)) from None
    flash(_("已确认 %(name)s 的注册。", name=row.name) if decision == "confirm"
          else _("已不予确认 %(name)s 的注册。", name=row.name), "info")
    return redirect(url_for(".pending"), 303)
