"""Start requests (启动请求): a transactional outbox for cases that one step
asks to be started.

A step that should start another case (listing a designation starts its
dynamic-management case) cannot start it inside its own transaction: a case
start is a step of its own. So the step records a `StartRequest` in its own
transaction instead, and the request commits with the step or not at all.
After the commit the runtime starts the requested cases; whatever a crash
left between the commit and the start, the timer service's sweep starts later.
Starting a case and marking its request done commit together, and the mark
is conditional (`instance_id IS NULL`), so each request starts exactly one
case however many drainers race for it.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, update
from sqlalchemy.orm import Mapped, mapped_column

from . import clock
from .actors import SYSTEM
from .db import db
from .errors import Conflict, EngineError
from .models import Aware

log = logging.getLogger(__name__)
# where a transaction keeps the requests it made, for the runtime to start after its commit
SESSION_KEY = "green_ladder.start_requests"


class StartRequest(db.Model):
    """A case one step asked to be started, and the case that was (启动请求)."""

    __tablename__ = "start_request"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # one request per purpose, e.g. "designation_lifecycle:designation:42"
    key: Mapped[str] = mapped_column(String(200), unique=True)
    process_id: Mapped[str] = mapped_column(String(255))
    data: Mapped[dict] = mapped_column(JSON)
    jurisdiction: Mapped[str | None] = mapped_column(String(12))
    # the case's own party (its started_by): who does its applicant and agency tasks
    party: Mapped[str | None] = mapped_column(String(80))
    requested_at: Mapped[datetime] = mapped_column(Aware())
    requested_by: Mapped[int | None] = mapped_column(Integer)  # the case whose step asked
    instance_id: Mapped[int | None] = mapped_column(
        ForeignKey("process_instance.id", ondelete="SET NULL"), index=True)
    started_at: Mapped[datetime | None] = mapped_column(Aware())
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)


def request_start(process_id: str, data: dict, *, key: str, jurisdiction: str | None = None,
                  party: str | None = None, requested_by: int | None = None) -> StartRequest:
    """Ask, inside the caller's transaction, for a case to be started after it commits."""
    if db.session.scalar(db.select(StartRequest.id).where(StartRequest.key == key)) is not None:
        raise EngineError(f"发起请求「{key}」已存在 (a start request '{key}' exists already)")
    row = StartRequest(key=key, process_id=process_id, data=data, jurisdiction=jurisdiction, party=party,
                       requested_at=clock.now(), requested_by=requested_by)
    db.session.add(row)
    db.session.flush()
    db.session.info.setdefault(SESSION_KEY, []).append(row.id)
    return row


def take_requested() -> list[int]:
    """The requests the transaction just committed (or rolled back) made; forgets them."""
    return db.session.info.pop(SESSION_KEY, [])


def pending(limit: int = 100) -> list[int]:
    return list(db.session.scalars(db.select(StartRequest.id).where(StartRequest.instance_id.is_(None))
                                   .order_by(StartRequest.id).limit(limit)))


def start_one(runtime, request_id: int):
    """Start the case a request asks for, unless some drainer already did.
    Returns the case, or None when there was nothing (left) to do."""
    row = db.session.get(StartRequest, request_id)
    if row is None or row.instance_id is not None:
        db.session.commit()
        return None
    process_id, data, jurisdiction, party = row.process_id, dict(row.data or {}), row.jurisdiction, row.party
    db.session.commit()

    def mark(case):
        # Conditional: of two drainers that both read the request as pending, one marks it, the other's
        # start is rolled back with it (on PostgreSQL the second waits for the first's row lock).
        done = db.session.execute(update(StartRequest).where(
            StartRequest.id == request_id, StartRequest.instance_id.is_(None)).values(
            instance_id=case.id, started_at=clock.now(), last_error=None,
            attempts=StartRequest.attempts + 1))
        if done.rowcount != 1:
            raise Conflict(f"发起请求 {request_id} 已在此期间发起 (start request {request_id} was started meanwhile)")

    try:
        return runtime.start(process_id, data, SYSTEM, jurisdiction, records=mark, party=party)
    except Conflict:
        return None
    except Exception as exc:
        _failed(request_id, exc)
        return None


def _failed(request_id: int, exc: Exception) -> None:
    """Keep the request pending, with why it failed, for the next sweep."""
    message = getattr(exc, "message", None) or str(exc)
    log.warning("start request %s failed: %s; the sweep will try again", request_id, message)
    try:
        db.session.rollback()
        db.session.execute(update(StartRequest).where(StartRequest.id == request_id).values(
            attempts=StartRequest.attempts + 1, last_error=message[:2000]))
        db.session.commit()
    except Exception:  # the database itself is failing: the sweep will see the request again
        db.session.rollback()
        log.exception("could not record the failure of start request %s", request_id)


def drain(runtime, ids: list[int] | None = None) -> list[int]:
    """Start the given requests, or every pending one; returns the cases started."""
    started = []
    for request_id in (pending() if ids is None else ids):
        case = start_one(runtime, request_id)
        if case is not None:
            started.append(case.id)
    return started
