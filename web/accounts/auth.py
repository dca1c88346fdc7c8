"""Signing in and out (登录) for the web pages; the API uses tokens instead.

A session names the account and the account's session epoch; the loader below
refuses a session whose epoch is not the account's any more (signed out, new
password, deactivated), so a copied or replayed cookie opens nothing.
"""
from __future__ import annotations

import math

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import LoginManager, current_user, login_required, login_user, logout_user

from engine.db import db
from engine.green.models import User

from ..handler import writes
from ..inputs import local_path
from . import ratelimit
from .users import LANGUAGES, SignInRefused, choose_language, sign_in, sign_out

bp = Blueprint("auth", __name__, template_folder="templates")
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"


@login_manager.user_loader
def _load(session_id: str):
    user_id, _sep, epoch = session_id.partition(":")
    if not (user_id.isdigit() and epoch.isdigit()):
        return None  # a session from before epochs existed: sign in again
    user = db.session.get(User, int(user_id))
    if user is None or not user.is_active or (user.session_epoch or 0) != int(epoch):
        return None
    return user


@login_manager.unauthorized_handler
def _unauthorized():
    flash(_("请先登录。"), "info")
    return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))


def _safe_next(target: str | None) -> str:
    # only paths on this site: never an open redirect
    return local_path(target) or url_for("inbox.index")


def _too_many(name: str, wait=None):
    flash(_("登录失败次数过多，请稍后再试。"), "error")
    headers = {"Retry-After": str(math.ceil(wait.total_seconds()))} if wait else {}
    return render_template("accounts/login.html", username=name), 429, headers


@bp.route("/login", methods=["GET", "POST"])
@writes  # the rate limit's hits
def login():
    name = request.form.get("username", "").strip()
    if request.method == "GET":
        return render_template("accounts/login.html", username=name)
    address = ratelimit.address()
    spraying, pair = f"sign-in:{address}", ratelimit.sign_in_pair(name, address)
    if ratelimit.exceeded(spraying, ratelimit.FAILED_SIGN_INS_PER_ADDRESS):
        return _too_many(name)
    wait = ratelimit.wait_before_next(pair)
    if wait is not None:
        return _too_many(name, wait)
    try:
        user = sign_in(name, request.form.get("password", ""))
    except SignInRefused as refused:
        ratelimit.count(spraying)
        ratelimit.count(pair)
        if refused.message == "deactivated":
            flash(_("该账户已停用，请联系系统管理员。"), "error")
        else:
            flash(_("用户名或密码错误。"), "error")
        return render_template("accounts/login.html", username=name), 401
    ratelimit.forget(pair)
    chosen = session.get("lang")  # chosen on the sign-in page: the newest choice, kept on the account
    if chosen:
        choose_language(user, chosen)
    session.clear()
    login_user(user)
    if user.language:
        session["lang"] = user.language
    session.permanent = True
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
@login_required
def logout():
    sign_out(current_user)  # ends this session and every other one of the account, on the server
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.get("/lang/<code>")
def language(code):
    """A link from every page; the choice stays with the browser's session and, once signed in, the account."""
    if code in LANGUAGES:
        session["lang"] = code
        if current_user.is_authenticated:
            choose_language(current_user, code)
    return redirect(_safe_next(request.args.get("next")))
