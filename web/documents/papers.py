"""Which documents (文书) a case has, who may have each, and what each says, read from the
case's record: its completed tasks' data, its audit events, its domain records and the
numbers (文号) its deciding steps took. Nothing here writes; a document is produced again
from the record, the same each time. Callable without HTTP (`documents_of`, `paper`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from SpiffWorkflow.util.task import TaskState

from engine.clock import SHANGHAI
from engine.db import db
from engine.green import documents, privacy
from engine.green.documents import DEPARTMENTS, PROVINCE, DocumentNumber
from engine.green.models import LEVELS, UNIT_TYPES, Designation, Organisation
from engine.green.notices import PublicNotice
from engine.green.revocations import GROUNDS, RevocationAnnouncement
from engine.green.roles import JURISDICTIONS
from engine.models import AuditEvent, ProcessInstance

from ..runtime import runtime
from .render import Paper, chinese_date

# what each document is called, in its order on the case page
TITLES = {
    "receipt": ("受理回执", "Application receipt"),
    "review_opinion": ("审核意见书", "Review opinion"),
    "public_notice": ("公示", "Public notice"),
    "listing_announcement": ("公布决定", "Listing announcement"),
    "rectification_order": ("责令整改通知书", "Rectification order"),
    "revocation_decision": ("取消资格决定书", "Revocation decision"),
    "complaint_reply": ("举报答复书", "Reply to the report"),
}
# the documents the unit's own account receives: its receipt and the decisions about it
PARTY_DOCUMENTS = frozenset({"receipt", "review_opinion", "listing_announcement", "rectification_order",
                             "revocation_decision"})
OFFICIAL_ROLES = frozenset({"municipal", "provincial", "admin", "analyst"})


class NoSuchDocument(LookupError):
    """The case has no such document (yet), or not for this reader."""


@dataclass(frozen=True)
class Done:
    """A completed task's data and the day (Beijing time) its completion was recorded."""

    data: dict
    on: date


def _unit_type(code) -> str:
    return UNIT_TYPES.get(code, (code or "",))[0]


def _level(code) -> str:
    return LEVELS.get(code, (code or "",))[0]


def _issuer(department: str) -> str:
    return DEPARTMENTS[department][0]


def _city_or_province(case: ProcessInstance) -> str:
    return case.jurisdiction if case.jurisdiction in JURISDICTIONS else PROVINCE


def _task_data(case: ProcessInstance, element: str) -> list[dict]:
    """The data of each completed run of an element (a task, a script), in the order they ran."""
    workflow = runtime().read_workflow(case.id)
    tasks = sorted((t for w in (workflow, *workflow.subprocesses.values()) for t in w.tasks.values()
                    if getattr(t.task_spec, "bpmn_id", None) == element and t.state == TaskState.COMPLETED),
                   key=lambda t: t.last_state_change)
    return [dict(t.data) for t in tasks]


def _completions(case: ProcessInstance, element: str) -> list[Done]:
    """A person's task's completions in the order they happened, each with its data and the day
    its audit event records."""
    days = db.session.scalars(db.select(AuditEvent.at).where(
        AuditEvent.instance_id == case.id, AuditEvent.action == "complete", AuditEvent.task == element)
        .order_by(AuditEvent.seq)).all()
    return [Done(data, at.date()) for data, at in zip(_task_data(case, element), days, strict=False)]


def _number(case: ProcessInstance, kind: str) -> DocumentNumber | None:
    return documents.number_of(case.id, kind)


# ------------------------------------------------------------------ each document


def _receipt(case: ProcessInstance) -> Paper | None:
    submitted = _completions(case, "Task_submit_report")
    if not submitted:
        return None
    first = submitted[0]
    data = first.data
    return Paper(
        issuer=_issuer(_city_or_province(case)), title="绿色制造单位创建申请受理回执", dated=first.on,
        addressee=str(data.get("organisation_name") or ""),
        paragraphs=[
            f"你单位（统一社会信用代码：{data.get('credit_code')}）于{chinese_date(first.on)}提交的"
            f"{_unit_type(data.get('unit_type'))}创建申请已收悉，予以受理。",
            f"受理编号：第{case.id}号。请凭此编号在系统中查询办理进度。",
            "依据《甘肃省绿色制造体系梯度培育实施细则》第十二条、第十三条，我局将组织审核，审核结果另行告知。",
        ])


def _review_opinion(case: ProcessInstance) -> Paper | None:
    reviews = _completions(case, "Task_municipal_review")
    if not reviews:
        return None
    last = reviews[-1]
    data = last.data
    conclusion = {"approve": "审核通过，予以公布为市级绿色制造单位", "return": "退回补正",
                  "reject": "不予通过"}.get(data.get("decision"), str(data.get("decision")))
    return Paper(
        issuer=_issuer(_city_or_province(case)), title="市级绿色制造单位创建审核意见书", dated=last.on,
        addressee=str(data.get("organisation_name") or ""),
        paragraphs=[
            f"申报单位：{data.get('organisation_name')}（统一社会信用代码：{data.get('credit_code')}）；"
            f"申报类别：{_unit_type(data.get('unit_type'))}。",
            f"审核结论：{conclusion}。",
            f"审核意见：{data.get('opinion')}",
            "依据：《甘肃省绿色制造体系梯度培育实施细则》第十三条。",
        ])


TABLE_WIDTHS = (8, 42, 32, 28, 10)


def _notice_table(items: list[dict]) -> list[list[str]]:
    return [["序号", "单位名称", "统一社会信用代码", "类别", "级别"],
            *([str(i), str(u.get("name") or ""), str(u.get("credit_code") or ""), _unit_type(u.get("unit_type")),
               _level(u.get("level"))] for i, u in enumerate(items, 1))]


def public_notice(notice: PublicNotice) -> Paper:
    ends = (notice.ends_at.astimezone(SHANGHAI) - timedelta(seconds=1)).date()  # ends at the close of its last day
    return Paper(
        issuer=_issuer(PROVINCE), title=f"关于{notice.title}的公示", dated=notice.published_on,
        paragraphs=[
            f"根据《甘肃省绿色制造体系梯度培育实施细则》第十五条，现将{notice.title}予以公示，"
            f"公示期为{notice.working_days}个工作日（{chinese_date(notice.published_on)}发布，"
            f"至{chinese_date(ends)}止）。",
            "公示期间，任何单位和个人对公示名单有异议的，可实名提出书面异议并附证据材料；匿名异议不予受理。",
        ],
        table=_notice_table(notice.items), widths=TABLE_WIDTHS)


def _public_notice_of_case(case: ProcessInstance) -> Paper | None:
    notice = db.session.scalar(db.select(PublicNotice).where(PublicNotice.instance_id == case.id)
                               .order_by(PublicNotice.id.desc()).limit(1))
    return public_notice(notice) if notice is not None else None


def _listing(case: ProcessInstance) -> Paper | None:
    number = _number(case, "listing_announcement")
    if number is None:
        return None
    listed = db.session.scalars(db.select(Designation).where(Designation.instance_id == case.id)
                                .order_by(Designation.id)).all()
    level = _level(listed[0].level) if listed else ""
    rows = [{"name": d.organisation.name, "credit_code": d.organisation.credit_code, "unit_type": d.unit_type,
             "level": d.level} for d in listed]
    return Paper(
        issuer=_issuer(number.department), title=f"关于公布{number.year}年{level}绿色制造单位名单的通知",
        number=number.reference, dated=number.issued_at.date(),
        paragraphs=[
            f"根据《甘肃省绿色制造体系梯度培育实施细则》，经申报、审核{'、公示' if level != '市级' else ''}，"
            f"现将以下{len(rows)}家单位公布为{number.year}年{level}绿色制造单位。",
            "请各单位持续提升绿色制造水平，按时填报动态管理表，接受动态管理。",
        ],
        table=_notice_table(rows), widths=TABLE_WIDTHS)


def _rectification_order(case: ProcessInstance) -> Paper | None:
    number = _number(case, "rectification_order")
    orders = _task_data(case, "Script_order_rectification")
    if number is None or not orders:
        return None
    data = orders[0]
    unit = data.get("unit") or {}
    findings = data.get("spot_check_findings") or data.get("findings")
    paragraphs = [
        f"你单位（统一社会信用代码：{unit.get('credit_code')}）系{unit.get('level_name')}"
        f"{unit.get('unit_type_name')}。",
    ]
    if findings:
        paragraphs.append(f"经查：{findings}")
    paragraphs += [
        f"依据《甘肃省绿色制造体系梯度培育实施细则》第二十条第二款、第二十一条第（一）项，责令你单位限期整改，"
        f"整改期限至{chinese_date(date.fromisoformat(data['rectification_deadline']))}，"
        "并于期限届满前报告整改情况。",
        "逾期未报告整改情况，或整改后复核仍不合格的，将依法取消绿色制造单位资格。",
    ]
    return Paper(issuer=_issuer(number.department), title="责令限期整改通知书", number=number.reference,
                 dated=number.issued_at.date(), addressee=str(unit.get("organisation_name") or ""),
                 paragraphs=paragraphs)


def _revocation_decision(case: ProcessInstance) -> Paper | None:
    number = _number(case, "revocation_decision")
    record = db.session.scalar(db.select(RevocationAnnouncement).where(RevocationAnnouncement.instance_id == case.id))
    if number is None or record is None:
        return None
    designation = record.designation
    org = designation.organisation
    withdrawn = record.status == "withdrawn"
    facts = (designation.end_reason or "").removeprefix(f"{record.article}：")
    title = f"关于{'同意' if withdrawn else ''}取消{org.name}{_level(designation.level)}" \
            f"{_unit_type(designation.unit_type)}资格的决定"
    paragraphs = [
        f"{org.name}（统一社会信用代码：{org.credit_code}）于{chinese_date(designation.listed_on)}被公布为"
        f"{_level(designation.level)}{_unit_type(designation.unit_type)}。",
        f"经查：{facts}",
        f"取消情形：{GROUNDS.get(record.ground, (record.ground,))[0]}。依据：{record.article.rstrip('。')}。",
        f"决定：自{chinese_date(record.decided_on)}起取消其{_level(designation.level)}"
        f"{_unit_type(designation.unit_type)}资格。",
    ]
    if record.bars_reapplication:
        paragraphs.append("依据第十八条，自本决定之日起三年内不得申报各级绿色制造单位。")
    paragraphs.append(f"本决定于{chinese_date(record.public_on)}公告。")
    return Paper(issuer=_issuer(number.department), title=title, number=number.reference,
                 dated=number.issued_at.date(), addressee=org.name, paragraphs=paragraphs)


def _complaint_reply(case: ProcessInstance) -> Paper | None:
    replies = _completions(case, "Task_reply")
    if not replies:
        return None
    last = replies[-1]
    data = last.data
    reporter = data.get("reporter")
    name = reporter.get("name") if isinstance(reporter, dict) else reporter
    return Paper(
        issuer=_issuer(_city_or_province(case)), title="实名举报答复书", dated=last.on,
        addressee=str(name or "举报人"),
        paragraphs=[
            f"你反映的关于“{_target(data.get('target'))}”的举报（编号：第{case.id}号）已收悉。"
            "依据《甘肃省绿色制造体系梯度培育实施细则》第二十四条，我局已组织核实。",
            f"核实情况：{data.get('findings') or '见答复内容'}",
            f"答复如下：{data.get('reply')}",
        ])


def _target(value) -> str:
    if isinstance(value, dict):
        return str(value.get("name") or value.get("credit_code") or "")
    return str(value or "")


COMPOSERS: dict[str, Callable[[ProcessInstance], Paper | None]] = {
    "receipt": _receipt,
    "review_opinion": _review_opinion,
    "public_notice": _public_notice_of_case,
    "listing_announcement": _listing,
    "rectification_order": _rectification_order,
    "revocation_decision": _revocation_decision,
    "complaint_reply": _complaint_reply,
}
# which documents each procedure's cases can have, so that a case is read only for those
BY_PROCESS = {
    "municipal_creation": ("receipt", "review_opinion", "listing_announcement"),
    "provincial_selection": ("public_notice", "listing_announcement"),
    "spot_check": ("rectification_order", "revocation_decision"),
    "complaint": ("complaint_reply", "rectification_order", "revocation_decision"),
    "rectification": ("rectification_order", "revocation_decision"),
    "revocation": ("revocation_decision",),
    "designation_lifecycle": ("revocation_decision",),
}


# documents naming a member of the public (the reporter): for the authority handling the case only,
# as the reporter's name is on its pages (个人信息)
PERSONAL_DOCUMENTS = frozenset({"complaint_reply"})


def may_have(actor, kind: str, case: ProcessInstance) -> bool:
    """Whether a reader who may see the case may have this document of it: officials every
    one (one naming the reporter, the authority handling the case only), the unit's own
    account its receipt and the decisions about it."""
    if kind in PERSONAL_DOCUMENTS:
        return privacy.handles(actor, case)
    if actor.role in OFFICIAL_ROLES:
        return True
    return actor.role == "applicant" and kind in PARTY_DOCUMENTS


def addressed_units(case: ProcessInstance) -> set[str]:
    """The credit codes of the units the case's decisions are addressed to: a unit receives the
    decision about it even from a case it takes no part in (a revocation the city proposed)."""
    codes = set(db.session.scalars(db.select(Organisation.credit_code).join(Designation)
                                   .where(Designation.instance_id == case.id)))
    codes |= set(db.session.scalars(
        db.select(Organisation.credit_code).join(Designation).join(
            RevocationAnnouncement, RevocationAnnouncement.designation_id == Designation.id)
        .where(RevocationAnnouncement.instance_id == case.id)))
    codes |= {(data.get("unit") or {}).get("credit_code") for data in _task_data(case, "Script_order_rectification")}
    return codes - {None}


def documents_of(case: ProcessInstance, actor) -> list[str]:
    """The documents the case has now that this reader may have, in their order."""
    return [kind for kind in BY_PROCESS.get(case.process_id, ()) if may_have(actor, kind, case)
            and COMPOSERS[kind](case) is not None]


def paper(case: ProcessInstance, kind: str, actor) -> Paper:
    if kind not in BY_PROCESS.get(case.process_id, ()) or not may_have(actor, kind, case):
        raise NoSuchDocument(kind)
    found = COMPOSERS[kind](case)
    if found is None:
        raise NoSuchDocument(kind)
    return found


def file_name(case: ProcessInstance, kind: str) -> str:
    return f"case-{case.id}-{kind.replace('_', '-')}.pdf"

