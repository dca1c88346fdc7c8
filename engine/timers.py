"""Timers (定时器): APScheduler wakes a case when its next timer falls due.

Each step stores the case's next due time (`process_instance.next_timer_at`).
The scheduler keeps one job per waiting case in the app's database and a
periodic sweep reconciles those jobs with the cases, so a timer set by a web
worker in another process is picked up, and nothing is lost across restarts:
jobs whose time passed while the app was down run on start, in due order.
A job wakes its case through `Runtime.fire_timers`, the same step path,
transaction and audit as a person's action. The sweep also starts the cases
that steps asked for and a crash left unstarted (`engine.outbox`), and settles
dates a process counted provisionally before it saw a year's holiday notice
entered by another process (`engine.settlement`). Each sweep that gets through
leaves its time in the database (`scheduler_beat`), so the web workers' /healthz
can tell that timers are being fired, or since when they are not.

Only one scheduler fires per database. On PostgreSQL a scheduler first takes
an advisory lock on a connection it keeps open; another scheduler started on
the same database stands by, trying the lock every few seconds, and takes
over when the first one's connection ends (it stopped or died). On SQLite the
lock is an exclusive lock on a file beside the database.
"""
from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import time
from datetime import timedelta

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from . import clock, outbox, settlement
from .db import db
from .models import ProcessInstance, SchedulerBeat

log = logging.getLogger(__name__)
JOB_TABLE = "apscheduler_jobs"
SWEEP_SECONDS = int(os.environ.get("TIMER_SWEEP_SECONDS", 30))
STANDBY_SECONDS = float(os.environ.get("TIMER_STANDBY_SECONDS", 2))
# pg_advisory_lock key: one scheduler per database fires timers
LEADER_LOCK = 0x6772_6C64  # "grld"
# SpiffWorkflow fires a timer only once "now" is strictly past its due time.
AFTER_DUE = timedelta(seconds=1)

_app = None  # the Flask app the jobs run in; set by TimerService.start


def _job_id(instance_id: int) -> str:
    return f"case-{instance_id}"


def wake(instance_id: int) -> None:
    """Job body: fire what is due on one case."""
    with _app.app_context():
        runtime = _app.extensions["green_ladder.runtime"]
        try:
            runtime.fire_timers(instance_id)
        except Exception:
            log.exception("waking case %s failed; the sweep will try again", instance_id)
        finally:
            db.session.remove()


def sweep() -> None:
    runtime = _app.extensions["green_ladder.runtime"]
    with _app.app_context():
        try:
            _app.extensions["green_ladder.timers"].reconcile()
        finally:
            db.session.remove()
        # cases a step asked for whose start a crash or an error left undone (engine.outbox)
        _each_sweep("starting requested cases", outbox.drain, runtime)
        # dates another process counted provisionally before it saw a year entered
        _each_sweep("settling provisional dates", settlement.settle_leftovers, runtime)
        try:
            beat()
        finally:
            db.session.remove()


def _each_sweep(what: str, work, runtime) -> None:
    """A sweep's chore: its failure is logged and left for the next sweep, never the sweep's end."""
    try:
        work(runtime)
    except Exception:
        log.exception("%s failed; the next sweep will try again", what)
    finally:
        db.session.remove()


def beat() -> None:
    """Record that a sweep got through, and which process leads since when."""
    now, holder = clock.now(), f"{socket.gethostname()}:{os.getpid()}"[:120]
    row = db.session.get(SchedulerBeat, 1)
    if row is None:
        db.session.add(SchedulerBeat(id=1, swept_at=now, holder=holder, leading_since=now))
    else:
        if row.holder != holder:
            row.holder, row.leading_since = holder, now
        row.swept_at = now
    db.session.commit()


def last_sweep():
    """When a scheduler last got through a sweep on this database (None: never)."""
    return db.session.scalar(db.select(SchedulerBeat.swept_at).where(SchedulerBeat.id == 1))


class TimerService:
    def __init__(self, app, blocking: bool = False):
        self.app = app
        store = SQLAlchemyJobStore(engine=_engine(app), tablename=JOB_TABLE)
        cls = BlockingScheduler if blocking else BackgroundScheduler
        self.scheduler = cls(
            jobstores={"default": store},
            timezone=clock.SHANGHAI,
            # A job that missed its time (app down) still runs, once.
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        )
        self.leader = _leader_lock(app)
        app.extensions["green_ladder.timers"] = self

    def start(self) -> None:
        """Fire timers once this process holds the leader lock; until then stand by.
        A blocking service returns only when stopped; a background one at once."""
        if isinstance(self.scheduler, BlockingScheduler):
            self._wait_for_lead()
            self._begin()
        else:
            threading.Thread(target=lambda: (self._wait_for_lead(), self._begin()),
                             name="timers-standby", daemon=True).start()

    def _wait_for_lead(self) -> None:
        announced = False
        while not self.leader.acquire():
            if not announced:
                log.warning("another scheduler fires timers on this database; standing by")
                announced = True
            time.sleep(STANDBY_SECONDS)
        log.warning("this scheduler now fires timers (pid %s)", os.getpid())

    def _begin(self) -> None:
        global _app
        _app = self.app
        self.scheduler.add_job(sweep, "interval", seconds=SWEEP_SECONDS, id="sweep", replace_existing=True,
                               next_run_time=clock.now())
        with self.app.app_context():
            try:
                self.catch_up()
            finally:
                db.session.remove()
        self.app.extensions["green_ladder.runtime"].after_commit = self.schedule
        self.scheduler.start()

    def catch_up(self) -> int:
        """Wake, one after another in due order, every case whose time passed
        while no scheduler ran; their stored jobs then find nothing left to do."""
        runtime = self.app.extensions["green_ladder.runtime"]
        due = db.session.scalars(
            db.select(ProcessInstance.id)
            .where(ProcessInstance.next_timer_at.is_not(None), ProcessInstance.next_timer_at < clock.now())
            .order_by(ProcessInstance.next_timer_at, ProcessInstance.id)
        ).all()
        for instance_id in due:
            try:
                runtime.fire_timers(instance_id)
            except Exception:
                log.exception("waking case %s failed; the sweep will try again", instance_id)
        return len(due)

    def shutdown(self) -> None:
        """Stop, letting a wake-up under way finish its step, and hand over the lead."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.leader.release()

    def schedule(self, instance_id: int, due) -> None:
        """Keep exactly one job for the case, at its next due time (or none)."""
        job_id = _job_id(instance_id)
        if due is None:
            if self.scheduler.get_job(job_id) is not None:
                self.scheduler.remove_job(job_id)
            return
        self.scheduler.add_job(wake, "date", run_date=due + AFTER_DUE, args=[instance_id], id=job_id,
                               replace_existing=True)

    def reconcile(self) -> int:
        """Make the jobs match the cases' next due times; returns how many changed."""
        wanted = dict(db.session.execute(
            db.select(ProcessInstance.id, ProcessInstance.next_timer_at)
            .where(ProcessInstance.next_timer_at.is_not(None))
        ).all())
        have = {job.id: job for job in self.scheduler.get_jobs() if job.id.startswith("case-")}
        changed = 0
        for instance_id, due in wanted.items():
            job = have.pop(_job_id(instance_id), None)
            if job is None or job.next_run_time != due + AFTER_DUE:
                self.schedule(instance_id, due)
                changed += 1
        for job in have.values():
            job.remove()
            changed += 1
        return changed


def run_until(runtime, target) -> list[dict]:
    """Move the virtual clock forward to `target`, waking every case whose
    timers, reminders or overdue moments fall due on the way, in due order,
    each a second after its due time as the scheduler would. Returns what fired."""
    now = clock.now()
    if target < now:
        raise ValueError(f"the clock only moves forward; it is {now.isoformat()} already")
    fired: list[dict] = []
    stuck: set[int] = set()  # cases that did not move past their due time (a failed step)
    while True:
        query = (db.select(ProcessInstance.id, ProcessInstance.next_timer_at)
                 .where(ProcessInstance.next_timer_at.is_not(None), ProcessInstance.next_timer_at < target)
                 .order_by(ProcessInstance.next_timer_at, ProcessInstance.id).limit(1))
        if stuck:
            query = query.where(ProcessInstance.id.not_in(stuck))
        row = db.session.execute(query).first()
        if row is None:
            break
        instance_id, due = row
        clock.current().set(max(clock.now(), min(due + AFTER_DUE, target)))
        case = runtime.fire_timers(instance_id)
        fired.append({"instance": instance_id, "due": due.isoformat(), "at": clock.now().isoformat(),
                      "status": case.status})
        if case.next_timer_at is not None and case.next_timer_at <= due:
            stuck.add(instance_id)
    clock.current().set(target)
    return fired


class _PostgresLead:
    def __init__(self, engine):
        self.engine, self.conn = engine, None

    def acquire(self) -> bool:
        if self.conn is None:
            self.conn = self.engine.connect()
        got = self.conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({LEADER_LOCK})").scalar()
        self.conn.commit()
        return bool(got)

    def release(self) -> None:
        if self.conn is not None:
            self.conn.close()  # the session ends and its advisory lock with it
            self.conn = None


class _FileLead:
    def __init__(self, path: str):
        self.path, self.fd = path, None

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _leader_lock(app):
    engine = _engine(app)
    if engine.dialect.name == "postgresql":
        return _PostgresLead(engine)
    database = engine.url.database or ""
    path = (database if database and database != ":memory:" else os.path.join(app.instance_path, "timers"))
    return _FileLead(path + ".scheduler.lock")


def _engine(app):
    with app.app_context():
        return db.engine
