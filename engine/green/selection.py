"""The provincial round (省级绿色制造单位评选, Arts 14-15): the cities that are
asked for recommendations, and the check that each recommended unit is one
the recommending city listed."""
from __future__ import annotations

from engine import services
from engine.db import db
from engine.services import ServiceError, StepContext

from . import exclusions
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
    is not admitted, with the reason, so the province sees what was dropped."""
    recommendations = params.get("recommendations")
    if not isinstance(recommendations, dict):
        raise ServiceError("the cities' recommendations are missing")
    admitted, refused = {}, []
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
            if why is None:  # Art 18 bars recommending as it bars applying
                barred = exclusions.check({"credit_code": code, "unit_type": unit_type,
                                           "look_back_years": params.get("look_back_years"),
                                           "stoppage_months": params.get("stoppage_months")}, step)
                why = "；".join(barred["reasons"]) or None
            entry = {"credit_code": code, "unit_type": unit_type, "jurisdiction": city,
                     "name": row.Organisation.name if row else unit.get("name"), "reason": unit.get("reason")}
            if why:
                refused.append({**entry, "refused": why})
            else:
                admitted[f"{code}:{unit_type}"] = {**entry, "designation_id": row.Designation.id, "level": "provincial"}
    return {"admitted": admitted, "refused": refused}


def register() -> None:
    services.OPERATIONS.update({"selection.cities": round_cities, "selection.candidates": candidates})
