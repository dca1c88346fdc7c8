"""Art 12 and 23: a third-party agency chosen by the applicant is checked at once — not
named for fraud (three years, to the day), and under the yearly cap of evaluations per
level for agencies with the same legal representative; the agency evaluates in its own
task; a city reports an agency, the province verifies and names it publicly."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from creation import FACTORY_LEADING, deploy, evaluation, open_task, store_pdf
from webclient import post_form, sign_in

from engine import clock
from engine.db import db
from engine.errors import Conflict, FormInvalid, NotFound
from engine.green.agencies import Agency, AgencyEngagement, EvaluationReport
from engine.models import HumanTask, ProcessInstance
from engine.runtime import Actor
from web.accounts.users import add_user

FIRM = Actor("firm", "applicant")
LANZHOU = Actor("lz", "municipal", "620100")
PROVINCE = Actor("prov", "provincial")
GREEN = ("甘肃绿评科技有限公司", "91620100MA71GLP0EL", "王建国", "agency-green")
SISTER = ("兰州环科评价咨询有限公司", "91620100MA72HKYX3B", "王建国", "agency-sister")  # same legal representative
OTHER = ("天水节能评估中心有限公司", "91620500MA73JNPG1L", "李明", "agency-other")


@pytest.fixture
def agencies(runtime):
    deploy(runtime)
    rows = {}
    for key, (name, code, rep, account) in {"green": GREEN, "sister": SISTER, "other": OTHER}.items():
        rows[key] = Agency(name=name, credit_code=code, legal_representative=rep, account=account,
                           jurisdiction="620500" if key == "other" else "620100", created_at=clock.now())
        db.session.add(rows[key])
    db.session.commit()
    return {k: v.id for k, v in rows.items()}


def choose(runtime, agency_code, firm=FIRM, code="91620100MA74XJ2P0P"):
    """An applicant applies with a third-party agency; the case after the Art 23 check."""
    case = runtime.start("municipal_creation", {}, firm, "620100")
    return runtime.complete(open_task(case.id).id, {
        "organisation_name": "兰州绿源制造有限公司", "unit_type": "green_factory", "credit_code": code,
        "evaluation_mode": "third_party", "agency_credit_code": agency_code}, firm)


def check(case) -> dict:
    db.session.expire_all()
    return db.session.get(ProcessInstance, case.id).data["_agency_check"]


def done_before(agency_id, level, n, year=2026):
    """Evaluations the agency already took on this year (earlier cases)."""
    agency = db.session.get(Agency, agency_id)
    first = 900000 + db.session.scalar(db.select(db.func.count()).select_from(AgencyEngagement))
    for i in range(n):  # cases of their own, not in this database
        db.session.add(AgencyEngagement(agency_id=agency_id, legal_representative=agency.legal_representative,
                                        level=level, year=year, instance_id=first + i, engaged_on=date(year, 1, 5)))
    db.session.commit()


def test_the_chosen_agency_evaluates_in_its_own_task_and_the_city_reviews(runtime, agencies):
    case = choose(runtime, GREEN[1])
    assert check(case)["accepted"] is True
    task = open_task(case.id)
    assert (task.element, task.role, task.assignee) == ("Task_agency_green_factory", "agency", "agency-green")
    data, task_id = evaluation("green_factory", case.id, FACTORY_LEADING), task.id
    for stranger in (FIRM, Actor("agency-sister", "agency")):  # neither the applicant nor another agency
        with pytest.raises(NotFound):  # as for a missing task: it is not disclosed
            runtime.complete(task.id, data, stranger)
    runtime.complete(task.id, data, Actor("agency-green", "agency"))
    assert open_task(case.id).element == "Task_municipal_review"
    # submitted twice (a second tab, a retried request): the agency no longer sees the case, yet is
    # told that its task was done, as any loser of two completions is; a stranger still learns nothing
    with pytest.raises(Conflict):
        runtime.complete(task_id, data, Actor("agency-green", "agency"))
    with pytest.raises(NotFound):
        runtime.complete(task_id, data, Actor("agency-sister", "agency"))
    [report] = db.session.scalars(db.select(EvaluationReport)).all()
    assert (report.evaluation_mode, report.agency_id, report.submitted_by, report.verdict) == \
        ("third_party", agencies["green"], "agency-green", "passed")


def test_the_tenth_evaluation_of_the_year_is_accepted_and_the_eleventh_refused(runtime, agencies):
    done_before(agencies["green"], "municipal", 9)
    tenth = choose(runtime, GREEN[1])
    assert check(tenth)["accepted"] is True and check(tenth)["count_this_year"] == 10
    eleventh = choose(runtime, GREEN[1], code="91620100MA75QWER28")
    refused = check(eleventh)
    assert refused["accepted"] is False and "达到上限 10" in refused["reason"]
    # back to the applicant, with the reason on its task
    task = open_task(eleventh.id)
    assert (task.element, task.assignee) == ("Task_submit_report", "firm")
    assert db.session.get(ProcessInstance, eleventh.id).data["returned_reason"] == refused["reason"]
    assert db.session.scalar(db.select(db.func.count()).select_from(AgencyEngagement)) == 10


def test_agencies_with_the_same_legal_representative_count_together(runtime, agencies):
    done_before(agencies["green"], "municipal", 5)
    done_before(agencies["sister"], "municipal", 5)
    assert check(choose(runtime, SISTER[1]))["accepted"] is False
    # an agency with another legal representative is not affected
    assert check(choose(runtime, OTHER[1]))["accepted"] is True


def test_other_levels_are_counted_apart_and_a_new_year_starts_again(runtime, agencies):
    done_before(agencies["green"], "provincial", 10)
    done_before(agencies["green"], "national", 10)
    done_before(agencies["green"], "municipal", 10, year=2025)
    assert check(choose(runtime, GREEN[1]))["accepted"] is True  # 2026: none at municipal level yet
    done_before(agencies["green"], "municipal", 9)  # now 10 in 2026
    assert check(choose(runtime, GREEN[1], code="91620100MA75QWER28"))["accepted"] is False
    clock.current().set(datetime(2027, 1, 1, 0, 0, tzinfo=clock.SHANGHAI))
    assert check(choose(runtime, GREEN[1], code="91620100MA76ABCD3Y"))["accepted"] is True


def test_choosing_again_in_the_same_case_is_not_counted_twice(runtime, agencies):
    case = choose(runtime, GREEN[1])
    runtime.complete(open_task(case.id).id, evaluation("green_factory", case.id, FACTORY_LEADING),
                     Actor("agency-green", "agency"))
    runtime.complete(open_task(case.id).id, {"decision": "return", "opinion": "请补充能耗台账"}, LANZHOU)
    runtime.complete(open_task(case.id).id, {
        "organisation_name": "兰州绿源制造有限公司", "unit_type": "green_factory", "credit_code": "91620100MA74XJ2P0P",
        "evaluation_mode": "third_party", "agency_credit_code": SISTER[1]}, FIRM)
    rows = db.session.scalars(db.select(AgencyEngagement)).all()
    assert [(r.agency_id, r.instance_id) for r in rows] == [(agencies["sister"], case.id)]
    assert open_task(case.id).assignee == "agency-sister"


def test_an_agency_not_on_record_is_refused_beside_the_field_and_the_application_waits(runtime, agencies):
    with pytest.raises(FormInvalid) as refused:  # chosen from the register (x-choices), checked on submission
        choose(runtime, "91620100MA77MNPQ43")
    assert refused.value.fields == {"agency_credit_code": [
        "不是已备案的第三方评价机构 (not an evaluation agency on record)"]}
    [task] = db.session.scalars(db.select(HumanTask)).all()
    assert task.element == "Task_submit_report"


def supervise(runtime, code, confirmed=True, finding="报告能耗数据与企业台账严重不符，隐瞒不符合项。"):
    case = runtime.start("agency_supervision", {}, LANZHOU)
    task = open_task(case.id)
    assert (task.element, task.role, task.jurisdiction) == ("Task_report_agency", "municipal", "620100")
    runtime.complete(task.id, {"agency_credit_code": code, "facts": "抽查发现评价报告数据与企业台账不一致。",
                               "evidence": store_pdf(case.id, by="lz")}, LANZHOU)
    task = open_task(case.id)
    if task.element != "Task_verify_agency":
        return case
    assert task.role == "provincial"
    return runtime.complete(task.id, {"fraud_confirmed": confirmed, "finding": finding}, PROVINCE)


def test_a_confirmed_fraud_names_the_agency_and_refuses_its_results_for_three_years_to_the_day(
        runtime, agencies, client):
    case = supervise(runtime, GREEN[1])
    assert case.status == "completed"
    agency = db.session.get(Agency, agencies["green"])
    assert (agency.named_for_fraud_on, agency.results_refused_until) == (date(2026, 3, 2), date(2029, 3, 2))
    page = client.get("/public/agencies").get_data(as_text=True)
    assert "甘肃绿评科技有限公司" in page and "2029年03月02日" in page and "隐瞒不符合项" in page

    refused = check(choose(runtime, GREEN[1]))
    assert refused["accepted"] is False and "2029-03-02" in refused["reason"]
    clock.current().set(datetime(2029, 3, 1, 23, 59, tzinfo=clock.SHANGHAI))  # the last day of the ban
    assert check(choose(runtime, GREEN[1], code="91620100MA75QWER28"))["accepted"] is False
    clock.current().set(datetime(2029, 3, 2, 0, 0, tzinfo=clock.SHANGHAI))  # three years to the day
    assert check(choose(runtime, GREEN[1], code="91620100MA76ABCD3Y"))["accepted"] is True
    assert "甘肃绿评科技有限公司" not in client.get("/public/agencies").get_data(as_text=True)
    # the sister agency was not named: only the agency found faking is
    assert db.session.get(Agency, agencies["sister"]).results_refused_until is None


def test_an_unconfirmed_report_names_nobody_and_an_unknown_agency_is_asked_again(runtime, agencies, client):
    case = supervise(runtime, GREEN[1], confirmed=False, finding="数据差异系统计口径不同，未发现弄虚作假。")
    assert case.status == "completed"
    assert db.session.get(Agency, agencies["green"]).results_refused_until is None
    assert "甘肃绿评" not in client.get("/public/agencies").get_data(as_text=True)
    unknown = supervise(runtime, "91620100MA77MNPQ43")
    assert open_task(unknown.id).element == "Task_report_agency"


def test_the_province_sees_each_legal_representatives_yearly_count_and_a_city_its_own_agencies(
        app, runtime, agencies):
    done_before(agencies["green"], "municipal", 3)
    done_before(agencies["sister"], "municipal", 2)
    done_before(agencies["green"], "provincial", 1)
    for name, role, city in (("prov", "provincial", None), ("lz", "municipal", "620100"),
                             ("ts", "municipal", "620500"), ("firm", "applicant", None),
                             ("agency-green", "agency", None), ("ex", "expert", None)):
        add_user(name, role, city, password="correct-horse")

    def page(name, path="/agencies/"):
        c = app.test_client()
        sign_in(c, name)
        return c.get(path)

    import re

    body = page("prov").get_data(as_text=True)
    rows = dict(re.findall(r'data-agency="([^"]+)".*?data-level="municipal">(\d+)<', body, re.S))
    assert rows == {GREEN[1]: "5", SISTER[1]: "5", OTHER[1]: "0"}  # 王建国's agencies together
    assert re.search(rf'data-agency="{GREEN[1]}".*?data-level="provincial">1<', body, re.S)
    earlier = page("prov", "/agencies/?year=2025").get_data(as_text=True)
    assert dict(re.findall(r'data-agency="([^"]+)".*?data-level="municipal">(\d+)<', earlier, re.S))[GREEN[1]] == "0"
    lanzhou = page("lz").get_data(as_text=True)
    assert GREEN[1] in lanzhou and OTHER[1] not in lanzhou  # 天水's agency is 天水's to supervise
    assert OTHER[1] in page("ts").get_data(as_text=True) and GREEN[1] not in page("ts").get_data(as_text=True)
    for name in ("firm", "agency-green", "ex"):
        assert page(name).status_code == 403


def test_the_agency_account_opens_its_task_page_and_the_applicant_does_not(app, runtime, agencies):
    case = choose(runtime, GREEN[1])
    task = open_task(case.id)
    add_user("agency-green", "agency", None, password="correct-horse")
    add_user("firm", "applicant", None, password="correct-horse")
    add_user("agency-sister", "agency", None, password="correct-horse")
    agency, firm, sister = app.test_client(), app.test_client(), app.test_client()
    for c, name in ((agency, "agency-green"), (firm, "firm"), (sister, "agency-sister")):
        sign_in(c, name)
    assert agency.get(f"/tasks/{task.id}").status_code == 200
    assert agency.get(f"/cases/{case.id}").status_code == 200  # the case it works on
    assert firm.get(f"/tasks/{task.id}").status_code == 404
    assert sister.get(f"/tasks/{task.id}").status_code == 404 and sister.get(f"/cases/{case.id}").status_code == 404
    assert f'data-task="{task.id}"' in agency.get("/inbox/").get_data(as_text=True)
    r = post_form(agency, f"/tasks/{task.id}", {"action": "submit"}, page=f"/tasks/{task.id}")
    assert r.status_code == 422 and "此项为必填项" in r.get_data(as_text=True)


def test_switching_to_self_evaluation_frees_the_agencys_count(runtime, agencies):
    case = choose(runtime, GREEN[1])
    runtime.complete(open_task(case.id).id, evaluation("green_factory", case.id, FACTORY_LEADING),
                     Actor("agency-green", "agency"))
    runtime.complete(open_task(case.id).id, {"decision": "return", "opinion": "请补充能耗台账"}, LANZHOU)
    runtime.complete(open_task(case.id).id, {
        "organisation_name": "兰州绿源制造有限公司", "unit_type": "green_factory", "credit_code": "91620100MA74XJ2P0P",
        "evaluation_mode": "self"}, FIRM)
    runtime.complete(open_task(case.id).id, evaluation("green_factory", case.id, FACTORY_LEADING), FIRM)
    assert db.session.scalar(db.select(db.func.count()).select_from(AgencyEngagement)) == 0
    reports = db.session.scalars(db.select(EvaluationReport).order_by(EvaluationReport.id)).all()
    assert [(r.evaluation_mode, r.agency_id) for r in reports] == [("third_party", agencies["green"]), ("self", None)]


def test_nobody_can_hand_the_agency_task_to_an_account_of_their_choosing(runtime, agencies):
    from engine.errors import EngineError

    with pytest.raises(EngineError):
        runtime.start("municipal_creation", {"_agency_check": {"accepted": True, "account": "friend"}}, FIRM, "620100")
    case = runtime.start("municipal_creation", {}, FIRM, "620100")
    with pytest.raises(EngineError):
        runtime.complete(open_task(case.id).id, {"_agency_check": {"accepted": True, "account": "friend"}}, FIRM)


def test_the_applicant_reads_why_the_agency_was_refused_on_its_task(app, runtime, agencies):
    done_before(agencies["green"], "municipal", 10)
    case = choose(runtime, GREEN[1])
    add_user("firm", "applicant", None, password="correct-horse")
    client = app.test_client()
    sign_in(client, "firm")
    page = client.get(f"/tasks/{open_task(case.id).id}").get_data(as_text=True)
    assert "退回原因" in page and "达到上限 10" in page
    # chosen again, with an agency that can take it: the reason is gone from the case
    runtime.complete(open_task(case.id).id, {
        "organisation_name": "兰州绿源制造有限公司", "unit_type": "green_factory", "credit_code": "91620100MA74XJ2P0P",
        "evaluation_mode": "third_party", "agency_credit_code": OTHER[1]}, FIRM)
    db.session.expire_all()
    assert db.session.get(ProcessInstance, case.id).data["returned_reason"] is None


def test_a_report_handed_in_after_the_agency_is_named_is_refused_and_the_applicant_chooses_again(
        runtime, agencies):
    case = choose(runtime, GREEN[1])
    assert check(case)["accepted"] is True  # not named when chosen
    task = open_task(case.id)
    supervise(runtime, GREEN[1])  # named while it evaluates
    runtime.complete(task.id, evaluation("green_factory", case.id, FACTORY_LEADING), Actor("agency-green", "agency"))
    back = open_task(case.id)
    assert (back.element, back.assignee) == ("Task_submit_report", "firm")  # the city never reviews it
    db.session.expire_all()
    reason = db.session.get(ProcessInstance, case.id).data["returned_reason"]
    assert "甘肃绿评科技有限公司" in reason and "2029-03-02 前其评价结果不予采信（第二十三条）" in reason
    [report] = db.session.scalars(db.select(EvaluationReport)).all()
    assert report.verdict == "refused"  # kept as handed in, with its verdict
    # the applicant turns to an agency that is not named; its report goes to the city
    case = runtime.complete(back.id, {
        "organisation_name": "兰州绿源制造有限公司", "unit_type": "green_factory", "credit_code": "91620100MA74XJ2P0P",
        "evaluation_mode": "third_party", "agency_credit_code": OTHER[1]}, FIRM)
    task = open_task(case.id)
    runtime.complete(task.id, evaluation("green_factory", case.id, FACTORY_LEADING), Actor("agency-other", "agency"))
    assert open_task(case.id).element == "Task_municipal_review"


def test_a_report_handed_in_on_the_last_day_of_the_ban_is_refused_and_the_next_day_accepted(runtime, agencies):
    first, second = choose(runtime, GREEN[1]), choose(runtime, GREEN[1], code="91620100MA75QWER28")
    supervise(runtime, GREEN[1])  # named 2026-03-02 while both evaluations are under way: refused until 2029-03-02
    agency = Actor("agency-green", "agency")
    clock.current().set(datetime(2029, 3, 1, 23, 59, tzinfo=clock.SHANGHAI))
    runtime.complete(open_task(first.id).id, evaluation("green_factory", first.id, FACTORY_LEADING), agency)
    assert open_task(first.id).element == "Task_submit_report"
    clock.current().set(datetime(2029, 3, 2, 0, 0, tzinfo=clock.SHANGHAI))  # three years to the day
    runtime.complete(open_task(second.id).id, evaluation("green_factory", second.id, FACTORY_LEADING), agency)
    assert open_task(second.id).element == "Task_municipal_review"
    verdicts = dict(db.session.execute(db.select(EvaluationReport.instance_id, EvaluationReport.verdict)).all())
    assert verdicts == {first.id: "refused", second.id: "passed"}
