"""Art 18 exclusions: adverse facts recorded by processes/adverse_fact.bpmn, read
by `exclusions.check` in processes/cultivation.bpmn. Every kind bars; the
three-year look-back's boundaries (the virtual clock starts 2026-03-02, so the
window starts 2023-03-02); the 12-month stoppage; open facts; a park's firms;
designations revoked within three years; the periods come from the DMN table."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from conftest import ROOT
from cultivation_helpers import PROVINCE, code, deploy, nominate, official, people, record_fact, step, task_of
from factories import designation_row

from engine import clock
from engine.db import db
from engine.errors import Forbidden
from engine.green.exclusions import KINDS, AdverseFact
from engine.models import ProcessInstance
from engine.runtime import Actor
from web.accounts.users import add_user

SOURCE = {"other_violation": "gsxt", "inspection_problem": "inspection", "dishonest_debtor": "court"}


@pytest.fixture
def world(runtime):
    deploy(runtime)
    people()
    return runtime


def exclusions_of(runtime, credit_code, unit_type="green_factory", city="620100"):
    """Nominate the organisation and read what the Art 18 check found."""
    case = nominate(runtime, unit_type, credit_code, city=city)
    assert case.status == "running", case.error_message
    db.session.expire_all()
    data = db.session.get(ProcessInstance, case.id).data
    barred = task_of(case.id).element == "Task_nominate_candidate"
    assert barred == data["exclusions"]["barred"]
    return data["exclusions"]


def fact(runtime, credit_code, kind, occurred_on, ended_on=None, actor=None):
    case = record_fact(runtime, actor or official(), credit_code, kind, occurred_on, ended_on,
                       source=SOURCE.get(kind, "credit_china"))
    assert case.status == "completed", case.error_message
    return case


@pytest.mark.parametrize("kind", sorted(k for k in KINDS if k != "production_stopped"))
def test_each_art_18_kind_bars(world, kind):
    fact(world, code(1), kind, "2025-06-30")
    found = exclusions_of(world, code(1))
    (f,) = found["facts"]
    assert (f["kind"], f["article"], f["date"]) == (kind, KINDS[kind][2], "2025-06-30")
    assert found["reasons"][0].startswith(KINDS[kind][2])


def test_a_fact_recorded_by_the_province_bars_too(world):
    fact(world, code(1), "tax_evasion", "2024-01-10", actor=PROVINCE)
    assert exclusions_of(world, code(1))["barred"]


@pytest.mark.parametrize("occurred_on,bars", [
    ("2023-03-03", True),   # 2 years 364 days old
    ("2023-03-02", True),   # exactly three years: the window's first day belongs to it
    ("2023-03-01", False),  # 3 years and 1 day old
])
def test_the_three_year_look_back_boundary(world, occurred_on, bars):
    fact(world, code(1), "safety_accident", occurred_on)
    assert exclusions_of(world, code(1))["barred"] is bars


def test_a_fact_stops_barring_as_the_clock_passes_three_years(world):
    fact(world, code(1), "quality_accident", "2026-03-02")
    clock.current().set(datetime(2029, 3, 2, 9, 0, tzinfo=clock.SHANGHAI))
    assert exclusions_of(world, code(1))["barred"]
    clock.current().set(datetime(2029, 3, 3, 9, 0, tzinfo=clock.SHANGHAI))
    assert not exclusions_of(world, code(1))["barred"]


@pytest.mark.parametrize("began,resumed,bars", [
    ("2025-03-02", None, True),           # still stopped: 12 months on 2026-03-02
    ("2025-03-03", None, False),          # still stopped: a day short of 12 months
    ("2023-06-01", "2024-06-01", True),   # resumed after exactly 12 months
    ("2023-06-01", "2024-05-31", False),  # resumed a day before 12 months
    ("2021-01-04", "2023-03-02", True),   # 26 months, ended exactly three years ago
    ("2021-01-04", "2023-03-01", False),  # ended three years and a day ago
])
def test_a_production_stoppage_bars_from_twelve_consecutive_months(world, began, resumed, bars):
    fact(world, code(1), "production_stopped", began, resumed)
    found = exclusions_of(world, code(1))
    assert found["barred"] is bars
    if bars:
        assert found["facts"][0]["counts_on"] == (resumed or "2026-03-02")
        assert found["reasons"][0].endswith(f"{began}至{resumed or '今'}，信用中国公示 2025-001）")


@pytest.mark.parametrize("kind", ["abnormal_operation", "energy_rectification"])
def test_not_removed_or_not_rectified_bars_however_old_until_it_is(world, kind):
    fact(world, code(1), kind, "2015-05-01")  # listed eleven years ago, still open
    assert exclusions_of(world, code(1))["barred"]
    fact(world, code(2), kind, "2025-05-01", "2025-12-01")  # removed or rectified: no longer bars
    assert not exclusions_of(world, code(2))["barred"]


@pytest.mark.parametrize("removed,bars", [(None, True), ("2023-03-02", True), ("2023-03-01", False)])
def test_a_dishonest_debtor_bars_while_listed_and_three_years_after(world, removed, bars):
    fact(world, code(1), "dishonest_debtor", "2019-08-01", removed)
    assert exclusions_of(world, code(1))["barred"] is bars


def test_a_park_is_barred_by_the_facts_of_the_firms_inside_it(world):
    firms = [{"credit_code": code(11), "name": "园区企业甲"}, {"credit_code": code(12), "name": "园区企业乙"}]
    first = nominate(world, "green_park", code(1), name="某工业园区管委会", members=firms)
    assert task_of(first.id).element == "Task_cultivation_plan"
    fact(world, code(12), "environmental_accident", "2025-09-09")
    found = exclusions_of(world, code(1), "green_park")
    (f,) = found["facts"]
    assert (f["credit_code"], f["via"]) == (code(12), "park_member")
    assert "（园区内企业）" in found["reasons"][0]
    # a water-saving park with the same firms is barred the same way; a supply-chain leader is not
    # barred by its suppliers' facts (Art 18 names firms inside a park only)
    assert exclusions_of(world, code(1), "water_saving_park")["barred"]
    nominate(world, "green_supply_chain", code(2), members=[{"credit_code": code(12), "name": "园区企业乙"}])
    assert not exclusions_of(world, code(2), "green_supply_chain")["barred"]


def _designation(org_code, status, ended_on):
    designation_row(org_code, status=status, ended_on=ended_on,
                    end_reason="第二十一条第（一）项：抽查不合格且整改期满仍不合格")


@pytest.mark.parametrize("status,ended_on,bars", [
    ("revoked", date(2023, 3, 2), True), ("revoked", date(2023, 3, 1), False), ("withdrawn", date(2025, 1, 1), False),
])
def test_a_designation_revoked_within_three_years_bars(world, status, ended_on, bars):
    _designation(code(1), status, ended_on)
    found = exclusions_of(world, code(1))
    assert found["barred"] is bars
    if bars:
        assert found["facts"][0]["article"] == "第十八条第（三）项" and "抽查不合格" in found["reasons"][0]


def test_the_look_back_and_threshold_come_from_the_decision_table(world):
    fact(world, code(1), "tax_evasion", "2024-01-01")  # about 2 years 2 months old
    fact(world, code(2), "production_stopped", "2025-09-01")  # six months, still stopped
    assert exclusions_of(world, code(1))["barred"] and not exclusions_of(world, code(2))["barred"]
    table = (ROOT / "processes" / "art18_exclusions.dmn").read_text()
    edited = table.replace("<text>3</text>", "<text>2</text>").replace("<text>12</text>", "<text>6</text>")
    files = {p.name: p.read_bytes() for p in (ROOT / "processes").iterdir()
             if p.name == "cultivation.bpmn" or (p.suffix == ".dmn" and p.name != "art18_exclusions.dmn")}
    world.registry.deploy({**files, "art18_exclusions.dmn": edited.encode()})
    found = exclusions_of(world, code(1))
    assert not found["barred"] and found["window_start"] == "2024-03-02"
    assert exclusions_of(world, code(2))["barred"]


def test_an_entry_that_does_not_hold_together_comes_back_and_records_nothing(world):
    case = world.start("adverse_fact", {}, official())
    data = {"organisation_name": "某企业", "credit_code": code(1), "kind": "abnormal_operation",
            "occurred_on": "2025-05-01", "ended_on": "2025-04-01", "source": "gsxt"}
    case = step(world, case.id, "Task_record_fact", data, official())
    assert task_of(case.id).element == "Task_record_fact"
    db.session.expire_all()
    assert "不能早于" in db.session.get(ProcessInstance, case.id).data["return_reasons"][0]
    # other violations come from Credit China or the credit publicity system only
    case = step(world, case.id, "Task_record_fact",
                {**data, "ended_on": "2025-06-01", "kind": "other_violation", "source": "authority"}, official())
    assert task_of(case.id).element == "Task_record_fact"
    case = step(world, case.id, "Task_record_fact", {**data, "occurred_on": "2026-03-03"}, official())
    assert task_of(case.id).element == "Task_record_fact"  # a date in the future
    assert db.session.scalar(db.select(db.func.count()).select_from(AdverseFact)) == 0
    case = step(world, case.id, "Task_record_fact", {**data, "ended_on": None} | {"ended_on": "2025-06-01"},
                official())
    assert case.status == "completed"
    (recorded,) = db.session.scalars(db.select(AdverseFact)).all()
    assert (recorded.kind, recorded.occurred_on.isoformat(), recorded.ended_on.isoformat(), recorded.source,
            recorded.recorded_by, recorded.jurisdiction, recorded.instance_id) == (
        "abnormal_operation", "2025-05-01", "2025-06-01", "gsxt", "city-620100", "620100", case.id)


def test_only_officials_record_adverse_facts(world):
    add_user("firm", "applicant")
    with pytest.raises(Forbidden, match="only municipal, provincial may start adverse_fact"):
        record_fact(world, Actor("firm", "applicant"), code(1), "tax_evasion", "2025-01-01")
    # an administrator may start any case, yet the record itself takes an official's word only
    case = record_fact(world, Actor("root", "admin"), code(1), "tax_evasion", "2025-01-01")
    assert case.status == "error" and "only a municipal or provincial official" in case.error_message
    assert db.session.scalar(db.select(db.func.count()).select_from(AdverseFact)) == 0


# The two elements the creation and provincial-selection diagrams add to check Art 18
# (the snippet handed to the lead), here with `as_of`, the day a listing decision is taken.
CHECK = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="http://example.org">
<bpmn:process id="check_on_a_day" isExecutable="true">
<bpmn:startEvent id="start"><bpmn:extensionElements><spiffworkflow:properties>
  <spiffworkflow:property name="startRoles" value="provincial"/></spiffworkflow:properties></bpmn:extensionElements>
  <bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:businessRuleTask id="Rule_art18_periods"><bpmn:extensionElements>
  <spiffworkflow:calledDecisionId>art18_exclusion_periods</spiffworkflow:calledDecisionId></bpmn:extensionElements>
  <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:businessRuleTask>
<bpmn:serviceTask id="Service_check_exclusions"><bpmn:extensionElements>
  <spiffworkflow:serviceTaskOperator id="exclusions.check" resultVariable="exclusions"><spiffworkflow:parameters>
    <spiffworkflow:parameter id="credit_code" type="any" value="credit_code"/>
    <spiffworkflow:parameter id="unit_type" type="any" value="unit_type"/>
    <spiffworkflow:parameter id="look_back_years" type="any" value="art18_look_back_years"/>
    <spiffworkflow:parameter id="stoppage_months" type="any" value="art18_stoppage_months"/>
    <spiffworkflow:parameter id="as_of" type="any" value="as_of"/>
  </spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements>
  <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:serviceTask>
<bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Rule_art18_periods"/>
<bpmn:sequenceFlow id="f2" sourceRef="Rule_art18_periods" targetRef="Service_check_exclusions"/>
<bpmn:sequenceFlow id="f3" sourceRef="Service_check_exclusions" targetRef="end"/>
</bpmn:process></bpmn:definitions>"""


def test_the_check_answers_for_the_day_asked_about(world):
    world.registry.deploy({"check.bpmn": CHECK,
                           "art18_exclusions.dmn": (ROOT / "processes" / "art18_exclusions.dmn").read_bytes()})
    fact(world, code(1), "inspection_problem", "2024-05-20")

    def check(as_of, credit_code=code(1)):
        case = world.start("check_on_a_day", {"credit_code": credit_code, "unit_type": "green_factory",
                                              "as_of": as_of}, PROVINCE)
        assert case.status == "completed", case.error_message
        return case.data["exclusions"]

    assert check("2024-05-19")["facts"] == []  # the day before it happened
    assert check("2024-05-20")["barred"] and check("2027-05-20")["barred"]
    assert not check("2027-05-21")["barred"]
    assert check("2027-05-21")["window_start"] == "2024-05-21"
    unknown = check("2026-03-02", credit_code=code(99))  # an organisation the system has never heard of
    assert unknown == {**unknown, "barred": False, "facts": [], "reasons": []}
    bad = world.start("check_on_a_day", {"credit_code": code(1)[:-1] + "0", "unit_type": "green_factory",
                                         "as_of": "2026-03-02"}, PROVINCE)
    assert bad.status == "error" and "check character" in bad.error_message
