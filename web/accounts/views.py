"""Account pages (账户): one's own password and API token, and the administrators'
list of users where an account is deactivated or reactivated. Thin over the
operations in `users`, which the command line calls too."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user

from engine import clock
from engine.db import db
from engine.green import delegation
from engine.green.models import User

from ..handler import writes
from ..policy import demand
from . import users
from .users import PasswordRefused

bp = Blueprint("accounts", __name__, template_folder="templates")
TOKEN_LIFETIMES = (30, 90, 365)  # in days, as the page offers them


def _page(status=200, problems=None, token=None):
    return render_template("accounts/account.html", user=current_user, problems=problems or {}, token=token,
                           token_state=users.token_state(current_user), lifetimes=TOKEN_LIFETIMES,
                           usual=users.TOKEN_DAYS), status


@bp.get("/account")
@login_required
def own():
    return _page()


@bp.post("/account/password")
@login_required
def password():
    form = request.form
    try:
        users.change_password(current_user, form.get("old", ""), form.get("new", ""), form.get("confirm", ""))
    except PasswordRefused as refused:
        messages = {"old": _("原密码不正确。"), "new": _("新密码至少需要 %(n)s 个字符。", n=users.MIN_PASSWORD),
                    "confirm": _("两次输入的新密码不一致。")}
        return _page(422, {field: messages[field] for field in refused.fields})
    login_user(current_user._get_current_object())  # this session goes on under the new epoch; every other one has ended
    flash(_("密码已修改，其他设备上的登录已失效。"), "info")
    return redirect(url_for(".own"), 303)


@bp.post("/account/token")
@login_required
def new_token():
    """A new token, shown on this answer only (never in a redirect, a flash or a URL)."""
    days = request.form.get("days", type=int)
    if days not in TOKEN_LIFETIMES:
        days = users.TOKEN_DAYS
    token = users.issue_token(current_user, current_user.name, days)
    return _page(token=token)


@bp.post("/account/token/revoke")
@login_required
def revoke_token():
    users.revoke_token(current_user, current_user.name)
    flash(_("接口令牌已吊销。"), "info")
    return redirect(url_for(".own"), 303)


def _administrator():
    demand("users.manage")


@bp.get("/admin/users/")
@login_required
def index():
    _administrator()
    rows = db.session.scalars(db.select(User).order_by(User.role, User.jurisdiction, User.name)).all()
    now = clock.now()
    return render_template("accounts/admin_users.html", rows=rows, state=lambda u: users.token_state(u, now),
                           head_roles=delegation.DELEGATING_ROLES)


@bp.post("/admin/users/<name>/<any(deactivate, reactivate):action>")
@login_required
def change(name, action):
    _administrator()
    if name == current_user.name:
        flash(_("不能停用或恢复自己的账户，请由另一位管理员操作。"), "error")
        return redirect(url_for(".index"), 303)
    operation = users.deactivate if action == "deactivate" else users.reactivate
    operation(name, users.actor_of(current_user))  # no such account: 404, by web.handler
    flash(_("已停用账户 %(name)s。", name=name) if action == "deactivate" else _("已恢复账户 %(name)s。", name=name),
          "info")
    return redirect(url_for(".index"), 303)


@bp.post("/admin/users/<name>/head")
@login_required
@writes
def head(name):
    """An administrator marks an official a head (负责人), who then assigns his role's tasks, or no longer."""
    _administrator()
    on = request.form.get("head") == "1"
    delegation.set_head(users.find(name), on, users.actor_of(current_user))  # not an official: 403, by web.handler
    flash(_("已将 %(name)s 设为负责人。", name=name) if on else _("%(name)s 不再是负责人。", name=name), "info")
    return redirect(url_for(".index"), 303)
