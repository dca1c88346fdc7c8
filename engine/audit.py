"""The audit log (审计日志): append-only and hash-chained.

Each event's hash covers its content and the previous event's hash, so an
edited, removed or reordered row breaks the chain at that point. Appends are
serialised by updating the single chain-head row first: the row lock (or
SQLite's write lock) makes concurrent steps queue rather than fork the chain.
"""
from __future__ import annotations

import hashlib
import json

from sqlalchemy import update

from . import clock
from .db import db
from .models import AuditEvent, AuditHead

GENESIS = "0" * 64


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _digest(prev_hash, seq, at, actor, action, instance_id, task, detail) -> str:
    body = canonical([prev_hash, seq, at.isoformat(), actor, action, instance_id, task, detail])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def append(actor, action, *, instance_id=None, task=None, detail=None) -> AuditEvent:
    """Add one event to the chain inside the caller's transaction."""
    session = db.session
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1))
    head = session.execute(
        db.select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)
    ).one()
    at = clock.now().replace(microsecond=0)
    detail_text = canonical(detail or {})
    digest = _digest(head.hash, head.seq, at, actor, action, instance_id, task, detail_text)
    event = AuditEvent(
        seq=head.seq, at=at, actor=actor, action=action, instance_id=instance_id,
        task=task, detail=detail_text, prev_hash=head.hash, hash=digest,
    )
    session.add(event)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=digest))
    return event


def verify(batch: int = 1000) -> tuple[int, list[str]]:
    """Walk the chain. Returns (events checked, problems found)."""
    problems: list[str] = []
    prev, expected_seq, count = GENESIS, 1, 0
    last_seq = 0
    while True:
        rows = db.session.scalars(
            db.select(AuditEvent).where(AuditEvent.seq > last_seq).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            break
        for e in rows:
            count += 1
            if e.seq != expected_seq:
                problems.append(f"event {expected_seq} is missing (next is {e.seq})")
            if e.prev_hash != prev:
                problems.append(f"event {e.seq} does not follow the event before it")
            digest = _digest(e.prev_hash, e.seq, e.at, e.actor, e.action, e.instance_id, e.task, e.detail)
            if digest != e.hash:
                problems.append(f"event {e.seq} was altered after it was written")
            prev, expected_seq, last_seq = e.hash, e.seq + 1, e.seq
    head = db.session.get(AuditHead, 1)
    if head is not None and (head.seq != last_seq or head.hash != prev):
        problems.append(f"the chain ends at event {last_seq}, but its head records event {head.seq}")
    return count, problems
