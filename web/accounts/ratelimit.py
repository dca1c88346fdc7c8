"""Limits on how often one may try (限流), kept in the database so that every
web worker counts the same attempts.

Signing in has two limits. One address failing with many names is refused for a
while (password spraying). One name failing from one address waits longer after
each failure beyond a few: the wait is that pair's alone, so a stranger guessing
an official's password from elsewhere slows only himself and never locks her out,
and a name that does not exist is slowed exactly like one that does.

Checking and counting write in the transaction of the view that asks (`web.handler.writes`);
nothing here commits.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta

from flask import request
from sqlalchemy import delete, func, select

from engine import clock
from engine.db import db

from .models import RateHit

# what is limited: (attempts, within)
FAILED_SIGN_INS_PER_ADDRESS = (20, timedelta(minutes=15))
PUBLIC_REPORTS_PER_ADDRESS = (5, timedelta(hours=1))
# one name from one address: this many failures cost nothing, then each waits twice the last
FREE_SIGN_IN_FAILURES = 3
FIRST_WAIT = timedelta(seconds=30)
LONGEST_WAIT = timedelta(minutes=15)
# a pair's failures are forgotten this long after the last (longer than any wait)
FAILURES_KEPT = timedelta(hours=1)


def address() -> str:
    # behind a proxy, configure werkzeug's ProxyFix so this is the client's address
    return request.remote_addr or "unknown"


def exceeded(key: str, limit: tuple[int, timedelta]) -> bool:
    attempts, within = limit
    since = clock.now() - within
    db.session.execute(delete(RateHit).where(RateHit.key == key, RateHit.at < since))
    count = db.session.scalar(select(func.count()).select_from(RateHit).where(RateHit.key == key))
    return count >= attempts


def count(key: str) -> None:
    db.session.add(RateHit(key=key, at=clock.now()))


def forget(key: str) -> None:
    db.session.execute(delete(RateHit).where(RateHit.key == key))


def sign_in_pair(name: str, addr: str) -> str:
    """The key of one name tried from one address. A digest: what people type as a
    name (at times their password) is not kept."""
    digest = hashlib.sha256(f"{name}\n{addr}".encode()).hexdigest()[:40]
    return f"sign-in-pair:{digest}"


def wait_before_next(key: str) -> timedelta | None:
    """How long the pair must still wait before it may try again; None when it may now."""
    now = clock.now()
    db.session.execute(delete(RateHit).where(RateHit.key == key, RateHit.at < now - FAILURES_KEPT))
    failures, last = db.session.execute(
        select(func.count(), func.max(RateHit.at)).where(RateHit.key == key)).one()
    if failures < FREE_SIGN_IN_FAILURES or last is None:
        return None
    wait = min(FIRST_WAIT * 2 ** (failures - FREE_SIGN_IN_FAILURES), LONGEST_WAIT)
    remaining = last + wait - now
    return remaining if remaining > timedelta(0) else None
