"""Case lists (办件列表): an organisation's own applications (我的申报) and the officials'
case search (办件查询), as operations a test calls without HTTP; the pages and the API
are thin over them.

Which cases a list may hold is the engine's rule (`Runtime.visible_instances`): a city's
officials their own city's, the province every city's, an organisation's accounts the
cases it started or acts in. A filter only narrows that, so a city asking for another
city's cases is answered with none. Every page is one keyset page (`web.paging`) and
three more statements for its rows (their open tasks, the holders' names, the process
heads), however many rows it shows.

The company and its credit code are read from the case data (`organisation_name`,
`credit_code`, as the application forms name them): cases that are about one
organisation carry them; a round about many does not, and lists without a name.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l

from engine import clock
from engine.actors import Actor
from engine.db import db
from engine.green.models import User
from engine.green.roles import JURISDICTIONS
from engine.models import HumanTask, ProcessHead, ProcessInstance
from engine.runtime import Runtime

from .. import paging

COMPANY = ProcessInstance.data["organisation_name"].as_string()
CREDIT_CODE = ProcessInstance.data["credit_code"].as_string()
STATUSES = ("running", "waiting", "completed", "error", "cancelled")
# sort name -> the list's keys; the case number (a unique id) ends every order
SORTS: dict[str, list[paging.Key]] = {
    "-number": [paging.Key(ProcessInstance.id, int, descending=True)],
    "number": [paging.Key(ProcessInstance.id, int)],
    "company": [paging.Key(COMPANY, str, nullable=True), paging.Key(ProcessInstance.id, int)],
    "-company": [paging.Key(COMPANY, str, descending=True, nullable=True),
                 paging.Key(ProcessInstance.id, int, descending=True)],
    "updated": [paging.Key(ProcessInstance.updated_at, datetime), paging.Key(ProcessInstance.id, int)],
    "-updated": [paging.Key(ProcessInstance.updated_at, datetime, descending=True),
                 paging.Key(ProcessInstance.id, int, descending=True)],
}
DEFAULT_SORT = "-number"  # newest case first
TEXT_MAX = 200
CODE_PART = re.compile(r"[0-9A-Z]{1,18}")

# what a finished application came to, from the decision its data records (municipal_creation's
# `decision`; the revocation's and the other procedures' decisions read the same way)
DECISIONS = {"approve": _l("通过"), "reject": _l("不予通过")}
ENDED = {"completed": _l("已办结"), "cancelled": _l("已撤销"), "error": _l("出错，待管理员处理")}


class FiltersInvalid(ValueError):
    """Filters a list cannot take, by field (kept, with the message, for the form). The messages
    are lazy: they take the language of whoever reads them, so no request is needed to refuse."""

    def __init__(self, fields: dict):
        super().__init__(", ".join(fields))
        self.fields = fields


@dataclass(frozen=True)
class Filters:
    company: str = ""  # part of the organisation's name
    credit_code: str = ""  # the start of its unified social credit code
    number: int | None = None  # the case number
    process: str = ""
    status: str = ""
    city: str = ""
    since: date | None = None  # started on or after
    until: date | None = None  # started on or before
    sort: str = DEFAULT_SORT


def filters_from(args) -> Filters:
    """Filters from a query string (a page's URL or the API's), refused by field when wrong."""
    errors: dict = {}
    text = {}
    for name in ("company", "credit_code", "process", "status", "city"):
        value = (args.get(name) or "").strip()
        if len(value) > TEXT_MAX:
            errors[name] = _l("不超过%(n)s个字符。", n=TEXT_MAX)
        text[name] = value
    text["credit_code"] = text["credit_code"].upper()
    if text["credit_code"] and not CODE_PART.fullmatch(text["credit_code"]):
        errors["credit_code"] = _l("统一社会信用代码由数字和大写字母组成，至多18位。")
    if text["status"] and text["status"] not in STATUSES:
        errors["status"] = _l("没有这种状态。")
    if text["city"] and text["city"] not in JURISDICTIONS:
        errors["city"] = _l("没有这个市州。")
    number = None
    if raw := (args.get("number") or "").strip().lstrip("#"):
        if not raw.isdigit() or len(raw) > 12:
            errors["number"] = _l("办件编号是一个数字。")
        else:
            number = int(raw)
    days = {}
    for name in ("since", "until"):
        raw = (args.get(name) or "").strip()
        try:
            days[name] = date.fromisoformat(raw) if raw else None
        except ValueError:
            errors[name] = _l("日期格式为 2026-03-31。")
            days[name] = None
    if days["since"] and days["until"] and days["since"] > days["until"]:
        errors["until"] = _l("截止日期不能早于起始日期。")
    sort = args.get("sort") or DEFAULT_SORT
    if sort not in SORTS:
        errors["sort"] = _l("不能按此排序。")
    if errors:
        raise FiltersInvalid(errors)
    return Filters(number=number, sort=sort, **text, **days)


@dataclass
class Step:
    """A step the case waits on: what, who holds it, by when."""

    name: str
    holder: str | None  # an account's name, when someone has it
    role: str | None  # otherwise the role (and city) whose queue it waits in
    city: str | None
    due_at: datetime | None
    due_provisional_year: int | None  # counted on a provisional holiday calendar
    subject: str | None = None


@dataclass
class Row:
    case: ProcessInstance
    process_name: str
    company: str | None
    credit_code: str | None
    steps: list[Step] = field(default_factory=list)
    outcome: object = None  # what a finished case came to (a lazy text)

    @property
    def overdue(self) -> bool:
        now = clock.now()
        return any(s.due_at and s.due_at < now for s in self.steps)


@dataclass
class Listing:
    rows: list[Row]
    next: str | None
    holders: dict[str, str]  # account name -> the name to show


def search(runtime: Runtime, actor: Actor, filters: Filters, cursor: str | None = None, size: int = 50) -> Listing:
    """The cases the actor may see that meet the filters, a page in the filters' order.
    Raises paging.BadCursor for a cursor this list did not hand out."""
    q = db.select(ProcessInstance, COMPANY.label("company"), CREDIT_CODE.label("credit_code")).where(
        runtime.visible_instances(actor))
    q = _narrowed(q, filters)
    keys = SORTS[filters.sort]
    page = paging.page(db.session, q, keys, cursor, size, _key_of(filters.sort))
    return _listing(runtime, page)


def mine(runtime: Runtime, actor: Actor, filters: Filters = Filters(), cursor: str | None = None,
         size: int = 50) -> Listing:
    """我的申报: the cases of the actor's organisation (started by any of its accounts, or
    waiting on one of them), newest first unless sorted otherwise."""
    own = ProcessInstance.started_by.in_(actor.accounts) | db.select(HumanTask.id).where(
        HumanTask.instance_id == ProcessInstance.id, HumanTask.assignee.in_(actor.accounts)).exists()
    q = db.select(ProcessInstance, COMPANY.label("company"), CREDIT_CODE.label("credit_code")).where(
        runtime.visible_instances(actor), own)
    q = _narrowed(q, filters)
    page = paging.page(db.session, q, SORTS[filters.sort], cursor, size, _key_of(filters.sort))
    return _listing(runtime, page)


def _narrowed(q, f: Filters):
    if f.company:
        q = q.where(COMPANY.contains(f.company, autoescape=True))
    if f.credit_code:
        q = q.where(CREDIT_CODE.startswith(f.credit_code, autoescape=True))
    if f.number is not None:
        q = q.where(ProcessInstance.id == f.number)
    if f.process:
        q = q.where(ProcessInstance.process_id == f.process)
    if f.status:
        q = q.where(ProcessInstance.status == f.status)
    if f.city:
        q = q.where(ProcessInstance.jurisdiction == f.city)
    if f.since:
        q = q.where(ProcessInstance.created_at >= _start_of(f.since))
    if f.until:
        q = q.where(ProcessInstance.created_at < _start_of(f.until + timedelta(days=1)))
    return q


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=clock.SHANGHAI)


def _key_of(sort: str):
    def key_of(row):
        case = row.ProcessInstance
        name = row.company if isinstance(row.company, str) else None
        return {"number": [case.id], "company": [name, case.id], "updated": [case.updated_at, case.id]}[
            sort.lstrip("-")]
    return key_of


def outcome_of(case: ProcessInstance):
    """What a finished case came to: the decision its data records, else how it ended (a lazy
    text, in the language of whoever reads it)."""
    if case.status not in ENDED:
        return None
    decision = (case.data or {}).get("decision")
    if case.status == "completed" and isinstance(decision, str) and decision in DECISIONS:
        return DECISIONS[decision]
    return ENDED[case.status]


def _listing(runtime: Runtime, page: paging.Page) -> Listing:
    cases = [row.ProcessInstance for row in page.rows]
    steps: dict[int, list[Step]] = {c.id: [] for c in cases}
    waiting = db.session.scalars(db.select(HumanTask).where(HumanTask.instance_id.in_(steps))
                                 .order_by(HumanTask.created_at, HumanTask.id)).all() if steps else []
    for t in waiting:
        steps[t.instance_id].append(Step(t.name or t.element, t.assignee, t.role, t.jurisdiction, t.due_at,
                                         t.due_provisional_year, t.subject))
    holders = _display_names({t.assignee for t in waiting if t.assignee})
    heads = dict(db.session.execute(db.select(ProcessHead.process_id, ProcessHead.version_id)).tuples().all())
    rows = []
    for row, case in zip(page.rows, cases):
        # a process's name from its head version, which the registry keeps parsed (no statement per case)
        version = heads.get(case.process_id)
        name = runtime.registry.process_name(case.process_id, version) if version else case.process_id
        rows.append(Row(case, name, row.company if isinstance(row.company, str) else None,
                        row.credit_code if isinstance(row.credit_code, str) else None,
                        steps[case.id], outcome_of(case)))
    return Listing(rows, page.next, holders)


def _display_names(accounts: set[str]) -> dict[str, str]:
    if not accounts:
        return {}
    return {name: shown or name for name, shown in db.session.execute(
        db.select(User.name, User.display_name).where(User.name.in_(accounts))).tuples()}


def processes(runtime: Runtime) -> list[tuple[str, str]]:
    """(id, name) of every deployed process, for the filter."""
    heads = db.session.execute(db.select(ProcessHead.process_id, ProcessHead.version_id)
                               .order_by(ProcessHead.process_id)).tuples().all()
    return [(p, runtime.registry.process_name(p, v)) for p, v in heads]
