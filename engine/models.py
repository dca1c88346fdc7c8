"""Tables of the workflow engine. Domain records (accounts included) live in `engine.green`,
the web pages' own tables (drafts, rate limits) in their features under `web/`."""
from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from .clock import SHANGHAI
from .db import db, remembered


class Aware(TypeDecorator):
    """Stores UTC without an offset (SQLite keeps none) and hands back Beijing time."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to an aware column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC).astimezone(SHANGHAI)

    # SQLite keeps a time as text, in SQLAlchemy's SQLite storage format; every page's reads
    # compare with the texts written over the years, so it must stay the same to the character
    # (tests/test_persistence.py). Written and read here by `datetime` itself, in C: SQLAlchemy's
    # processor fills the format from a dict built for each value, and a step binds a few and
    # reads a few (the same moment, its `now`, more than once: the last one is kept). A step
    # reads back the times the step before wrote (its case's updated_at, created_at): the Beijing
    # times written are remembered by their text, and read back without converting again
    # (a conversion through the time zone costs a few µs, a twentieth of a step's own work).
    _read_back: dict[str, datetime] = {}
    _READ_BACK_KEEP = 10_000

    # The last time bound, with its text, shared by every statement's processor: a step binds its
    # `now` to several (its inbox entry's, its case's), and each would convert it again.
    _last_bound: tuple[datetime | None, str | None] = (None, None)

    def bind_processor(self, dialect):
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value):
            if value is None:
                return None
            seen, text = Aware._last_bound
            if value == seen:  # (the same moment: the same text, whatever its time zone)
                return text
            if value.tzinfo is None:
                raise ValueError("naive datetime given to an aware column")
            # process_bind_param's conversion, the offset cut from the text rather than from a copy
            # of the value (a new datetime costs more than the text it is written as)
            text = value.astimezone(UTC).isoformat(" ", "microseconds")[:-6]
            Aware._last_bound = (value, text)
            if value.tzinfo is SHANGHAI:  # (what a read gives back: the same moment, in Beijing time)
                remembered(Aware._read_back, text, value, Aware._READ_BACK_KEEP)
            return text

        return process

    def result_processor(self, dialect, coltype):
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        read_back = Aware._read_back

        def process(value):
            if value is None:
                return None
            known = read_back.get(value)
            if known is None:
                known = self.process_result_value(datetime.fromisoformat(value), dialect)
                remembered(read_back, value, known, Aware._READ_BACK_KEEP)
            return known

        return process


class ModelVersion(db.Model):
    """A deployed, immutable set of BPMN/DMN files (模型版本), named by the hash of its content."""

    __tablename__ = "model_version"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    deployed_at: Mapped[datetime] = mapped_column(Aware())
    deployed_by: Mapped[str | None] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(Text)
    processes: Mapped[list] = mapped_column(JSON)
    warnings: Mapped[list] = mapped_column(JSON)
    files: Mapped[list[ModelFile]] = relationship(
        back_populates="version", order_by="ModelFile.name", cascade="all, delete-orphan"
    )


class ProcessHead(db.Model):
    """The version new cases of a process start on: the last one deployed with it."""

    __tablename__ = "process_head"
    process_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("model_version.id"))
    updated_at: Mapped[datetime] = mapped_column(Aware())


class ModelFile(db.Model):
    __tablename__ = "model_file"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("model_version.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)
    version: Mapped[ModelVersion] = relationship(back_populates="files")


class ProcessInstance(db.Model):
    """One running case (流程实例). `revision` is the optimistic-concurrency counter."""

    __tablename__ = "process_instance"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[str] = mapped_column(String(255), index=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("model_version.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    jurisdiction: Mapped[str | None] = mapped_column(String(12), index=True)
    started_by: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(Aware())
    updated_at: Mapped[datetime] = mapped_column(Aware())
    revision: Mapped[int] = mapped_column(Integer, default=0)
    # The workflow without its task tree and without the spec (kept once per model version).
    shell: Mapped[str] = mapped_column(Text)
    serializer_version: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict] = mapped_column(JSON)
    error_message: Mapped[str | None] = mapped_column(Text)
    error_element: Mapped[str | None] = mapped_column(String(255))
    next_timer_at: Mapped[datetime | None] = mapped_column(Aware())
    audit_hash: Mapped[str | None] = mapped_column(String(64))  # last link of this case's audit chain

    # the timer scheduler's schedule: it reads the due end in (due time, id) order, a batch at a time;
    # with the id in the index a batch reads its own rows, not every case due at that moment
    __table_args__ = (Index("ix_process_instance_due", "next_timer_at", "id"),)


class InstanceTask(db.Model):
    """One serialised SpiffWorkflow task; only the tasks a step changed are rewritten."""

    __tablename__ = "instance_task"
    instance_id: Mapped[int] = mapped_column(
        ForeignKey("process_instance.id", ondelete="CASCADE"), primary_key=True
    )
    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    body: Mapped[str] = mapped_column(Text)

    # a task's case from its id alone: a completion that arrives after the task was done is a
    # conflict for whoever may see the case, not "no such task"
    __table_args__ = (Index("ix_instance_task_task_id", "task_id"),)


class HumanTask(db.Model):
    """The inbox index (待办): a ready user or manual task an instance waits on."""

    __tablename__ = "human_task"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[int] = mapped_column(
        ForeignKey("process_instance.id", ondelete="CASCADE"), index=True
    )
    process_id: Mapped[str] = mapped_column(String(255))
    element: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    lane: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str | None] = mapped_column(String(40))
    jurisdiction: Mapped[str | None] = mapped_column(String(12))
    assignee: Mapped[str | None] = mapped_column(String(80), index=True)
    form: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(Aware())
    due_at: Mapped[datetime | None] = mapped_column(Aware())  # indexed first in ix_human_task_due_order
    # The reminder before the due date, until it is sent (提醒).
    remind_at: Mapped[datetime | None] = mapped_column(Aware())
    # Who is told when the task is overdue (督办): this role, or the task's own when empty.
    escalate_to: Mapped[str | None] = mapped_column(String(40))
    overdue_noticed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The due date is provisional (暂定): counted on the holiday law alone for this year, the first
    # it reached that no State Council notice covers yet; None once official.
    due_provisional_year: Mapped[int | None] = mapped_column(Integer)
    # What the case is about, for filtering inboxes (the domain says which data these are).
    unit_type: Mapped[str | None] = mapped_column(String(40))
    level: Mapped[str | None] = mapped_column(String(16))
    # Which of a case's items this task is about, when it has several (the candidate one
    # expert reviews in a provincial round).
    subject: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (
        Index("ix_human_task_role_jurisdiction", "role", "jurisdiction"),
        # Every task list's order: soonest due first, undated last (PostgreSQL's NULLS LAST of an
        # ascending index), then by age (web.paging keys): a page of 20,000 tasks read in order, not sorted.
        Index("ix_human_task_due_order", "due_at", "created_at", "id"),
    )


class Notification(db.Model):
    """A reminder, an overdue notice, a moved due date, a task handed over, an application returned
    for correction or decided (提醒 / 逾期督办 / 期限调整 / 转办 / 退回补正 / 办理结果), to a role
    within a city or to one person; each reader marks it read for themselves and chooses how else
    to be told (`engine.notifications`)."""

    __tablename__ = "notification"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(Aware())
    kind: Mapped[str] = mapped_column(String(16))  # engine.notifications.KINDS
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    element: Mapped[str] = mapped_column(String(255))
    task_name: Mapped[str | None] = mapped_column(String(255))
    due_at: Mapped[datetime | None] = mapped_column(Aware())
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    role: Mapped[str | None] = mapped_column(String(40))
    jurisdiction: Mapped[str | None] = mapped_column(String(12))
    assignee: Mapped[str | None] = mapped_column(String(80), index=True)

    __table_args__ = (Index("ix_notification_role_jurisdiction", "role", "jurisdiction"),)


class PendingTimer(db.Model):
    """A timer event an instance waits on, with the moment it falls due (到期时间)."""

    __tablename__ = "pending_timer"
    instance_id: Mapped[int] = mapped_column(
        ForeignKey("process_instance.id", ondelete="CASCADE"), primary_key=True
    )
    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    element: Mapped[str] = mapped_column(String(255))
    due_at: Mapped[datetime] = mapped_column(Aware(), index=True)
    # as on human_task: the first year its due time was counted on provisionally, until settled
    provisional_year: Mapped[int | None] = mapped_column(Integer)


class HandlingTime(db.Model):
    """How long a step with a statutory time limit took (办理用时): from the moment its task
    became ready to its completion, beside the limit it had. Written with the completion,
    for the dashboard's time-taken chart; steps without a limit are not recorded."""

    __tablename__ = "handling_time"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(Integer, index=True)
    process_id: Mapped[str] = mapped_column(String(255))
    element: Mapped[str] = mapped_column(String(255))
    jurisdiction: Mapped[str | None] = mapped_column(String(12))
    began_at: Mapped[datetime] = mapped_column(Aware())
    due_at: Mapped[datetime] = mapped_column(Aware())
    done_at: Mapped[datetime] = mapped_column(Aware(), index=True)


class AuditEvent(db.Model):
    """Append-only, hash-chained record of who did what, when (审计日志)."""

    __tablename__ = "audit_event"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(Aware())
    actor: Mapped[str | None] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    instance_id: Mapped[int | None] = mapped_column(Integer, index=True)
    task: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON: data in and out
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(db.Model):
    """The global chain's last link (events outside any case)."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class OfficialCalendarYear(db.Model):
    """A year's holiday arrangement entered from the State Council's notice (节假日安排)."""

    __tablename__ = "official_calendar_year"
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(255))  # the notice, e.g. 国办发明电〔2026〕号
    entered_by: Mapped[str | None] = mapped_column(String(80))
    entered_at: Mapped[datetime] = mapped_column(Aware())


class OfficialCalendarDay(db.Model):
    """A day of such a year that is not as Monday-to-Friday would say: a holiday
    on a weekday, or a weekend day worked in lieu (调休)."""

    __tablename__ = "official_calendar_day"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(ForeignKey("official_calendar_year.year", ondelete="CASCADE"), index=True)
    working: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(80))


class SchedulerBeat(db.Model):
    """The timer scheduler's last sweep (心跳), one row per database: web workers read it to
    tell whether timers are being fired, since the scheduler is another process, maybe
    on another machine."""

    __tablename__ = "scheduler_beat"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    swept_at: Mapped[datetime] = mapped_column(Aware())
    # which process leads (host:pid) and since when, for an operator looking at the table
    holder: Mapped[str] = mapped_column(String(120))
    leading_since: Mapped[datetime] = mapped_column(Aware())


def alembic_render_item(type_, obj, autogen_context):
    """Autogenerated migrations spell our column types in plain SQLAlchemy."""
    if type_ == "type" and isinstance(obj, Aware):
        return "sa.DateTime()"
    return False

