"""Art 17: evaluation reports scored by the system from the unit type's indicator table
(evaluation_indicators.dmn, evaluation_pass_marks.dmn): the real diagram, every unit type,
the veto of a basic requirement or threshold, the baseline, leading value and pass mark
boundaries, and the report kept as a record of its own."""
from __future__ import annotations

import pytest
from creation import FACTORY_LEADING, deploy, evaluation, open_task

from engine.db import db
from engine.green.agencies import EvaluationReport
from engine.green.models import Designation
from engine.models import ProcessInstance
from engine.runtime import Actor

FIRM = Actor("firm", "applicant")
CITY = Actor("lz", "municipal", "620100")
CODES = {"green_factory": "91620100MA74XJ2P0P", "green_park": "91620100MA77MNPQ43",
         "green_supply_chain": "91620100MA75QWER28", "water_saving_enterprise": "91620100MA76ABCD3Y",
         "water_saving_park": "91620100MA74YYPJ81"}
# each unit type's scored indicators at the leading value (full marks) and at the baseline (none)
LEADING = {
    "green_factory": FACTORY_LEADING,
    "green_park": {"gp_energy_output_rate": 3.0, "gp_renewable_share": 15, "gp_clean_energy_rate": 75,
                   "gp_water_output_rate": 1500, "gp_land_output_rate": 45, "gp_solid_waste_use": 95,
                   "gp_water_reuse_rate": 95, "gp_reclaimed_water_rate": 40},
    "green_supply_chain": {"gsc_strategy_coverage": 100, "gsc_green_supplier_share": 80, "gsc_supplier_audit_rate": 100,
                           "gsc_energy_reduction": 10, "gsc_green_factory_suppliers": 10,
                           "gsc_product_recovery_rate": 50, "gsc_packaging_recycling": 90,
                           "gsc_platform_coverage": 100, "gsc_disclosure_items": 8},
    "water_saving_enterprise": {"ws_water_reuse_rate": 98, "ws_wastewater_reuse_rate": 80, "ws_leakage_rate": 5,
                                "ws_intake_vs_quota": 80, "ws_metering_rate": 100, "ws_unconventional_share": 20},
    "water_saving_park": {"wp_intake_per_value": 6, "wp_water_reuse_rate": 95, "wp_wastewater_per_value": 3},
}
BASELINE = {
    "green_factory": {"gf_energy_per_product": 120, "gf_renewable_share": 5, "gf_carbon_per_product": 2.0,
                      "gf_water_per_product": 5, "gf_water_reuse_rate": 85, "gf_solid_waste_use": 70,
                      "gf_pollutant_per_product": 1.0, "gf_hazardous_waste_compliance": 95,
                      "gf_green_product_share": 10, "gf_output_per_land": 5000},
    "green_park": {"gp_energy_output_rate": 1.0, "gp_renewable_share": 5, "gp_clean_energy_rate": 50,
                   "gp_water_output_rate": 500, "gp_land_output_rate": 15, "gp_solid_waste_use": 75,
                   "gp_water_reuse_rate": 85, "gp_reclaimed_water_rate": 20},
    "green_supply_chain": {"gsc_strategy_coverage": 0, "gsc_green_supplier_share": 20, "gsc_supplier_audit_rate": 50,
                           "gsc_energy_reduction": 0, "gsc_green_factory_suppliers": 0,
                           "gsc_product_recovery_rate": 10, "gsc_packaging_recycling": 30,
                           "gsc_platform_coverage": 30, "gsc_disclosure_items": 2},
    "water_saving_enterprise": {"ws_water_reuse_rate": 98, "ws_wastewater_reuse_rate": 80, "ws_leakage_rate": 5,
                                "ws_intake_vs_quota": 100, "ws_metering_rate": 90, "ws_unconventional_share": 0},
    "water_saving_park": {"wp_intake_per_value": 12, "wp_water_reuse_rate": 85, "wp_wastewater_per_value": 8},
}


@pytest.fixture
def creation(runtime):
    deploy(runtime)
    return runtime


def evaluate(runtime, unit_type, values, failed=(), **extra):
    """Apply with self-evaluation and hand in the evaluation; the case after the scoring step."""
    case = runtime.start("municipal_creation", {}, FIRM, "620100")
    runtime.complete(open_task(case.id).id, {"organisation_name": "兰州某单位", "unit_type": unit_type,
                                            "credit_code": CODES[unit_type], "evaluation_mode": "self"}, FIRM)
    assert open_task(case.id).element == f"Task_self_{unit_type}"
    return runtime.complete(open_task(case.id).id, evaluation(unit_type, case.id, values, failed, **extra), FIRM)


def result(case):
    db.session.expire_all()
    return db.session.get(ProcessInstance, case.id).data["evaluation"]


@pytest.mark.parametrize("unit_type", sorted(LEADING))
def test_each_unit_type_scores_full_marks_at_its_leading_values_and_nothing_at_its_baselines(creation, unit_type):
    best = evaluate(creation, unit_type, LEADING[unit_type])
    assert best.status == "running" and open_task(best.id).element == "Task_municipal_review"
    assert (result(best)["score"], result(best)["verdict"]) == (100, "passed")
    worst = evaluate(creation, unit_type, BASELINE[unit_type])
    assert (result(worst)["score"], result(worst)["verdict"]) == (0, "failed")


def test_beyond_the_leading_value_earns_no_more_and_below_the_baseline_no_less(creation):
    beyond = {**FACTORY_LEADING, "gf_renewable_share": 60, "gf_energy_per_product": 50}
    assert result(evaluate(creation, "green_factory", beyond))["score"] == 100
    below = {**FACTORY_LEADING, "gf_renewable_share": 0, "gf_energy_per_product": 200}
    assert result(evaluate(creation, "green_factory", below))["score"] == 100 - 10 - 15


def test_between_baseline_and_leading_the_points_are_linear_either_way(creation):
    # energy per product: baseline 120, leading 90 (lower is better), 15 points; renewables 5 → 30 %, 10 points
    half = {**FACTORY_LEADING, "gf_energy_per_product": 105, "gf_renewable_share": 17.5}
    assert result(evaluate(creation, "green_factory", half))["score"] == 100 - 7.5 - 5
    report = db.session.scalars(db.select(EvaluationReport).order_by(EvaluationReport.id.desc())).first()
    energy = next(i for i in report.indicators if i["indicator"] == "gf_energy_per_product")
    assert (energy["value"], energy["baseline"], energy["leading"], energy["points"]) == (105, 120, 90, 7.5)


def test_the_pass_mark_itself_passes_and_just_under_it_fails(creation):
    at_mark = {**FACTORY_LEADING, "gf_energy_per_product": 120, "gf_hazardous_waste_compliance": 95}  # -15 -5
    got = result(evaluate(creation, "green_factory", at_mark))
    assert (got["score"], got["verdict"]) == (80, "passed")
    under = {**at_mark, "gf_renewable_share": 29.9}  # 9.96 of 10
    got = result(evaluate(creation, "green_factory", under))
    assert (got["score"], got["verdict"]) == (79.96, "failed")


def test_a_basic_requirement_not_met_vetoes_full_marks_and_the_city_cannot_list(creation):
    case = evaluate(creation, "green_factory", FACTORY_LEADING, failed=("gf_energy_metering",))
    got = result(case)
    assert got["score"] == 100 and got["verdict"] == "vetoed" and got["vetoed_by"] == ["gf_energy_metering"]
    # approving a vetoed report does not list it: the case goes back to the applicant
    after = creation.complete(open_task(case.id).id, {"decision": "approve", "opinion": "同意"}, CITY)
    assert after.status == "running" and open_task(case.id).element == "Task_submit_report"
    assert db.session.scalar(db.select(db.func.count()).select_from(Designation)) == 0


def test_a_park_basic_requirement_vetoes_too(creation):
    got = result(evaluate(creation, "green_park", LEADING["green_park"], failed=("gp_dedicated_body",)))
    assert got["verdict"] == "vetoed" and got["vetoed_by"] == ["gp_dedicated_body"]


@pytest.mark.parametrize("industry,values,verdict", [
    ("steel", {"ws_water_reuse_rate": 97, "ws_wastewater_reuse_rate": 75, "ws_leakage_rate": 8}, "passed"),
    ("steel", {"ws_water_reuse_rate": 96.99}, "vetoed"),
    ("steel", {"ws_wastewater_reuse_rate": 74.9}, "vetoed"),
    ("steel", {"ws_leakage_rate": 8.01}, "vetoed"),
    ("general", {"ws_water_reuse_rate": 90, "ws_wastewater_reuse_rate": 50, "ws_leakage_rate": 10}, "passed"),
    ("general", {"ws_water_reuse_rate": 89.9}, "vetoed"),
])
def test_water_saving_thresholds_are_the_industrys_and_missing_one_vetoes(creation, industry, values, verdict):
    got = result(evaluate(creation, "water_saving_enterprise", {**LEADING["water_saving_enterprise"], **values},
                          industry=industry))
    assert got["verdict"] == verdict
    if verdict == "vetoed":
        assert got["vetoed_by"] == list(values)


def test_the_supply_chain_groups_carry_their_points(creation):
    # 绿色回收 20 points at its baseline, 信息披露 10: 70 left
    values = {**LEADING["green_supply_chain"], "gsc_product_recovery_rate": 10, "gsc_packaging_recycling": 30,
              "gsc_disclosure_items": 2}
    got = result(evaluate(creation, "green_supply_chain", values))
    assert (got["score"], got["verdict"]) == (70, "failed")
    report = db.session.scalars(db.select(EvaluationReport).order_by(EvaluationReport.id.desc())).first()
    by_group = {}
    for row in report.indicators:
        by_group[row["group"]] = by_group.get(row["group"], 0) + row["weight"]
    assert by_group == {"管理战略": 20, "绿色供应商管理": 20, "绿色生产": 20, "绿色回收": 20, "信息平台": 10, "信息披露": 10}


def test_the_water_saving_park_counts_lower_water_use_as_better(creation):
    values = {"wp_intake_per_value": 9, "wp_water_reuse_rate": 95, "wp_wastewater_per_value": 3}  # intake halfway
    assert result(evaluate(creation, "water_saving_park", values))["score"] == 80


def test_the_report_is_kept_with_its_values_score_verdict_mode_and_pdf(creation):
    case = evaluate(creation, "green_factory", FACTORY_LEADING, highlights="屋顶光伏")
    [report] = db.session.scalars(db.select(EvaluationReport)).all()
    assert (report.instance_id, report.unit_type, report.level, report.evaluation_mode, report.agency_id) == \
        (case.id, "green_factory", "municipal", "self", None)
    assert (report.score, report.pass_mark, report.verdict, report.vetoed_by) == (100, 80, "passed", [])
    assert report.credit_code == CODES["green_factory"] and report.submitted_by == "firm"
    assert report.attachment_id == db.session.get(ProcessInstance, case.id).data["report_pdf"]
    assert len(report.basic_requirements) == 5 and len(report.indicators) == 10


def test_an_analyst_changes_a_weight_in_the_table_and_new_cases_follow_it(creation):
    from conftest import ROOT

    from engine.model_registry import collect

    files = collect([ROOT / "processes"])
    table = files["evaluation_indicators.dmn"].decode()
    # the renewable share's 10 points become 0 in a new version; running cases keep theirs
    row = table.index('<rule id="Rule_gf_renewable_share">')
    end = table.index("</rule>", row)
    files["evaluation_indicators.dmn"] = (table[:row] + table[row:end].replace(
        '<outputEntry id="Out_gf_renewable_share_weight"><text>10</text>',
        '<outputEntry id="Out_gf_renewable_share_weight"><text>0</text>') + table[end:]).encode()
    creation.registry.deploy(files, actor="analyst")
    got = result(evaluate(creation, "green_factory", {**FACTORY_LEADING, "gf_renewable_share": 5}))
    assert got["score"] == 90  # 10 points no longer exist; the rest are full
