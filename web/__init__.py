"""Green Ladder's Flask app factory (应用工厂)."""
from __future__ import annotations

import os
from pathlib import Path

from flask import Flask
from flask_migrate import Migrate

from engine import clock
from engine.db import db
from engine.models import alembic_render_item
from engine.green.roles import PARTY_ROLES, PROVINCE_WIDE_ROLES, role_for_lane
from engine.registry import Registry
from engine.runtime import Runtime
from engine.timers import JOB_TABLE, TimerService

ROOT = Path(__file__).resolve().parent.parent
migrate = Migrate()


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("SECRET_KEY", "dev"),
        SQLALCHEMY_DATABASE_URI=_database_url(app),
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        MAX_CONTENT_LENGTH=int(os.environ.get("MAX_UPLOAD_BYTES", 8 * 1024 * 1024)),
        FORMS_DIR=os.environ.get("FORMS_DIR", str(ROOT / "forms")),
        PROCESSES_DIR=os.environ.get("PROCESSES_DIR", str(ROOT / "processes")),
        CLOCK=os.environ.get("CLOCK", "system"),
        # Run the timer scheduler inside this process (make run); production runs `flask timers run`.
        SCHEDULER=os.environ.get("SCHEDULER", "") == "in-process",
        JSON_AS_ASCII=False,
    )
    if test_config:
        app.config.from_mapping(test_config)
    app.json.ensure_ascii = False

    if app.config["CLOCK"] == "virtual":
        if not clock.current().virtual:
            clock.install(clock.VirtualClock())
    elif clock.current().virtual:
        clock.install(clock.SystemClock())

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_item=alembic_render_item,
                     include_object=_not_the_scheduler_table)

    registry = Registry(app.config["FORMS_DIR"], role_for_lane)
    app.extensions["green_ladder.runtime"] = Runtime(
        registry, role_for_lane, party_roles=PARTY_ROLES, province_wide_roles=PROVINCE_WIDE_ROLES
    )

    from . import api, cli, home

    app.register_blueprint(home.bp)
    app.register_blueprint(api.bp)
    api.json_errors(app)
    cli.init_app(app)
    if app.config["SCHEDULER"] and app.config["CLOCK"] != "virtual":
        TimerService(app).start()
    return app


def _not_the_scheduler_table(obj, name, type_, reflected, compare_to):
    """APScheduler creates and owns its job table; migrations leave it alone."""
    return not (type_ == "table" and name == JOB_TABLE)


def _database_url(app: Flask) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return "sqlite:///" + os.path.join(app.instance_path, "green-ladder.sqlite3")
    # psycopg 3 is the driver we ship; accept the usual postgres:// spellings
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
