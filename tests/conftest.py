"""Fixtures: every database test runs on SQLite and on PostgreSQL.

The schema comes from the real migrations, once per database per session;
each test starts from empty tables and a virtual clock at a fixed moment.
"""
from __future__ import annotations

import io
import os
from datetime import datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from engine import calendar, clock
from engine.db import db
from web import create_app
from web.accounts.users import add_user

ROOT = Path(__file__).resolve().parent.parent
MODELS = Path(__file__).resolve().parent / "models"
START = datetime(2026, 3, 2, 9, 0, tzinfo=clock.SHANGHAI)  # a Monday; the holiday calendar covers 2026

DATABASES = ["sqlite"]
if os.environ.get("TEST_POSTGRES_URL"):
    DATABASES.append("postgresql")


def pytest_report_header(config):
    return f"databases: {', '.join(DATABASES)}"


def _pg_url() -> str:
    url = os.environ["TEST_POSTGRES_URL"]
    return "postgresql+psycopg://" + url.split("://", 1)[1]


@pytest.fixture(scope="session")
def database_urls(tmp_path_factory):
    """Migrate each database once; hand out its URL."""
    urls = {"sqlite": "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")}
    if "postgresql" in DATABASES:
        urls["postgresql"] = _pg_url()
        engine = create_engine(urls["postgresql"])
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    for url in urls.values():
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
        with app.app_context():
            upgrade()
            db.engine.dispose()
    return urls


TABLES = ["notice_objection", "public_notice", "start_request", "incident_report", "designation_change", "onsite_review", "missed_filing", "dynamic_table_filing", "designation_lifecycle", "adverse_fact", "cultivation_pool_entry", "organisation_link", "revocation_announcement", "award", "national_recommendation", "evaluation_report", "agency_engagement", "agency", "rate_hit", "official_calendar_day", "official_calendar_year", "attachment", "complaint_receipt", "designation_event", "designation", "organisation", "task_draft", "notification", "human_task",
          "pending_timer", "instance_task", "process_instance", "model_file", "process_head", "model_version",
          "audit_event", "app_user", "scheduler_beat"]


def _empty(kind: str):
    with db.engine.begin() as conn:
        if kind == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        else:
            for table in TABLES:
                conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text("UPDATE audit_head SET seq = 0, hash = :h WHERE id = 1"), {"h": "0" * 64})


class IsolatedClient(FlaskClient):
    """Each request in an app context of its own, as in a real server: its own
    `g` and database session, not the test's."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture(params=DATABASES)
def app(request, database_urls, tmp_path):
    clock.install(clock.VirtualClock(START))
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": database_urls[request.param],
        "TESTING": True,
        "CLOCK": "virtual",
        "FORMS_DIR": str(ROOT / "forms"),
        "UPLOAD_DIR": str(tmp_path / "uploads"),
    })
    app.config["DB_KIND"] = request.param
    calendar.ARRANGEMENTS.forget()
    app.test_client_class = IsolatedClient
    with app.app_context():
        _empty(request.param)
        yield app
        db.session.remove()
        _empty(request.param)
        db.engine.dispose()
    calendar.ARRANGEMENTS.forget()
    clock.install(clock.SystemClock())


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runtime(app):
    return app.extensions["green_ladder.runtime"]


class Users:
    """Creates users on demand and gives their Authorization headers."""

    def __init__(self):
        self.tokens = {}

    def __call__(self, name, role="admin", jurisdiction=None) -> dict:
        if name not in self.tokens:
            _, token = add_user(name, role, jurisdiction)
            self.tokens[name] = token
        return {"Authorization": f"Bearer {self.tokens[name]}"}


@pytest.fixture
def users(app):
    return Users()


def upload(client, headers, *files, note=None):
    """POST /api/v1/models with files given as paths or (name, bytes)."""
    parts = []
    for f in files:
        if isinstance(f, tuple):
            parts.append((io.BytesIO(f[1]), f[0]))
        else:
            p = Path(f)
            parts.append((io.BytesIO(p.read_bytes()), p.name))
    data = {"files": parts}
    if note:
        data["note"] = note
    return client.post("/api/v1/models", data=data, headers=headers, content_type="multipart/form-data")
