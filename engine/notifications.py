"""Notifications that reach people (通知送达): who is told what, how, and whether it arrived.

A notification (`engine.models.Notification`) is addressed as a task is, to a role within a city or
to one account; everyone it is addressed to sees it in their notification centre and marks it read
for themselves (`NotificationRead`). Besides the centre, each person may choose to be told by
e-mail, by SMS or by a DingTalk-style webhook (`ChannelSettings`).

Nothing is sent inside a step. `post` writes the notification and one `Delivery` row per chosen
channel of each person it reaches, in the caller's transaction: they commit with the step or not
at all, and a step never waits on a mail server. After the commit the delivery worker
(`DeliveryWorker`, in the timers process) claims due rows, sends them and records the outcome:
a failure is tried again after a back-off that doubles each time, and after `max_attempts` the row
ends `failed`, with its last error, for the person and the administrator to see. Claiming is a
conditional update (`status` still claimable), under SKIP LOCKED on PostgreSQL, so two workers
never send one row twice; a worker that dies while sending leaves its rows to be claimed again
once their lease has run out.
"""
from __future__ import annotations

import json
import logging
import os
import re
import smtplib
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    and_,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from . import clock
from .actors import Actor, addressed_to
from .db import db, writing
from .models import Aware, Notification
from .polling import PollingWorker

log = logging.getLogger(__name__)

# what a notification is about (提醒 / 逾期督办 / 期限调整 / 转办 / 退回补正 / 办理结果 / 终止办理)
KINDS = ("reminder", "overdue", "rescheduled", "handover", "returned", "decided", "ended")
CHANNELS = ("email", "sms", "dingtalk")
PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"

EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$")
MOBILE = re.compile(r"^1[3-9]\d{9}$")  # a mainland mobile number, as SMS gateways and DingTalk take it


class NotificationRead(db.Model):
    """One person's having read a notification (已读): a notification to a role is read by each
    of its officials on their own."""

    __tablename__ = "notification_read"
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notification.id", ondelete="CASCADE"), primary_key=True)
    account: Mapped[str] = mapped_column(String(80), primary_key=True)
    read_at: Mapped[datetime] = mapped_column(Aware())


class ChannelSettings(db.Model):
    """How a person wants to be told besides the centre (通知方式): an e-mail address, a mobile
    number for SMS and DingTalk, and which of the channels are on."""

    __tablename__ = "notification_channels"
    account: Mapped[str] = mapped_column(String(80), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254))
    mobile: Mapped[str | None] = mapped_column(String(20))
    email_on: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    sms_on: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    dingtalk_on: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(Aware())

    def chosen(self) -> list[tuple[str, str]]:
        return chosen(self)


def chosen(row) -> list[tuple[str, str]]:
    """(channel, address) for each channel of a person's settings that is on and has its address."""
    out = []
    if row.email_on and row.email:
        out.append(("email", row.email))
    if row.sms_on and row.mobile:
        out.append(("sms", row.mobile))
    if row.dingtalk_on and row.mobile:
        out.append(("dingtalk", row.mobile))
    return out


class Delivery(db.Model):
    """A notification on its way to one person by one channel (投递): the outbox row."""

    __tablename__ = "notification_delivery"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notification.id", ondelete="CASCADE"), index=True)
    account: Mapped[str] = mapped_column(String(80))
    channel: Mapped[str] = mapped_column(String(16))  # email | sms | dingtalk
    address: Mapped[str] = mapped_column(String(254))  # as it was when the notification was written
    status: Mapped[str] = mapped_column(String(16))  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(Aware())
    next_attempt_at: Mapped[datetime] = mapped_column(Aware())
    # a claimed row whose worker died is claimable again once this has passed
    lease_until: Mapped[datetime | None] = mapped_column(Aware())
    sent_at: Mapped[datetime | None] = mapped_column(Aware())
    last_error: Mapped[str | None] = mapped_column(Text)

    # the worker's question: which rows are due, in due order
    __table_args__ = (Index("ix_notification_delivery_due", "status", "next_attempt_at"),)


@dataclass
class Settings:
    """Where the channels go, from the environment (README: Notifications)."""

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "green-ladder@localhost"
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    sms_webhook_url: str | None = None
    dingtalk_webhook_url: str | None = None
    public_url: str | None = None  # where the centre is, for the link in a message
    max_attempts: int = 6
    retry_seconds: float = 60  # the first back-off; each later one doubles
    lease_seconds: float = 300
    timeout_seconds: float = 10
    poll_seconds: float = 2

    @classmethod
    def from_environment(cls, env=os.environ) -> Settings:
        def number(name, default, kind=float):
            return kind(env.get(name) or default)

        return cls(
            smtp_host=env.get("SMTP_HOST") or None, smtp_port=number("SMTP_PORT", 25, int),
            smtp_from=env.get("SMTP_FROM") or "green-ladder@localhost",
            smtp_user=env.get("SMTP_USER") or None, smtp_password=env.get("SMTP_PASSWORD") or None,
            smtp_starttls=env.get("SMTP_STARTTLS", "0") == "1",
            sms_webhook_url=env.get("SMS_WEBHOOK_URL") or None,
            dingtalk_webhook_url=env.get("DINGTALK_WEBHOOK_URL") or None,
            public_url=(env.get("PUBLIC_URL") or "").rstrip("/") or None,
            max_attempts=number("NOTIFY_MAX_ATTEMPTS", 6, int), retry_seconds=number("NOTIFY_RETRY_SECONDS", 60),
            lease_seconds=number("NOTIFY_LEASE_SECONDS", 300), timeout_seconds=number("NOTIFY_TIMEOUT_SECONDS", 10),
            poll_seconds=number("NOTIFY_POLL_SECONDS", 2))

    def available(self) -> set[str]:
        """The channels this server can send by."""
        return {name for name, where in (("email", self.smtp_host), ("sms", self.sms_webhook_url),
                                          ("dingtalk", self.dingtalk_webhook_url)) if where}


SETTINGS = Settings()


def configure(settings: Settings) -> None:
    global SETTINGS
    SETTINGS = settings


def assignee_only(role: str | None, jurisdiction: str | None, assignee: str | None):
    return select(ChannelSettings.account).where(ChannelSettings.account == assignee if assignee else false())


# The accounts a notification reaches, given (role, jurisdiction, assignee), as a SELECT of
# account names: the domain knows who holds a role in a city (the engine keeps no accounts).
RECIPIENTS: Callable = assignee_only

INSERT_NOTICE = insert(Notification).returning(Notification.id)


def post(conn, notice: dict) -> int:
    """Write a notification and its deliveries in the caller's transaction (a step's, on its
    connection); returns its id. Nothing is sent here."""
    notice.setdefault("due_at", None)
    notice.setdefault("due_provisional", False)
    notice.setdefault("task_name", None)
    notice_id = conn.execute(INSERT_NOTICE, notice).scalar_one()
    available, now = SETTINGS.available(), notice["at"]
    if not available:  # a server with no channel set up: the centre is all there is
        return notice_id
    reached = RECIPIENTS(notice.get("role"), notice.get("jurisdiction"), notice.get("assignee"))
    people = conn.execute(select(ChannelSettings.__table__).where(
        ChannelSettings.account.in_(reached),
        or_(ChannelSettings.email_on, ChannelSettings.sms_on, ChannelSettings.dingtalk_on))).all()
    rows = [{"notification_id": notice_id, "account": p.account, "channel": channel, "address": address,
             "status": PENDING, "attempts": 0, "created_at": now, "next_attempt_at": now}
            for p in people for channel, address in chosen(p) if channel in available]
    if rows:
        conn.execute(insert(Delivery), rows)
    return notice_id


# ---------------------------------------------------------------------------------- choosing
def channel_problems(email: str | None, mobile: str | None, on: set[str]) -> dict[str, str]:
    """What is wrong with a person's choice of channels, as {field: what}: an address that is
    not one, a channel on without its address, a channel this server cannot send by."""
    problems = {}
    if email and not EMAIL.match(email):
        problems["email"] = "invalid"
    elif "email" in on and not email:
        problems["email"] = "needed"
    if mobile and not MOBILE.match(mobile):
        problems["mobile"] = "invalid"
    elif on & {"sms", "dingtalk"} and not mobile:
        problems["mobile"] = "needed"
    if on - SETTINGS.available():
        problems["channel"] = "unavailable"
    return problems


class ChannelsRefused(ValueError):
    def __init__(self, problems: dict[str, str]):
        super().__init__(", ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


def choose_channels(account: str, email: str | None, mobile: str | None, on: set[str]) -> ChannelSettings:
    """Record how the person wants to be told, in the caller's transaction; ChannelsRefused
    with the field problems when the choice cannot be kept. Later notifications follow it;
    deliveries already written keep the address they were written with."""
    email, mobile = (email or "").strip() or None, (mobile or "").replace(" ", "").replace("-", "") or None
    on = {c for c in on if c in CHANNELS}
    problems = channel_problems(email, mobile, on)
    if problems:
        raise ChannelsRefused(problems)
    row = db.session.get(ChannelSettings, account) or ChannelSettings(account=account)
    row.email, row.mobile, row.updated_at = email, mobile, clock.now()
    row.email_on, row.sms_on, row.dingtalk_on = "email" in on, "sms" in on, "dingtalk" in on
    db.session.add(row)
    return row


# ---------------------------------------------------------------------------------- reading
def _read_by(account: str):
    return exists().where(NotificationRead.notification_id == Notification.id, NotificationRead.account == account)


def for_actor(actor: Actor, everything: bool = False):
    """SQL: the notifications the actor sees (an administrator with `everything`: all)."""
    return Notification.id.is_not(None) if everything else addressed_to(actor, Notification)


def read_flag(actor: Actor):
    """SQL: whether the actor has read the notification (a column to select)."""
    return _read_by(actor.name)


def unread(actor: Actor):
    return ~_read_by(actor.name)


def unread_count(actor: Actor, cap: int = 99) -> int:
    """How many notifications the actor has not read, up to cap + 1: the header's one query."""
    capped = select(Notification.id).where(addressed_to(actor, Notification), unread(actor)).limit(cap + 1).subquery()
    return db.session.scalar(select(func.count()).select_from(capped))


def mark_read(actor: Actor, which) -> int:
    """Mark the notifications `which` (a condition on them, already limited to what the actor
    sees) read for the actor, in the caller's transaction, in one statement; returns how many
    were unread. Two tabs marking the same one at once: the second does nothing."""
    dialect_insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    unread_ones = select(Notification.id, literal(actor.name, String(80)), literal(clock.now(), Aware())).where(
        which, unread(actor))
    done = db.session.execute(dialect_insert(NotificationRead).from_select(
        ["notification_id", "account", "read_at"], unread_ones).on_conflict_do_nothing())
    return max(done.rowcount, 0)


def deliveries_of(actor: Actor, notification_ids: list[int]) -> dict[int, list[dict]]:
    """How each of these notifications went to the actor by e-mail, SMS or DingTalk."""
    found: dict[int, list[dict]] = {i: [] for i in notification_ids}
    if found:
        for d in db.session.scalars(select(Delivery).where(
                Delivery.notification_id.in_(found), Delivery.account == actor.name).order_by(Delivery.id)):
            found[d.notification_id].append({
                "channel": d.channel, "status": d.status, "attempts": d.attempts,
                "sent_at": d.sent_at.isoformat() if d.sent_at else None,
                "next_attempt_at": d.next_attempt_at.isoformat() if d.status == PENDING else None,
                "last_error": d.last_error})
    return found


# ---------------------------------------------------------------------------------- the message
SUBJECTS = {
    "reminder": "办理提醒", "overdue": "逾期督办", "rescheduled": "期限调整", "handover": "转办",
    "returned": "退回补正", "decided": "办理结果", "ended": "终止办理",
}


def message(notice: Notification) -> tuple[str, str]:
    """(subject, text) of a notification as sent, in Chinese, the officials' working language."""
    task = notice.task_name or notice.element
    due = _moment(notice.due_at) if notice.due_at else ""
    text = {
        "reminder": f"办件 {notice.instance_id}「{task}」将于 {due} 到期，请及时办理。",
        "overdue": f"办件 {notice.instance_id}「{task}」已于 {due} 到期，尚未办理。",
        "rescheduled": f"办件 {notice.instance_id}「{task}」的办理期限调整为 {due}。",
        "handover": f"办件 {notice.instance_id}「{task}」已转交您办理。",
        "returned": f"办件 {notice.instance_id} 已退回补正，请在「{task}」中修改后重新提交。",
        "decided": f"您的申请（办件 {notice.instance_id}）已办结：{task}。",
        "ended": f"您的申请（办件 {notice.instance_id}）已被终止办理。理由：{notice.task_name or '未说明'}",
    }.get(notice.kind, f"办件 {notice.instance_id}「{task}」")
    if notice.due_provisional and due:
        text += "（期限按暂定节假日安排计算）"
    if SETTINGS.public_url:
        text += f"\n{SETTINGS.public_url}/notifications/"
    return f"【绿色制造】{SUBJECTS.get(notice.kind, '通知')}", f"【绿色制造】{text}"


# ---------------------------------------------------------------------------------- sending
def _moment(at: datetime) -> str:
    """Beijing time as the pages show it: a limit that ends at midnight is 24:00 of its last day."""
    local = at.astimezone(clock.SHANGHAI)
    if local.strftime("%H:%M") == "00:00":
        return f"{(local - timedelta(days=1)):%Y年%m月%d日} 24:00"
    return f"{local:%Y年%m月%d日 %H:%M}"


class SendFailed(Exception):
    """A channel refused or could not be reached: tried again later."""


def send_email(address: str, subject: str, text: str) -> None:
    s = SETTINGS
    if not s.smtp_host:
        raise SendFailed("SMTP_HOST is not set")
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = s.smtp_from, address, subject
    mail.set_content(text)
    try:
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout_seconds) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password or "")
            smtp.send_message(mail)
    except (OSError, smtplib.SMTPException) as exc:
        raise SendFailed(f"SMTP {s.smtp_host}:{s.smtp_port}: {exc}") from exc


def _post_json(url: str | None, body: dict, name: str) -> None:
    if not url:
        raise SendFailed(f"{name} is not set")
    request = urllib.request.Request(url, data=json.dumps(body, ensure_ascii=False).encode(),
                                     headers={"Content-Type": "application/json; charset=utf-8"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=SETTINGS.timeout_seconds) as answer:
            raw = answer.read(65536)
    except urllib.error.HTTPError as exc:
        raise SendFailed(f"{name}: HTTP {exc.code}") from exc
    except OSError as exc:  # refused, unreachable, timed out
        raise SendFailed(f"{name}: {exc}") from exc
    try:  # DingTalk answers 200 with {"errcode": n} when it refuses
        answered = json.loads(raw or b"{}")
    except ValueError:
        return
    if isinstance(answered, dict) and answered.get("errcode") not in (None, 0):
        raise SendFailed(f"{name}: errcode {answered.get('errcode')} {answered.get('errmsg', '')}".strip())


def send_sms(mobile: str, subject: str, text: str) -> None:
    _post_json(SETTINGS.sms_webhook_url, {"mobile": mobile, "text": text}, "SMS_WEBHOOK_URL")


def send_dingtalk(mobile: str, subject: str, text: str) -> None:
    _post_json(SETTINGS.dingtalk_webhook_url, {"msgtype": "text", "text": {"content": text},
                                               "at": {"atMobiles": [mobile]}}, "DINGTALK_WEBHOOK_URL")


SENDERS: dict[str, Callable[[str, str, str], None]] = {"email": send_email, "sms": send_sms, "dingtalk": send_dingtalk}


# ---------------------------------------------------------------------------------- the worker
def _claimable(now):
    return or_(and_(Delivery.status == PENDING, Delivery.next_attempt_at <= now),
               and_(Delivery.status == SENDING, Delivery.lease_until < now))


def claim(limit: int = 20) -> list[int]:
    """Take up to `limit` due deliveries for this worker, in due order, and commit: each row is
    taken by one worker only (SKIP LOCKED on PostgreSQL passes over rows another worker is
    taking; the update's own condition decides a race on either database)."""
    now = clock.now()
    with writing():
        candidates = db.session.scalars(
            select(Delivery.id).where(_claimable(now)).order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(limit).with_for_update(skip_locked=True)).all()
        taken = []
        lease = now + timedelta(seconds=SETTINGS.lease_seconds)
        for delivery_id in candidates:
            done = db.session.execute(update(Delivery).where(Delivery.id == delivery_id, _claimable(now)).values(
                status=SENDING, lease_until=lease, attempts=Delivery.attempts + 1))
            if done.rowcount == 1:
                taken.append(delivery_id)
    return taken


def backoff(attempts: int) -> timedelta:
    """How long after its n-th failed attempt a delivery is tried again: doubling each time."""
    return timedelta(seconds=SETTINGS.retry_seconds * 2 ** (attempts - 1))


NOT_REACHED = "账户已停用，未发送 (the account was deactivated; nothing was sent)"


def send_one(delivery_id: int) -> str:
    """Send one claimed delivery and record what happened; returns its new status."""
    row = db.session.get(Delivery, delivery_id)
    notice = db.session.get(Notification, row.notification_id)
    channel, address, attempts = row.channel, row.address, row.attempts
    subject, text = message(notice)
    # an account deactivated since the notification was written is not written to any more
    reached = db.session.scalar(RECIPIENTS(None, None, row.account)) is not None
    db.session.commit()  # no transaction held open while the network is waited on
    error = None if reached else NOT_REACHED  # (and not tried again)
    if reached:
        try:
            SENDERS[channel](address, subject, text)
        except Exception as exc:  # whatever the channel raised: recorded, tried again
            error = str(exc) if isinstance(exc, SendFailed) else f"{type(exc).__name__}: {exc}"
    now = clock.now()
    if error is None:
        values = {"status": SENT, "sent_at": now, "lease_until": None, "last_error": None}
    elif not reached or attempts >= SETTINGS.max_attempts:
        values = {"status": FAILED, "lease_until": None, "last_error": error[:2000]}
        log.error("notification %s to %s by %s failed for good at attempt %d: %s",
                  notice.id, row.account, channel, attempts, error)
    else:
        values = {"status": PENDING, "lease_until": None, "last_error": error[:2000],
                  "next_attempt_at": now + backoff(attempts)}
        log.warning("notification %s to %s by %s failed (attempt %d), tried again at %s: %s",
                    notice.id, row.account, channel, attempts, values["next_attempt_at"].isoformat(), error)
    with writing():
        db.session.execute(update(Delivery).where(Delivery.id == delivery_id, Delivery.status == SENDING)
                           .values(**values))
    return values["status"]


def deliver_due(limit: int = 20) -> dict[str, int]:
    """One pass of the worker: claim what is due and send it; returns how many ended how."""
    outcome: dict[str, int] = {}
    for delivery_id in claim(limit):
        status = send_one(delivery_id)
        outcome[status] = outcome.get(status, 0) + 1
    return outcome


def retry(delivery_id: int) -> bool:
    """An administrator sends a failed delivery again (the channel is fixed): it is due now,
    with its attempts counted afresh. In the caller's transaction."""
    done = db.session.execute(update(Delivery).where(Delivery.id == delivery_id, Delivery.status == FAILED).values(
        status=PENDING, attempts=0, next_attempt_at=clock.now(), lease_until=None))
    return done.rowcount == 1


class DeliveryWorker(PollingWorker):
    """Sends the outbox's deliveries, a pass every `poll_seconds`, in a thread of the timers
    process. Every timers process runs one, the standing-by scheduler's too: claiming is
    safe with several, and a second one keeps mail going while the first is stuck on a
    slow server."""

    name = "notifications"

    def work(self) -> bool:
        return bool(deliver_due())

    def pause(self, failures: int) -> float:
        # a mail server that is down fails every pass: wait twice as long after each failure
        return min(SETTINGS.poll_seconds * 2 ** failures, 60)
