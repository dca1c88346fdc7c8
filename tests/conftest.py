"""Fixtures: every database test runs on SQLite and on PostgreSQL.

The schema comes from the real migrations, once per database per session;
each test starts from empty tables and a virtual clock at a fixed moment.
"""
from __future__ import annotations

import functools
import io
import os
from datetime import datetime
from pathlib import Path

import catalogs
import factories
import jinja2
import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy import SQLAlchemy
from hypothesis import settings
from sqlalchemy import create_engine, make_url, text
from werkzeug.routing.rules import Rule

from engine import clock, statutory_calendar
from engine.db import db
from web import create_app

ROOT = Path(__file__).resolve().parent.parent
MODELS = Path(__file__).resolve().parent / "models"
START = datetime(2026, 3, 2, 9, 0, tzinfo=clock.SHANGHAI)  # a Monday; the holiday calendar covers 2026

catalogs.compile_all()  # before any page is rendered: Flask-Babel caches a locale's catalogs per process

DATABASES = ["sqlite"]
if os.environ.get("TEST_POSTGRES_URL"):
    DATABASES.append("postgresql")

# Property tests assert what holds, not how fast: hypothesis's default deadline (200 ms an
# example) failed them on a loaded machine. Speed is measured under bench/.
settings.register_profile("green_ladder", deadline=None)
settings.load_profile("green_ladder")

# What each test's app differs in from production, for speed only: a cheap password hash
# (scrypt costs ~0.1 s a hash, and the suite signs in thousands of times).
TEST_CONFIG = {"TESTING": True, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1"}


def pytest_configure(config):
    """Under pytest-xdist each worker gets a PostgreSQL database of its own (`<name>_gw0`, ...),
    made on first use: two workers emptying one database's tables would deadlock."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and os.environ.get("TEST_POSTGRES_URL") and not os.environ.get("TEST_POSTGRES_BASE_URL"):
        base = make_url(os.environ["TEST_POSTGRES_URL"]).set(drivername="postgresql+psycopg")
        mine = f"{base.database}_{worker}"
        admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": mine}) is None:
                conn.execute(text(f'CREATE DATABASE "{mine}"'))
        admin.dispose()
        os.environ["TEST_POSTGRES_BASE_URL"] = os.environ["TEST_POSTGRES_URL"]
        os.environ["TEST_POSTGRES_URL"] = base.set(drivername="postgresql", database=mine) \
            .render_as_string(hide_password=False)


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
        app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            upgrade()
            db.engine.dispose()
    SHARED_ENGINES.update({make_url(url).render_as_string(hide_password=False): None for url in urls.values()})
    return urls


# Every table the models declare, children first; the migrations' own bookkeeping and the
# audit chain's head (reset below, not emptied) are not test data.
KEPT = {"alembic_version", "audit_head"}


@functools.cache  # (the metadata sorts its tables anew on every call: 7 ms, before every test)
def _tables() -> list[str]:
    return [t.name for t in reversed(db.metadata.sorted_tables) if t.name not in KEPT]


# Each sequence back to 1, as TRUNCATE ... RESTART IDENTITY would.
_RESTART_SEQUENCES = ("SELECT setval(c.oid, 1, false) FROM pg_class c "
                      "WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace")


def _empty(kind: str):
    # DELETE, children first, rather than TRUNCATE: a test leaves a few rows, and PostgreSQL's
    # TRUNCATE gives each of the ~40 tables and its indexes new files, 0.3-0.7 s a test.
    tables = _tables()
    with db.engine.begin() as conn:
        if kind == "postgresql":
            conn.exec_driver_sql("; ".join(f"DELETE FROM {table}" for table in tables))
            conn.exec_driver_sql(_RESTART_SEQUENCES)
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text("UPDATE audit_head SET seq = 0, hash = :h WHERE id = 1"), {"h": "0" * 64})


class _SharedTemplates(jinja2.BytecodeCache):
    """Each test's app has its own Jinja environment; compiling every template again for each
    test would cost more than most tests. The compiled code is shared, keyed by source checksum."""

    def __init__(self):
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        if (code := self.compiled.get(bucket.key + bucket.checksum)) is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket):
        self.compiled[bucket.key + bucket.checksum] = bucket.bytecode_to_string()


TEMPLATES = _SharedTemplates()


def _share_url_builders():
    """Each test builds an app, and werkzeug compiles a URL builder for each of its ~90 routes
    (50 ms an app, a sixth of the suite). A builder's code depends only on its rule and its
    defaults, and takes the rule as its first argument, so the suite compiles each once."""
    compile_builder = Rule._compile_builder
    compiled: dict[tuple, object] = {}

    def shared(self, append_unknown=True):
        key = (self.rule, tuple(self._trace), repr(sorted((self.defaults or {}).items())), append_unknown)
        if (builder := compiled.get(key)) is None:
            builder = compiled[key] = compile_builder(self, append_unknown)
        return builder

    Rule._compile_builder = shared


_share_url_builders()

# The suite's databases' URLs, and the one engine each that every test's app uses.
SHARED_ENGINES: dict[str, object] = {}


def _share_engines():
    """Each test builds an app, and Flask-SQLAlchemy an engine for it; SQLAlchemy keeps the
    SQL it compiled per engine (its dialect is part of the key), so every test compiled every
    statement it ran anew: more than a quarter of the suite's CPU time. The apps of the suite's own
    databases share one engine each, given the same options; each test still disposes its
    pool at the end. Apps on other databases (a test's own file) get their own, as before."""
    make_engine = SQLAlchemy._make_engine

    def shared(self, bind_key, options, app):
        url = make_url(options["url"]).render_as_string(hide_password=False)
        if url not in SHARED_ENGINES:
            return make_engine(self, bind_key, options, app)
        engine = SHARED_ENGINES[url]
        if engine is None or engine.sa_options != options:
            engine = SHARED_ENGINES[url] = make_engine(self, bind_key, options, app)
            engine.sa_options = dict(options)
        return engine

    SQLAlchemy._make_engine = shared


_share_engines()


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
        **TEST_CONFIG,
        "SQLALCHEMY_DATABASE_URI": database_urls[request.param],
        "CLOCK": "virtual",
        "FORMS_DIR": str(ROOT / "forms"),
        "UPLOAD_DIR": str(tmp_path / "uploads"),
    })
    app.config["DB_KIND"] = request.param
    statutory_calendar.ARRANGEMENTS.forget()
    app.test_client_class = IsolatedClient
    app.jinja_env.bytecode_cache = TEMPLATES
    with app.app_context():
        _empty(request.param)
        yield app
        db.session.remove()
        db.engine.dispose()
    statutory_calendar.ARRANGEMENTS.forget()
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
            self.tokens[name] = factories.user(name, role, jurisdiction, password=None)
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
