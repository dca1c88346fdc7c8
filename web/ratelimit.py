"""Limits on how often one address may try (限流), kept in the database so
that every web worker counts the same attempts."""
from __future__ import annotations

from datetime import timedelta

from flask import request
from sqlalchemy import delete, func, select

from engine import clock
from engine.db import db
from engine.models import RateHit

# what is limited: (attempts, within)
FAILED_SIGN_INS_PER_ADDRESS = (20, timedelta(minutes=15))
PUBLIC_REPORTS_PER_ADDRESS = (5, timedelta(hours=1))


def address() -> str:
    # behind a proxy, configure werkzeug's ProxyFix so this is the client's address
    return request.remote_addr or "unknown"


def exceeded(key: str, limit: tuple[int, timedelta]) -> bool:
    attempts, within = limit
    since = clock.now() - within
    db.session.execute(delete(RateHit).where(RateHit.key == key, RateHit.at < since))
    count = db.session.scalar(select(func.count()).select_from(RateHit).where(RateHit.key == key))
    db.session.commit()
    return count >= attempts


def count(key: str) -> None:
    db.session.add(RateHit(key=key, at=clock.now()))
    db.session.commit()
