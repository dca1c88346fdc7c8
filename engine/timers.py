"""Timers (定时器): APScheduler wakes a case when its next timer falls due.

Each step stores the case's next due time (`process_instance.next_timer_at`).
The scheduler keeps one job per waiting case in the app's database and a
periodic sweep reconciles those jobs with the cases, so a timer set by a web
worker in another process is picked up, and nothing is lost across restarts:
jobs whose time passed while the app was down run on start, in due order.
A job wakes its case through `Runtime.fire_timers`, the same step path,
transaction and audit as a person's action.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from . import clock
from .db import db
from .models import ProcessInstance

log = logging.getLogger(__name__)
JOB_TABLE = "apscheduler_jobs"
SWEEP_SECONDS = 30
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
    with _app.app_context():
        try:
            _app.extensions["green_ladder.timers"].reconcile()
        finally:
            db.session.remove()


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
        app.extensions["green_ladder.timers"] = self

    def start(self) -> None:
        global _app
        _app = self.app
        self.scheduler.add_job(sweep, "interval", seconds=SWEEP_SECONDS, id="sweep", replace_existing=True,
                               next_run_time=clock.now())
        runtime = self.app.extensions["green_ladder.runtime"]
        runtime.after_commit = self.schedule
        self.scheduler.start()

    def shutdown(self) -> None:
        """Stop, letting a wake-up under way finish its step."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)

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


def _engine(app):
    with app.app_context():
        return db.engine
