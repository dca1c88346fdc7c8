"""Expert review as the province runs it (专家评审, Art 15): the expert pool (专家库) the
province keeps, the conflicts of interest (利益冲突) each expert declares, and the
assignment of reviewers to each candidate of a provincial round.

An expert reviews only the candidates the province assigned to them: the round's
diagram opens a review panel (`experts.panel`, with the number of reviewers a
candidate needs as its parameter), the province names the reviewers on its task
(checked on submission by `submission_problems`, so a short panel or a declared
conflict is refused with its reason before anything moves), `experts.assign`
records the assignments and gives each (candidate, expert) pair its own review
task, addressed to that expert's account (`reviewer_account`), and
`experts.consolidate` puts each candidate's scores and opinions through the
decision table the diagram names.
"""
from __future__ import annotations

import re
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine import clock, decisions, services
from engine.db import db
from engine.forms import ROWS_FROM
from engine.models import Aware
from engine.services import ServiceError, StepContext

from .credit_code import problem as credit_code_problem
from .models import User
from .roles import JURISDICTIONS

# A conflict of interest an expert declares about a unit (回避情形).
CONFLICT_KINDS = {
    "own_organisation": ("本人所在单位", "The expert's own organisation"),
    "worked_for": ("近三年内曾为该单位工作或提供服务", "Worked for the unit in the last three years"),
}
# "worked for the unit in the last three years": older work is no conflict
WORKED_FOR_YEARS = 3
# The round's item-by-item table the province names reviewers in (forms/expert_assignment.json).
PANEL = "review_panel"
ASSIGNMENTS = "assignments"
# What separates the expert numbers the province types into a candidate's row.
_SEPARATORS = re.compile(r"[\s,，、;；]+")


class Expert(db.Model):
    """An expert in the province's pool (评审专家库), with the account their review tasks go to."""

    __tablename__ = "expert"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    field: Mapped[str] = mapped_column(String(200))  # 专业领域
    organisation: Mapped[str] = mapped_column(String(200))  # 工作单位
    account: Mapped[str] = mapped_column(String(80), unique=True)  # the user name of a user of role expert
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    added_at: Mapped[datetime] = mapped_column(Aware())
    added_by: Mapped[str | None] = mapped_column(String(80))
    conflicts: Mapped[list[ExpertConflict]] = relationship(order_by="ExpertConflict.id")


class ExpertConflict(db.Model):
    """A unit an expert may not review (申报回避): their own organisation, or one they
    worked for in the last three years (until `worked_until`)."""

    __tablename__ = "expert_conflict"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("expert.id"), index=True)
    credit_code: Mapped[str] = mapped_column(String(18), index=True)
    unit_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    worked_until: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    declared_at: Mapped[datetime] = mapped_column(Aware())

    def holds_on(self, day: date) -> bool:
        """Own organisation always; past work for three years after it ended."""
        if self.kind != "worked_for" or self.worked_until is None:
            return True
        return day <= _years_after(self.worked_until, WORKED_FOR_YEARS)

    def reason(self, english: bool = False) -> str:
        why = CONFLICT_KINDS[self.kind][1 if english else 0]
        if self.kind == "worked_for" and self.worked_until:
            why += f" (until {self.worked_until.isoformat()})" if english else f"（至{self.worked_until.isoformat()}）"
        return why


class ExpertAssignment(db.Model):
    """One reviewer assigned to one candidate of a round (评审分配): whom the review task
    went to, and what of the round that expert may read."""

    __tablename__ = "expert_assignment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(Integer, index=True)
    candidate: Mapped[str] = mapped_column(String(80))  # "credit code:unit type", as the round keys it
    credit_code: Mapped[str] = mapped_column(String(18))
    unit_type: Mapped[str] = mapped_column(String(40))
    unit_name: Mapped[str | None] = mapped_column(String(200))
    expert_id: Mapped[int] = mapped_column(ForeignKey("expert.id"))
    assigned_at: Mapped[datetime] = mapped_column(Aware())
    assigned_by: Mapped[str | None] = mapped_column(String(80))
    expert: Mapped[Expert] = relationship()

    __table_args__ = (Index("ix_expert_assignment_expert", "expert_id", "instance_id"),)


class PoolInvalid(Exception):
    """Bad input to the pool or a declaration: messages per field, for the page to show."""

    def __init__(self, fields: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()))
        self.fields = fields


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _text(values: dict, key: str, errors: dict, label: str, limit: int) -> str:
    value = (values.get(key) or "").strip()
    if not value:
        errors.setdefault(key, []).append(f"请填写{label} (required)")
    elif len(value) > limit:
        errors.setdefault(key, []).append(f"{label}不能超过{limit}个字 (at most {limit} characters)")
    return value


# ---------------------------------------------------------------- the pool and its declarations
def add_expert(values: dict, by: str | None) -> Expert:
    """The province puts an expert in the pool: name, field, organisation and the expert's account."""
    errors: dict[str, list[str]] = {}
    name = _text(values, "name", errors, "姓名", 80)
    field = _text(values, "field", errors, "专业领域", 200)
    organisation = _text(values, "organisation", errors, "工作单位", 200)
    account = _text(values, "account", errors, "登录账号", 80)
    if account and "account" not in errors:
        user = db.session.scalar(db.select(User).where(User.name == account))
        if user is None or user.role != "expert":
            errors["account"] = ["没有这个评审专家账号 (no expert reviewer has this account)"]
        elif db.session.scalar(db.select(Expert.id).where(Expert.account == account)):
            errors["account"] = ["该账号已在专家库中 (this account is already in the pool)"]
    if errors:
        raise PoolInvalid(errors)
    expert = Expert(name=name, field=field, organisation=organisation, account=account, active=True,
                    added_at=clock.now(), added_by=by)
    db.session.add(expert)
    db.session.flush()
    return expert


def expert_of(account: str | None) -> Expert | None:
    return db.session.scalar(db.select(Expert).where(Expert.account == account)) if account else None


def declare_conflict(expert: Expert, values: dict) -> ExpertConflict:
    """An expert declares a unit they may not review. Work that ended more than three years
    ago is no conflict under the rules, and is refused as one."""
    errors: dict[str, list[str]] = {}
    code = (values.get("credit_code") or "").strip().upper()
    if not code:
        errors["credit_code"] = ["请填写统一社会信用代码 (required)"]
    elif (why := credit_code_problem(code)) is not None:
        errors["credit_code"] = [why]
    unit_name = _text(values, "unit_name", errors, "单位名称", 200)
    kind = values.get("kind")
    worked_until = None
    if kind not in CONFLICT_KINDS:
        errors["kind"] = ["请选择回避情形 (choose the kind of conflict)"]
    elif kind == "worked_for":
        try:
            worked_until = date.fromisoformat(values.get("worked_until") or "")
        except ValueError:
            errors["worked_until"] = ["请填写为该单位工作或服务的截止日期 (the last day of the work is required)"]
        else:
            today = clock.now().date()
            if worked_until > today:
                worked_until = today  # still working for it: a conflict from today on
            if _years_after(worked_until, WORKED_FOR_YEARS) < today:
                errors["worked_until"] = ["三年前已结束的工作不构成回避情形 (work that ended over three years ago is no conflict)"]
    note = (values.get("note") or "").strip()
    if len(note) > 1000:
        errors["note"] = ["说明不能超过1000个字 (at most 1000 characters)"]
    if errors:
        raise PoolInvalid(errors)
    conflict = ExpertConflict(expert_id=expert.id, credit_code=code, unit_name=unit_name, kind=kind,
                              worked_until=worked_until, note=note or None, declared_at=clock.now())
    db.session.add(conflict)
    db.session.flush()
    return conflict


def conflict_with(expert: Expert, credit_code: str, day: date) -> ExpertConflict | None:
    return next((c for c in expert.conflicts if c.credit_code == credit_code and c.holds_on(day)), None)


# ---------------------------------------------------------------- the round's review panel
def open_panel(params: dict, step: StepContext) -> list[dict]:
    """The table the province names reviewers in: one row per candidate, with the number of
    reviewers the diagram asks for and the experts who declared a conflict with it."""
    candidates = params.get("candidates")
    needed = params.get("reviewers_per_candidate")
    if not isinstance(candidates, dict):
        raise ServiceError("缺少待评审的候选单位 (the candidates to review are missing)")
    if not isinstance(needed, int) or isinstance(needed, bool) or needed < 1:
        raise ServiceError(f"每个候选单位的评审专家人数须为不小于 1 的整数，不能为 {needed!r} (reviewers_per_candidate must be a whole number of at least 1, not {needed!r})")
    today = clock.now().date()
    pool = db.session.scalars(db.select(Expert).where(Expert.active.is_(True)).order_by(Expert.id)).all()
    rows = []
    for key, c in sorted(candidates.items()):
        declared = [f"{e.id} {e.name}：{conflict.reason()}" for e in pool
                    if (conflict := conflict_with(e, c["credit_code"], today)) is not None]
        rows.append({"candidate": key, "name": c.get("name"), "unit_type": c.get("unit_type"),
                     "jurisdiction": c.get("jurisdiction"), "reviewers_required": needed,
                     "conflicts": "；".join(declared) or "无"})
    return rows


def _expert_numbers(text) -> tuple[list[int], list[str]]:
    numbers, bad = [], []
    for part in _SEPARATORS.split(str(text or "").strip()):
        if not part:
            continue
        if part.isdigit():
            numbers.append(int(part))
        else:
            bad.append(part)
    return numbers, bad


def assignment_problems(rows: list, day: date) -> dict[str, list[str]]:
    """Why the province's assignment cannot stand, per row: fewer distinct experts than the
    diagram asks, an expert not in the pool, or one who declared a conflict with the unit."""
    errors: dict[str, list[str]] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            continue
        field = f"{ASSIGNMENTS}/{i}/experts"
        numbers, bad = _expert_numbers(row.get("experts"))
        problems = [f"“{b}”不是专家编号 (not a pool number)" for b in bad]
        unique = list(dict.fromkeys(numbers))
        if len(unique) < len(numbers):
            problems.append("同一位专家填写了两次 (the same expert is named twice)")
        experts = {e.id: e for e in db.session.scalars(db.select(Expert).where(Expert.id.in_(unique)))}
        code = str(row.get("candidate", "")).split(":")[0]
        for n in unique:
            expert = experts.get(n)
            if expert is None or not expert.active:
                problems.append(f"专家库中没有编号为 {n} 的专家 (no expert {n} in the pool)")
            elif (conflict := conflict_with(expert, code, day)) is not None:
                problems.append(f"{expert.name}（{n}）已申报回避：{conflict.reason()}，不能评审{row.get('name') or code} "
                                f"({expert.name} declared a conflict with this unit: {CONFLICT_KINDS[conflict.kind][1].lower()})")
        required = row.get("reviewers_required")
        if isinstance(required, int) and len(unique) < required:
            problems.append(f"每个推荐单位至少需要 {required} 位评审专家，现为 {len(unique)} 位 "
                            f"(each candidate needs at least {required} reviewers, {len(unique)} named)")
        if problems:
            errors[field] = problems
    return errors


def submission_problems(schema: dict | None, data: dict, instance_id: int) -> dict[str, list[str]]:
    """The check a submission of the assignment table must also pass (the runtime's
    `submission_check`): run on the server whatever page or API sends it."""
    prop = ((schema or {}).get("properties") or {}).get(ASSIGNMENTS)
    if not isinstance(prop, dict) or prop.get(ROWS_FROM) != PANEL:
        return {}
    rows = data.get(ASSIGNMENTS)
    return assignment_problems(rows if isinstance(rows, list) else [], clock.now().date())


def assign(params: dict, step: StepContext) -> list[dict]:
    """Record the province's assignment and give each (candidate, expert) pair its review:
    the list the review task runs once per item, each addressed to its expert."""
    candidates, rows = params.get("candidates"), params.get("assignments")
    if not isinstance(candidates, dict) or not isinstance(rows, list):
        raise ServiceError("缺少候选单位和省级的分配安排 (the candidates and the province's assignment are missing)")
    problems = assignment_problems(rows, clock.now().date())
    if problems:  # the submission was checked; a conflict declared since then still stops it
        raise ServiceError("；".join(m for ms in problems.values() for m in ms))
    db.session.execute(db.delete(ExpertAssignment).where(ExpertAssignment.instance_id == step.instance_id))
    reviews = []
    for row in rows:
        candidate = candidates.get(row.get("candidate"))
        if candidate is None:
            raise ServiceError(f"{row.get('candidate')!r} 不是本轮的候选单位 ({row.get('candidate')!r} is not a candidate of this round)")
        for n in dict.fromkeys(_expert_numbers(row.get("experts"))[0]):
            expert = db.session.get(Expert, n)
            db.session.add(ExpertAssignment(
                instance_id=step.instance_id, candidate=row["candidate"], credit_code=candidate["credit_code"],
                unit_type=candidate["unit_type"], unit_name=candidate.get("name"), expert_id=expert.id,
                assigned_at=clock.now(), assigned_by=step.actor))
            reviews.append({"candidate": row["candidate"], "credit_code": candidate["credit_code"],
                            "name": candidate.get("name"), "unit_type": candidate["unit_type"],
                            "jurisdiction": candidate.get("jurisdiction"), "reason": candidate.get("reason"),
                            "designation_id": candidate.get("designation_id"),
                            "expert_id": expert.id, "expert_name": expert.name, "expert_account": expert.account})
    db.session.flush()
    return reviews


def consolidate(params: dict, step: StepContext) -> dict:
    """Each candidate's reviews summed up and put through the decision table the diagram names:
    which candidates passed, and each candidate's figures and outcome for the record."""
    candidates, opinions, decision = params.get("candidates"), params.get("opinions"), params.get("decision")
    if not isinstance(candidates, dict) or not isinstance(opinions, list) or not decision:
        raise ServiceError("需要候选单位、专家意见和决策表 (the candidates, the experts' opinions and the decision table are needed)")
    passed, totals = [], []
    for key in sorted(candidates):
        mine = [o for o in opinions if isinstance(o, dict) and o.get("candidate") == key]
        scores = [float(o["score"]) for o in mine if isinstance(o.get("score"), (int, float))]
        facts = {"reviewers": len(mine), "passes": sum(o.get("conclusion") == "pass" for o in mine),
                 "fails": sum(o.get("conclusion") == "fail" for o in mine),
                 "mean_score": round(sum(scores) / len(scores), 2) if scores else 0.0,
                 "lowest_score": min(scores) if scores else 0.0}
        outcome = decisions.decide(step.version_id, decision, facts)
        if "review_passed" not in outcome:
            raise ServiceError(f"决策表 {decision!r} 没有给出 {facts} 的评审结论 review_passed (the decision table {decision!r} gives no review_passed for {facts})")
        ok = bool(outcome["review_passed"])
        if ok:
            passed.append(key)
        totals.append({"candidate": key, "name": candidates[key].get("name"), **facts, "passed": ok,
                       "opinions": [{"expert": o.get("expert_name"), "conclusion": o.get("conclusion"),
                                     "score": o.get("score"), "opinion": o.get("opinion")} for o in mine]})
    return {"passed": passed, "totals": totals}


# ---------------------------------------------------------------- who does and sees a review
def reviewer_account(data: dict) -> str | None:
    """The account of the expert a review task is for (the item `experts.assign` gave it)."""
    review = data.get("_review")
    return review.get("expert_account") if isinstance(review, dict) else None


def assigned_to(account: str | None, instance_id: int) -> list[ExpertAssignment]:
    if not account:
        return []
    return db.session.scalars(db.select(ExpertAssignment).join(Expert).where(
        Expert.account == account, ExpertAssignment.instance_id == instance_id)
        .order_by(ExpertAssignment.id)).all()


def reviewer_view(account: str | None, instance_id: int) -> dict:
    """A round's data as an expert reads it: the candidates assigned to them, nothing else."""
    return {"assigned_candidates": [
        {"candidate": a.candidate, "name": a.unit_name, "credit_code": a.credit_code, "unit_type": a.unit_type}
        for a in assigned_to(account, instance_id)]}


def city_name(code: str | None) -> str | None:
    return JURISDICTIONS.get(code, (code,))[0] if code else None


def register() -> None:
    services.OPERATIONS.update({"experts.panel": open_panel, "experts.assign": assign,
                                "experts.consolidate": consolidate})
