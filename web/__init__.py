"""Green Ladder's Flask app factory (应用工厂)."""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from flask import Flask, g, has_request_context, session
from flask_babel import Babel
from flask_login import current_user
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

from engine import clock, holidays, script_limits, scripting, statutory_calendar
from engine import notifications as outgoing  # (web.notifications is the centre's pages)
from engine.db import db
from engine.forms import register_format, register_labelling, register_phrasing
from engine.green import (
    attachments,
    credit_code,
    evaluation,
    known_fields,
    real_name,
    selection,
    service_operations,
)
from engine.green.delegation import supervises
from engine.green.experts import submission_problems as assignment_problems
from engine.green.models import notification_recipients, task_labels
from engine.green.registrations import start_check as registration_start_check
from engine.green.roles import PARTY_ROLES, PERSONAL_ROLES, PROVINCE_WIDE_ROLES, role_for_lane
from engine.jobs import JobWorker
from engine.model_registry import Registry
from engine.models import alembic_render_item
from engine.runtime import Runtime
from engine.timers import JOB_TABLE, SWEEP_SECONDS, TimerService

from . import cli, formrender, handler, health, personal, request_id, security, templating
from .accounts import auth
from .accounts import views as accounts
from .agencies import views as agencies
from .api import views as api
from .awards import views as awards
from .calendar_admin import views as calendar_admin
from .case_lists import views as case_lists
from .case_migration import views as case_migration
from .cases import views as cases
from .complaints import views as complaints
from .cultivation import views as cultivation
from .dashboard import views as dashboard
from .delegation import views as delegation_pages
from .designations import views as designations
from .documents import views as documents_pages
from .documents.render import DEFAULT_FONT
from .experts import views as experts_pages
from .home import views as home
from .inbox import bulk
from .inbox import views as inbox
from .inputs import InputJSONProvider
from .jobs import views as jobs_pages
from .lifecycle import views as lifecycle_pages
from .model_texts import model_text
from .modeler import views as modeler
from .notices import views as notices
from .notifications import views as notifications_pages
from .registrations import views as registrations_pages
from .runtime import KEY as RUNTIME
from .tasks import views as tasks

ROOT = Path(__file__).resolve().parent.parent
migrate = Migrate()
csrf = CSRFProtect()
babel = Babel()
LANGUAGES = ("zh_CN", "en")


def _locale():
    """Chinese unless the person chose English: in this session, or on their account at an earlier
    sign-in. The browser's Accept-Language is not asked: an English browser on a Chinese
    official's desk still opens in Chinese, the language of the procedure."""
    if not has_request_context():
        return "zh_CN"
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    # the signed-in person's, or the API token's owner's (web/api sets g.user)
    account = getattr(current_user, "language", None) or getattr(g.get("user"), "language", None)
    return account if account in LANGUAGES else "zh_CN"


def _submission_problems(schema: dict | None, data: dict, instance_id: int, actor=None,
                         jurisdiction: str | None = None) -> dict[str, list[str]]:
    """What a form cannot state alone: its files are this case's, an assignment of reviewers
    names enough experts, none with a declared conflict, a recommended unit may be recommended,
    and what the system knows (the organisation's own entries, the registers' choices) is as known."""
    return {**known_fields.submission_problems(schema, data, actor, jurisdiction),
            **attachments.submission_problems(schema, data, instance_id),
            **assignment_problems(schema, data, instance_id),
            **selection.recommendation_problems(schema, data, instance_id)}


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("SECRET_KEY") or _instance_secret(app),
        SQLALCHEMY_DATABASE_URI=_database_url(app),
        MAX_CONTENT_LENGTH=int(os.environ.get("MAX_UPLOAD_BYTES", 8 * 1024 * 1024)),
        FORMS_DIR=os.environ.get("FORMS_DIR", str(ROOT / "forms")),
        # uploaded evidence, outside the web root, under the SHA-256 of each file
        UPLOAD_DIR=os.environ.get("UPLOAD_DIR", os.path.join(app.instance_path, "uploads")),
        PROCESSES_DIR=os.environ.get("PROCESSES_DIR", str(ROOT / "processes")),
        # the Chinese font the PDF documents embed (web/documents/render.py; `make fonts` installs it)
        DOCUMENT_FONT=os.environ.get("DOCUMENT_FONT", DEFAULT_FONT),
        CLOCK=os.environ.get("CLOCK", "system"),
        # Seconds a script, condition or decision cell may run before its step fails (0: no limit).
        SCRIPT_TIME_LIMIT=float(os.environ.get("SCRIPT_TIME_LIMIT", scripting.DEFAULT_TIME_LIMIT)),
        # The largest value a script may build, in elements or characters, and the largest integer, in
        # bits: checked before each operation that could build more in one go (engine/script_limits.py).
        SCRIPT_MAX_SIZE=int(os.environ.get("SCRIPT_MAX_SIZE", script_limits.DEFAULT_MAX_SIZE)),
        SCRIPT_MAX_INT_BITS=int(os.environ.get("SCRIPT_MAX_INT_BITS", script_limits.DEFAULT_MAX_INT_BITS)),
        # Run the timer scheduler inside this process (make run); production runs `flask timers run`.
        SCHEDULER=os.environ.get("SCHEDULER", "") == "in-process",
        # werkzeug's method for new password hashes; the suite sets a cheap one (scrypt costs ~0.1 s a hash)
        PASSWORD_HASH_METHOD=os.environ.get("PASSWORD_HASH_METHOD", "scrypt"),
        JSON_AS_ASCII=False,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # `development` (make run) relaxes what needs https; anything else is run as production
        GREEN_LADDER_ENV=os.environ.get("GREEN_LADDER_ENV", "production"),
        # how many reverse proxies stand in front and set X-Forwarded-* (web/security.py)
        PROXY_FIX=int(os.environ.get("PROXY_FIX", "0") or 0),
        LOG_LEVEL=os.environ.get("LOG_LEVEL", "INFO"),
        # /healthz fails once the timer scheduler has not swept for this long
        SCHEDULER_STALE_SECONDS=int(os.environ.get("SCHEDULER_STALE_SECONDS", 3 * SWEEP_SECONDS)),
        BABEL_DEFAULT_LOCALE="zh_CN",
        BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
        BABEL_TRANSLATION_DIRECTORIES=str(ROOT / "web" / "translations"),
    )
    if test_config:
        app.config.from_mapping(test_config)
    if "SESSION_COOKIE_SECURE" not in (test_config or {}):
        app.config["SESSION_COOKIE_SECURE"] = _cookies_need_https(app)
    app.json = InputJSONProvider(app)
    app.json.ensure_ascii = False

    if app.config["CLOCK"] == "virtual":
        if not clock.current().virtual:
            clock.install(clock.VirtualClock())
    elif clock.current().virtual:
        clock.install(clock.SystemClock())

    # A server's connection can be dropped under the pool (a restart, an idle timeout): each
    # checkout pings it first. An SQLite file cannot, and the ping was a statement per request.
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {}).setdefault("pool_pre_ping", True)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_item=alembic_render_item,
                     include_object=_not_the_scheduler_table)

    scripting.configure(app.config["SCRIPT_TIME_LIMIT"], app.config["SCRIPT_MAX_SIZE"],
                        app.config["SCRIPT_MAX_INT_BITS"])
    statutory_calendar.ARRANGEMENTS.loader = holidays.load_from_database
    register_phrasing(formrender.field_message)  # the API's and the engine's field messages too
    register_labelling(model_text)  # the case file's labels, from the forms' titles
    register_format("gb32100", credit_code.problem)
    register_format("real-name", real_name.explain_name)
    register_format("contact", real_name.explain_contact)
    service_operations.register()
    # where notifications go besides the centre (SMTP, the SMS and DingTalk webhooks), and whom they reach
    outgoing.configure(outgoing.Settings.from_environment())
    outgoing.RECIPIENTS = notification_recipients
    registry = Registry(app.config["FORMS_DIR"], role_for_lane)
    app.extensions[RUNTIME] = Runtime(
        registry, role_for_lane, party_roles=PARTY_ROLES, province_wide_roles=PROVINCE_WIDE_ROLES,
        task_labels=task_labels, party_assignee=evaluation.party_assignee,
        submission_check=_submission_problems, start_check=registration_start_check,
        personal_roles=PERSONAL_ROLES, supervises=supervises,
    )

    request_id.init_app(app)  # first, so that what the other hooks log carries the id
    security.init_app(app)
    auth.login_manager.init_app(app)
    csrf.init_app(app)
    csrf.exempt(api.bp)  # the API authenticates each request with a bearer token, not a cookie
    csrf.exempt(case_migration.api_bp)
    babel.init_app(app, locale_selector=_locale)
    app.register_blueprint(home.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(accounts.bp)
    app.register_blueprint(registrations_pages.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(tasks.bp)
    app.register_blueprint(cases.bp)
    app.register_blueprint(case_lists.bp)
    app.register_blueprint(designations.bp)
    app.register_blueprint(notices.bp)
    app.register_blueprint(notifications_pages.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(awards.bp)
    app.register_blueprint(complaints.bp)
    app.register_blueprint(lifecycle_pages.bp)
    app.register_blueprint(cultivation.bp)
    app.register_blueprint(modeler.bp)
    app.register_blueprint(agencies.bp)
    app.register_blueprint(experts_pages.bp)
    app.register_blueprint(calendar_admin.bp)
    app.register_blueprint(documents_pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(case_migration.bp)
    app.register_blueprint(case_migration.api_bp)
    app.register_blueprint(jobs_pages.bp)
    app.register_blueprint(delegation_pages.bp)
    app.register_blueprint(bulk.bp)
    handler.init_app(app)
    personal.init_app(app)
    app.context_processor(templating.helpers)
    app.jinja_env.globals["migration_result"] = case_migration.migration_result
    app.add_template_filter(model_text, "model")
    cli.init_app(app)
    if app.config["SCHEDULER"] and app.config["CLOCK"] != "virtual":
        TimerService(app).start()
        JobWorker(app).start()
        outgoing.DeliveryWorker(app).start()
    return app


def _not_the_scheduler_table(obj, name, type_, reflected, compare_to):
    """The job table earlier versions' APScheduler kept is not ours: migrations leave it alone where it is."""
    return not (type_ == "table" and name == JOB_TABLE)


def _cookies_need_https(app: Flask) -> bool:
    """The session cookie (which also holds the CSRF token) is sent over https only, unless
    the app runs for development or tests on plain http (`make run`, `flask run --debug`).
    SESSION_COOKIE_SECURE=0 or 1 decides explicitly."""
    explicit = os.environ.get("SESSION_COOKIE_SECURE")
    if explicit in ("0", "1"):
        return explicit == "1"
    return not (app.config["GREEN_LADDER_ENV"] == "development" or app.debug or app.testing)


def _instance_secret(app: Flask) -> str:
    """A random signing key kept in the instance folder, made on first start."""
    path = os.path.join(app.instance_path, "secret_key")
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(os.urandom(32).hex())
    with open(path) as f:
        return f.read().strip()


def _database_url(app: Flask) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return "sqlite:///" + os.path.join(app.instance_path, "green-ladder.sqlite3")
    # psycopg 3 is the driver we ship; accept the usual postgres:// spellings
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
