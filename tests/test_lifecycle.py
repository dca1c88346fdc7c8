"""Annual dynamic management (Arts 19, 20 ¶1, 22) and incident reports (Art 20,
Art 21 last ¶) on the virtual clock, driving processes/designation_lifecycle.bpmn.

A unit listed on Monday 2 March 2026 first files by 15 April 2027."""
from __future__ import annotations

import json
from datetime import datetime
from uuid import UUID

import pytest
from conftest import ROOT
from creation import self_evaluated
from holiday_notices import enter_2027

from engine import clock, outbox
from engine.db import db
from engine.errors import Conflict, Forbidden, FormInvalid, NotFound
from engine.green.lifecycle import (
    TABLE_FIELDS,
    DesignationChange,
    DesignationLifecycle,
    DynamicTableFiling,
    IncidentReport,
    MissedFiling,
    OnsiteReview,
)
from engine.green.models import Designation, Organisation
from engine.green.revocations import RevocationAnnouncement
from engine.green.roles import JURISDICTIONS
from engine.model_registry import collect
from engine.models import HumanTask, Notification, ProcessInstance
from engine.outbox import StartRequest
from engine.runtime import Actor
from engine.timers import run_until
from web.accounts.users import add_user

CODE = "91620100MA74XJ2P0P"
FIRM = Actor("firm", "applicant")
LANZHOU = Actor("lz", "municipal", "620100")
TIANSHUI = Actor("ts", "municipal", "620500")
PROVINCE = Actor("prov", "provincial")
# municipal creation with the decision tables it calls, and the lifecycle with its own
CREATION = ("municipal_creation.bpmn", "evaluation_indicators.dmn", "evaluation_pass_marks.dmn", "agency_yearly_cap.dmn",
            "art18_exclusions.dmn")
MODELS = (*CREATION, "designation_lifecycle.bpmn", "incident_revokes_at_once.dmn", "revocation.bpmn",
          "revocation_grounds.dmn")
APPLICATION = {"organisation_name": "兰州绿源制造有限公司", "unit_type": "green_factory", "credit_code": CODE,
               "evaluation_mode": "self"}
TABLE = {
    "organisation_name": "兰州绿源制造有限公司", "credit_code": CODE, "industry": "有色金属冶炼",
    "contact_person": "李明", "contact_phone": "0931-8888888",
    "name_changed": False, "scope_changed": False, "address_changed": False, "boundary_changed": False,
    "accidents_declared": False, "credit_status": "good",
    "output_value": 125000.5, "main_product": "电解铜（吨）", "main_product_output": 52000, "total_energy": 86000,
    "energy_per_unit": 310.2, "carbon_per_unit": 1.62, "water_per_unit": 3.8, "water_reuse_rate": 97.5,
    "solid_waste_utilisation": 88.0, "renewable_share": 12.5,
    "pollutant_emissions": [{"pollutant": "二氧化硫", "amount": 120.5, "unit": "吨"},
                            {"pollutant": "颗粒物", "amount": 18.2, "unit": "吨"}],
    "truthful": True,
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def world(runtime):
    runtime.registry.deploy({name: (ROOT / "processes" / name).read_bytes() for name in MODELS})
    for name, role, city in (("firm", "applicant", None), ("lz", "municipal", "620100"),
                             ("ts", "municipal", "620500"), ("prov", "provincial", None)):
        add_user(name, role, city)
    enter_2027(runtime)  # the revocation's deadlines count working days
    return runtime


def list_unit(runtime, level="municipal"):
    """A unit listed through municipal creation; a provincial or national one is then raised in the record
    (the provincial and national rounds are other procedures)."""
    case = self_evaluated(runtime, FIRM, "620100", application=APPLICATION)
    task = db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == case.id))
    runtime.complete(task, {"decision": "approve", "opinion": "符合市级绿色工厂条件"}, LANZHOU)
    designation = db.session.scalar(db.select(Designation))
    lifecycle = lifecycle_case(designation.id)
    if level != "municipal":
        db.session.get(Designation, designation.id).level = level
        db.session.commit()
    return designation.id, lifecycle


def lifecycle_case(designation_id) -> ProcessInstance:
    db.session.commit()  # a fresh snapshot: other sessions (the sweep's) may have written
    instance_id = db.session.scalar(db.select(DesignationLifecycle.instance_id)
                                    .where(DesignationLifecycle.designation_id == designation_id))
    return db.session.get(ProcessInstance, instance_id) if instance_id else None


def tasks(case_id) -> dict[str, str]:
    db.session.commit()  # a fresh snapshot: other sessions (the sweep's) may have written
    return {t.element: t.id for t in db.session.scalars(db.select(HumanTask).where(HumanTask.instance_id == case_id))}


def notices(kind=None):
    """The reminders and notices of the dynamic management (the application that listed the
    unit told the firm its decision: that one is not the lifecycle's)."""
    db.session.commit()  # a fresh snapshot: other sessions (the sweep's) may have written
    q = db.select(Notification).where(Notification.kind != "decided").order_by(Notification.id)
    return [(n.kind, n.element, n.role, n.assignee) for n in db.session.scalars(q) if kind in (None, n.kind)]


def status_of(designation_id):
    db.session.commit()  # a fresh snapshot: other sessions (the sweep's) may have written
    return db.session.get(Designation, designation_id).status


def file_table(runtime, case_id, **changes):
    return runtime.complete(tasks(case_id)["Task_file_dynamic_table"], {**TABLE, **changes}, FIRM)


# the revocation procedure the lifecycle calls: the city's proposal, the province's decision, MIIT's
CITY_REVOKES = {"propose": True, "facts": "经核实，情况属实。", "evidence": "核查记录及有关文书"}
PROVINCE_REVOKES = {"revoke": True, "opinion": "经审定，取消其绿色制造单位资格。"}
PROVINCE_KEEPS = {"revoke": False, "opinion": "证据不足，不予取消。"}


def review(runtime, case_id, result="pass", **extra):
    data = {"visited_on": clock.now().date().isoformat(), "review_result": result,
            "review_findings": "现场核查能源计量、环保设施运行正常。", **extra}
    return runtime.complete(tasks(case_id)["Task_onsite_review"], data, LANZHOU)


# --------------------------------------------------------------------------- outbox: exactly one case


def test_listing_starts_one_lifecycle_case_for_the_units_own_party(world):
    designation_id, case = list_unit(world)
    assert case is not None and case.process_id == "designation_lifecycle"
    assert case.started_by == "firm" and case.jurisdiction == "620100" and case.status == "waiting"
    assert case.data["filing_year"] == 2027 and case.data["filing_due"] == "2027-04-15"
    request = db.session.scalar(db.select(StartRequest))
    assert request.instance_id == case.id and request.attempts == 1 and request.last_error is None
    assert tasks(case.id) == {}  # nothing to file until the filing year begins
    assert case.next_timer_at == at("2027-01-01T00:00:00+08:00")


def test_a_crash_between_the_listing_and_the_start_is_made_good_by_the_sweep_once(world, monkeypatch):
    monkeypatch.setattr(world, "start_requested", lambda ids: None)  # the process dies right after the commit
    designation_id, case = list_unit(world)
    assert status_of(designation_id) == "listed" and case is None
    [pending] = outbox.pending()
    monkeypatch.undo()

    started = outbox.drain(world)  # what the timer service's sweep does
    assert len(started) == 1 and lifecycle_case(designation_id).id == started[0]
    assert outbox.drain(world) == [] and outbox.start_one(world, pending) is None  # never a second case
    assert db.session.scalar(db.select(db.func.count()).where(ProcessInstance.process_id == "designation_lifecycle")) == 1


def test_the_sweep_of_the_timer_service_starts_what_is_pending(world, app, monkeypatch):
    from engine import timers

    monkeypatch.setattr(world, "start_requested", lambda ids: None)
    designation_id, _ = list_unit(world)
    monkeypatch.undo()
    monkeypatch.setattr(timers, "_app", app)
    monkeypatch.setitem(app.extensions, "green_ladder.timers", type("T", (), {"reconcile": lambda self: 0})())
    timers.sweep()
    assert lifecycle_case(designation_id) is not None
    timers.sweep()
    assert db.session.scalar(db.select(db.func.count()).where(ProcessInstance.process_id == "designation_lifecycle")) == 1


def test_two_drainers_racing_for_one_request_start_one_case(world, monkeypatch):
    monkeypatch.setattr(world, "start_requested", lambda ids: None)
    designation_id, _ = list_unit(world)
    monkeypatch.undo()
    [request_id] = outbox.pending()
    real_start = world.start

    def racing(*args, **kwargs):  # another drainer starts the same request first, mid-way
        monkeypatch.setattr(world, "start", real_start)
        outbox.start_one(world, request_id)
        return real_start(*args, **kwargs)

    monkeypatch.setattr(world, "start", racing)
    assert outbox.start_one(world, request_id) is None  # the loser's start rolled back with its mark
    assert db.session.scalar(db.select(db.func.count()).where(ProcessInstance.process_id == "designation_lifecycle")) == 1


def test_a_request_whose_process_is_not_deployed_waits_with_its_error(runtime):
    runtime.registry.deploy({n: (ROOT / "processes" / n).read_bytes() for n in CREATION})
    add_user("firm", "applicant", None)
    case = self_evaluated(runtime, FIRM, "620100", application=APPLICATION)
    task = db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == case.id))
    assert runtime.complete(task, {"decision": "approve", "opinion": "符合条件"}, LANZHOU).status == "completed"
    db.session.commit()  # a fresh snapshot: other sessions (the sweep's) may have written
    request = db.session.scalar(db.select(StartRequest))
    assert request.instance_id is None and "designation_lifecycle" in request.last_error
    runtime.registry.deploy({n: (ROOT / "processes" / n).read_bytes() for n in MODELS})
    assert len(outbox.drain(runtime)) == 1  # deployed later: the next sweep starts it


def test_a_second_case_for_the_same_designation_is_held(world):
    designation_id, case = list_unit(world)
    again = world.start("designation_lifecycle", {k: case.data[k] for k in (
        "designation_id", "organisation_id", "organisation_name", "credit_code", "unit_type", "level", "listed_on")},
        Actor("root", "admin"), "620100")
    assert again.status == "error" and "already has its lifecycle case" in again.error_message


def test_only_an_administrator_may_start_a_lifecycle_case_by_hand(world):
    designation_id, case = list_unit(world)
    with pytest.raises(Forbidden):
        world.start("designation_lifecycle", {"designation_id": designation_id}, LANZHOU)


# --------------------------------------------------------------------------- filing by 15 April (Art 19)


def test_a_unit_files_on_time_after_its_reminder_and_nobody_is_told_off(world):
    designation_id, case = list_unit(world)
    run_until(world, at("2027-01-01T00:00:02+08:00"))
    [task] = db.session.scalars(db.select(HumanTask).where(HumanTask.instance_id == case.id)).all()
    assert task.element == "Task_file_dynamic_table" and task.assignee == "firm"
    assert task.due_at == at("2027-04-16T00:00:00+08:00")
    run_until(world, at("2027-04-01T00:00:00+08:00"))
    assert notices() == []  # not a second early
    run_until(world, at("2027-04-01T00:00:02+08:00"))
    assert notices() == [("reminder", "Task_file_dynamic_table", "applicant", "firm")]
    run_until(world, at("2027-04-15T23:59:00+08:00"))
    file_table(world, case.id)
    run_until(world, at("2027-04-20T00:00:00+08:00"))
    assert [n[0] for n in notices()] == ["reminder"]  # no overdue notice, no city task
    filing = db.session.scalar(db.select(DynamicTableFiling))
    assert filing.on_time and filing.year == 2027 and filing.values["water_reuse_rate"] == 97.5
    assert filing.values["pollutant_emissions"][0]["pollutant"] == "二氧化硫"
    assert set(tasks(case.id)) == {"Task_onsite_review"}
    assert db.session.scalar(db.select(db.func.count()).select_from(MissedFiling)) == 0


def test_the_15_april_boundary_2359_counts_and_16_april_does_not(world):
    designation_id, case = list_unit(world)
    run_until(world, at("2027-04-15T23:59:59+08:00"))
    assert set(tasks(case.id)) == {"Task_file_dynamic_table"}
    assert [n[0] for n in notices()] == ["reminder"]
    run_until(world, at("2027-04-16T00:00:01+08:00"))
    assert set(tasks(case.id)) == {"Task_file_dynamic_table", "Task_handle_missed_filing"}
    overdue = notices("overdue")
    assert overdue == [("overdue", "Task_file_dynamic_table", "municipal", None)]  # escalated to the city
    file_table(world, case.id)  # on 16 April: late
    assert db.session.scalar(db.select(DynamicTableFiling)).on_time is False


def test_the_record_of_a_table_filed_at_2359_on_15_april_is_on_time(world):
    designation_id, case = list_unit(world)
    run_until(world, at("2027-04-15T23:59:00+08:00"))
    file_table(world, case.id)
    assert db.session.scalar(db.select(DynamicTableFiling)).on_time is True


def test_not_filed_the_city_proposes_revocation_under_art_21_6(world):
    designation_id, case = list_unit(world)
    run_until(world, at("2027-04-16T00:00:01+08:00"))
    handle = tasks(case.id)["Task_handle_missed_filing"]
    with pytest.raises(NotFound):  # another city's task is not disclosed
        world.complete(handle, {"late_decision": "revoke", "late_reason": "经催告仍未报送"}, TIANSHUI)
    world.complete(handle, {"late_decision": "revoke", "late_reason": "经两次书面催告仍未报送，无正当理由。"}, LANZHOU)
    # the city decides a municipal unit's revocation, numbered in its own sequence, in the revocation procedure
    assert set(tasks(case.id)) == {"Task_file_dynamic_table", "Task_city_proposal"} and status_of(designation_id) == "listed"
    done = world.complete(tasks(case.id)["Task_city_proposal"],
                          {**CITY_REVOKES, "facts": "经两次书面催告仍未报送动态管理表，无正当理由。"}, LANZHOU)
    assert done.status == "completed" and tasks(case.id) == {}  # the unit's filing task is withdrawn too
    designation = db.session.get(Designation, designation_id)
    assert designation.status == "revoked" and designation.end_reason.startswith("第二十一条第（六）项") \
        and designation.end_reason.endswith("：经两次书面催告仍未报送动态管理表，无正当理由。")
    assert db.session.scalar(db.select(MissedFiling)).decision == "revoke"
    announcement = db.session.scalar(db.select(RevocationAnnouncement))
    assert (announcement.decision, announcement.timing) == ("兰工信发〔2027〕1号", "with_publication")


def test_a_provincial_units_missed_filing_is_decided_by_the_province(world):
    designation_id, case = list_unit(world, level="provincial")
    run_until(world, at("2027-04-16T00:00:01+08:00"))
    world.complete(tasks(case.id)["Task_handle_missed_filing"],
                   {"late_decision": "revoke", "late_reason": "经催告仍未报送，无正当理由。"}, LANZHOU)
    # the city's decision in the lifecycle is its proposal; the province, which listed the unit, decides
    assert status_of(designation_id) == "listed" and "Task_city_proposal" not in tasks(case.id)
    decision = db.session.get(HumanTask, tasks(case.id)["Task_provincial_decision"])
    assert decision.role == "provincial"
    with pytest.raises(NotFound):  # the province's task is not the city's to see
        world.complete(decision.id, PROVINCE_REVOKES, LANZHOU)
    done = world.complete(decision.id, PROVINCE_REVOKES, PROVINCE)
    assert done.status == "completed" and status_of(designation_id) == "revoked"
    assert db.session.scalar(db.select(RevocationAnnouncement)).decision == "甘工信发〔2027〕1号"


def test_a_unit_the_province_keeps_goes_on_filing(world):
    designation_id, case = list_unit(world, level="provincial")
    run_until(world, at("2027-04-16T00:00:01+08:00"))
    world.complete(tasks(case.id)["Task_handle_missed_filing"],
                   {"late_decision": "revoke", "late_reason": "逾期未报送。"}, LANZHOU)
    done = world.complete(tasks(case.id)["Task_provincial_decision"], PROVINCE_KEEPS, PROVINCE)
    assert done.status == "running" and status_of(designation_id) == "listed"
    assert set(tasks(case.id)) == {"Task_file_dynamic_table"}  # the year goes on: the table is still owed
    file_table(world, case.id)
    assert set(tasks(case.id)) == {"Task_onsite_review"}


def test_a_national_units_missed_filing_is_reported_to_miit(world):
    designation_id, case = list_unit(world, level="national")
    run_until(world, at("2027-04-16T00:00:01+08:00"))
    world.complete(tasks(case.id)["Task_handle_missed_filing"],
                   {"late_decision": "revoke", "late_reason": "逾期未报送。"}, LANZHOU)
    world.complete(tasks(case.id)["Task_provincial_decision"], {**PROVINCE_REVOKES, "opinion": "报工信部。"}, PROVINCE)
    assert status_of(designation_id) == "listed"  # only MIIT revokes a national designation
    world.complete(tasks(case.id)["Task_record_miit_decision"],
                   {"miit_revoked": True, "miit_document": "工信厅节函〔2027〕15号", "miit_decided_on": "2027-05-20"},
                   PROVINCE)
    assert status_of(designation_id) == "revoked" and lifecycle_case(designation_id).status == "completed"


def test_a_justified_excuse_lets_the_unit_file_late_and_the_year_goes_on(world):
    designation_id, case = list_unit(world)
    run_until(world, at("2027-04-16T00:00:01+08:00"))
    world.complete(tasks(case.id)["Task_handle_missed_filing"],
                   {"late_decision": "excused", "late_reason": "企业遭遇停电事故，系统数据恢复中，理由正当。",
                    "late_file_by": "2027-05-15"}, LANZHOU)
    assert set(tasks(case.id)) == {"Task_file_dynamic_table"}
    run_until(world, at("2027-05-10T10:00:00+08:00"))
    file_table(world, case.id)
    run_until(world, at("2027-05-16T00:00:02+08:00"))  # the file-by date passes: filed, nothing more
    assert set(tasks(case.id)) == {"Task_onsite_review"} and status_of(designation_id) == "listed"
    assert db.session.scalar(db.select(DynamicTableFiling)).on_time is False


def test_an_excuse_whose_date_passes_unfiled_comes_back_to_the_city(world):
    designation_id, case = list_unit(world)
    run_until(world, at("2027-04-16T00:00:01+08:00"))
    world.complete(tasks(case.id)["Task_handle_missed_filing"],
                   {"late_decision": "excused", "late_reason": "理由正当，限期补报。", "late_file_by": "2027-05-15"}, LANZHOU)
    run_until(world, at("2027-05-15T23:59:59+08:00"))
    assert "Task_handle_missed_filing" not in tasks(case.id)
    run_until(world, at("2027-05-16T00:00:01+08:00"))
    assert set(tasks(case.id)) == {"Task_file_dynamic_table", "Task_handle_missed_filing"}
    world.complete(tasks(case.id)["Task_handle_missed_filing"],
                   {"late_decision": "revoke", "late_reason": "限期届满仍未补报。"}, LANZHOU)
    world.complete(tasks(case.id)["Task_city_proposal"], CITY_REVOKES, LANZHOU)
    assert status_of(designation_id) == "revoked"
    assert [m.decision for m in db.session.scalars(db.select(MissedFiling).order_by(MissedFiling.id))] == [
        "excused", "revoke"]


def test_an_excuse_needs_its_date(world):
    from engine.errors import FormInvalid

    designation_id, case = list_unit(world)
    run_until(world, at("2027-04-16T00:00:01+08:00"))
    with pytest.raises(FormInvalid) as refused:
        world.complete(tasks(case.id)["Task_handle_missed_filing"],
                       {"late_decision": "excused", "late_reason": "理由正当。"}, LANZHOU)
    assert "late_file_by" in refused.value.fields


# --------------------------------------------------------------------------- the yearly loop, on-site review


def test_two_years_of_filing_and_on_site_review(world):
    designation_id, case = list_unit(world)
    for year in (2027, 2028):
        run_until(world, at(f"{year}-03-10T09:00:00+08:00"))
        file_table(world, case.id, output_value=100000 + year)
        [entry] = db.session.scalars(db.select(HumanTask).where(HumanTask.instance_id == case.id)).all()
        assert entry.element == "Task_onsite_review" and entry.role == "municipal" and entry.jurisdiction == "620100"
        assert entry.due_at == at(f"{year + 1}-01-01T00:00:00+08:00")
        if year == 2027:
            review(world, case.id)
        else:
            review(world, case.id, "problems", follow_up="责令完善能源计量器具配备。", follow_up_by="2028-09-30")
        assert tasks(case.id) == {}
        db.session.commit()  # a fresh snapshot: other sessions (the sweep's) may have written
        assert db.session.get(ProcessInstance, case.id).data["filing_year"] == year + 1
    filings = db.session.scalars(db.select(DynamicTableFiling).order_by(DynamicTableFiling.year)).all()
    assert [(f.year, f.values["output_value"]) for f in filings] == [(2027, 102027), (2028, 102028)]
    reviews = db.session.scalars(db.select(OnsiteReview).order_by(OnsiteReview.year)).all()
    assert [(r.year, r.result, r.follow_up) for r in reviews] == [(2027, "pass", None),
                                                                  (2028, "problems", "责令完善能源计量器具配备。")]
    db.session.commit()  # a fresh snapshot: other sessions (the sweep's) may have written
    assert db.session.get(ProcessInstance, case.id).next_timer_at == at("2029-01-01T00:00:00+08:00")


def test_problems_found_need_their_follow_up(world):
    from engine.errors import FormInvalid

    designation_id, case = list_unit(world)
    run_until(world, at("2027-03-10T09:00:00+08:00"))
    file_table(world, case.id)
    with pytest.raises(FormInvalid) as refused:
        review(world, case.id, "problems")
    assert {"follow_up", "follow_up_by"} <= set(refused.value.fields)


def test_a_designation_ended_elsewhere_ends_its_lifecycle_when_it_wakes(world):
    designation_id, case = list_unit(world)
    db.session.get(Designation, designation_id).status = "withdrawn"  # as another procedure would
    db.session.commit()
    run_until(world, at("2027-01-01T00:00:02+08:00"))
    db.session.commit()  # a fresh snapshot: other sessions (the sweep's) may have written
    assert db.session.get(ProcessInstance, case.id).status == "completed" and tasks(case.id) == {}


# --------------------------------------------------------------------------- Art 22 changes


def change_name(world, case_id):
    run_until(world, at("2027-03-10T09:00:00+08:00"))
    file_table(world, case_id, name_changed=True, new_name="甘肃绿源新材料有限公司",
               change_explanation="2026年经股东会决议更名，已完成工商变更登记。")
    review(world, case_id)
    assert set(tasks(case_id)) == {"Task_review_changes"}


def org_name():
    db.session.commit()  # a fresh snapshot: other sessions (the sweep's) may have written
    return db.session.scalar(db.select(Organisation.name))


def test_a_municipal_units_change_of_name_is_confirmed_by_the_city_and_applied(world):
    designation_id, case = list_unit(world)
    change_name(world, case.id)
    world.complete(tasks(case.id)["Task_review_changes"],
                   {"change_decision": "confirmed", "change_opinion": "更名属实，主体及生产条件未变，仍符合标准。"}, LANZHOU)
    assert org_name() == "甘肃绿源新材料有限公司" and tasks(case.id) == {}
    change = db.session.scalar(db.select(DesignationChange))
    assert (change.kind, change.old_value, change.status, change.applied) == (
        "name", "兰州绿源制造有限公司", "confirmed", True)
    events = [e.action for e in db.session.get(Designation, designation_id).events]
    assert events == ["listed", "changed"]


def test_a_change_that_no_longer_meets_the_standard_revokes(world):
    designation_id, case = list_unit(world)
    run_until(world, at("2027-03-10T09:00:00+08:00"))
    file_table(world, case.id, boundary_changed=True, new_boundary="主要生产线已转让给其他企业",
               change_explanation="2026年兼并重组，主要生产线剥离。")
    review(world, case.id)
    world.complete(tasks(case.id)["Task_review_changes"],
                   {"change_decision": "not_meeting_standard", "change_opinion": "剥离后已不具备绿色工厂条件。"}, LANZHOU)
    assert db.session.scalar(db.select(DesignationChange)).status == "not_meeting_standard"
    world.complete(tasks(case.id)["Task_city_proposal"], {**CITY_REVOKES, "facts": "剥离后已不具备绿色工厂条件。"}, LANZHOU)
    designation = db.session.get(Designation, designation_id)
    assert designation.status == "revoked" and designation.end_reason.startswith("第二十二条")
    assert org_name() == "兰州绿源制造有限公司"


def test_a_provincial_units_change_waits_for_the_provinces_round(world):
    designation_id, case = list_unit(world, level="provincial")
    change_name(world, case.id)
    world.complete(tasks(case.id)["Task_review_changes"],
                   {"change_decision": "confirmed", "change_opinion": "更名属实，建议省级予以确认。"}, LANZHOU)
    change = db.session.scalar(db.select(DesignationChange))
    assert (change.status, change.city_opinion, change.applied) == ("pending_province", "更名属实，建议省级予以确认。", False)
    assert org_name() == "兰州绿源制造有限公司"  # not before the province decides, in its yearly round
    assert tasks(case.id) == {} and lifecycle_case(designation_id).status == "waiting"  # next year's filing waits


def test_a_provincial_unit_the_city_finds_no_longer_meets_the_standard_is_decided_by_the_province(world):
    designation_id, case = list_unit(world, level="provincial")
    change_name(world, case.id)
    world.complete(tasks(case.id)["Task_review_changes"],
                   {"change_decision": "not_meeting_standard", "change_opinion": "重组后不再符合省级标准。"}, LANZHOU)
    assert status_of(designation_id) == "listed"
    world.complete(tasks(case.id)["Task_provincial_decision"], PROVINCE_REVOKES, PROVINCE)
    assert status_of(designation_id) == "revoked" and org_name() == "兰州绿源制造有限公司"


def provincial_round(world):
    """The province's yearly round after a provincial unit's change went up: every city
    recommends (none a candidate), and the province's table of adjustment opinions is returned."""
    world.registry.deploy(collect([ROOT / "processes"]))
    round_case = round_with_recommendations(world)
    return round_case, db.session.get(HumanTask, tasks(round_case.id)["Task_decide_adjustments"])


def round_with_recommendations(world) -> ProcessInstance:
    round_case = world.start("provincial_selection", {}, PROVINCE)
    for city in JURISDICTIONS:
        world.complete(db.session.scalar(db.select(HumanTask.id).where(
            HumanTask.instance_id == round_case.id, HumanTask.element == "Task_recommend",
            HumanTask.jurisdiction == city)), {"units": []}, Actor(f"official-{city}", "municipal", city))
    return round_case


def test_a_provincial_units_change_goes_up_with_the_citys_recommendation_and_the_province_approves(world):
    designation_id, case = list_unit(world, level="provincial")
    change_name(world, case.id)
    world.complete(tasks(case.id)["Task_review_changes"],
                   {"change_decision": "confirmed", "change_opinion": "更名属实，建议省级予以确认。"}, LANZHOU)
    round_case, decide = provincial_round(world)
    assert decide.role == "provincial"
    [row] = world.read_workflow(round_case.id).get_task_from_id(UUID(decide.id)).data["adjustment_opinions"]
    assert (row["organisation_name"], row["kind"], row["new_value"], row["city_opinion"]) == (
        "兰州绿源制造有限公司", "name", "甘肃绿源新材料有限公司", "更名属实，建议省级予以确认。")
    refused = {"decisions": [{**row, "new_value": "别的名称", "province_decision": "approved", "province_opinion": "同意变更"}]}
    with pytest.raises(FormInvalid):  # the city's rows are given, not the province's to rewrite
        world.complete(decide.id, refused, PROVINCE)
    world.complete(decide.id, {"decisions": [{**row, "province_decision": "approved",
                                              "province_opinion": "同意变更，予以公布。"}]}, PROVINCE)
    change = db.session.scalar(db.select(DesignationChange))
    assert (change.status, change.province_opinion, change.applied, change.round_instance_id) == (
        "approved", "同意变更，予以公布。", True, round_case.id)
    assert org_name() == "甘肃绿源新材料有限公司"
    assert [e.action for e in db.session.get(Designation, designation_id).events] == ["listed", "changed"]
    # the next round does not take it again
    assert "Task_decide_adjustments" not in tasks(round_with_recommendations(world).id)


def test_a_change_the_province_finds_no_longer_meets_the_standard_goes_to_revocation(world):
    designation_id, case = list_unit(world, level="provincial")
    change_name(world, case.id)
    world.complete(tasks(case.id)["Task_review_changes"],
                   {"change_decision": "confirmed", "change_opinion": "更名属实。"}, LANZHOU)
    round_case, decide = provincial_round(world)
    [row] = world.read_workflow(round_case.id).get_task_from_id(UUID(decide.id)).data["adjustment_opinions"]
    world.complete(decide.id, {"decisions": [{**row, "province_decision": "not_meeting_standard",
                                              "province_opinion": "重组后主要产品已变，不再符合省级标准。"}]}, PROVINCE)
    assert status_of(designation_id) == "listed" and org_name() == "兰州绿源制造有限公司"
    revocation = db.session.scalar(db.select(ProcessInstance).where(ProcessInstance.process_id == "revocation"))
    assert revocation.jurisdiction == "620100" and revocation.data["ground"] == "no_longer_meets_standard"
    world.complete(tasks(revocation.id)["Task_provincial_decision"], PROVINCE_REVOKES, PROVINCE)
    designation = db.session.get(Designation, designation_id)
    assert designation.status == "revoked" and designation.end_reason.startswith("第二十二条")
    assert designation.end_reason.endswith("重组后主要产品已变，不再符合省级标准。")


def test_a_national_units_change_is_recorded_as_passed_to_miit(world):
    designation_id, case = list_unit(world, level="national")
    change_name(world, case.id)
    world.complete(tasks(case.id)["Task_review_changes"],
                   {"change_decision": "confirmed", "change_opinion": "更名属实，随年度推荐报送工信部。"}, LANZHOU)
    change = db.session.scalar(db.select(DesignationChange))
    assert change.status == "passed_to_miit" and change.city_opinion == "更名属实，随年度推荐报送工信部。"
    assert tasks(case.id) == {} and status_of(designation_id) == "listed"


def test_a_change_declared_in_one_year_is_not_declared_again_the_next(world):
    designation_id, case = list_unit(world)
    change_name(world, case.id)
    world.complete(tasks(case.id)["Task_review_changes"],
                   {"change_decision": "confirmed", "change_opinion": "更名属实，仍符合标准。"}, LANZHOU)
    run_until(world, at("2028-03-10T09:00:00+08:00"))
    file_table(world, case.id)  # name_changed False this year; last year's new_name is not carried over
    review(world, case.id)
    assert tasks(case.id) == {}
    filing = db.session.scalar(db.select(DynamicTableFiling).where(DynamicTableFiling.year == 2028))
    assert "new_name" not in filing.values
    assert db.session.scalar(db.select(db.func.count()).select_from(DesignationChange)) == 1


# --------------------------------------------------------------------------- incidents (Art 20)


INCIDENT = {"kind": "production_safety", "severity": "serious", "occurred_on": "2026-06-01",
            "description": "熔炼车间发生爆炸事故，造成3人死亡，经应急管理部门认定为重大事故。", "reference": "甘应急〔2026〕12号"}


def test_a_major_accident_revokes_at_once(world):
    designation_id, case = list_unit(world)
    clock.current().set(at("2026-06-05T10:00:00+08:00"))
    world.send_message(case.id, "incident_report", INCIDENT, LANZHOU)
    assert db.session.scalar(db.select(IncidentReport)).revokes is True
    proposal = db.session.get(HumanTask, tasks(case.id)["Task_city_proposal"])
    assert proposal.due_at == at("2026-06-09T00:00:00+08:00")  # "at once": by the end of the next working day
    done = world.complete(proposal.id, {**CITY_REVOKES, "facts": INCIDENT["description"]}, LANZHOU)
    assert done.status == "completed"
    designation = db.session.get(Designation, designation_id)
    assert designation.status == "revoked" and designation.ended_on.isoformat() == "2026-06-05"
    assert designation.end_reason == f"第二十一条第二款：发生重大及以上生产安全和质量事故、Ⅱ级（重大）及以上突发环境污染事件：{INCIDENT['description']}"
    assert db.session.scalar(db.select(RevocationAnnouncement)).public_on.isoformat() == "2026-06-05"  # announced at once
    db.session.commit()  # a fresh snapshot: other sessions (the sweep's) may have written
    assert db.session.get(ProcessInstance, case.id).next_timer_at is None  # no filing year waits any more


@pytest.mark.parametrize("kind,severity,revokes", [
    ("environmental", "serious", True), ("environmental", "particularly_serious", True),
    ("environmental", "larger", False), ("quality", "particularly_serious", True), ("quality", "larger", False),
    ("production_safety", "general", False)])
def test_which_incidents_revoke_at_once(world, kind, severity, revokes):
    designation_id, case = list_unit(world)
    world.send_message(case.id, "incident_report", {**INCIDENT, "kind": kind, "severity": severity}, LANZHOU)
    assert ("Task_city_proposal" in tasks(case.id)) is revokes


def test_a_major_accident_at_a_provincial_unit_is_decided_by_the_province_within_two_working_days(world):
    designation_id, case = list_unit(world, level="provincial")
    clock.current().set(at("2026-06-05T10:00:00+08:00"))  # a Friday
    world.send_message(case.id, "incident_report", INCIDENT, LANZHOU)
    decision = db.session.get(HumanTask, tasks(case.id)["Task_provincial_decision"])
    assert decision.due_at == at("2026-06-10T00:00:00+08:00")  # two working days: the weekend does not count
    world.complete(decision.id, PROVINCE_REVOKES, PROVINCE)
    assert status_of(designation_id) == "revoked"


def test_an_incident_the_province_does_not_revoke_for_leaves_the_case_listening(world):
    designation_id, case = list_unit(world, level="provincial")
    world.send_message(case.id, "incident_report", INCIDENT, LANZHOU)
    world.complete(tasks(case.id)["Task_provincial_decision"], PROVINCE_KEEPS, PROVINCE)
    assert status_of(designation_id) == "listed" and tasks(case.id) == {}
    world.send_message(case.id, "incident_report", INCIDENT, LANZHOU)  # the next report is heard
    assert "Task_provincial_decision" in tasks(case.id)


def test_a_minor_incident_is_recorded_for_the_annual_review_and_the_case_goes_on(world):
    designation_id, case = list_unit(world)
    minor = {**INCIDENT, "severity": "general", "description": "叉车碰撞致1人轻伤，一般事故，已整改。"}
    world.send_message(case.id, "incident_report", minor, LANZHOU)
    world.send_message(case.id, "incident_report", {**minor, "kind": "environmental"}, LANZHOU)  # it listens again
    assert status_of(designation_id) == "listed"
    assert [(i.kind, i.revokes) for i in db.session.scalars(db.select(IncidentReport).order_by(IncidentReport.id))] == [
        ("production_safety", False), ("environmental", False)]
    run_until(world, at("2027-01-01T00:00:02+08:00"))
    assert set(tasks(case.id)) == {"Task_file_dynamic_table"}  # the year's work is untouched


def test_only_the_city_reports_an_incident(world):
    designation_id, case = list_unit(world)
    with pytest.raises(Forbidden):
        world.send_message(case.id, "incident_report", INCIDENT, FIRM)  # a unit cannot revoke its rival... or itself
    with pytest.raises(Forbidden):
        world.send_message(case.id, "incident_report", INCIDENT, PROVINCE)
    assert status_of(designation_id) == "listed"


def test_an_ended_case_takes_no_incident(world):
    designation_id, case = list_unit(world)
    world.send_message(case.id, "incident_report", INCIDENT, LANZHOU)
    world.complete(tasks(case.id)["Task_city_proposal"], CITY_REVOKES, LANZHOU)
    with pytest.raises(Conflict):
        world.send_message(case.id, "incident_report", INCIDENT, LANZHOU)


def test_the_tables_fields_are_the_forms():
    form = json.loads((ROOT / "forms" / "dynamic_management_table.json").read_text())
    assert set(TABLE_FIELDS) == set(form["properties"])


def test_designations_listed_before_the_procedure_get_their_case_by_backfill(app, runtime):
    runtime.registry.deploy({n: (ROOT / "processes" / n).read_bytes() for n in CREATION})
    add_user("firm", "applicant", None)
    designation_id, case = list_unit(runtime)  # the lifecycle process is not deployed yet
    assert case is None
    runtime.registry.deploy({n: (ROOT / "processes" / n).read_bytes() for n in MODELS})
    db.session.execute(db.delete(StartRequest))  # as before the outbox existed
    db.session.commit()
    out = app.test_cli_runner().invoke(args=["lifecycle", "backfill"])
    assert out.exit_code == 0 and "1 lifecycle case(s) requested, 1 started" in out.output, out.output
    assert lifecycle_case(designation_id).started_by == "firm"
    again = app.test_cli_runner().invoke(args=["lifecycle", "backfill"])
    assert "0 lifecycle case(s) requested" in again.output
