"""The provincial round (省级绿色制造单位评选, Arts 14-15): the cities that are
asked for recommendations, and the check that each recommended unit is one
the recommending city listed."""
from __future__ import annotations

from engine import services
from engine.db import db
from engine.services import ServiceError, StepContext

from . import evaluation, exclusions, rounds
from .models import UNIT_TYPES, Designation, Organisation
from .roles import JURISDICTIONS


def round_cities(params: dict, step: StepContext) -> dict[str, str]:
    """Every jurisdiction is asked for its recommendations (Art 14). Keyed by
    itself so that the multi-instance task files each city's answer under its code."""
    return {code: code for code in sorted(JURISDICTIONS)}


def candidates(params: dict, step: StepContext) -> dict:
    """From the cities' recommendations (city code -> units), the candidates for
    expert review, keyed "credit code:unit type" so each expert's conclusion is
    filed under the candidate it is about.

    A city may recommend only municipal units it listed itself and that are
    still listed (Art 14: "representative municipal units") and that no Art 18
    fact bars (the look-back from the diagram's decision table); anything else
    is not admitted, with the reason, so the province sees what was dropped.

    Art 23 counts evaluations per level: a candidate whose provincial evaluation
    report a third-party agency made is one provincial project of that agency's
    legal representative this year (`agency_cap` from the diagram's decision
    table); an agency over the cap, or named for fraud, has its report refused
    and the candidate is not admitted, with the reason.

    Neither is a unit already provincial for the type, nor one that is a
    candidate of another open round: listing it would fail.

    A city whose recommendation is None did not answer before the collection
    closed (provincial_selection.bpmn `SubProcess_city_recommendation`): it is
    recorded under `not_recommended`, apart from a city that recommended nobody."""
    recommendations = params.get("recommendations")
    if not isinstance(recommendations, dict):
        raise ServiceError("缺少各市州的推荐结果 (the cities' recommendations are missing)")
    admitted, refused = {}, []
    not_recommended = [{"jurisdiction": city, "name": JURISDICTIONS.get(city, (city,))[0]}
                       for city, units in sorted(recommendations.items()) if units is None]
    elsewhere = rounds.open_rounds_holding("provincial_selection", step.instance_id)
    for city, units in sorted(recommendations.items()):
        for unit in units or []:
            code, unit_type = (unit.get("credit_code") or "").upper(), unit.get("unit_type")
            row = db.session.execute(
                db.select(Designation, Organisation).join(Organisation)
                .where(Organisation.credit_code == code, Designation.unit_type == unit_type,
                       Designation.level == "municipal", Designation.status == "listed")).first()
            why = None
            if unit_type not in UNIT_TYPES:
                why = "未知的单位类型"
            elif row is None:
                why = "不是现有的市级绿色制造单位"
            elif row.Designation.jurisdiction != city:
                why = "不是本市（州）公布的市级单位"
            elif f"{code}:{unit_type}" in admitted:
                why = "重复推荐"
            elif (held := provincial_since(row.Organisation, unit_type)) is not None:
                why = f"已是省级{UNIT_TYPES[unit_type][0]}（{held.isoformat()}公布）"
            elif f"{code}:{unit_type}" in elsewhere:
                why = f"正在另一轮省级评选中（办件 {elsewhere[f'{code}:{unit_type}']}）"
            if why is None:  # Art 18 bars recommending as it bars applying
                barred = exclusions.check({"credit_code": code, "unit_type": unit_type,
                                           "look_back_years": params.get("look_back_years"),
                                           "stoppage_months": params.get("stoppage_months")}, step)
                why = "；".join(barred["reasons"]) or None
            agency = None
            if why is None and unit.get("evaluation_mode") == "third_party":
                agency = _provincial_evaluation(unit, code, unit_type, params.get("agency_cap"), step)
                why = agency.get("refused")
            entry = {"credit_code": code, "unit_type": unit_type, "jurisdiction": city,
                     "name": row.Organisation.name if row else unit.get("name"), "reason": unit.get("reason")}
            if agency is not None:  # who made its provincial evaluation report
                entry.update(evaluation_mode="third_party", agency=agency.get("agency_name"))
            if why:
                refused.append({**entry, "refused": why})
            else:
                admitted[f"{code}:{unit_type}"] = {**entry, "designation_id": row.Designation.id, "level": "provincial"}
    return {"admitted": admitted, "refused": refused, "not_recommended": not_recommended}


def provincial_since(org: Organisation, unit_type: str):
    """The day the organisation was listed provincial for the unit type, if it still is."""
    return db.session.scalar(db.select(Designation.listed_on).where(
        Designation.organisation_id == org.id, Designation.unit_type == unit_type,
        Designation.level == "provincial", Designation.status == "listed"))


def _provincial_evaluation(unit: dict, code: str, unit_type: str, cap, step: StepContext) -> dict:
    """Art 23 for the agency that made a candidate's provincial evaluation report:
    `refused` with the reason, or the agency counted for this candidate."""
    agency_code = (unit.get("agency_credit_code") or "").upper()
    if not agency_code:
        return {"refused": "第二十三条：第三方评价须写明评价机构的统一社会信用代码 (name the agency that evaluated)"}
    checked = evaluation.check_agency({"agency_credit_code": agency_code, "level": "provincial", "cap": cap,
                                       "unit_type": unit_type, "subject": f"{code}:{unit_type}",
                                       "account_needed": False}, step)
    if not checked["accepted"]:
        return {"refused": "第二十三条：" + checked["reason"], **checked}
    return checked


def register() -> None:
    services.OPERATIONS.update({"selection.cities": round_cities, "selection.candidates": candidates})


# The recommendation form (forms/provincial_recommendation.json) names the level it recommends
# to with this key, so that a unit is refused when the city recommends it, not weeks later.
RECOMMENDS_TO = "x-recommendsTo"


def recommendation_problems(schema: dict | None, data: dict, instance_id: int) -> dict[str, list[str]]:
    """A city's recommendation of a unit already provincial for the type, or sitting in another
    open round, is refused at once beside the unit, the city's entries kept (Art 14). Whatever
    else a unit needs (the city's own, no Art 18 fact) is checked when the collection closes,
    with the round's own look-back."""
    if (schema or {}).get(RECOMMENDS_TO) != "provincial":
        return {}
    problems = {}
    elsewhere = rounds.open_rounds_holding("provincial_selection", instance_id)
    for i, unit in enumerate(data.get("units") or []):
        code, unit_type = (unit.get("credit_code") or "").upper(), unit.get("unit_type")
        org = db.session.scalar(db.select(Organisation).where(Organisation.credit_code == code))
        if org is None or unit_type not in UNIT_TYPES:
            continue
        if (held := provincial_since(org, unit_type)) is not None:
            why = (f"{org.name}已是省级{UNIT_TYPES[unit_type][0]}（{held.isoformat()}公布），不再推荐 "
                   f"(already a provincial {UNIT_TYPES[unit_type][1].lower()} since {held.isoformat()})")
        elif f"{code}:{unit_type}" in elsewhere:
            why = (f"{org.name}正在另一轮省级评选中（办件 {elsewhere[f'{code}:{unit_type}']}），不能同时推荐 "
                   f"(a candidate of the open round {elsewhere[f'{code}:{unit_type}']})")
        else:
            continue
        problems[f"units/{i}/credit_code"] = [why]
    return problems
