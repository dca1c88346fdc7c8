"""/healthz (健康检查): can this web worker reach the database, and is a timer scheduler
firing timers? For the load balancer and the operators' monitoring; no sign-in.

The scheduler is its own process (`flask --app web timers run`), maybe on another
machine; what the web worker can see of it is the time of its last sweep, which
each sweep writes (`engine.timers.beat`). No sweep for a few intervals means no
deadline is being kept: the answer is 503, with how long it has been. The answer
says what is wrong, never how the database is reached.
"""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from engine import clock, timers
from engine.db import db

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    database = _database()
    scheduler = _scheduler() if database["ok"] else {"ok": False, "error": "unknown while the database is unreachable"}
    healthy = database["ok"] and scheduler["ok"]
    response = jsonify({"status": "ok" if healthy else "failing", "database": database, "scheduler": scheduler})
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def _database() -> dict:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        log.exception("health check: the database did not answer")
        db.session.rollback()
        return {"ok": False, "error": "the database did not answer"}
    return {"ok": True}


def _scheduler() -> dict:
    stale_after = current_app.config["SCHEDULER_STALE_SECONDS"]
    try:
        swept_at = timers.last_sweep()
    except Exception:
        log.exception("health check: the scheduler's heartbeat could not be read")
        db.session.rollback()
        return {"ok": False, "error": "the scheduler's heartbeat could not be read (database not migrated?)"}
    if swept_at is None:
        return {"ok": False, "last_sweep": None, "stale_after_seconds": stale_after,
                "error": "no scheduler has swept this database yet: is `flask --app web timers run` running?"}
    age = (clock.now() - swept_at).total_seconds()
    result = {"ok": age <= stale_after, "last_sweep": swept_at.isoformat(), "seconds_since_sweep": round(age),
              "stale_after_seconds": stale_after}
    if not result["ok"]:
        result["error"] = "the scheduler has not swept for too long: timers are not being fired"
    if (stalled := timers.stall()) is not None:  # it sweeps, yet due cases are not fired
        result.update(stalled, ok=False)
    return result
