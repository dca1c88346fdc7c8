"""The notification centre (通知中心): reminders, overdue notices, hand-overs, returns and
decisions addressed to me or my role, each marked read by me alone; how else I am told
(e-mail, SMS, DingTalk) and whether it arrived; the administrator's view of every delivery."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine import notifications
from engine.db import db
from engine.models import Notification
from engine.notifications import ChannelsRefused, Delivery

from .. import paging
from ..accounts.users import actor_of
from ..handler import writes
from ..inputs import ID_MAX
from ..policy import require

bp = Blueprint("notifications", __name__, template_folder="templates", url_prefix="/notifications")
PAGE = 50
ORDER = [paging.Key(Notification.at, datetime, descending=True), paging.Key(Notification.id, int, descending=True)]
DELIVERY_ORDER = [paging.Key(Delivery.id, int, descending=True)]
HEADER_CAP = 99  # "99+" tells as much as counting a role's whole history on every page
STATUSES = (notifications.PENDING, notifications.SENDING, notifications.SENT, notifications.FAILED)


@bp.app_context_processor
def header_count() -> dict:
    """The header's unread count, asked only by a page that shows the header to a signed-in user."""
    def unread_notifications() -> str:
        if not current_user.is_authenticated:
            return ""
        count = notifications.unread_count(actor_of(current_user), HEADER_CAP)
        return "" if not count else (f"{HEADER_CAP}+" if count > HEADER_CAP else str(count))

    return {"unread_notifications": unread_notifications}


def _args(*names: str) -> dict:
    return {k: v for k, v in request.args.items() if k in names and v}


@bp.get("/")
@login_required
def index():
    actor = actor_of(current_user)
    show = "unread" if request.args.get("show") == "unread" else "all"
    q = db.select(Notification, notifications.read_flag(actor).label("read")).where(notifications.for_actor(actor))
    if show == "unread":
        q = q.where(notifications.unread(actor))
    page = paging.requested(db.session, q, ORDER, PAGE, lambda row: [row.Notification.at, row.Notification.id])
    rows = [(row.Notification, bool(row.read)) for row in page.rows]
    mine: dict[int, list[Delivery]] = {n.id: [] for n, _read in rows}
    if mine:
        for d in db.session.scalars(db.select(Delivery).where(
                Delivery.notification_id.in_(mine), Delivery.account == actor.name).order_by(Delivery.id)):
            mine[d.notification_id].append(d)
    return render_template("notifications/centre.html", rows=rows, deliveries=mine, show=show, next=page.next,
                           args=_args("show", "after"))


@bp.post(f"/<int(max={ID_MAX}):notification_id>/read")
@login_required
@writes
def read(notification_id):
    actor = actor_of(current_user)
    if not notifications.mark_read(actor, (Notification.id == notification_id) & notifications.for_actor(actor)):
        seen = db.session.scalar(db.select(Notification.id).where(
            Notification.id == notification_id, notifications.for_actor(actor)))
        if seen is None:
            abort(404)
    back = {"show": "unread"} if request.form.get("show") == "unread" else {}
    return redirect(url_for(".index", **back), 303)


@bp.post("/read-all")
@login_required
@writes
def read_all():
    actor = actor_of(current_user)
    count = notifications.mark_read(actor, notifications.for_actor(actor))
    flash(_("已将 %(n)s 条通知标为已读。", n=count), "info")
    return redirect(url_for(".index"), 303)


@bp.route("/settings", methods=["GET", "POST"])
@login_required
@writes
def settings():
    row = db.session.get(notifications.ChannelSettings, current_user.name)
    available = notifications.SETTINGS.available()
    if request.method == "GET":
        return _settings_page(row, available)
    form = request.form
    on = {c for c in form.getlist("channel") if c in notifications.CHANNELS}
    entered = {"email": form.get("email", "").strip(), "mobile": form.get("mobile", "").strip(), "on": on}
    try:
        notifications.choose_channels(current_user.name, entered["email"], entered["mobile"], on)
    except ChannelsRefused as refused:
        messages = {
            ("email", "invalid"): _("请填写有效的电子邮箱地址，例如 name@example.gov.cn。"),
            ("email", "needed"): _("选择邮件通知时须填写电子邮箱。"),
            ("mobile", "invalid"): _("请填写 11 位手机号码，例如 13912345678。"),
            ("mobile", "needed"): _("选择短信或钉钉通知时须填写手机号码。"),
        }
        problems = {field: messages.get((field, what), _("本系统尚未配置此通知渠道，请联系管理员。"))
                    for field, what in refused.problems.items()}
        return _settings_page(row, available, problems, entered, 422)
    flash(_("通知方式已保存。"), "info")
    return redirect(url_for(".settings"), 303)


def _settings_page(row, available, problems=None, entered=None, status=200):
    if entered is None:
        entered = {"email": row.email if row else "", "mobile": row.mobile if row else "",
                   "on": {c for c, _address in row.chosen()} if row else set()}
    return render_template("notifications/settings.html", entered=entered, problems=problems or {},
                           available=available, channels=notifications.CHANNELS), status


@bp.get("/deliveries")
@login_required
@require("notifications.deliveries")
def deliveries():
    """Every delivery, the failed ones first to hand: what the administrator fixes a channel for."""
    status = request.args.get("status")
    q = db.select(Delivery, Notification).join(Notification, Notification.id == Delivery.notification_id)
    if status in STATUSES:
        q = q.where(Delivery.status == status)
    page = paging.requested(db.session, q, DELIVERY_ORDER, PAGE, lambda row: [row.Delivery.id])
    counts = dict(db.session.execute(db.select(Delivery.status, db.func.count()).group_by(Delivery.status)).all())
    return render_template("notifications/deliveries.html", rows=[(r.Delivery, r.Notification) for r in page.rows],
                           status=status if status in STATUSES else None, statuses=STATUSES, counts=counts,
                           next=page.next, args=_args("status", "after"))


@bp.post(f"/deliveries/<int(max={ID_MAX}):delivery_id>/retry")
@login_required
@require("notifications.deliveries")
@writes
def retry(delivery_id):
    if not notifications.retry(delivery_id):
        abort(409)
    flash(_("已重新排队发送。"), "info")
    return redirect(url_for(".deliveries", status=notifications.FAILED), 303)
