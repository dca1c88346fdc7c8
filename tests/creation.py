"""Driving municipal_creation in tests: deploy it with its decision tables, hand in a
report PDF, and fill in an evaluation form of any unit type."""
from __future__ import annotations

import json

from conftest import ROOT
from flask import current_app

from engine import clock
from engine.db import db
from engine.green import attachments
from engine.green.agencies import Agency
from engine.model_registry import collect
from engine.models import HumanTask

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CODE = "91620100MA74XJ2P0P"
APPLICATION = {"organisation_name": "兰州绿源制造有限公司", "unit_type": "green_factory", "credit_code": CODE,
               "evaluation_mode": "self"}


def deploy(runtime):
    """municipal_creation with the decision tables and forms it uses (all of processes/)."""
    return runtime.registry.deploy(collect([ROOT / "processes"]), actor="test")


def form(unit_type: str) -> dict:
    return json.loads((ROOT / "forms" / f"evaluation_{unit_type}.json").read_text(encoding="utf-8"))


def codes(unit_type: str) -> tuple[list[str], list[str]]:
    """The basic requirements' and the indicators' codes of a unit type's form."""
    props = form(unit_type)["properties"]
    basic = [o["const"] for o in props["basic_requirements"]["items"]["properties"]["requirement"]["oneOf"]]
    scored = [o["const"] for o in props["indicators"]["items"]["properties"]["indicator"]["oneOf"]]
    return basic, scored


def store_pdf(case_id: int, content: bytes = PDF, by: str = "firm") -> int:
    checked = attachments.check([("报告.pdf", content)])
    [row] = attachments.store(current_app.config["UPLOAD_DIR"], case_id, checked, by=by)
    db.session.commit()
    return row.id


def evaluation(unit_type: str, case_id: int, values: dict | None = None, failed: tuple = (), **extra) -> dict:
    """An evaluation form's data: every basic requirement met except `failed`, and `values` by
    indicator (without: 50 for each, whatever that scores)."""
    basic, scored = codes(unit_type)
    values = values or dict.fromkeys(scored, 50)
    data = {"basic_requirements": [{"requirement": c, "met": c not in failed} for c in basic],
            "indicators": [{"indicator": c, "value": values[c]} for c in scored],
            "report_pdf": store_pdf(case_id), "pledge": True, **extra}
    if unit_type == "water_saving_enterprise":
        data.setdefault("industry", "steel")
    return data


def open_task(case_id: int) -> HumanTask:
    [task] = db.session.scalars(db.select(HumanTask).where(HumanTask.instance_id == case_id)).all()
    return task


def agency(name, code, representative, account=None, city="620100") -> Agency:
    row = Agency(name=name, credit_code=code, legal_representative=representative, jurisdiction=city,
                 account=account, created_at=clock.now())
    db.session.add(row)
    db.session.commit()
    return row


# The indicator values of a green factory at its leading values: full marks.
FACTORY_LEADING = {"gf_energy_per_product": 90, "gf_renewable_share": 30, "gf_carbon_per_product": 1.4,
                   "gf_water_per_product": 3, "gf_water_reuse_rate": 97, "gf_solid_waste_use": 95,
                   "gf_pollutant_per_product": 0.5, "gf_hazardous_waste_compliance": 100,
                   "gf_green_product_share": 50, "gf_output_per_land": 15000}


def self_evaluated(runtime, firm, city="620100", application=APPLICATION, values=None):
    """A case whose applicant applied and self-evaluated: waiting for the city's review."""
    case = runtime.start("municipal_creation", {}, firm, city)
    runtime.complete(open_task(case.id).id, application, firm)
    if values is None and application["unit_type"] == "green_factory":
        values = FACTORY_LEADING
    return runtime.complete(open_task(case.id).id, evaluation(application["unit_type"], case.id, values), firm)


# the decision tables municipal_creation calls, for tests that deploy it file by file
TABLES = [ROOT / "processes" / f"{name}.dmn" for name in ("evaluation_indicators", "evaluation_pass_marks",
                                                          "agency_yearly_cap", "art18_exclusions")]
