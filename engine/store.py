"""The SQL of the step path (步骤存储), as SQLAlchemy Core statements built once.

A step runs a handful of small statements. Built once with bind parameters,
each costs a cache lookup instead of a construction and compilation (about
15 µs instead of 65 µs on SQLite here), which is most of a step's time.
The ORM models in `models.py` remain the schema and serve every other query.
"""
from __future__ import annotations

import contextvars
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter, itemgetter

from sqlalchemy import bindparam, delete, insert, select, update

from .db import busy, db, sqlite_begin
from .models import HandlingTime, HumanTask, InstanceTask, PendingTimer, ProcessHead, ProcessInstance


class Write:
    """A write of the step path, sent through the driver's cursor on the step's connection.

    SQLAlchemy's execution of even a cached statement (an execution context, its events,
    a result object) cost about three times what the driver spends sending it; a step
    sends five or more writes that return no rows. Compiled once per dialect and set of
    columns, the statement keeps SQLAlchemy's SQL and its types' bind conversions
    (aware datetimes, JSON) and skips the rest. Reads stay on `Connection.execute`.
    """

    __slots__ = ("statement", "_compiled")

    def __init__(self, statement):
        self.statement = statement
        self._compiled: dict[tuple, tuple] = {}

    def _compile(self, dialect, keys: tuple) -> tuple:
        compiled = self.statement.compile(dialect=dialect, column_keys=list(keys))
        # a bind the caller does not give would be sent as NULL by SQLAlchemy; here it is a KeyError
        processors = compiled._bind_processors
        if compiled.positional:  # the parameters in the statement's order, taken in C, then the few converted
            names = tuple(compiled.positiontup)
            take = itemgetter(*names) if len(names) > 1 else (lambda row: tuple(row[n] for n in names))
            converting = tuple((at, processors[name]) for at, name in enumerate(names) if processors.get(name))

            def bind(row: dict):
                values = take(row)
                if not converting:
                    return values
                values = list(values)
                for at, convert in converting:
                    values[at] = convert(values[at])
                return values
        else:
            plan = tuple((name, processors.get(name)) for name in keys)

            def bind(row: dict):
                return {n: row[n] if convert is None else convert(row[n]) for n, convert in plan}
        entry = (compiled.string, bind)
        self._compiled[(dialect.name, keys)] = entry
        return entry

    def __call__(self, connection, params: dict | list[dict]) -> int | None:
        """Execute with one row's parameters or many (one executemany); returns the rows
        affected, or None when a step holds it back to send with the case row (`deferring`)."""
        held = _held_writes.get()
        if held is not None:
            held.append((self, params))
            return None
        return self._send(connection, params)

    def _bound(self, connection, params: dict | list[dict]) -> tuple[str, list | dict, bool]:
        many = isinstance(params, list)
        first = params[0] if many else params
        keys = tuple(first)
        dialect = connection.dialect
        sql, bind = self._compiled.get((dialect.name, keys)) or self._compile(dialect, keys)
        return sql, ([bind(row) for row in params] if many else bind(params)), many

    def returned(self, connection, params: dict) -> tuple:
        """Send it now, not held, and give the row its RETURNING clause returns (a new row's id)."""
        sql, bound, _ = self._bound(connection, params)
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            cursor.execute(sql, bound)
            return cursor.fetchone()
        finally:
            cursor.close()

    def _send(self, connection, params, cursor=None) -> int:
        sql, bound, many = self._bound(connection, params)
        own = cursor is None
        cursor = cursor or connection.connection.dbapi_connection.cursor()
        try:
            (cursor.executemany if many else cursor.execute)(sql, bound)
            return cursor.rowcount
        finally:
            if own:
                cursor.close()


class Read:
    """A read of the step path (the case row it locks, the task it completes), sent as
    `Write` sends: SQLAlchemy's SQL and its types' result conversions (aware datetimes),
    without its execution context. Returns plain tuples."""

    __slots__ = ("statement", "_compiled")

    def __init__(self, statement):
        self.statement = statement
        self._compiled: dict[str, tuple] = {}

    def _compile(self, dialect) -> tuple:
        compiled = self.statement.compile(dialect=dialect)
        names = tuple(compiled.positiontup) if compiled.positional else None
        convert = [c.type._cached_result_processor(dialect, None) for c in self.statement.selected_columns]
        convert = [(at, f) for at, f in enumerate(convert) if f is not None]  # the columns that need it
        entry = (compiled.string, names, dict(compiled._bind_processors), convert)
        self._compiled[dialect.name] = entry
        return entry

    def first(self, connection, params: dict) -> tuple | None:
        rows = self.all(connection, params, one=True)
        return rows[0] if rows else None

    def all(self, connection, params: dict, one: bool = False) -> list[tuple]:
        dialect = connection.dialect
        sql, names, processors, convert = self._compiled.get(dialect.name) or self._compile(dialect)
        if processors:
            params = {k: (processors[k](v) if k in processors else v) for k, v in params.items()}
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            cursor.execute(sql, params if names is None else [params[n] for n in names])
            rows = [cursor.fetchone()] if one else cursor.fetchall()
        finally:
            cursor.close()
        if rows == [None]:
            return []
        if not convert:
            return [tuple(row) for row in rows]
        converted = []
        for row in rows:
            row = list(row)
            for at, f in convert:
                if row[at] is not None:
                    row[at] = f(row[at])
            converted.append(tuple(row))
        return converted


# The writes a step made so far, held back to go with its case row (see `deferring`).
_held_writes: contextvars.ContextVar[list | None] = contextvars.ContextVar("held_writes", default=None)


@contextmanager
def deferring():
    """Inside a step, between locking the case row and writing it: the step's writes
    (audit event, task rows, inbox, timers) are held and sent with the case row by
    `save_case`, on PostgreSQL in one round trip (psycopg's pipeline) instead of one
    each. Nothing in a step reads back what it wrote through `Write`; a step that
    fails sends nothing, and one that ends without its case row (nothing to save)
    sends what it held when it leaves."""
    token = _held_writes.set([])
    try:
        yield
        left = _held_writes.get()
        _held_writes.set(None)
        if left:
            _send_all(conn(), left)
    finally:
        _held_writes.reset(token)


def _send_all(connection, writes: list) -> int:
    """Send (Write, params) pairs in order; the last one's row count is returned."""
    dbapi = connection.connection.dbapi_connection
    if connection.dialect.name != "postgresql":
        count, cursor = 0, dbapi.cursor()
        try:
            for write, params in writes:
                count = write._send(connection, params, cursor)
        finally:
            cursor.close()
        return count
    # a cursor each: psycopg keeps each statement's result on its cursor until the pipeline syncs
    cursors = [dbapi.cursor() for _ in writes]
    try:
        with dbapi.pipeline() as pipeline:
            for (write, params), cursor in zip(writes, cursors, strict=True):
                write._send(connection, params, cursor)
            pipeline.sync()
        return cursors[-1].rowcount
    finally:
        for cursor in cursors:
            cursor.close()


CASE = ProcessInstance.__table__
TASK = InstanceTask.__table__
INBOX = HumanTask.__table__
TIMER = PendingTimer.__table__
HEAD = ProcessHead.__table__


@dataclass
class Case:
    """An instance row as a step reads and writes it (流程实例)."""

    id: int
    process_id: str
    version_id: str
    status: str
    jurisdiction: str | None
    started_by: str | None
    created_at: datetime
    updated_at: datetime
    revision: int
    error_message: str | None
    error_element: str | None
    next_timer_at: datetime | None
    audit_hash: str | None
    # Derived from the workflow and written by every step; a step never needs to read it.
    data: dict | None = None
    # The columns as read (None for a new case): a step writes back only those it changed.
    read: tuple | None = field(default=None, repr=False, compare=False)
    # The inbox entry the step was taken on (its id, and whom it was for), read under the case's
    # lock: when it leaves, its row is handed over to the entry that follows it (`hand_over`).
    entry: tuple[str, Addressee] | None = field(default=None, repr=False, compare=False)


_CASE_COLUMNS = [CASE.c[f.name] for f in fields(Case) if f.name not in ("data", "read", "entry")]
# Columns most steps leave as they were, set only when they changed: SQLite rewrites the index
# entries of every indexed column an UPDATE sets, changed or not, and status, version and next
# due time are indexed (about 8 µs a column a step, measured with bare sqlite3).
_WRITTEN_WHEN_CHANGED = {name: [c.name for c in _CASE_COLUMNS].index(name)
                         for name in ("status", "version_id", "next_timer_at", "error_message", "error_element")}

SELECT_CASE_FOR_STEP = Read(select(*_CASE_COLUMNS).where(CASE.c.id == bindparam("id")).with_for_update())
SELECT_CASE_FOR_READING = (select(CASE.c.version_id, CASE.c.process_id).where(CASE.c.id == bindparam("id"))
                           .with_for_update(read=True))
SELECT_SHELL = Read(select(CASE.c.shell).where(CASE.c.id == bindparam("id")))
INSERT_CASE = Write(insert(CASE).returning(CASE.c.id))
# The columns set are the ones given, by name (see `save_case`).
UPDATE_CASE = Write(update(CASE).where(CASE.c.id == bindparam("b_id"), CASE.c.revision == bindparam("b_revision")))

# A step that raised half-way was rolled back: only the case's status and error change (see runtime.boundary),
# and it is not woken again (a due timer would fail the same way every sweep) until an administrator retries it.
HOLD_IN_ERROR = Write(
    update(CASE)
    .where(CASE.c.id == bindparam("b_id"), CASE.c.revision == bindparam("b_revision"))
    .values(revision=bindparam("b_next"), status=bindparam("status"), updated_at=bindparam("updated_at"),
            error_message=bindparam("error_message"), error_element=bindparam("error_element"),
            audit_hash=bindparam("audit_hash"), next_timer_at=bindparam("next_timer_at"))
)

SELECT_TASK_ROWS = Read(select(TASK.c.task_id, TASK.c.body).where(TASK.c.instance_id == bindparam("id")))
SELECT_CASE_OF_TASK = select(TASK.c.instance_id).where(TASK.c.task_id == bindparam("id")).limit(1)
INSERT_TASK_ROWS = Write(insert(TASK))
UPDATE_TASK_ROW = Write(
    update(TASK)
    .where(TASK.c.instance_id == bindparam("b_instance"), TASK.c.task_id == bindparam("b_task"))
    .values(body=bindparam("body"))
)
DELETE_TASK_ROW = Write(delete(TASK).where(TASK.c.instance_id == bindparam("b_instance"),
                                          TASK.c.task_id == bindparam("b_task")))

SELECT_INBOX_ENTRY = select(INBOX).where(INBOX.c.id == bindparam("id"))
# A completion's task and its case's row, locked, in one statement (one round trip on PostgreSQL).
# The entry's row is locked too: the step hands it over to the next task (`hand_over`), and a
# draft saved for it meanwhile must wait and then find it gone, not make the step's UPDATE of its
# id fail on the draft's foreign key (SQLite's write lock already keeps every other writer out).
# PostgreSQL locks them in the order FOR UPDATE OF names them: the case first, as every step
# does, so that a completion waiting for another step on its case holds none of its inbox.
_INBOX_WHO = (INBOX.c.role, INBOX.c.assignee, INBOX.c.jurisdiction)
SELECT_CASE_OF_ENTRY = Read(
    select(*_CASE_COLUMNS, *_INBOX_WHO).join_from(INBOX, CASE, INBOX.c.instance_id == CASE.c.id)
    .where(INBOX.c.id == bindparam("id")).with_for_update(of=(CASE, INBOX)))
# What a worker's inbox read looks like at its simplest: the benchmark's "find my task".
SELECT_INBOX_IDS_FIRST = select(INBOX.c.id).where(INBOX.c.instance_id == bindparam("id")).limit(1)
SELECT_INBOX_ALERTS = Read(select(INBOX.c.id, INBOX.c.remind_at, INBOX.c.due_at, INBOX.c.overdue_noticed).where(
    INBOX.c.instance_id == bindparam("id")))
ASSIGN = update(INBOX).where(INBOX.c.id == bindparam("b_id")).values(assignee=bindparam("assignee"))
MARK_REMINDED = update(INBOX).where(INBOX.c.id == bindparam("b_id")).values(remind_at=None)
MARK_OVERDUE_NOTICED = update(INBOX).where(INBOX.c.id == bindparam("b_id")).values(overdue_noticed=True)
INSERT_INBOX = Write(insert(INBOX))
DELETE_INBOX = Write(delete(INBOX).where(INBOX.c.id == bindparam("b_id")))
# The columns set are the ones given, by name (see `hand_over`).
HAND_OVER_INBOX = Write(update(INBOX).where(INBOX.c.id == bindparam("b_id")))
INSERT_HANDLING_TIME = Write(insert(HandlingTime.__table__))

SELECT_HEAD = Read(select(HEAD.c.version_id).where(HEAD.c.process_id == bindparam("id")))

SELECT_TIMERS = Read(select(TIMER.c.task_id, TIMER.c.due_at).where(TIMER.c.instance_id == bindparam("id")))
INSERT_TIMERS = Write(insert(TIMER))
DELETE_TIMER = Write(delete(TIMER).where(TIMER.c.instance_id == bindparam("b_instance"),
                                       TIMER.c.task_id == bindparam("b_task")))


# The connection of the step under way: asking the session for it costs more than
# most of the statements sent on it, and a step asks a dozen times.
_step_connection: contextvars.ContextVar = contextvars.ContextVar("step_connection", default=None)


def conn():
    return _step_connection.get() or db.session.connection()


def hold_connection(session):
    """For the duration of a step's transaction (which has begun): its connection, kept at hand."""
    return _step_connection.set(session.connection())


def release_connection(token) -> None:
    _step_connection.reset(token)


# A statement that changes nothing but takes the write lock, as every UPDATE does when it begins.
_TAKE_WRITE_LOCK = "UPDATE process_instance SET revision = revision WHERE 0"


def lock_for_writing(session) -> bool:
    """SQLite: make the session's read transaction a write one, holding the write lock, on the
    same connection. It becomes one in place when nobody has written since it began and
    nobody holds the lock: what the caller read is then still the latest, and stays loaded.
    Otherwise (SQLite refuses at once, without waiting) the caller's reads end, a transaction
    begins that waits for the lock, and what the session loaded is expired, as a commit
    would expire it. Returns whether the reads had to end."""
    session.flush()
    driver = session.connection().connection.dbapi_connection
    try:
        driver.execute(_TAKE_WRITE_LOCK)
        return False
    except sqlite3.OperationalError as refused:
        if not busy(refused):  # (BUSY_SNAPSHOT is one of its kinds)
            raise
    # (the session's commit would hand the connection back to the pool and take it again, a
    # third of the cost of a step's commit)
    driver.commit()
    sqlite_begin(driver, immediate=True)
    session.expire_all()
    return True


def commit(session) -> None:
    """Commit a step's transaction on its connection, and go on in a new one on the same
    connection (on SQLite a deferred BEGIN: what the request reads next is one snapshot, and
    what it writes next is atomic, as after the session's commit). The session's own commit
    would also hand the connection back to the pool and take it again at the next statement,
    which cost a third of the commit itself (about 40 µs of a 500 µs step on SQLite). What
    the session loaded is expired, as its commit would."""
    session.flush()
    connection = conn()
    driver = connection.connection.dbapi_connection
    driver.commit()
    if connection.dialect.name == "sqlite":  # (psycopg begins the next one at its next statement)
        driver.execute("BEGIN")
    session.expire_all()


def case_for_step(instance_id: int) -> Case | None:
    row = SELECT_CASE_FOR_STEP.first(conn(), {"id": instance_id})
    return Case(*row, read=row) if row is not None else None


@dataclass
class Addressee:
    """Whom a waiting task is for, as `actors.may_act` asks."""

    role: str | None
    assignee: str | None
    jurisdiction: str | None


def case_of_entry(task_id: str) -> Case | None:
    """A waiting task's case, its row locked for the step, with whom the task is for (`Case.entry`)."""
    row = SELECT_CASE_OF_ENTRY.first(conn(), {"id": task_id})
    if row is None:
        return None
    n = len(_CASE_COLUMNS)
    return Case(*row[:n], read=row[:n], entry=(task_id, Addressee(*row[n:])))


# An inbox row's columns that a new entry of the same case has as well, and those whose index
# an UPDATE rewrites when it sets them (the others are not indexed, or change with every entry).
_SAME_CASE = ("instance_id", "process_id")
_ADDRESS = ("role", "jurisdiction", "assignee")
_INBOX_DEFAULTS = {c.name: c.default.arg if c.default is not None and c.default.is_scalar else None
                   for c in INBOX.columns if c.name not in _SAME_CASE}


def hand_over(connection, old: tuple[str, Addressee], new: dict) -> None:
    """Turn the inbox row of an entry that leaves into the row of one that enters, in the
    same case: the task done and the next one, in most steps. One UPDATE rewrites the row,
    its id's and its order's index entries, and those of its role and assignee only where
    they differ from what was read under the lock (`old`); a DELETE and an INSERT rewrite
    all six of the table's b-trees twice, which cost a step on SQLite a twentieth of its
    time in statements and pages to commit. Every column is set as an INSERT would set it,
    and what referred to the entry that left goes as its DELETE's cascade took it."""
    task_id, was = old
    for goes in _gone_with_entry():
        goes(connection, {"b_id": task_id})
    row = {"b_id": task_id}
    for name, default in _INBOX_DEFAULTS.items():
        value = new.get(name, default)
        if name in _ADDRESS and value == getattr(was, name):
            continue
        row[name] = value
    HAND_OVER_INBOX(connection, row)


_referring: tuple[int, list[Write]] = (0, [])


def _gone_with_entry() -> list[Write]:
    """The deletes of the rows that refer to an inbox entry and go with it (ON DELETE CASCADE:
    a task page's drafts), found in the models defined so far."""
    global _referring
    if _referring[0] != len(db.metadata.tables):
        found = []
        for table in db.metadata.sorted_tables:
            for key in table.foreign_keys:
                if key.column is INBOX.c.id:
                    if (key.ondelete or "").upper() != "CASCADE":
                        raise RuntimeError(f"{table.name} refers to an inbox entry without ON DELETE CASCADE")
                    found.append(Write(delete(table).where(key.parent == bindparam("b_id"))))
        _referring = (len(db.metadata.tables), found)
    return _referring[1]


def case_of_task(task_id: str) -> int | None:
    """The case a task (waiting, done or future) belongs to."""
    return conn().execute(SELECT_CASE_OF_TASK, {"id": task_id}).scalar()


def inbox_entry(task_id: str):
    return conn().execute(SELECT_INBOX_ENTRY, {"id": task_id}).first()


def save_case(case: Case, shell: str) -> bool:
    """Write the case row if nobody else did since it was read; False when somebody did."""
    row = {"b_id": case.id, "b_revision": case.revision, "revision": case.revision + 1, "shell": shell,
           "data": case.data, "updated_at": case.updated_at, "audit_hash": case.audit_hash}
    for name, at in _WRITTEN_WHEN_CHANGED.items():
        value = getattr(case, name)
        if case.read is None or case.read[at] != value:
            row[name] = value
    held = _held_writes.get()
    if held is None:
        moved = UPDATE_CASE(conn(), row)
    else:  # the step's held writes go with it, the case row last
        held.append((UPDATE_CASE, row))
        _held_writes.set([])
        moved = _send_all(conn(), held)
    if moved != 1:
        return False
    case.revision += 1
    _written(case)
    return True


_CASE_AS_STORED = attrgetter(*(column.name for column in _CASE_COLUMNS))


def _written(case: Case) -> None:
    """The case as now stored is what a later save compares with."""
    case.read = _CASE_AS_STORED(case)


def hold_in_error(case: Case) -> bool:
    """Write a case's error (and its audit chain's head) alone, revision checked; False when
    another step was saved first."""
    moved = HOLD_IN_ERROR(conn(), {
        "b_id": case.id, "b_revision": case.revision, "b_next": case.revision + 1, "status": case.status,
        "updated_at": case.updated_at, "error_message": case.error_message, "error_element": case.error_element,
        "audit_hash": case.audit_hash, "next_timer_at": None,
    })
    if moved != 1:
        return False
    case.revision += 1
    case.next_timer_at = None
    _written(case)
    return True
