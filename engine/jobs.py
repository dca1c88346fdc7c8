"""Background jobs (后台任务): work too long for a request — moving many cases to a new
version, exporting a large list — runs in the scheduler's process instead, one job at a
time, and tells its progress as it goes.

A page or the API records the job (`submit`) and answers at once with its page; the
worker (`JobWorker`, started beside the timer service by `flask --app web timers run`,
or in-process with SCHEDULER=in-process) claims the oldest queued job with a conditional
update, so two workers never run one job, and runs the function registered for its kind.
The function reports `progress(done, total)`; each report is written at once, in its own
short transaction, so the job's page shows it while the work goes on. A job that raises
ends `failed` with the reason; one whose worker died (no report for `STALE`) is marked
failed by the next worker rather than run twice: each kind's work is safe to start again
by hand (a migration skips the cases already moved).

The engine knows no kinds: the pages register theirs (`kind`) when the app is built.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import JSON, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from . import clock
from .db import db
from .models import Aware
from .polling import PollingWorker

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0
# a running job reports at least this often (each case, each thousand rows); silence this long means its worker died
STALE = timedelta(minutes=10)
# progress is written at most this often: a 10,000-row export reports a few times a second, not 10,000 times
REPORT_SECONDS = 0.5


class Job(db.Model):
    """One piece of background work, its progress and its outcome (后台任务)."""

    __tablename__ = "background_job"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="queued", index=True)  # queued running done failed
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer)
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(Aware())
    started_at: Mapped[datetime | None] = mapped_column(Aware())
    finished_at: Mapped[datetime | None] = mapped_column(Aware())
    reported_at: Mapped[datetime | None] = mapped_column(Aware())

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")


# kind -> function(params, progress) -> result (a JSON object)
KINDS: dict[str, Callable[[dict, Callable[[int, int | None], None]], dict]] = {}


def kind(name: str):
    """Register the function that does a kind of job."""
    def register(fn):
        KINDS[name] = fn
        return fn
    return register


def submit(kind_name: str, params: dict, by: str) -> Job:
    """Queue a job and commit it; the worker picks it up within a second."""
    if kind_name not in KINDS:
        raise ValueError(f"no job kind {kind_name!r}")
    job = Job(kind=kind_name, params=params, status="queued", done=0, created_by=by, created_at=clock.now())
    db.session.add(job)
    db.session.commit()
    return job


_TABLE = Job.__table__


def _claim() -> int | None:
    """The oldest queued job, now running here; None when there is none."""
    while True:
        job_id = db.session.scalar(select(_TABLE.c.id).where(_TABLE.c.status == "queued")
                                   .order_by(_TABLE.c.id).limit(1))
        if job_id is None:
            db.session.rollback()
            return None
        now = clock.now()
        taken = db.session.execute(update(_TABLE).where(_TABLE.c.id == job_id, _TABLE.c.status == "queued")
                                   .values(status="running", started_at=now, reported_at=now)).rowcount
        db.session.commit()
        if taken == 1:
            return job_id  # else another worker took it first: look again


def _write(job_id: int, **values) -> None:
    """A job's progress or outcome, committed on a connection of its own: the job's work
    keeps the session (and its own steps' transactions)."""
    with db.engine.begin() as conn:
        conn.execute(update(_TABLE).where(_TABLE.c.id == job_id).values(**values))


def _give_up_stale() -> None:
    cutoff = clock.now() - STALE
    with db.engine.begin() as conn:
        conn.execute(update(_TABLE).where(_TABLE.c.status == "running", _TABLE.c.reported_at < cutoff).values(
            status="failed", finished_at=clock.now(),
            error="执行该任务的进程在完成前已停止，请重新开始 (the worker running it stopped before it was done; start it again)"))


def run_next() -> bool:
    """Run the oldest queued job to its end, in the caller's app context; False when none waits."""
    db.session.commit()  # a read the caller's session began earlier would not see jobs queued since
    _give_up_stale()
    job_id = _claim()
    if job_id is None:
        return False
    job = db.session.get(Job, job_id)
    last = [0.0]

    def progress(done: int, total: int | None = None) -> None:
        now = time.monotonic()
        if now - last[0] >= REPORT_SECONDS or (total is not None and done >= total):
            last[0] = now
            _write(job_id, done=done, total=total, reported_at=clock.now())

    kind_name, params = job.kind, dict(job.params)
    db.session.commit()
    try:
        result = KINDS[kind_name](params, progress)
    except Exception as exc:
        db.session.rollback()
        log.exception("background job %s (%s) failed", job_id, kind_name)
        _write(job_id, status="failed", error=str(exc) or type(exc).__name__, finished_at=clock.now())
    else:
        db.session.commit()
        _write(job_id, status="done", result=result, finished_at=clock.now(), reported_at=clock.now())
    finally:
        db.session.remove()
    return True


class JobWorker(PollingWorker):
    """The thread that runs queued jobs, one after another, in the scheduler's process."""

    name = "jobs"

    def work(self) -> bool:
        return run_next()

    def pause(self, failures: int) -> float:
        return POLL_SECONDS
