"""Art 18 exclusions (不得申报、推荐和公布的情形) over dated adverse facts (不良信息).

An adverse fact is something an official recorded about an organisation, with its
date and source: a deregistration, a production stoppage, a listing on the
abnormal-operation list, an accident, tax evasion, another violation published by
Credit China or the enterprise credit publicity system, a serious inspection
problem, a listing for energy-conservation rectification, a dishonest-judgment-
debtor listing. Art 18(3), a designation revoked by dynamic adjustment, is read
from the designations themselves.

`check` answers, for an organisation and a day, which facts bar it. The look-back
length and the stoppage threshold are not known here: the diagram passes them,
from the decision table `art18_exclusion_periods` (processes/art18_exclusions.dmn).

How the look-back is counted (decided here, documented in README.md):
- The window starts on `years_before(as_of, look_back_years)`, the same calendar
  day three years earlier, and that day belongs to it: a fact exactly three years
  old bars; one three years and a day old does not.
- A fact with a duration counts on its last day (`ended_on`); while it is still
  open (no `ended_on`) it counts on `as_of`.
- A stoppage bars only when it lasted at least the threshold (12 months): from the
  first day stopped (`occurred_on`) to the day production resumed (`ended_on`), or
  to `as_of` while it goes on.
- "Not removed" (abnormal-operation list) and "not rectified" (energy-conservation
  rectification list) bar while open, however old; once removed or rectified they
  no longer bar, since the removal or rectification is what the article asks for.
- A park applicant is also barred by the facts of the firms inside it (its current
  park-membership links, Art 2).
"""
from __future__ import annotations

import calendar as _cal
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine import clock, statutory_calendar
from engine.db import db
from engine.errors import en, zh
from engine.green.models import User
from engine.models import Aware
from engine.services import ServiceError, StepContext

from . import credit_code
from .models import UNIT_TYPES, Designation, Organisation, OrganisationLink
from .roles import JURISDICTIONS

# kind: (Chinese, English, article, how it counts)
#   event: counts on the day it happened; period: on its last day, open = still on;
#   open_only: bars only while not removed / not rectified; stoppage: a period of at least the threshold.
KINDS: dict[str, tuple[str, str, str, str]] = {
    "deregistered": ("注销", "Deregistered", "第十八条第（一）项", "event"),
    "production_stopped": ("停产连续12个月以上", "Production stopped 12 consecutive months or more",
                           "第十八条第（一）项", "stoppage"),
    "abnormal_operation": ("列入经营异常名录且未移出", "On the abnormal-operation list, not removed",
                           "第十八条第（一）项", "open_only"),
    "safety_accident": ("安全事故（含网络和数据安全）", "Safety accident (network and data security included)",
                        "第十八条第（二）项", "event"),
    "quality_accident": ("质量事故", "Quality accident", "第十八条第（二）项", "event"),
    "environmental_accident": ("环境污染事故", "Environmental pollution accident", "第十八条第（二）项", "event"),
    "tax_evasion": ("偷漏税", "Tax evasion", "第十八条第（二）项", "event"),
    "other_violation": ("其他违法违规行为", "Other violation of law or regulations", "第十八条第（二）项", "event"),
    "inspection_problem": ("国家或省级检查发现严重问题", "Serious problem found in a national or provincial inspection",
                           "第十八条第（四）项", "event"),
    "energy_rectification": ("列入工业节能监察整改名单且未整改",
                             "On the energy-conservation supervision rectification list, not rectified",
                             "第十八条第（五）项", "open_only"),
    "dishonest_debtor": ("失信被执行人", "Dishonest judgment debtor", "第十八条第（六）项", "period"),
}
REVOKED = ("绿色制造单位称号被动态调整撤销", "Green designation revoked by dynamic adjustment", "第十八条第（三）项")
SOURCES = {
    "credit_china": ("信用中国", "Credit China"),
    "gsxt": ("国家企业信用信息公示系统", "National Enterprise Credit Information Publicity System"),
    "inspection": ("国家或省级监督检查", "National or provincial inspection"),
    "court": ("中国执行信息公开网", "China Enforcement Information Disclosure"),
    "authority": ("主管部门通报", "Notice of a competent authority"),
}
# Art 18(2): "other violations" are those published on these two systems.
CREDIT_SYSTEMS = ("credit_china", "gsxt")
PARK_TYPES = ("green_park", "water_saving_park")
RECORDERS = frozenset({"municipal", "provincial", "admin"})


class AdverseFact(db.Model):
    """A dated adverse fact about an organisation (不良信息), with its source."""

    __tablename__ = "adverse_fact"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    occurred_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)  # removed, rectified, resumed
    source: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str | None] = mapped_column(String(200))  # the notice or record number at the source
    description: Mapped[str | None] = mapped_column(Text)
    jurisdiction: Mapped[str | None] = mapped_column(String(12), index=True)  # the recording authority's city
    recorded_at: Mapped[datetime] = mapped_column(Aware())
    recorded_by: Mapped[str | None] = mapped_column(String(80))
    instance_id: Mapped[int | None] = mapped_column(Integer)
    organisation: Mapped[Organisation] = relationship()


def add_months(day: date, months: int) -> date:
    """The same day `months` later (31 → the month's last day)."""
    m = day.month - 1 + months
    year, month = day.year + m // 12, m % 12 + 1
    return date(year, month, min(day.day, _cal.monthrange(year, month)[1]))


def _day(value, name: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return statutory_calendar._as_date(value)
    except (TypeError, ValueError):
        raise ServiceError(f"{name} {value!r} 不是有效日期 ({name} {value!r} is not a date)") from None


def _positive(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 or int(value) != value:
        raise ServiceError(f"{name} 须为正整数，取自第十八条决策表（实际为 {value!r}） ({name} must be a positive whole number, from the Art 18 decision table (got {value!r}))")
    return int(value)


def barring(fact: AdverseFact, as_of: date, window_start: date, stoppage_months: int) -> date | None:
    """The day on which `fact` counts against the look-back, or None when it does not bar."""
    how = KINDS[fact.kind][3]
    if fact.occurred_on > as_of:
        return None  # recorded ahead of the day asked about: not yet a fact then
    still_open = fact.ended_on is None or fact.ended_on > as_of
    if how == "open_only":
        return fact.occurred_on if still_open else None
    if how == "event":
        counts_on = fact.occurred_on
    else:
        counts_on = as_of if still_open else fact.ended_on
        if how == "stoppage" and counts_on < add_months(fact.occurred_on, stoppage_months):
            return None
    return counts_on if counts_on >= window_start else None


def check_organisation(org: Organisation, as_of: date, look_back_years: int, stoppage_months: int,
                       via: str | None = None) -> list[dict]:
    window_start = statutory_calendar.years_before(as_of, look_back_years)
    found = []
    facts = db.session.scalars(db.select(AdverseFact).where(AdverseFact.organisation_id == org.id)
                               .order_by(AdverseFact.occurred_on, AdverseFact.id)).all()
    for fact in facts:
        counts_on = barring(fact, as_of, window_start, stoppage_months)
        if counts_on is None:
            continue
        zh, en, article, _how = KINDS[fact.kind]
        found.append({"fact_id": fact.id, "credit_code": org.credit_code, "organisation": org.name, "kind": fact.kind,
                      "kind_name": zh, "kind_name_en": en, "article": article, "date": fact.occurred_on.isoformat(),
                      "counts_on": counts_on.isoformat(),
                      "ended_on": fact.ended_on.isoformat() if fact.ended_on and fact.ended_on <= as_of else None,
                      "source": fact.source, "reference": fact.reference, "via": via})
    revoked = db.session.scalars(db.select(Designation).where(
        Designation.organisation_id == org.id, Designation.status == "revoked",
        Designation.ended_on >= window_start, Designation.ended_on <= as_of)).all()
    for d in revoked:
        found.append({"designation_id": d.id, "credit_code": org.credit_code, "organisation": org.name,
                      "kind": "designation_revoked", "kind_name": REVOKED[0], "kind_name_en": REVOKED[1],
                      "article": REVOKED[2], "date": d.ended_on.isoformat(), "counts_on": d.ended_on.isoformat(),
                      "ended_on": None, "source": "designation", "reference": d.end_reason, "via": via})
    return found


def check(params: dict, step: StepContext | None = None) -> dict:
    """`exclusions.check`: the facts that bar an applicant under Art 18 on a day
    (today unless `as_of`), with their article and date. Parameters `credit_code`,
    `unit_type`, `look_back_years` and `stoppage_months` (both from the Art 18
    decision table), `as_of` optional."""
    code = params.get("credit_code")
    if (why := credit_code.problem(code)) is not None:
        raise ServiceError(f"统一社会信用代码 {code!r}：{zh(why)} (credit code {code!r}: {en(why)})")
    unit_type = params.get("unit_type")
    if unit_type not in UNIT_TYPES:
        raise ServiceError(f"未知的单位类型 {unit_type!r} (unknown unit type {unit_type!r})")
    look_back = _positive(params.get("look_back_years"), "look_back_years")
    stoppage = _positive(params.get("stoppage_months"), "stoppage_months")
    as_of = _day(params.get("as_of"), "as_of") or clock.now().date()
    window_start = statutory_calendar.years_before(as_of, look_back)
    result = {"barred": False, "facts": [], "reasons": [], "as_of": as_of.isoformat(),
              "window_start": window_start.isoformat(), "credit_code": code, "unit_type": unit_type}
    org = db.session.scalar(db.select(Organisation).where(Organisation.credit_code == code))
    if org is None:
        return result
    facts = check_organisation(org, as_of, look_back, stoppage)
    if unit_type in PARK_TYPES:
        members = db.session.scalars(db.select(Organisation).join(
            OrganisationLink, OrganisationLink.member_id == Organisation.id).where(
            OrganisationLink.organisation_id == org.id, OrganisationLink.kind == "park_member",
            OrganisationLink.ended_on.is_(None)).order_by(Organisation.credit_code)).all()
        for member in members:
            facts += check_organisation(member, as_of, look_back, stoppage, via="park_member")
    result["facts"] = facts
    result["barred"] = bool(facts)
    result["reasons"] = [
        f"{f['article']}：{f['organisation']}" + ("（园区内企业）" if f["via"] else "")
        + f"{f['kind_name']}（{_span(f)}" + (f"，{f['reference']}" if f.get("reference") else "") + "）"
        for f in facts]
    return result


def screen(params: dict, step: StepContext | None = None) -> dict:
    """`exclusions.screen`: Art 18 at a gate of a procedure (on application, before
    a city or the province lists, on a recommendation): each unit of `units` (dicts
    with at least `credit_code` and `unit_type`) checked today with `check`, the
    look-back and stoppage threshold from the diagram's decision table.

    Returns the units that may pass (`kept`, as given), those barred (`barred`, each
    with its `reasons`: the article, the organisation, the fact and its date) and
    every reason in one list (`reasons`), for the task that shows them and the case
    that keeps them."""
    units = params.get("units")
    if not isinstance(units, list):
        raise ServiceError("按第十八条核查的单位须为列表 (the units to check under Art 18 must be a list)")
    kept, barred, reasons = [], [], []
    for unit in units:
        if not isinstance(unit, dict):
            raise ServiceError("按第十八条核查的每个单位须有统一社会信用代码和单位类型 (each unit to check under Art 18 needs its credit code and unit type)")
        found = check({"credit_code": (unit.get("credit_code") or "").upper(), "unit_type": unit.get("unit_type"),
                       "look_back_years": params.get("look_back_years"),
                       "stoppage_months": params.get("stoppage_months")}, step)
        if found["barred"]:
            barred.append({**unit, "reasons": found["reasons"], "facts": found["facts"]})
            reasons += found["reasons"]  # each names the article, the organisation, the fact and its date
        else:
            kept.append(unit)
    return {"kept": kept, "barred": barred, "reasons": reasons, "barred_any": bool(barred),
            "as_of": clock.now().date().isoformat()}


def _span(found: dict) -> str:
    if KINDS.get(found["kind"], (None,) * 4)[3] in (None, "event"):  # an event, or a revocation
        return found["date"]
    return f"{found['date']}至{found['ended_on'] or '今'}"


def record(params: dict, step: StepContext) -> dict:
    """`adverse_fact.record`: write a fact an official entered. A wrong entry is
    answered with `recorded: false` and the problem, for the form to show again."""
    recorder = db.session.scalar(db.select(User).where(User.name == step.actor))
    if recorder is None or recorder.role not in RECORDERS:
        raise ServiceError("只有市级或省级工作人员可以记录不良事实 (only a municipal or provincial official records adverse facts)")
    code = params.get("credit_code")
    if (why := credit_code.problem(code)) is not None:
        raise ServiceError(f"统一社会信用代码 {code!r}：{zh(why)} (credit code {code!r}: {en(why)})")
    kind, source = params.get("kind"), params.get("source")
    if kind not in KINDS:
        raise ServiceError(f"未知的不良事实类型 {kind!r} (unknown kind of adverse fact {kind!r})")
    if source not in SOURCES:
        raise ServiceError(f"未知的来源 {source!r} (unknown source {source!r})")
    occurred = _day(params.get("occurred_on"), "occurred_on")
    ended = _day(params.get("ended_on"), "ended_on")
    today = clock.now().date()
    problems = []
    if occurred is None:
        problems.append("请填写发生（列入、开始）日期 (give the date it happened or began)")
    elif occurred > today:
        problems.append("发生日期不能晚于今天 (the date cannot be in the future)")
    if ended is not None and occurred is not None and ended < occurred:
        problems.append("结束（移出、整改、恢复生产）日期不能早于发生日期 (the end cannot be before the start)")
    if ended is not None and ended > today:
        problems.append("结束日期不能晚于今天 (the end cannot be in the future)")
    if kind == "other_violation" and source not in CREDIT_SYSTEMS:
        problems.append("其他违法违规行为须来自信用中国或国家企业信用信息公示系统 "
                        "(other violations come from Credit China or the enterprise credit publicity system)")
    jurisdiction = params.get("jurisdiction")
    if jurisdiction is not None and jurisdiction not in JURISDICTIONS:
        raise ServiceError(f"未知的辖区 {jurisdiction!r} (unknown jurisdiction {jurisdiction!r})")
    if problems:
        return {"recorded": False, "problems": problems}
    org = db.session.scalar(db.select(Organisation).where(Organisation.credit_code == code))
    if org is None:
        if not params.get("name"):
            raise ServiceError(f"统一社会信用代码为 {code} 的单位尚未登记；请填写其名称 (no organisation with credit code {code} is known; give its name)")
        org = Organisation(credit_code=code, name=params["name"], jurisdiction=jurisdiction, created_at=clock.now())
        db.session.add(org)
        db.session.flush()
    fact = AdverseFact(organisation_id=org.id, kind=kind, occurred_on=occurred, ended_on=ended, source=source,
                       reference=params.get("reference") or None, description=params.get("description") or None,
                       jurisdiction=jurisdiction, recorded_at=clock.now(), recorded_by=step.actor,
                       instance_id=step.instance_id)
    db.session.add(fact)
    db.session.flush()
    return {"recorded": True, "problems": [], "fact_id": fact.id, "organisation_id": org.id,
            "article": KINDS[kind][2]}

