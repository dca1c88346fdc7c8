"""Evaluation (评价) under Arts 12, 17 and 23: the score of a report computed from
its indicator values, the Art 23 checks on a chosen agency, and naming an agency
for fraud. The figures (indicators, weights, 基准值 baseline and 引领值 leading
values, thresholds, pass marks, the yearly cap, the ban's length) come from the
diagrams and their DMN tables, never from here.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine import clock, services, statutory_calendar
from engine.db import db
from engine.services import ServiceError, StepContext

from . import experts
from .agencies import Agency, AgencyEngagement, EvaluationReport
from .models import LEVELS, UNIT_TYPES, Attachment

KINDS = ("basic", "threshold", "scored")
REPORT_TYPES = ("application/pdf",)


@dataclass(frozen=True)
class Standard:
    """One row of the indicator table: a basic requirement (pass/fail), a threshold
    (a value that must be reached) or a scored indicator (points from 0 at the
    baseline to `weight` at the leading value, linear between)."""

    code: str
    kind: str
    group: str
    weight: float
    baseline: float | None
    leading: float | None

    def fraction(self, value: float) -> float:
        """How far a value is from the baseline towards the leading value, 0..1;
        a leading value below the baseline means lower is better."""
        span = self.leading - self.baseline
        return min(1.0, max(0.0, (value - self.baseline) / span))

    def reached(self, value: float) -> bool:
        """A threshold: the baseline is the limit; the leading value says which side is better."""
        return value <= self.baseline if self.leading < self.baseline else value >= self.baseline


def standards_from(table: dict) -> list[Standard]:
    """The DMN's collected columns (parallel lists) as rows."""
    cols = ("code", "kind", "group", "weight", "baseline", "leading")
    lists = [table.get(c) or [] for c in cols]
    if not lists[0] or any(len(col) != len(lists[0]) for col in lists):
        raise ServiceError("指标表未给出任何行，或各列长度不一致 (the indicator table gave no rows, or columns of different lengths)")
    rows = []
    for code, kind, group, weight, baseline, leading in zip(*lists):
        if kind not in KINDS:
            raise ServiceError(f"指标 {code}：类型 {kind!r} 不属于 {', '.join(KINDS)} (indicator {code}: kind {kind!r} is not one of {', '.join(KINDS)})")
        if kind != "basic" and (baseline is None or leading is None or baseline == leading):
            raise ServiceError(f"指标 {code}：基准值与先进值须不同 (indicator {code}: give different baseline and leading values)")
        rows.append(Standard(code, kind, group or "", float(weight or 0),
                             None if baseline in (None, "") else float(baseline),
                             None if leading in (None, "") else float(leading)))
    return rows


def compute(standards: list[Standard], basic: list[dict], indicators: list[dict], pass_mark: float) -> dict:
    """The score and verdict (评价结论): a basic requirement not met or a threshold
    not reached vetoes (一票否决) whatever the points; otherwise the points decide."""
    met = {row.get("requirement"): row.get("met") for row in basic or []}
    values = {row.get("indicator"): row.get("value") for row in indicators or []}
    known = {s.code for s in standards}
    unknown = sorted(str(c) for c in (set(met) | set(values)) - known)
    if unknown:
        raise ServiceError(f"评价报告列出了指标表中没有的指标：{', '.join(unknown)} (the report names indicators the indicator table does not know: {', '.join(unknown)})")
    vetoed, scored, total = [], [], 0.0
    for s in standards:
        if s.kind == "basic":
            if s.code not in met:
                raise ServiceError(f"评价报告缺少基本要求 {s.code} (basic requirement {s.code} is missing from the report)")
            if met[s.code] is not True:
                vetoed.append(s.code)
            continue
        value = values.get(s.code)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ServiceError(f"指标 {s.code} 在评价报告中没有数值 (indicator {s.code} has no value in the report)")
        if s.kind == "threshold":
            if not s.reached(value):
                vetoed.append(s.code)
            scored.append({"indicator": s.code, "group": s.group, "value": value, "limit": s.baseline,
                           "reached": s.reached(value)})
            continue
        points = round(s.weight * s.fraction(value), 2)
        total += points
        scored.append({"indicator": s.code, "group": s.group, "value": value, "baseline": s.baseline,
                       "leading": s.leading, "weight": s.weight, "points": points})
    score = round(total, 2)
    verdict = "vetoed" if vetoed else ("passed" if score >= pass_mark else "failed")
    return {"score": score, "pass_mark": pass_mark, "verdict": verdict, "vetoed_by": vetoed, "indicators": scored}


def banned_reason(agency: Agency) -> str:
    return (f"{agency.name} 因弄虚作假于 {agency.named_for_fraud_on.isoformat()} 被通报，"
            f"{agency.results_refused_until.isoformat()} 前其评价结果不予采信（第二十三条） (named for fraud: its "
            f"results are not accepted before {agency.results_refused_until.isoformat()}, Art 23)")


def record_report(params: dict, step: StepContext) -> dict:
    """Compute and store the evaluation report of the case (评价报告入库).

    Art 23 ¶1 refuses an agency's results for three years from its naming: a report
    an agency hands in during its ban is kept as submitted but with the verdict
    `refused` and the reason, whenever the agency was chosen, so it can never be
    listed on (the applicant chooses again)."""
    unit_type, level, mode = params.get("unit_type"), params.get("level"), params.get("evaluation_mode")
    if unit_type not in UNIT_TYPES or level not in LEVELS or mode not in ("self", "third_party"):
        raise ServiceError(f"单位类型 {unit_type!r}、级别 {level!r} 和评价方式 {mode!r} 须为已知值 (unit type {unit_type!r}, level {level!r} and mode {mode!r} must be known ones)")
    pass_mark = params.get("pass_mark")
    if not isinstance(pass_mark, (int, float)):
        raise ServiceError("合格分数线表没有给出该单位类型的合格分数 (the pass-mark table gave no pass mark for this unit type)")
    result = compute(standards_from(params.get("standards") or {}), params.get("basic_requirements"),
                     params.get("indicators"), float(pass_mark))
    attachment = db.session.get(Attachment, params.get("report_pdf") or 0)
    if attachment is None or attachment.instance_id != step.instance_id or attachment.content_type not in REPORT_TYPES:
        raise ServiceError("评价报告 PDF 不是本案提交的 PDF 文件 (the report PDF is not a PDF handed in with this case)")
    agency_id = params.get("agency_id") if mode == "third_party" else None
    if mode == "self":  # an agency chosen earlier in this case no longer evaluates it: not counted
        db.session.execute(db.delete(AgencyEngagement).where(AgencyEngagement.instance_id == step.instance_id))
    agency = db.session.get(Agency, agency_id or 0) if mode == "third_party" else None
    if mode == "third_party" and agency is None:
        raise ServiceError("第三方评价报告未注明已登记的评价机构 (a third-party report names no known agency)")
    refused = agency is not None and agency.refused_on(clock.now().date())
    if refused:
        result = {**result, "verdict": "refused"}
    report = EvaluationReport(
        instance_id=step.instance_id, credit_code=params.get("credit_code") or "",
        organisation_name=params.get("organisation_name") or "", unit_type=unit_type, level=level,
        evaluation_mode=mode, agency_id=agency_id, basic_requirements=params.get("basic_requirements") or [],
        indicators=result["indicators"], score=result["score"], pass_mark=result["pass_mark"],
        verdict=result["verdict"], vetoed_by=result["vetoed_by"], attachment_id=attachment.id,
        submitted_at=clock.now(), submitted_by=step.actor, version_id=step.version_id)
    db.session.add(report)
    db.session.flush()
    return {"report_id": report.id, "score": result["score"], "pass_mark": result["pass_mark"],
            "verdict": result["verdict"], "vetoed_by": result["vetoed_by"],
            "reason": banned_reason(agency) if refused else None}


def check_agency(params: dict, step: StepContext) -> dict:
    """Art 23 when an applicant chooses an agency: its results are not refused
    (named for fraud), and the agencies with its legal representative have done
    fewer than `cap` evaluations at this level this year. Accepted, the project is
    counted for this case; refused, the reason goes back to the applicant.

    A round (provincial or national) counts one project per candidate whose
    level's evaluation report an agency made: `subject` names the candidate, and
    `account_needed` is false there, as the agency has no task to do in the round."""
    code, level = params.get("agency_credit_code"), params.get("level")
    if level not in LEVELS:
        raise ServiceError(f"未知的级别 {level!r} (unknown level {level!r})")
    cap = params.get("cap")
    if not isinstance(cap, int) or isinstance(cap, bool) or cap < 0:
        raise ServiceError("年度限额须为整数 (the yearly cap must be a whole number)")
    today = clock.now().date()
    agency = db.session.scalar(db.select(Agency).where(Agency.credit_code == code))
    if agency is None:
        return {"accepted": False, "reason": f"没有统一社会信用代码为 {code} 的第三方评价机构备案记录 (no agency with this credit code is on record)"}
    subject = params.get("subject") or ""
    mine = db.session.scalar(db.select(AgencyEngagement).where(AgencyEngagement.instance_id == step.instance_id,
                                                               AgencyEngagement.subject == subject))
    if mine is not None:  # chosen again in this case: the earlier choice no longer counts
        db.session.delete(mine)
        db.session.flush()
    refused = {"accepted": False, "agency_id": agency.id, "agency_name": agency.name}
    if agency.refused_on(today):
        return {**refused, "reason": banned_reason(agency)}
    done = db.session.scalar(db.select(db.func.count()).select_from(AgencyEngagement).where(
        AgencyEngagement.legal_representative == agency.legal_representative,
        AgencyEngagement.level == level, AgencyEngagement.year == today.year))
    if done >= cap:
        return {**refused, "reason": (
            f"法定代表人 {agency.legal_representative} 名下机构 {today.year} 年已承担{LEVELS[level][0]}评价项目 "
            f"{done} 个，达到上限 {cap} 个 (agencies with this legal representative have done {done} "
            f"{LEVELS[level][1].lower()} evaluations this year; the cap is {cap})")}
    if not agency.account and params.get("account_needed", True):  # its task would have nobody to go to
        return {**refused, "reason": f"{agency.name} 尚未开通本系统账号，无法承担评价 (the agency has no account here yet)"}
    db.session.add(AgencyEngagement(agency_id=agency.id, legal_representative=agency.legal_representative,
                                    level=level, year=today.year, unit_type=params.get("unit_type"),
                                    instance_id=step.instance_id, subject=subject, engaged_on=today))
    return {"accepted": True, "reason": None, "agency_id": agency.id, "agency_name": agency.name,
            "account": agency.account, "count_this_year": done + 1, "cap": cap}


def count_evaluations(params: dict, step: StepContext) -> dict:
    """`agency.count_evaluations`: Art 23 in a round, for the units whose evaluation
    report of this `level` a third-party agency made (`agency_credit_code`): each is
    one project of that level this year for the agencies with its legal
    representative, under `cap`. The units whose report cannot be accepted (an
    agency named for fraud, over the cap, or none named) come back `refused`, each
    with its `reason`; the others `kept`, with the agency's name."""
    units = params.get("units")
    if not isinstance(units, list):
        raise ServiceError("按第二十三条计数的单位须为列表 (the units to count under Art 23 must be a list)")
    level = params.get("level")
    kept, refused = [], []
    for unit in units:
        name = unit.get("organisation_name") or unit.get("name") or ""
        subject = str(unit.get("designation_id") or f"{unit.get('credit_code')}:{unit.get('unit_type')}")
        code = (unit.get("agency_credit_code") or "").upper()
        if not code:
            why = "第三方评价须写明评价机构的统一社会信用代码 (name the agency that evaluated)"
        else:
            checked = check_agency({"agency_credit_code": code, "level": level, "cap": params.get("cap"),
                                    "unit_type": unit.get("unit_type"), "subject": subject,
                                    "account_needed": False}, step)
            why = None if checked["accepted"] else checked["reason"]
        if why:
            refused.append({**unit, "reason": f"第二十三条：{name}的{LEVELS[level][0]}评价报告不予采信——{why}"})
        else:
            kept.append({**unit, "agency_name": checked["agency_name"]})
    return {"kept": kept, "refused": refused, "reasons": [u["reason"] for u in refused]}


def name_agency(params: dict, step: StepContext) -> dict:
    """Art 23 ¶1: an agency found faking or hiding problems is named, and its
    results are not accepted for `years` years from today (通报, 结果不予采信)."""
    agency = db.session.get(Agency, params.get("agency_id") or 0)
    if agency is None:
        raise ServiceError(f"没有评价机构 {params.get('agency_id')!r} (no agency {params.get('agency_id')!r})")
    years = params.get("years")
    if not isinstance(years, int) or isinstance(years, bool) or years < 1:
        raise ServiceError("禁入期限须为整数年 (the ban's length must be a whole number of years)")
    reason = params.get("reason")
    if not reason:
        raise ServiceError("请填写对该机构认定的事实 (give the finding the agency is named for)")
    today = clock.now().date()
    agency.named_for_fraud_on, agency.named_reason, agency.named_by_instance = today, reason, step.instance_id
    # the same calendar day `years` later is the first day its results count again
    agency.results_refused_until = statutory_calendar.annual_date(today.year + years, today.month, today.day)
    return {"agency_id": agency.id, "named_on": today.isoformat(),
            "results_refused_until": agency.results_refused_until.isoformat()}


def find_agency(params: dict, step: StepContext) -> dict:
    """The agency a report names, for the province's verification."""
    agency = db.session.scalar(db.select(Agency).where(Agency.credit_code == params.get("agency_credit_code")))
    if agency is None:
        return {"found": False}
    return {"found": True, "agency_id": agency.id, "agency_name": agency.name,
            "legal_representative": agency.legal_representative}


def register() -> None:
    services.OPERATIONS.update({
        "evaluation.record": record_report, "agency.check": check_agency, "agency.name": name_agency,
        "agency.find": find_agency, "agency.count_evaluations": count_evaluations,
    })


def party_assignee(role: str, data: dict) -> str | None:
    """Who does a task addressed to one person: the agency's task goes to the account of the
    agency the check accepted for this case, an expert's review to the expert the province
    assigned to it; everything else to the case's starter (a party's task) or to its role.
    Both are kept under names no submission may set (a leading underscore), so nobody can
    hand a case's task to an account of their choosing."""
    if role == "agency":
        chosen = data.get("_agency_check")
        if isinstance(chosen, dict) and chosen.get("accepted"):
            return chosen.get("account")
    if role == "expert":
        return experts.reviewer_account(data)
    return None
