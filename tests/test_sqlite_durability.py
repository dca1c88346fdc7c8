"""SQLite's durability setting (README, "SQLite's durability"): NORMAL with WAL by
default, FULL (or another of SQLite's levels) chosen in the environment."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from engine import db as engine_db

LEVELS = {"OFF": 0, "NORMAL": 1, "FULL": 2, "EXTRA": 3}


def synchronous(tmp_path) -> tuple[int, str]:
    engine = create_engine(f"sqlite:///{tmp_path / 'durable.sqlite3'}")
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("PRAGMA synchronous").scalar(), conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    finally:
        engine.dispose()


def test_sqlite_runs_wal_with_normal_sync_unless_told_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv("SQLITE_SYNCHRONOUS", raising=False)
    assert synchronous(tmp_path) == (LEVELS["NORMAL"], "wal")


def test_the_environment_chooses_full_sync(tmp_path, monkeypatch):
    monkeypatch.setenv("SQLITE_SYNCHRONOUS", "full")
    assert synchronous(tmp_path) == (LEVELS["FULL"], "wal")


def test_a_setting_sqlite_does_not_know_is_refused_not_ignored(monkeypatch):
    monkeypatch.setenv("SQLITE_SYNCHRONOUS", "FULL; DROP TABLE x")
    with pytest.raises(ValueError, match="SQLITE_SYNCHRONOUS"):
        engine_db.sqlite_synchronous()


def test_sqlite_copies_its_log_back_every_ten_thousand_pages(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'checkpoint.sqlite3'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == engine_db.SQLITE_CHECKPOINT_PAGES == 10_000
    finally:
        engine.dispose()


def test_a_new_sqlite_file_has_pages_of_2048_bytes_and_an_existing_one_keeps_its_own(tmp_path):
    import sqlite3

    old = tmp_path / "old.sqlite3"
    with sqlite3.connect(old) as made_before:  # a file from before the setting, at SQLite's default
        made_before.execute("CREATE TABLE t (x)")
        made_before.execute("INSERT INTO t VALUES (1)")
    made_before.close()
    for path, size, rows in ((tmp_path / "new.sqlite3", engine_db.SQLITE_PAGE_SIZE, None), (old, 4096, 1)):
        engine = create_engine(f"sqlite:///{path}")
        try:
            with engine.connect() as conn:
                if rows is None:
                    conn.exec_driver_sql("CREATE TABLE t (x)")
                assert conn.exec_driver_sql("PRAGMA page_size").scalar() == size
                assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == (rows or 0)
        finally:
            engine.dispose()
    assert engine_db.SQLITE_PAGE_SIZE == 2048
