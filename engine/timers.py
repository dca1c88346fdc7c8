"""Timers (定时器): the scheduler wakes a case when its next timer falls due.

Each step stores the case's next due time (`process_instance.next_timer_at`, indexed), in the
same transaction as the rest of the step. That column is the schedule: the scheduler asks the
index for the cases whose time has come, oldest first, a batch at a time, and wakes each through
`Runtime.fire_timers`, the same step path, transaction and audit as a person's action. A case
fired leaves the due end of the index in that transaction, so it cannot fire twice, and one whose
time passed while no scheduler ran is simply the oldest due when one starts again.

Why not one APScheduler job per case, as before: with 10,000 cases due at one moment and 100,000
waiting, keeping a pickled job per case in step with the cases meant sweeps that read and
unpickled every job and wrote each new one in a transaction of its own, longer than their
interval; and an error from the job table anywhere but APScheduler's read of due jobs (the
DELETE after a job was handed to a thread, say) ends APScheduler's loop thread, after which
nothing fires and nothing is logged. Asking the index costs the same with 100 or 100,000
waiting cases, and there is no second copy of the schedule to keep in step.

The firing loop is one thread: it fires what is due, a batch at a time; cases due at one
moment are woken side by side by a few worker threads (TIMER_WORKERS: on PostgreSQL each step
mostly waits for the server; SQLite's writes take turns anyway), and a later moment waits for
the earlier one, so due order holds. When nothing is due it waits a poll interval
(TIMER_POLL_SECONDS), or less when a step in this process set an earlier time, so a timer set by
a web worker in another process fires within that interval of its time. Every sweep interval
(TIMER_SWEEP_SECONDS), also between batches of a long catch-up, the loop does its chores: the
cases that steps asked for and a crash left unstarted (`engine.outbox`), dates a process counted
provisionally before it saw a year's holiday notice (`engine.settlement`), and the beat: its time
in the database (`scheduler_beat`), so the web workers' /healthz can tell that timers are being
fired, or since when they are not. Nothing stops the loop silently: an error is logged and the
loop goes on, backing off while the errors last (a database that is down); a case whose wake-up fails is tried again a sweep interval later; and cases due for
longer than TIMER_STALL_SECONDS while a scheduler leads are a stall, logged by the sweep and
failing /healthz (`stall`).

Only one scheduler fires per database. On PostgreSQL a scheduler first takes an advisory lock on
a connection it keeps open; another scheduler started on the same database stands by, trying the
lock every few seconds, and takes over when the first one's connection ends (it stopped or
died). On SQLite the lock is an exclusive lock on a file beside the database.
"""
from __future__ import annotations

import fcntl
import itertools
import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from . import clock, outbox, settlement
from .db import db
from .models import ProcessInstance, SchedulerBeat

log = logging.getLogger(__name__)
# The table where earlier versions kept one APScheduler job per case; migrations still leave it
# alone (an upgraded database may have it), nothing reads it any more.
JOB_TABLE = "apscheduler_jobs"
SWEEP_SECONDS = int(os.environ.get("TIMER_SWEEP_SECONDS", 30))
STANDBY_SECONDS = float(os.environ.get("TIMER_STANDBY_SECONDS", 2))
# how late a timer set by another process may fire; one indexed query each
POLL_SECONDS = float(os.environ.get("TIMER_POLL_SECONDS", "1"))
# cases read from the index at a time: a catch-up does its chores between batches
BATCH = int(os.environ.get("TIMER_BATCH", "200"))
# threads waking the cases due at one moment side by side; 0: one per database kind, 4 on
# PostgreSQL (each step waits on the server), 1 on SQLite (its writes take turns anyway)
WORKERS = int(os.environ.get("TIMER_WORKERS", "0"))
# due and not fired for this long while a scheduler leads: a stall (logged, /healthz fails)
STALL_SECONDS = int(os.environ.get("TIMER_STALL_SECONDS", "180"))
# pg_advisory_lock key: one scheduler per database fires timers
LEADER_LOCK = 0x6772_6C64  # "grld"
# SpiffWorkflow fires a timer only once "now" is strictly past its due time.
AFTER_DUE = timedelta(seconds=1)

_app = None  # the Flask app the loop runs in; set when a TimerService starts leading
_led_at = None  # when a TimerService of this process last took the lead


def due_query(now, limit: int):
    """The cases whose time has come, oldest first: a range at the due end of the
    `next_timer_at` index, however many cases wait beyond it."""
    return (db.select(ProcessInstance.id, ProcessInstance.next_timer_at)
            .where(ProcessInstance.next_timer_at <= now - AFTER_DUE)
            .order_by(ProcessInstance.next_timer_at, ProcessInstance.id).limit(limit))


def sweep() -> None:
    """A sweep's chores, each on its own: one failing is logged and left for the next sweep."""
    runtime = _app.extensions["green_ladder.runtime"]
    with _app.app_context():
        # cases a step asked for whose start a crash or an error left undone (engine.outbox)
        _each_sweep("starting requested cases", outbox.drain, runtime)
        # dates another process counted provisionally before it saw a year entered
        _each_sweep("settling provisional dates", settlement.settle_leftovers, runtime)
        _each_sweep("looking for a stall", lambda _: _log_stall(), runtime)
        _each_sweep("recording the beat", lambda _: beat(), runtime)


def _each_sweep(what: str, work, runtime) -> None:
    try:
        work(runtime)
    except Exception:
        log.exception("%s failed; the next sweep will try again", what)
    finally:
        db.session.remove()


def _log_stall() -> None:
    found = stall()
    db.session.commit()
    if found is not None:
        log.error("timers stalled: %s case(s) due and not fired, the oldest due at %s, %s s late",
                  found["due_unfired"], found["oldest_due"], found["late_seconds"])


def beat() -> None:
    """Record that a sweep got through, and which process leads since when."""
    now, holder = clock.now(), _holder()
    row = db.session.get(SchedulerBeat, 1)
    if row is None:
        db.session.add(SchedulerBeat(id=1, swept_at=now, holder=holder, leading_since=_led_at or now))
    else:
        # a process that leads again after a pause leads anew: what fell due meanwhile is
        # a catch-up, not yet a stall
        if row.holder != holder or (_led_at is not None and row.leading_since < _led_at):
            row.holder, row.leading_since = holder, _led_at or now
        row.swept_at = now
    db.session.commit()


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def last_sweep():
    """When a scheduler last got through a sweep on this database (None: never)."""
    return db.session.scalar(db.select(SchedulerBeat.swept_at).where(SchedulerBeat.id == 1))


def stall(threshold: float | None = None) -> dict | None:
    """Deadlines not being kept though a scheduler leads: cases due for longer than the
    threshold, counted from when the current scheduler took the lead (a catch-up after
    downtime has its threshold to get through). None when there is none; else what /healthz
    and the log say. Two index lookups at the due end, whatever waits beyond it."""
    threshold = STALL_SECONDS if threshold is None else threshold
    leading_since = db.session.scalar(db.select(SchedulerBeat.leading_since).where(SchedulerBeat.id == 1))
    if leading_since is None:  # no scheduler ever led: /healthz says so already
        return None
    now = clock.now()
    if leading_since > now - timedelta(seconds=threshold):
        return None
    cutoff = now - timedelta(seconds=threshold) - AFTER_DUE
    oldest = db.session.scalar(db.select(db.func.min(ProcessInstance.next_timer_at)))
    if oldest is None or oldest > cutoff:
        return None
    late = db.session.scalar(db.select(db.func.count()).select_from(ProcessInstance)
                             .where(ProcessInstance.next_timer_at <= cutoff))
    return {"due_unfired": late, "oldest_due": oldest.isoformat(),
            "late_seconds": round((now - max(oldest + AFTER_DUE, leading_since)).total_seconds()),
            "stall_after_seconds": threshold,
            "error": "timers are stalled: cases due for longer than the threshold have not been fired"}


class TimerService:
    """The firing loop of one process, once it leads (see the module's docstring)."""

    def __init__(self, app, blocking: bool = False):
        self.app, self.blocking = app, blocking
        self.leader = _leader_lock(app)
        self._stop = threading.Event()
        self._wake = threading.Event()  # a step here set a time earlier than the loop waits for
        self._thread: threading.Thread | None = None
        # cases whose wake-up failed or left them due: not again before this (monotonic) moment,
        # so one broken case neither spins the loop nor holds up the cases behind it
        self._retry_at: dict[int, float] = {}
        workers = WORKERS or (4 if _engine(app).dialect.name == "postgresql" else 1)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="timers-wake") if workers > 1 else None
        self.leading = False
        app.extensions["green_ladder.timers"] = self

    def start(self) -> None:
        """Fire timers once this process holds the leader lock; until then stand by.
        A blocking service returns only when stopped (Ctrl-C, SIGTERM); a background one at once."""
        self._thread = threading.Thread(target=self._run, name="timers", daemon=not self.blocking)
        self._thread.start()
        if self.blocking:
            while self._thread.is_alive():
                self._thread.join(0.5)  # a join with a timeout lets KeyboardInterrupt through

    def shutdown(self) -> None:
        """Stop, letting a wake-up under way finish its step, and hand over the lead."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self.leader.release()
        self.leading = False

    def _run(self) -> None:
        if not self._wait_for_lead():
            return
        global _app, _led_at
        _app, _led_at = self.app, clock.now()
        self.leading = True
        self.app.extensions["green_ladder.runtime"].after_commit = self.heard
        next_sweep, failures = 0.0, 0
        while not self._stop.is_set():
            busy = False
            try:
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + SWEEP_SECONDS
                    sweep()
                busy = self.fire_due() > 0
                failures = 0
            except Exception:
                # a database that is down fails every pass: wait twice as long after each failure
                # (up to a sweep interval), so the log shows the outage, not a line a second
                failures += 1
                pause = min(POLL_SECONDS * 2 ** (failures - 1), SWEEP_SECONDS)
                log.exception("the timer loop failed (%d in a row); it goes on after %s s", failures, pause)
                self._stop.wait(pause)
                continue
            if not busy:
                self._wake.wait(min(POLL_SECONDS, max(next_sweep - time.monotonic(), 0)))
                self._wake.clear()

    def _wait_for_lead(self) -> bool:
        announced = False
        while not self.leader.acquire():
            if not announced:
                log.warning("another scheduler fires timers on this database; standing by")
                announced = True
            if self._stop.wait(STANDBY_SECONDS):
                return False
        log.warning("this scheduler now fires timers (pid %s)", os.getpid())
        return True

    def heard(self, instance_id: int, due) -> None:
        """After a step in this process: a time sooner than the next poll wakes the loop."""
        if due is not None and (due - clock.now()).total_seconds() < POLL_SECONDS:
            self._wake.set()

    def fire_due(self, limit: int | None = None) -> int:
        """Wake one batch of due cases, oldest first; returns how many were woken. Cases due at
        one moment are woken side by side by the workers; a later moment waits for the earlier
        one to be done, so due order holds across moments."""
        limit = BATCH if limit is None else limit
        now_mono = time.monotonic()
        for instance_id, at in list(self._retry_at.items()):
            if at <= now_mono:
                del self._retry_at[instance_id]
        skip = set(self._retry_at)
        with self.app.app_context():
            try:
                rows = db.session.execute(due_query(clock.now(), limit + len(skip))).all()
            finally:
                db.session.remove()
        due = [(i, at) for i, at in rows if i not in skip][:limit]
        for _, moment in itertools.groupby(due, key=lambda row: row[1]):
            cases = list(moment)
            if self._stop.is_set():
                break
            if len(cases) == 1 or self._pool is None:
                for row in cases:
                    self._fire(*row)
            else:
                list(self._pool.map(lambda row: self._fire(*row), cases))
        return len(due)

    def _fire(self, instance_id: int, due) -> None:
        runtime = self.app.extensions["green_ladder.runtime"]
        with self.app.app_context():
            try:
                case = runtime.fire_timers(instance_id)
            except Exception:
                log.exception("waking case %s failed; it is tried again in %s s", instance_id, SWEEP_SECONDS)
            else:
                if case.next_timer_at is None or case.next_timer_at > due:
                    return
                log.warning("waking case %s left it due at %s; it is tried again in %s s",
                            instance_id, case.next_timer_at.isoformat(), SWEEP_SECONDS)
            finally:
                db.session.remove()
        self._retry_at[instance_id] = time.monotonic() + SWEEP_SECONDS


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
