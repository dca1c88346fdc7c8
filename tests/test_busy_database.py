"""A write that another's lock holds up past `DATABASE_LOCK_WAIT_MS` (SQLite's busy timeout,
PostgreSQL's lock_timeout) is refused as busy: 503 with Retry-After, nothing saved, the
entries still on the page; sent again once the lock is gone, it is saved. Never a 500 after
a long wait, and never the case held in error for it."""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from test_web_tasks import REPORT, case_row, drafts, field, open_case, page, person, ready_task, submit
from webclient import post_form, sign_in

from engine import db as engine_db
from engine.db import db
from engine.models import AuditEvent

BUSY = "系统繁忙，未能保存，请稍后重试"


@pytest.fixture
def short_wait(app, monkeypatch):
    """Writes wait 300 ms for a lock instead of 30 s: the pool's connections are opened anew."""
    monkeypatch.setenv("DATABASE_LOCK_WAIT_MS", "300")
    db.engine.dispose()
    yield
    db.session.remove()
    db.engine.dispose()


@contextmanager
def held():
    """Another writer holding up every write while reads go on: SQLite's one write lock, or
    every table locked EXCLUSIVE on PostgreSQL (which lets SELECT through, not a row lock nor
    a write)."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        other = sqlite3.connect(url.database, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    elsewhere = create_engine(url)
    try:
        with elsewhere.connect() as other:
            tables = ", ".join(t.name for t in db.metadata.sorted_tables)
            other.execute(text(f"LOCK TABLE {tables} IN EXCLUSIVE MODE"))
            yield
            other.rollback()
    finally:
        elsewhere.dispose()


def completions(case_id: int) -> int:
    db.session.rollback()
    return db.session.scalar(db.select(db.func.count()).select_from(AuditEvent).where(
        AuditEvent.instance_id == case_id, AuditEvent.action == "complete"))


def test_a_page_held_up_by_another_write_is_refused_as_busy_with_the_entries_kept(client, users, runtime,
                                                                                  short_wait):
    case_id, task_id = open_case(client, users, runtime)
    sign_in(client, "firm")
    entries = {**REPORT, "summary": "等待中写下的说明"}
    with held():
        for action in ("draft", "submit"):
            r = submit(client, task_id, entries, action=action)
            assert r.status_code == 503, (action, r.status_code)
            doc = page(r)
            assert BUSY in doc.text_content()
            assert field(doc, "summary").xpath(".//textarea")[0].text == "等待中写下的说明"  # nothing typed is lost
            assert field(doc, "credit_code").xpath(".//input")[0].get("value") == REPORT["credit_code"]
        assert drafts() == 0
        assert completions(case_id) == 0 and ready_task(case_id) == task_id
        assert case_row(case_id).status == "running"  # the case is not held in error for a lock

    # the lock gone, the same requests are saved
    r = submit(client, task_id, entries, action="draft")
    assert r.status_code == 303 and drafts() == 1
    r = submit(client, task_id, entries)
    assert r.status_code == 303
    assert completions(case_id) == 1 and ready_task(case_id) != task_id


def test_the_api_answers_a_held_up_step_with_503_and_retry_after(client, users, runtime, short_wait):
    case_id, task_id = open_case(client, users, runtime)
    admin = users("root", "admin")
    with held():
        r = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": REPORT}, headers=admin)
        assert r.status_code == 503
        assert r.headers["Retry-After"] == "5"
        assert BUSY in r.get_json()["error"]
        assert completions(case_id) == 0
    r = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": REPORT}, headers=admin)
    assert r.status_code == 200 and completions(case_id) == 1


def test_the_wait_is_a_whole_number_of_milliseconds(monkeypatch):
    monkeypatch.setenv("DATABASE_LOCK_WAIT_MS", "30s; PRAGMA writable_schema=1")
    with pytest.raises(ValueError, match="DATABASE_LOCK_WAIT_MS"):
        engine_db.lock_wait_ms()
    monkeypatch.delenv("DATABASE_LOCK_WAIT_MS")
    assert engine_db.lock_wait_ms() == 30_000


def test_a_page_that_writes_on_its_own_says_busy_in_the_reader_s_language(client, users, runtime, short_wait):
    person("lz", "municipal", "620100")
    sign_in(client, "lz")
    with held():
        r = post_form(client, "/notifications/read-all", page="/notifications/")
        assert r.status_code == 503 and r.headers["Retry-After"] == "5"
        assert BUSY in r.get_data(as_text=True)
        client.get("/lang/en")
        r = post_form(client, "/notifications/read-all", page="/notifications/")
        assert r.status_code == 503
        answer = r.get_data(as_text=True)
        assert "System busy" in answer and "The system is busy and nothing was saved" in answer and BUSY not in answer
    assert post_form(client, "/notifications/read-all", page="/notifications/").status_code == 303
