"""The database handle and the tables the engine keeps (持久化).

One step of an instance writes several of these tables in one transaction
(see `runtime.InstanceStep`). Times are stored as aware datetimes.
"""
from __future__ import annotations

import contextvars
import json
import os
import sqlite3
from contextlib import contextmanager

import orjson
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from .errors import Busy

# Alembic needs stable constraint names to alter tables on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def json_text(value) -> str:
    """A JSON column's text (a case's data, a version's process list), written by orjson: every
    step writes its case's data, and the standard library took about as long as the rest of the
    case row's parameters together. What orjson refuses goes to the standard library, which
    refuses it as before (a date: the caller converts it) or writes it (an integer over 64 bits,
    a lone surrogate, escaped). The text is compact and keeps Chinese as it is; readers parse it."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value)


def json_value(text):
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # (what only the standard library wrote or reads: NaN)
        return json.loads(text)


def remembered(table: dict, key, value, keep: int):
    """Put `value` under `key` in a memo table of the step path (ids and times converted to and
    from their stored text), and return it. The table is emptied when it holds `keep` entries,
    which costs only converting again."""
    if len(table) >= keep:
        table.clear()
    table[key] = value
    return value


db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING),
                engine_options={"json_serializer": json_text, "json_deserializer": json_value})

# A step on SQLite must take the write lock when its transaction begins: a
# deferred transaction that reads first and writes later fails at once (no
# busy wait) whenever any other write landed in between.
write_intent = contextvars.ContextVar("write_intent", default=False)


# How hard SQLite pushes a commit to the disk (README, "SQLite's durability"). NORMAL, with
# WAL: a commit is not synced, so a power cut or an OS crash may lose the last commits,
# but never corrupts the file; FULL syncs the log on every commit (nothing committed is
# lost, each commit waits for the disk). An application crash loses nothing either way.
SQLITE_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")


# How much log SQLite gathers before a commit copies it back into the database file (a
# checkpoint, which also syncs both). SQLite's default, 1,000 pages, made every hundredth
# step on the line benchmark copy and sync the pages the hundred before it wrote, a few
# milliseconds on that one step. At 10,000 pages (about 20 MB of log, some 1,400 steps) a page
# written by many steps (an inbox index's, the latest audit page) is copied once for all of
# them: 300 rounds of the line averaged 490-500 µs a step against 520-640 µs at 1,000.
SQLITE_CHECKPOINT_PAGES = 10_000


# The size of a database page, for a new SQLite file. A step changes a few rows in each of seven
# b-trees, and every page it touches is written whole to the log, checksummed, and later synced
# at a checkpoint: with 2,048-byte pages that is half the bytes of SQLite's default 4,096, and
# a case's row (its workflow shell, about 1.3 kB) still fits in one page. Files of both sizes
# taking turns in one process, 40-60 rounds of the line: 2,340 and 2,308 steps/s became 2,389
# and 2,353 (medians); 1,024 bytes was no faster, and splits a case's row over two pages.
SQLITE_PAGE_SIZE = 2048


def sqlite_synchronous() -> str:
    """The setting chosen in the environment (`SQLITE_SYNCHRONOUS`), NORMAL by default."""
    chosen = os.environ.get("SQLITE_SYNCHRONOUS", "NORMAL").strip().upper() or "NORMAL"
    if chosen not in SQLITE_SYNCHRONOUS:
        # a typo must not quietly run with weaker durability than was asked for
        raise ValueError(f"SQLITE_SYNCHRONOUS={chosen!r}: choose one of {', '.join(SQLITE_SYNCHRONOUS)}")
    return chosen


def lock_wait_ms() -> int:
    """How long, in milliseconds, a write waits for the lock another write holds before it is
    refused as busy (`DATABASE_LOCK_WAIT_MS`, 30,000 by default: under gunicorn's 60-second
    timeout, so that the person gets the answer and the worker is not killed). SQLite's busy
    timeout; PostgreSQL's lock_timeout."""
    chosen = os.environ.get("DATABASE_LOCK_WAIT_MS", "30000").strip()
    if not chosen.isdigit():
        raise ValueError(f"DATABASE_LOCK_WAIT_MS={chosen!r}: a whole number of milliseconds")
    return int(chosen)


# What PostgreSQL says when a statement could not get its lock (lock_timeout, NOWAIT), or was
# chosen to break a deadlock, or lost to another serializable transaction: try it again.
_PG_BUSY = {"55P03", "40P01", "40001"}


def busy(exc: BaseException) -> bool:
    """Whether the database refused for another's lock: the work may be sent again as it was."""
    exc = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(exc, sqlite3.OperationalError):
        return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return getattr(exc, "sqlstate", None) in _PG_BUSY


def sqlite_begin(driver, immediate: bool) -> None:
    """BEGIN on a SQLite connection; an IMMEDIATE one waits for the write lock (the busy
    timeout) and is refused as `Busy` when another write holds it past that."""
    if not immediate:
        driver.execute("BEGIN")  # (takes no lock: never waits)
        return
    try:
        driver.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as refused:
        if busy(refused):
            raise Busy() from refused
        raise


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cur = dbapi_connection.cursor()
        cur.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")  # (a new file's; an existing one keeps its own)
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={sqlite_synchronous()}")  # one of SQLITE_SYNCHRONOUS, never free text
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={lock_wait_ms()}")  # a whole number, never free text
        cur.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")
        cur.close()


@event.listens_for(Engine, "do_connect")
def _postgresql_lock_timeout(dialect, connection_record, cargs, cparams):
    if dialect.name == "postgresql":  # in the connection's start-up message: no round trip of its own
        options = cparams.get("options", "")
        cparams["options"] = f"{options} -c lock_timeout={lock_wait_ms()}".strip()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):
    if conn.dialect.name == "sqlite":
        # straight to the driver: SQLAlchemy's execution of a statement costs three times
        # the BEGIN itself, and every step and request begins one
        sqlite_begin(conn.connection.dbapi_connection, write_intent.get())


@contextmanager
def writing():
    """A write transaction of its own, for a page that mostly reads (a draft, an audited
    read): the page's read transaction ends first, and on SQLite the write lock is
    taken when this one begins. Inside a write transaction already (a request's, a
    step's) it joins that one, whose owner commits."""
    if write_intent.get():
        yield
        return
    db.session.commit()
    token = write_intent.set(True)
    try:
        yield
        db.session.commit()
    except BaseException as exc:
        db.session.rollback()
        if busy(exc):
            raise Busy() from exc
        raise
    finally:
        write_intent.reset(token)
