"""Signing in and out (登录) for the web pages; the API uses tokens instead."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import LoginManager, login_required, login_user, logout_user

from engine.db import db
from engine.models import User

from . import ratelimit
from .inputs import local_path
from .users import SignInRefused, sign_in

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"


@login_manager.user_loader
def _load(user_id: str):
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


@login_manager.unauthorized_handler
def _unauthorized():
    flash(_("请先登录。"), "info")
    return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))


def _safe_next(target: str | None) -> str:
    # only paths on this site: never an open redirect
    return local_path(target) or url_for("inbox.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    name = request.form.get("username", "").strip()
    if request.method == "POST":
        key = f"sign-in:{ratelimit.address()}"
        if ratelimit.exceeded(key, ratelimit.FAILED_SIGN_INS_PER_ADDRESS):
            flash(_("登录失败次数过多，请稍后再试。"), "error")
            return render_template("login.html", username=name), 429
        try:
            user = sign_in(name, request.form.get("password", ""))
        except SignInRefused as refused:
            ratelimit.count(key)
            if refused.message == "wrong":
                flash(_("用户名或密码错误。"), "error")
            else:
                flash(_("连续输错密码次数过多，账户已锁定，请稍后再试。"), "error")
            return render_template("login.html", username=name), 401
        session.clear()
        login_user(user)
        session.permanent = True
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", username=name)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.get("/lang/<code>")
def language(code):
    if code in ("zh_CN", "en"):
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next")))
