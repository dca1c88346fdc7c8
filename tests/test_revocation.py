"""Revocation (Art 21), spot checks with 90-day rectification (Art 20 ¶2, 21(1))
and confirmed reports carried out (Art 24): the real diagrams in processes/,
driven through the engine on the virtual clock."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from conftest import ROOT
from factories import CODE, LANZHOU, TIANSHUI, people
from factories import designation as listed
from webclient import sign_in

from engine import clock
from engine.db import db
from engine.errors import Forbidden
from engine.green.models import Designation
from engine.green.revocations import RevocationAnnouncement, barred_by_revocation
from engine.model_registry import collect
from engine.models import HumanTask, ProcessInstance
from engine.runtime import Actor
from engine.timers import run_until

CITY = Actor("lz", "municipal", LANZHOU)
PROVINCE = Actor("prov", "provincial")
FIRM = Actor("firm", "applicant")
PUBLICATION = date(2026, 12, 31)  # the year's publication date set in revocation.bpmn
CODES = ["91620100MA74XJ2P0P", "91620000224330075D"]


@pytest.fixture
def procedures(runtime):
    runtime.registry.deploy(collect([ROOT / "processes"]))
    people(("lz", "municipal", LANZHOU), ("ts", "municipal", TIANSHUI), ("prov", "provincial", None),
           ("firm", "applicant", None))
    return runtime


def designate(runtime, level="provincial", city=LANZHOU, code=CODE, name="兰州绿源制造有限公司") -> int:
    """A designation the firm applied for, so the firm acts for the unit."""
    return listed(runtime, code, name=name, level=level, city=city)


def waiting(case_id) -> HumanTask | None:
    db.session.expire_all()
    return db.session.scalar(db.select(HumanTask).where(HumanTask.instance_id == case_id))


def act(runtime, case_id, element, data, actor):
    task = waiting(case_id)
    assert task is not None and task.element == element, (task and task.element, element)
    return runtime.complete(task.id, data, actor)


def status_of(designation_id) -> str:
    db.session.expire_all()
    return db.session.get(Designation, designation_id).status


def announcement_of(designation_id) -> RevocationAnnouncement | None:
    db.session.expire_all()
    return db.session.scalar(db.select(RevocationAnnouncement)
                             .where(RevocationAnnouncement.designation_id == designation_id))


def propose(runtime, designation_id, ground, starter=CITY, city=LANZHOU):
    case = runtime.start("revocation", {"designation_id": designation_id, "ground": ground,
                                        "facts": "经核查属实"}, starter, city)
    assert case.status == "running", case.error_message
    return case


CITY_PROPOSAL = {"propose": True, "facts": "企业提供的能耗数据与电网计量不符。", "evidence": "国网兰州供电公司计量单 2026-02"}
PROVINCE_REVOKES = {"revoke": True, "opinion": "同意取消资格。"}


# ------------------------------------------------------------------ the eight grounds and the immediate case
@pytest.mark.parametrize("ground,status,immediate,bars", [
    ("spot_check_failed", "revoked", False, True),
    ("terminated", "revoked", False, True),
    ("false_materials", "revoked", False, True),
    ("withdrawal", "withdrawn", False, False),
    ("bad_faith", "revoked", False, True),
    ("refuses_supervision", "revoked", False, True),
    ("art18_situation", "revoked", False, True),
    ("other_violation", "revoked", False, True),
    ("major_incident", "revoked", True, True),
    ("no_longer_meets_standard", "revoked", False, True),  # Art 22, after a declared change
])
def test_each_ground_ends_the_designation_with_its_status_and_announcement(procedures, ground, status, immediate,
                                                                           bars):
    runtime = procedures
    designation = designate(runtime)
    case = propose(runtime, designation, ground)
    proposal = waiting(case.id)
    # a major accident is reported at once (Art 20): the city has one working day, otherwise fifteen
    assert proposal.due_at.date() == (date(2026, 3, 4) if immediate else date(2026, 3, 24))
    act(runtime, case.id, "Task_city_proposal", CITY_PROPOSAL, CITY)
    assert status_of(designation) == "listed"  # a city proposes; the province decides a provincial unit
    done = act(runtime, case.id, "Task_provincial_decision", PROVINCE_REVOKES, PROVINCE)
    assert done.status == "completed", done.error_message

    assert status_of(designation) == status
    record = announcement_of(designation)
    assert record.ground == ground and record.status == status and record.bars_reapplication is bars
    assert record.decided_on == date(2026, 3, 2)
    assert record.public_on == (date(2026, 3, 2) if immediate else PUBLICATION)
    # the province's first numbered document this year (the unit was listed by a one-step diagram that issues none)
    assert record.decision == "甘工信发〔2026〕1号" and record.article.startswith("第二十")
    event = db.session.get(Designation, designation).events[-1]
    assert event.action == status and record.article in event.reason and "电网计量" in event.reason


def test_a_municipal_unit_is_revoked_by_its_city_and_the_province_is_not_asked(procedures):
    runtime = procedures
    designation = designate(runtime, level="municipal")
    case = propose(runtime, designation, "false_materials")
    done = act(runtime, case.id, "Task_city_proposal", CITY_PROPOSAL, CITY)
    assert done.status == "completed" and status_of(designation) == "revoked"
    # numbered in the city's own sequence
    assert announcement_of(designation).decision == "兰工信发〔2026〕1号"


def test_no_revocation_when_the_city_does_not_propose_or_the_province_declines(procedures):
    runtime = procedures
    first = designate(runtime)
    case = propose(runtime, first, "other_violation")
    done = act(runtime, case.id, "Task_city_proposal", {**CITY_PROPOSAL, "propose": False}, CITY)
    assert done.status == "completed" and status_of(first) == "listed" and announcement_of(first) is None

    case = propose(runtime, first, "other_violation")
    act(runtime, case.id, "Task_city_proposal", CITY_PROPOSAL, CITY)
    done = act(runtime, case.id, "Task_provincial_decision", {"revoke": False, "opinion": "证据不足。"}, PROVINCE)
    assert done.status == "completed" and status_of(first) == "listed"


def test_a_national_unit_is_reported_to_miit_and_ends_only_on_miits_decision(procedures):
    runtime = procedures
    kept, revoked = designate(runtime, level="national"), designate(runtime, level="national", code=CODES[1],
                                                                    name="金川集团股份有限公司")
    for designation, miit in ((kept, False), (revoked, True)):
        case = propose(runtime, designation, "false_materials", starter=PROVINCE)
        act(runtime, case.id, "Task_city_proposal", CITY_PROPOSAL, CITY)
        act(runtime, case.id, "Task_provincial_decision", {"revoke": True, "opinion": "上报工信部。"}, PROVINCE)
        assert status_of(designation) == "listed"  # only MIIT revokes a national designation
        done = act(runtime, case.id, "Task_record_miit_decision",
                   {"miit_revoked": miit, "miit_document": "工信厅节函〔2026〕88号", "miit_decided_on": "2026-02-27"},
                   PROVINCE)
        assert done.status == "completed", done.error_message
    assert status_of(kept) == "listed" and announcement_of(kept) is None
    record = announcement_of(revoked)
    assert status_of(revoked) == "revoked" and record.public_on == date(2026, 2, 27)
    assert record.decision == "工信厅节函〔2026〕88号"


def test_who_may_propose_a_revocation_and_for_which_city(procedures):
    runtime = procedures
    designation = designate(runtime)
    with pytest.raises(Forbidden):
        runtime.start("revocation", {"designation_id": designation, "ground": "withdrawal"}, FIRM, LANZHOU)
    # 天水's official cannot reach 兰州's unit: the case is held, the designation untouched
    other = runtime.start("revocation", {"designation_id": designation, "ground": "bad_faith"},
                          Actor("ts", "municipal", TIANSHUI), TIANSHUI)
    assert other.status == "error" and other.error_element == "Service_read_designation"
    assert "belongs to jurisdiction 620100" in other.error_message and status_of(designation) == "listed"
    # the province starts it in the unit's city, so that city's officials get the proposal
    case = propose(runtime, designation, "bad_faith", starter=PROVINCE)
    assert waiting(case.id).jurisdiction == LANZHOU and waiting(case.id).role == "municipal"


def test_withdrawal_at_the_units_request_is_announced_with_the_years_publication(procedures, client):
    runtime = procedures
    designation = designate(runtime)
    case = propose(runtime, designation, "withdrawal")
    act(runtime, case.id, "Task_city_proposal", {"propose": True, "facts": "企业来函申请退出。",
                                                 "evidence": "企业申请函（2026年2月26日）"}, CITY)
    act(runtime, case.id, "Task_provincial_decision", PROVINCE_REVOKES, PROVINCE)
    assert status_of(designation) == "withdrawn"
    assert barred_by_revocation(CODE, date(2026, 3, 3)) is None  # leaving of its own will bars nothing
    assert "兰州绿源" not in client.get("/public/revocations").get_data(as_text=True)
    run_until(runtime, datetime(2026, 12, 31, 0, 0, 1, tzinfo=clock.SHANGHAI))
    page = client.get("/public/revocations").get_data(as_text=True)
    assert "兰州绿源" in page and "主动退出" in page and "单位自行要求撤销其资格" in page


# ------------------------------------------------------------------ announcement timing on the public pages
def test_revocations_are_public_at_once_or_from_the_years_publication(procedures, client):
    runtime = procedures
    accident = designate(runtime)
    fraud = designate(runtime, code=CODES[1], name="金川集团股份有限公司")
    for designation, ground in ((accident, "major_incident"), (fraud, "false_materials")):
        case = propose(runtime, designation, ground)
        act(runtime, case.id, "Task_city_proposal", CITY_PROPOSAL, CITY)
        act(runtime, case.id, "Task_provincial_decision", PROVINCE_REVOKES, PROVINCE)

    page = client.get("/public/revocations").get_data(as_text=True)
    assert "兰州绿源制造有限公司" in page and "重大及以上生产安全" in page and 'id="year-2026"' in page
    assert "金川集团" not in page  # decided, but announced with the year's publication
    lists = client.get("/public/lists").get_data(as_text=True)
    assert "金川集团" in lists and "兰州绿源" not in lists
    filtered = client.get("/public/lists?status=revoked").get_data(as_text=True)
    assert "金川集团" in filtered and "兰州绿源" not in filtered  # no filter singles out units about to go

    run_until(runtime, datetime(2026, 12, 30, 23, 59, tzinfo=clock.SHANGHAI))
    assert "金川集团" not in client.get("/public/revocations").get_data(as_text=True)
    run_until(runtime, datetime(2026, 12, 31, 0, 0, 1, tzinfo=clock.SHANGHAI))
    page = client.get("/public/revocations").get_data(as_text=True)
    assert "金川集团" in page and "第二十一条第（三）项" in page
    assert "金川集团" not in client.get("/public/lists").get_data(as_text=True)
    run_until(runtime, datetime(2027, 1, 2, tzinfo=clock.SHANGHAI))
    assert "金川集团" in client.get("/public/revocations?year=2026").get_data(as_text=True)
    assert "金川集团" not in client.get("/public/revocations?year=2027").get_data(as_text=True)
    client.get("/lang/en")
    english = client.get("/public/revocations").get_data(as_text=True)
    assert "False materials or data" in english and "2026-12-31" in english


def test_the_designation_history_shows_the_ground_and_when_it_is_announced(procedures, client):
    runtime = procedures
    designation = designate(runtime)
    case = propose(runtime, designation, "refuses_supervision")
    act(runtime, case.id, "Task_city_proposal", CITY_PROPOSAL, CITY)
    act(runtime, case.id, "Task_provincial_decision", PROVINCE_REVOKES, PROVINCE)
    sign_in(client, "lz")
    page = client.get(f"/registry/{designation}").get_data(as_text=True)
    assert 'data-ground="refuses_supervision"' in page and "不按时填报动态管理表" in page
    assert "待年度公布时公告" in page and "2026年12月31日" in page and "甘工信发〔2026〕1号" in page
    history = page.split('id="history"')[1]
    assert "已撤销" in history and "第二十一条第（六）项" in history and "<td>prov</td>" in history
    other = client.application.test_client()
    sign_in(other, "ts")
    assert other.get(f"/registry/{designation}").status_code == 404


def test_a_revocation_bars_applying_again_for_three_years(procedures):
    runtime = procedures
    designation = designate(runtime)
    case = propose(runtime, designation, "bad_faith")
    act(runtime, case.id, "Task_city_proposal", CITY_PROPOSAL, CITY)
    act(runtime, case.id, "Task_provincial_decision", PROVINCE_REVOKES, PROVINCE)
    assert barred_by_revocation(CODE, date(2029, 3, 2)).ground == "bad_faith"  # three years to the day
    assert barred_by_revocation(CODE, date(2029, 3, 3)) is None
    assert barred_by_revocation(CODES[1], date(2026, 6, 1)) is None


# ------------------------------------------------------------------ spot checks and the 90-day rectification
def spot_check(runtime, designation, city=LANZHOU):
    case = runtime.start("spot_check", {"designation_id": designation, "batch": "2026年第一批"}, PROVINCE, city)
    assert case.status == "running", case.error_message
    return case


FAILED = {"spot_check_passed": False, "spot_check_findings": "单位产品能耗高于行业基准值。"}
REPORT = {"measures": "更换高效电机，完成能源管理体系内审。", "completed_on": "2026-05-20"}


def test_a_unit_that_passes_the_spot_check_is_closed(procedures):
    runtime = procedures
    designation = designate(runtime)
    case = spot_check(runtime, designation)
    done = act(runtime, case.id, "Task_spot_check", {"spot_check_passed": True, "spot_check_findings": "符合要求。"},
               PROVINCE)
    assert done.status == "completed" and status_of(designation) == "listed"


def test_spot_checks_are_for_provincial_and_national_units_only(procedures):
    runtime = procedures
    case = runtime.start("spot_check", {"designation_id": designate(runtime, level="municipal")}, PROVINCE, LANZHOU)
    assert case.status == "error" and "provincial and national" in case.error_message
    with pytest.raises(Forbidden):
        runtime.start("spot_check", {"designation_id": 1}, CITY, LANZHOU)


def test_a_rectification_reported_on_day_90_is_accepted_and_a_passing_recheck_closes_it(procedures, client):
    runtime = procedures
    designation = designate(runtime)
    case = spot_check(runtime, designation)
    act(runtime, case.id, "Task_spot_check", FAILED, PROVINCE)
    order = waiting(case.id)
    # the order goes to the unit itself, with the last day of its 90 days as the deadline it sees
    assert order.element == "Task_report_rectification" and order.assignee == "firm"
    assert order.due_at == datetime(2026, 6, 1, tzinfo=clock.SHANGHAI)  # 2 March + 90 days = 31 May, all of it
    sign_in(client, "firm")
    page = client.get(f"/tasks/{order.id}").get_data(as_text=True)
    assert "2026年05月31日 24:00" in page and "报告整改情况" in page

    run_until(runtime, datetime(2026, 5, 31, 23, 59, tzinfo=clock.SHANGHAI))  # day 90, late evening
    act(runtime, case.id, "Task_report_rectification", REPORT, FIRM)
    run_until(runtime, datetime(2026, 6, 2, tzinfo=clock.SHANGHAI))  # the timer went with the reported task
    done = act(runtime, case.id, "Task_recheck_provincial",
               {"recheck_passed": True, "recheck_findings": "整改到位，能耗达到基准值。"}, PROVINCE)
    assert done.status == "completed" and status_of(designation) == "listed"


def test_no_report_by_day_90_leads_to_revocation_on_day_91(procedures):
    runtime = procedures
    designation = designate(runtime)
    case = spot_check(runtime, designation)
    act(runtime, case.id, "Task_spot_check", FAILED, PROVINCE)
    run_until(runtime, datetime(2026, 5, 31, 23, 59, 59, tzinfo=clock.SHANGHAI))
    assert waiting(case.id).element == "Task_report_rectification"  # still day 90: the unit may report
    run_until(runtime, datetime(2026, 6, 1, 0, 0, 2, tzinfo=clock.SHANGHAI))
    decision = waiting(case.id)
    # day 91: the province's own finding goes straight to its decision on ground 21(1)
    assert decision.element == "Task_provincial_decision" and decision.role == "provincial"
    assert db.session.scalar(db.select(HumanTask.id).where(HumanTask.element == "Task_report_rectification")) is None
    done = act(runtime, case.id, "Task_provincial_decision", PROVINCE_REVOKES, PROVINCE)
    assert done.status == "completed" and status_of(designation) == "revoked"
    record = announcement_of(designation)
    assert record.ground == "spot_check_failed" and record.decided_on == date(2026, 6, 1)
    assert "整改期限（2026-05-31）届满未报告" in db.session.get(Designation, designation).end_reason
    assert record.public_on == PUBLICATION


def test_a_unit_still_failing_the_recheck_is_revoked(procedures):
    runtime = procedures
    designation = designate(runtime)
    case = spot_check(runtime, designation)
    act(runtime, case.id, "Task_spot_check", FAILED, PROVINCE)
    act(runtime, case.id, "Task_report_rectification", REPORT, FIRM)
    act(runtime, case.id, "Task_recheck_provincial", {"recheck_passed": False, "recheck_findings": "能耗仍超基准。"},
        PROVINCE)
    done = act(runtime, case.id, "Task_provincial_decision", PROVINCE_REVOKES, PROVINCE)
    assert done.status == "completed" and status_of(designation) == "revoked"
    assert "能耗仍超基准" in db.session.get(Designation, designation).end_reason


def test_a_national_unit_still_failing_is_reported_to_miit(procedures):
    runtime = procedures
    designation = designate(runtime, level="national")
    case = spot_check(runtime, designation)
    act(runtime, case.id, "Task_spot_check", FAILED, PROVINCE)
    run_until(runtime, datetime(2026, 6, 1, 0, 0, 2, tzinfo=clock.SHANGHAI))
    act(runtime, case.id, "Task_provincial_decision", {"revoke": True, "opinion": "上报工信部取消。"}, PROVINCE)
    assert status_of(designation) == "listed"
    run_until(runtime, datetime(2026, 7, 15, tzinfo=clock.SHANGHAI))  # MIIT decided on 10 July
    done = act(runtime, case.id, "Task_record_miit_decision",
               {"miit_revoked": True, "miit_document": "工信部节函〔2026〕150号", "miit_decided_on": "2026-07-10"},
               PROVINCE)
    assert done.status == "completed" and status_of(designation) == "revoked"
    assert announcement_of(designation).public_on == date(2026, 7, 10)


# ------------------------------------------------------------------ confirmed reports carried out (Art 24)
INTAKE = Actor("public-intake", "admin")
REPORTED = {"reporter": {"name": "张三", "contact": "13800000000"},
            "target": {"kind": "unit", "name": "兰州绿源制造有限公司", "credit_code": CODE},
            "description": "该公司在动态管理表中虚报能耗数据。"}


def test_a_confirmed_report_leads_to_revocation_on_the_ground_found(procedures):
    runtime = procedures
    designation = designate(runtime)
    case = runtime.start("complaint", REPORTED, INTAKE, LANZHOU)
    act(runtime, case.id, "Task_verify", {"confirmed": True, "findings": "经核查，能耗数据虚报属实。",
                                          "measure": "revocation", "designation_id": designation,
                                          "ground": "false_materials"}, CITY)
    act(runtime, case.id, "Task_reply", {"reply": "经核查属实，已启动取消资格程序。"}, CITY)
    # the city verified it: the province decides on the city's findings
    done = act(runtime, case.id, "Task_provincial_decision", PROVINCE_REVOKES, PROVINCE)
    assert done.status == "completed" and status_of(designation) == "revoked"
    assert "能耗数据虚报属实" in db.session.get(Designation, designation).end_reason


def test_a_confirmed_report_can_order_rectification_rechecked_by_the_city(procedures):
    runtime = procedures
    designation = designate(runtime, level="municipal")
    case = runtime.start("complaint", REPORTED, INTAKE, LANZHOU)
    act(runtime, case.id, "Task_verify", {"confirmed": True, "findings": "部分指标数据填报有误。",
                                          "measure": "rectification", "designation_id": designation}, CITY)
    act(runtime, case.id, "Task_reply", {"reply": "已责令整改。"}, CITY)
    assert waiting(case.id).assignee == "firm"
    act(runtime, case.id, "Task_report_rectification", REPORT, FIRM)
    recheck = waiting(case.id)
    assert recheck.element == "Task_recheck_municipal" and recheck.jurisdiction == LANZHOU
    done = act(runtime, case.id, "Task_recheck_municipal", {"recheck_passed": True, "recheck_findings": "已更正。"},
               CITY)
    assert done.status == "completed" and status_of(designation) == "listed"


def test_a_confirmed_measure_names_the_designation(procedures):
    from engine.errors import FormInvalid

    runtime = procedures
    case = runtime.start("complaint", REPORTED, INTAKE, LANZHOU)
    with pytest.raises(FormInvalid) as refused:
        act(runtime, case.id, "Task_verify", {"confirmed": True, "findings": "属实属实", "measure": "revocation"}, CITY)
    assert {"designation_id", "ground"} <= set(refused.value.fields)


# ------------------------------------------------------------------ opening cases from a designation's page
def test_officials_open_a_spot_check_or_a_revocation_from_the_designation_page(procedures, client):
    from webclient import post_form

    runtime = procedures
    designation = designate(runtime)
    sign_in(client, "prov")
    page = client.get(f"/registry/{designation}").get_data(as_text=True)
    assert 'id="spot-check-form"' in page and 'id="revocation-form"' in page
    r = post_form(client, f"/registry/{designation}/spot-check", {"batch": "2026年第一批"})
    assert r.status_code == 303 and "/cases/" in r.headers["Location"]
    case = db.session.get(ProcessInstance, int(r.headers["Location"].rsplit("/", 1)[1]))
    assert case.process_id == "spot_check" and case.jurisdiction == LANZHOU and waiting(case.id).element == "Task_spot_check"

    city = client.application.test_client()
    sign_in(city, "lz")
    assert 'id="spot-check-form"' not in city.get(f"/registry/{designation}").get_data(as_text=True)
    assert post_form(city, f"/registry/{designation}/spot-check", {"batch": "x批次"}).status_code == 403
    wrong = post_form(city, f"/registry/{designation}/revocation", {"ground": "bad_faith", "facts": ""})
    assert wrong.status_code == 422 and 'id="error-facts"' in wrong.get_data(as_text=True)
    assert 'value="bad_faith" selected' in wrong.get_data(as_text=True)
    r = post_form(city, f"/registry/{designation}/revocation", {"ground": "bad_faith", "facts": "列入严重失信主体名单。"})
    assert r.status_code == 303
    db.session.rollback()  # what the request committed, not this session's earlier snapshot
    proposal = db.session.scalar(db.select(HumanTask).where(HumanTask.element == "Task_city_proposal"))
    assert proposal.jurisdiction == LANZHOU

    other = client.application.test_client()
    sign_in(other, "ts")
    assert post_form(other, f"/registry/{designation}/revocation",
                     {"ground": "bad_faith", "facts": "列入严重失信主体名单。"}).status_code == 404
    municipal = designate(runtime, level="municipal", code=CODES[1], name="金川集团股份有限公司")
    r = post_form(client, f"/registry/{municipal}/spot-check", {"batch": "2026年第一批"})
    assert r.status_code == 422 and "省级、国家级" in r.get_data(as_text=True)


def test_a_start_event_may_name_several_roles_that_start_it_and_names_only_known_ones(runtime):
    from engine.model_registry import ModelInvalid

    body = (ROOT / "processes" / "revocation.bpmn").read_bytes()
    files = {n: (ROOT / "processes" / n).read_bytes() for n in ("revocation_grounds.dmn",)}
    with pytest.raises(ModelInvalid) as refused:
        runtime.registry.deploy({**files, "revocation.bpmn": body.replace(b'value="municipal provincial"',
                                                                         b'value="municipal mayor"')})
    assert "startRoles" in str(refused.value) and "mayor" in str(refused.value)
    runtime.registry.deploy({**files, "revocation.bpmn": body})
    for actor in (Actor("prov", "provincial"), Actor("lz", "municipal", LANZHOU), Actor("root", "admin")):
        runtime.start("revocation", {"designation_id": 1, "ground": "bad_faith"}, actor, LANZHOU)
    for actor in (FIRM, Actor("eco", "ecology"), Actor("exp", "expert")):
        with pytest.raises(Forbidden):
            runtime.start("revocation", {"designation_id": 1, "ground": "bad_faith"}, actor, LANZHOU)


def test_no_one_routes_a_units_tasks_to_another_account_by_submitting_data(procedures):
    from engine.errors import EngineError

    runtime = procedures
    with pytest.raises(EngineError) as refused:
        runtime.start("spot_check", {"designation_id": designate(runtime), "party_account": "someone-else"},
                      PROVINCE, LANZHOU)
    assert "party_account" in str(refused.value)
