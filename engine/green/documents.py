"""Document numbers (文号) of the formal documents a step issues: the listing announcement
(公布), the rectification order (责令整改通知) and the revocation decision (取消资格决定).

Each issuing department (the province's department, each city's bureau) numbers its
documents in one sequence a year, written as its pattern says (e.g. 甘工信发〔2026〕12号;
an administrator sets the pattern). A number is taken inside the step that decides, from
the department's counter row, which the step holds locked until it commits: two steps on
PostgreSQL at once get different numbers, and a step that rolls back takes its number back
with it, so the next step uses that number and none is issued twice (`uq_document_number`
stands behind that). A case's document of one kind is numbered once (`uq_document_of_case`):
a step that runs again for it gets the number it already has.
"""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from engine import audit, clock
from engine.db import db
from engine.models import Aware
from engine.services import ServiceError, StepContext

from .roles import JURISDICTIONS

PROVINCE = "province"
# the departments that issue documents: the province's, then each city's (by division code)
DEPARTMENTS: dict[str, tuple[str, str]] = {
    PROVINCE: ("甘肃省工业和信息化厅", "Gansu Department of Industry and Information Technology"),
    **{code: (f"{zh}工业和信息化局", f"{en} Bureau of Industry and Information Technology")
       for code, (zh, en) in JURISDICTIONS.items()},
}
# a city's short name in its documents' numbers, where it is not the city's first character
_SHORT = {"620171": "兰州新区", "622900": "临夏州", "623000": "甘南州"}
KINDS: dict[str, tuple[str, str]] = {
    "listing_announcement": ("公布决定", "Listing announcement"),
    "rectification_order": ("责令整改通知书", "Rectification order"),
    "revocation_decision": ("取消资格决定", "Revocation decision"),
}
YEAR, NUMBER = "{year}", "{number}"
MAX_PATTERN = 60


class DocumentNumberPattern(db.Model):
    """How a department writes its document numbers (文号格式), set by an administrator."""

    __tablename__ = "document_number_pattern"
    department: Mapped[str] = mapped_column(String(12), primary_key=True)
    pattern: Mapped[str] = mapped_column(String(MAX_PATTERN))
    set_at: Mapped[datetime] = mapped_column(Aware())
    set_by: Mapped[str] = mapped_column(String(80))


class DocumentSequence(db.Model):
    """The last number a department issued in a year; the row a step locks to take the next."""

    __tablename__ = "document_sequence"
    department: Mapped[str] = mapped_column(String(12), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class DocumentNumber(db.Model):
    """One issued document number (文号), on the case and document it was issued for."""

    __tablename__ = "document_number"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department: Mapped[str] = mapped_column(String(12))
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(80), unique=True)  # as written: 甘工信发〔2026〕12号
    kind: Mapped[str] = mapped_column(String(40))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"), index=True)
    issued_at: Mapped[datetime] = mapped_column(Aware())
    issued_by: Mapped[str | None] = mapped_column(String(80))

    __table_args__ = (UniqueConstraint("department", "year", "number", name="uq_document_number"),
                      UniqueConstraint("instance_id", "kind", name="uq_document_of_case"))


class PatternInvalid(ValueError):
    """A pattern an administrator gave that cannot number documents; `why` says which rule
    it breaks (empty, too_long, placeholders, unknown_placeholder, department), for the page to word."""

    def __init__(self, why: str, message: str):
        super().__init__(message)
        self.why = why


def default_pattern(department: str) -> str:
    if department == PROVINCE:
        return "甘工信发〔{year}〕{number}号"
    return f"{_SHORT.get(department, DEPARTMENTS[department][0][0])}工信发〔{{year}}〕{{number}}号"


def pattern_of(department: str) -> str:
    row = db.session.get(DocumentNumberPattern, department)
    return row.pattern if row is not None else default_pattern(department)


def check_pattern(pattern: str) -> str:
    """The pattern, stripped, if it has the year and the number once each and no other placeholder."""
    pattern = (pattern or "").strip()
    if not pattern:
        raise PatternInvalid("empty", "a pattern is needed")
    if len(pattern) > MAX_PATTERN:
        raise PatternInvalid("too_long", f"a pattern has at most {MAX_PATTERN} characters")
    if pattern.count(YEAR) != 1 or pattern.count(NUMBER) != 1:
        raise PatternInvalid("placeholders", "a pattern has {year} and {number} once each")
    if re.search(r"[{}]", pattern.replace(YEAR, "").replace(NUMBER, "")):
        raise PatternInvalid("unknown_placeholder", "{year} and {number} are the only placeholders")
    return pattern


def write(pattern: str, year: int, number: int) -> str:
    return pattern.replace(YEAR, str(year)).replace(NUMBER, str(number))


def set_pattern(department: str, pattern: str, actor: str) -> DocumentNumberPattern:
    """An administrator sets how a department writes its numbers, from its next number on; the
    numbers issued keep the words they were issued with. The caller commits."""
    if department not in DEPARTMENTS:
        raise PatternInvalid("department", f"no department {department}")
    pattern = check_pattern(pattern)
    row = db.session.get(DocumentNumberPattern, department)
    if row is None:
        row = DocumentNumberPattern(department=department)
        db.session.add(row)
    row.pattern, row.set_at, row.set_by = pattern, clock.now(), actor
    audit.append(actor, "document_number_pattern", detail={"department": department, "pattern": pattern})
    return row


def next_numbers(year: int) -> dict[str, int]:
    """The number each department issues next in the year (the administrators' page)."""
    last = dict(db.session.execute(select(DocumentSequence.department, DocumentSequence.last)
                                    .where(DocumentSequence.year == year)).all())
    return {d: last.get(d, 0) + 1 for d in DEPARTMENTS}


def department_for(level: str, jurisdiction: str | None) -> str:
    """Who issues a document about a designation: the city for a municipal unit, else the province."""
    if level == "municipal":
        if jurisdiction not in JURISDICTIONS:
            raise ServiceError(f"市级单位的文书须由所在市（州）出具，而不是 {jurisdiction!r} (a municipal unit's document needs its city, not {jurisdiction!r})")
        return jurisdiction
    return PROVINCE


def _take(department: str, year: int) -> int:
    """The department's next number in the year, its counter row locked until the step commits."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(insert(DocumentSequence).values(department=department, year=year, last=0)
                       .on_conflict_do_nothing(index_elements=["department", "year"]))
    return db.session.execute(
        update(DocumentSequence).where(DocumentSequence.department == department, DocumentSequence.year == year)
        .values(last=DocumentSequence.last + 1).returning(DocumentSequence.last)).scalar_one()


def issue(kind: str, department: str, step: StepContext) -> DocumentNumber:
    """The case's number for a document of this kind, taken now if it has none yet."""
    if kind not in KINDS:
        raise ServiceError(f"没有这种文书 {kind!r} (unknown document kind {kind!r})")
    if department not in DEPARTMENTS:
        raise ServiceError(f"没有这个发文机关 {department!r} (unknown issuing department {department!r})")
    held = number_of(step.instance_id, kind)
    if held is not None:
        return held
    year = clock.now().year
    number = _take(department, year)
    record = DocumentNumber(department=department, year=year, number=number, kind=kind,
                            reference=write(pattern_of(department), year, number), instance_id=step.instance_id,
                            issued_at=clock.now(), issued_by=step.actor)
    db.session.add(record)
    db.session.flush()
    return record


def number_of(instance_id: int, kind: str) -> DocumentNumber | None:
    return db.session.scalar(select(DocumentNumber).where(DocumentNumber.instance_id == instance_id,
                                                          DocumentNumber.kind == kind))
