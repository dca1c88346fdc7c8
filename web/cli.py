"""Operators' commands under `flask --app web ...` (命令行)."""
from __future__ import annotations

import gc
import signal
import sys
from contextlib import contextmanager
from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup

from engine import case_migration, clock, outbox
from engine.audit import verify
from engine.db import db
from engine.errors import EngineError
from engine.green.lifecycle import backfill
from engine.green.models import User
from engine.holidays import ArrangementInvalid, enter, preview, read
from engine.jobs import JobWorker
from engine.model_registry import ModelInvalid, collect
from engine.notifications import DeliveryWorker
from engine.runtime import Actor
from engine.timers import TimerService, run_until

from .accounts import users as accounts
from .accounts.users import actor_of, add_user
from .demo.seed import demo
from .runtime import runtime

models = AppGroup("models", help="Deploy and check BPMN/DMN models.")
users = AppGroup("users", help="Manage users and their API tokens.")
audit = AppGroup("audit", help="The hash-chained audit log.")
timers = AppGroup("timers", help="The scheduler that fires BPMN timers, and the virtual clock.")


def _registry():
    return runtime().registry


@models.command("deploy")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--note", help="What changed and why.")
@click.option("--by", "actor", default="cli", show_default=True, help="Who deploys.")
def deploy(paths, note, actor):
    """Deploy files or folders (*.bpmn, *.dmn) as one version."""
    try:
        version, created = _registry().deploy(collect(paths), actor=actor, note=note)
    except ModelInvalid as exc:
        for f in exc.findings:
            click.echo(str(f), err=True)
        sys.exit(1)
    for w in version.warnings:
        click.echo(f"warning: {w['file']}:{w['line'] or '?'} [{w['element'] or ''}] {w['message']}")
    state = "deployed" if created else "already deployed"
    click.echo(f"{state} version {version.id}: {', '.join(version.processes)}")


@models.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
def check(paths):
    """Validate without deploying; exit 1 on any error."""
    result = _registry().check(collect(paths))
    for f in result.findings:
        click.echo(str(f))
    click.echo(f"{len(result.errors)} errors, {len(result.findings) - len(result.errors)} warnings")
    sys.exit(1 if result.errors else 0)


@users.command("add")
@click.argument("name")
@click.option("--role", required=True)
@click.option("--jurisdiction", default=None, help="Division code, e.g. 620100 (municipal users).")
@click.option("--token", "show_token", is_flag=True, help="Print the new API token as the last line.")
@click.option("--password", "ask_password", is_flag=True, help="Ask for a password to sign in to the web pages.")
@click.option("--display-name", default=None, help="The name shown on pages, e.g. 兰州市工信局 王科长.")
@click.option("--days", default=accounts.TOKEN_DAYS, show_default=True, help="How many days the token lasts.")
def add(name, role, jurisdiction, show_token, ask_password, display_name, days):
    """Create a user."""
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True) if ask_password else None
    try:
        user, token = add_user(name, role, jurisdiction, actor="cli", password=password, display_name=display_name,
                               token_days=days)
    except EngineError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"created {user.name} ({user.role}{', ' + user.jurisdiction if user.jurisdiction else ''})")
    if show_token:
        click.echo(token)


# the operator at the console acts as an administrator; the audit log names the console
CONSOLE = Actor("cli", "admin")


@contextmanager
def _refusals():
    """An operation's refusal as the command's error message (exit 1), not a traceback."""
    try:
        yield
    except EngineError as exc:
        raise click.ClickException(exc.message) from None


@users.command("deactivate")
@click.argument("name")
def deactivate(name):
    """Stop an account: no sign-in, its token refused, its sessions ended at once."""
    with _refusals():
        accounts.deactivate(name, CONSOLE)
    click.echo(f"deactivated {name}")


@users.command("reactivate")
@click.argument("name")
def reactivate(name):
    """Let a deactivated account sign in again (its token too, unless it has expired)."""
    with _refusals():
        accounts.reactivate(name, CONSOLE)
    click.echo(f"reactivated {name}")


@users.command("token")
@click.argument("name")
@click.option("--days", default=accounts.TOKEN_DAYS, show_default=True, help="How many days the new token lasts.")
def token(name, days):
    """Give an account a new API token (the old one stops working); the token is the last line."""
    with _refusals():
        user = accounts.find(name)
        new = accounts.issue_token(user, CONSOLE.name, days)
    click.echo(f"new token for {name}, valid until {user.token_expires_at.strftime('%Y-%m-%d %H:%M')}:")
    click.echo(new)


@users.command("revoke-token")
@click.argument("name")
def revoke_token(name):
    """Revoke an account's API token; the account itself goes on."""
    with _refusals():
        accounts.revoke_token(accounts.find(name), CONSOLE.name)
    click.echo(f"revoked the token of {name}")


@audit.command("verify")
def verify_cmd():
    """Check every link of the audit chain; exit 1 when it is broken."""
    count, problems = verify()
    for p in problems:
        click.echo(p, err=True)
    click.echo(f"{count} events checked, {'chain intact' if not problems else f'{len(problems)} problems'}")
    sys.exit(1 if problems else 0)


@timers.command("run")
def run_scheduler():
    """Run the scheduler in the foreground (one per deployment, beside the web workers)."""
    click.echo("scheduler started: it fires timers once it holds this database's lead; Ctrl-C stops it")
    app = current_app._get_current_object()
    # the background jobs (a bulk migration, a large export) run here too, beside the timers
    JobWorker(app).start()
    service = TimerService(app, blocking=True)
    # notifications are sent from here, after the steps that wrote them committed (engine.notifications)
    deliveries = DeliveryWorker(app)
    deliveries.start()
    gc.freeze()  # the app lives as long as this process: spare the collector's full passes (gunicorn.conf.py)
    # systemd stops it with SIGTERM: stop as on Ctrl-C, letting a wake-up under way finish its step
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        service.start()
    except KeyboardInterrupt:
        service.shutdown()
        deliveries.shutdown()
        click.echo("scheduler stopped")


@timers.command("simulate")
@click.option("--from", "start", required=True, help="Where the virtual clock starts, e.g. 2026-03-01T00:00:00+08:00.")
@click.option("--to", "end", required=True, help="Where it stops.")
def simulate(start, end):
    """Run the database's cases on a virtual clock from one moment to another and
    print every wake-up in order. For training and test copies of the database:
    the steps it takes are real."""
    try:
        begin, finish = datetime.fromisoformat(start), datetime.fromisoformat(end)
        if begin.tzinfo is None or finish.tzinfo is None:
            raise ValueError("give both times with their offset, e.g. +08:00")
        clock.install(clock.VirtualClock(begin))
        fired = run_until(runtime(), finish)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for f in fired:
        click.echo(f"{f['at']}  case {f['instance']:>6}  due {f['due']}  -> {f['status']}")
    click.echo(f"{len(fired)} wake-ups; the clock is at {clock.now().isoformat()}")


holiday_calendar = AppGroup("calendar", help="The official holiday calendar.")


@holiday_calendar.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--year", type=int, required=True)
@click.option("--source", required=True, help="The State Council notice it comes from (its 文号).")
@click.option("--by", "actor", default="cli", show_default=True)
@click.option("--dry-run", is_flag=True, help="Only show what entering the year would change.")
@click.option("--yes", is_flag=True, help="Enter it without asking, after showing the dry run.")
def load_calendar(path, year, source, actor, dry_run, yes):
    """Enter a year's holiday arrangement: lines 'YYYY-MM-DD,yes|no,note' (or a range
    'YYYY-MM-DD~YYYY-MM-DD,no,note') for the days that differ from Monday-to-Friday
    (holidays on weekdays: no; weekend days worked in lieu: yes). First shows every
    provisional date it settles, old and new; then enters the year and moves them."""
    try:
        with open(path, encoding="utf-8") as f:
            arrangement = read(year, f.read(), source)
        changes = preview(runtime(), arrangement)
    except (ArrangementInvalid, UnicodeDecodeError) as exc:
        raise click.ClickException(str(exc)) from None
    for c in changes:
        click.echo(f"  case {c.instance_id:>6}  {c.what:8} {c.name or c.element:24} "
                   f"{_at(c.old)} -> {_at(c.new)}  {c.outcome}")
    click.echo(f"{len(changes)} provisional dates counted on {year}'s arrangement; "
               f"{sum(c.outcome == 'moved' for c in changes)} would move")
    if dry_run or not (yes or click.confirm(f"Enter {year} from {source}?")):
        return
    try:
        done = enter(runtime(), arrangement, actor)
    except (ArrangementInvalid, EngineError) as exc:  # a case moved meanwhile: nothing was entered
        raise click.ClickException(str(exc)) from None
    if done is None:
        click.echo(f"{year} was entered already with these days; nothing changed")
    else:
        click.echo(f"entered {len(arrangement.days)} days of {year} from {source}; "
                   f"{sum(c.outcome == 'moved' for c in done)} dates moved")


def _at(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


lifecycle = AppGroup("lifecycle", help="Designations' dynamic management (动态管理) cases.")


@lifecycle.command("backfill")
def backfill_command():
    """Start the lifecycle case of every listed designation that has none (listed before it was deployed)."""
    asked = backfill()  # commits the requests itself
    requested = (outbox.take_requested() or outbox.pending()) if asked else []
    started = []
    with click.progressbar(requested, label="starting lifecycle cases", file=sys.stderr) as bar:
        for request_id in bar:
            started += outbox.drain(runtime(), [request_id])
    click.echo(f"{asked} lifecycle case(s) requested, {len(started)} started; any left pending start with the timer sweep")


cases = AppGroup("cases", help="Cases (案件) in bulk.")


@cases.command("migrate")
@click.argument("process_id")
@click.option("--from", "source", required=True, help="The version the cases are on (its id, or the first 12 characters).")
@click.option("--to", "target", required=True, help="The version to move them to.")
@click.option("--instance", "instances", type=int, multiple=True, help="Only these cases (default: all on --from).")
@click.option("--actor", default="admin", show_default=True, help="The account the migration is recorded as.")
def migrate_cases(process_id, source, target, instances, actor):
    """Move a process's cases from one version to another, with a progress bar; as the
    migration page does, each case alone, a case that cannot move left as it is."""
    user = db.session.scalar(db.select(User).where(User.name == actor))
    if user is None:
        raise click.ClickException(f"no account {actor}")
    versions = {v.id for v in case_migration.versions_of(process_id)}
    source, target = (next((v for v in versions if v.startswith(x)), x) for x in (source, target))
    with click.progressbar(length=1, label=f"migrating {process_id}", file=sys.stderr) as bar:
        def progress(done, total):
            bar.length = total
            bar.update(done - bar.pos)

        try:
            report = case_migration.run(runtime(), actor_of(user), process_id, source, target,
                                        list(instances) or None, progress=progress)
        except EngineError as exc:
            raise click.ClickException(exc.message) from exc
    click.echo(", ".join(f"{n} {outcome}" for outcome, n in report.counts.items() if outcome != "movable"))
    for verdict in report.cases:
        if verdict.outcome in ("blocked", "failed"):
            click.echo(f"  case {verdict.instance_id}: {verdict.outcome}: "
                       f"{'; '.join(r.message for r in verdict.reasons)}", err=True)


def init_app(app):
    for group in (models, users, audit, timers, holiday_calendar, lifecycle, demo, cases):
        app.cli.add_command(group)
