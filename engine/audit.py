"""The audit log (审计日志): append-only and hash-chained.

Each event's hash covers its content and the hash of the event before it in
its chain, so an edited, removed or reordered row breaks the chain there.
Every case has its own chain, whose last hash is kept on the case's row: a
step already holds that row's lock, so appending costs one INSERT and steps
on different cases never wait for each other. Events outside any case
(deployments, users) form the global chain, whose head is one row that an
append updates first, which queues concurrent appends instead of forking.
"""
from __future__ import annotations

import hashlib
import json

import orjson
from sqlalchemy import bindparam, insert, update

from . import clock, store
from .db import db
from .models import AuditEvent, AuditHead, ProcessInstance

GENESIS = "0" * 64
_HEAD = AuditHead.__table__
_NEXT_GLOBAL = update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq + 1).returning(_HEAD.c.hash)
_SET_GLOBAL = update(_HEAD).where(_HEAD.c.id == 1).values(hash=bindparam("digest"))
_INSERT = store.Write(insert(AuditEvent.__table__))


# Canonical JSON: keys sorted, no spaces, text as it is, what JSON lacks as its str(). Written by
# orjson (every step writes an event, and hashes it); what orjson cannot write (an integer over 64
# bits) by the standard library. `audit verify` hashes the stored detail text again, never the
# detail itself, so an event is checked against the text it was written with; the hashed list of
# texts and numbers comes out of both alike, character for character (tests/test_runtime.py).
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
_ORJSON_OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
                   | orjson.OPT_PASSTHROUGH_DATACLASS)


def canonical(obj) -> str:
    try:
        return orjson.dumps(obj, default=str, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return _CANONICAL.encode(obj)


def _digest(prev_hash, at, actor, action, instance_id, task, detail) -> str:
    body = canonical([prev_hash, at.isoformat(), actor, action, instance_id, task, detail])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def append(actor, action, *, instance: ProcessInstance | None = None, task=None, detail=None) -> str:
    """Add one event inside the caller's transaction; returns its hash. With
    `instance`, the caller holds the instance row and flushes it afterwards."""
    conn = store.conn()
    if instance is not None:
        prev = instance.audit_hash or GENESIS
    else:
        prev = conn.execute(_NEXT_GLOBAL).scalar_one()
    at = clock.now().replace(microsecond=0)
    instance_id = instance.id if instance is not None else None
    detail_text = canonical(detail or {})
    digest = _digest(prev, at, actor, action, instance_id, task, detail_text)
    _INSERT(conn, {"at": at, "actor": actor, "action": action, "instance_id": instance_id, "task": task,
                           "detail": detail_text, "prev_hash": prev, "hash": digest})
    if instance is not None:
        instance.audit_hash = digest
    else:
        conn.execute(_SET_GLOBAL, {"digest": digest})
    return digest


def verify(batch: int = 2000) -> tuple[int, list[str]]:
    """Walk every chain. Returns (events checked, problems found)."""
    problems: list[str] = []
    last: dict[int | None, str] = {}
    count, after = 0, 0
    while True:
        rows = db.session.scalars(
            db.select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            break
        for e in rows:
            count += 1
            chain = "the global chain" if e.instance_id is None else f"case {e.instance_id}"
            if e.prev_hash != last.get(e.instance_id, GENESIS):
                problems.append(f"event {e.seq} ({chain}) does not follow the event before it: one was removed or reordered")
            if _digest(e.prev_hash, e.at, e.actor, e.action, e.instance_id, e.task, e.detail) != e.hash:
                problems.append(f"event {e.seq} ({chain}) was altered after it was written")
            last[e.instance_id] = e.hash
            after = e.seq
    ends = {None: db.session.scalar(db.select(AuditHead.hash).where(AuditHead.id == 1))}
    ends.update(db.session.execute(db.select(ProcessInstance.id, ProcessInstance.audit_hash)).all())
    for chain, end in ends.items():
        if (end or GENESIS) != last.get(chain, GENESIS):
            name = "the global chain" if chain is None else f"case {chain}"
            problems.append(f"{name} ends before its recorded last event: events were removed from its end")
    return count, problems
