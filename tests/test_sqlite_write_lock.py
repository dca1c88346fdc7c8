"""How a step on SQLite takes the write lock after its request's reads (`store.lock_for_writing`):
in place when nobody wrote meanwhile, so that what the request read stays loaded; otherwise its
reads end and the step reads the latest, waiting for the lock."""
from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from engine import store
from engine.models import ProcessInstance


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "lock.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    ProcessInstance.__table__.create(engine)
    yield engine, path
    engine.dispose()


def cases(session) -> int:
    return session.scalar(text("SELECT count(*) FROM process_instance"))


def another_writer(path) -> sqlite3.Connection:
    other = sqlite3.connect(path, isolation_level=None, timeout=0)  # refused at once rather than waiting
    other.execute("PRAGMA journal_mode=WAL")
    return other


def add_case(connection: sqlite3.Connection) -> None:
    connection.execute(
        "INSERT INTO process_instance (process_id, version_id, status, created_at, updated_at, revision, shell, "
        "serializer_version, data) VALUES ('p', 'v', 'running', '2026-12-06', '2026-12-06', 0, '{}', '1', '{}')")


def test_the_request_s_read_transaction_becomes_the_step_s_when_nobody_wrote_meanwhile(database):
    engine, path = database
    with Session(engine) as session:
        assert cases(session) == 0  # the request's read
        assert store.lock_for_writing(session) is False
        other = another_writer(path)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")  # the step holds the write lock
        session.rollback()
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        other.close()


def test_after_another_writer_the_step_reads_the_latest(database):
    engine, path = database
    with Session(engine) as session:
        assert cases(session) == 0  # the request's read, a snapshot
        other = another_writer(path)
        add_case(other)
        assert cases(session) == 0  # (still its snapshot)
        assert store.lock_for_writing(session) is True
        assert cases(session) == 1
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        session.rollback()
        other.close()
