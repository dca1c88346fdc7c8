"""The case file (卷宗) beside every task and on the case page: the organisation, the application,
the evaluation with its score table and verdict, the files, the Art 18 check and the earlier
opinions, labelled by the forms that collected them, as each reader may see them; which
sections a task shows is the diagram's property `caseFileSections`."""
from __future__ import annotations

import lxml.html
from creation import APPLICATION, CODE, FACTORY_LEADING, deploy, evaluation, open_task
from factories import registered, user
from test_revocation import CITY_PROPOSAL, PROVINCE, act, designate, procedures, propose  # noqa: F401 (a fixture)
from webclient import post_form, sign_in

from engine.db import db
from engine.green import case_file
from engine.green.models import User
from engine.model_registry import Validation
from engine.models import HumanTask, ProcessInstance
from engine.runtime import Actor
from web.accounts.users import actor_of

CITY = Actor("lz", "municipal", "620100")
# a self-evaluation below the pass mark (80): two indicators at their baselines, and one basic
# requirement not met, which vetoes it
SHORT = {**FACTORY_LEADING, "gf_energy_per_product": 120, "gf_renewable_share": 5, "gf_output_per_land": 5000}
VETOED_REQUIREMENT = "gf_emission_standards"


def firm():
    registered("firm")  # 兰州绿源制造有限公司, confirmed by Lanzhou
    return actor_of(db.session.scalar(db.select(User).where(User.name == "firm")))


def applied(runtime, values=SHORT, failed=()):
    """A case the firm applied in and self-evaluated, now waiting for the city's review."""
    deploy(runtime)
    applicant = firm()
    case = runtime.start("municipal_creation", {}, applicant, "620100")
    runtime.complete(open_task(case.id).id, {**APPLICATION, "summary": "能耗指标优于行业平均水平。"}, applicant)
    runtime.complete(open_task(case.id).id, evaluation("green_factory", case.id, values, failed), applicant)
    return db.session.get(ProcessInstance, case.id)


def page(response) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(response.get_data(as_text=True))


def text(doc, xpath) -> str:
    return " ".join(doc.xpath(f"string({xpath})").split())


# ---------------------------------------------------------------------------- the operation
def test_the_citys_file_names_the_company_scores_each_indicator_and_says_why_it_failed(runtime):
    case = applied(runtime)
    spec = runtime.registry.load(case.version_id).specs["municipal_creation"].task_specs["Task_municipal_review"]
    found = case_file.build(runtime, case, CITY, case_file.sections_of(spec))

    assert [s["section"] for s in found.sections] == ["organisation", "application", "evaluation", "attachments",
                                                  "art18"]  # no opinion given yet
    org = found.section("organisation")
    assert org["name"] == "兰州绿源制造有限公司" and org["credit_code"] == CODE and org["jurisdiction"] == "620100"
    assert org["legal_representative"] == "张建军"
    assert {f["label"]: f["value"] for f in org["fields"]}["单位类型"] == "绿色工厂"

    [report] = found.section("evaluation")["reports"]
    assert report["verdict"] == "failed" and report["score"] < report["pass_mark"] == 80
    energy = next(r for r in report["indicators"] if r["indicator"] == "gf_energy_per_product")
    assert "单位产品综合能耗" in energy["label"] and energy["value"] == 120 and energy["points"] == 0
    assert energy["baseline"] == 120 and energy["leading"] == 90  # from the indicator table, not typed
    assert report["pdf"]["preview"] and report["pdf"]["name"] == "报告.pdf"

    application = found.section("application")
    applied_with, evaluated = application["groups"]
    assert applied_with["title"] == "创建申请与评价方式"
    assert {f["label"]: f["value"] for f in applied_with["fields"]}["申请说明"] == "能耗指标优于行业平均水平。"
    assert evaluated["title"].startswith("绿色工厂评价") and evaluated["by"] == "李晓梅"  # the account's display name
    # the organisation and the scored tables are in their own sections, not repeated here
    assert [f["key"] for f in evaluated["fields"]] == ["report_pdf", "pledge"]
    assert "credit_code" not in {f["key"] for f in applied_with["fields"]}

    [check] = found.section("art18")["checks"]
    assert check["step"] == "申报时核查第十八条" and not check["barred"]
    assert found.section("art18")["today"]["barred"] is False


def test_a_vetoed_requirement_is_named_with_the_forms_title(runtime):
    case = applied(runtime, FACTORY_LEADING, failed=(VETOED_REQUIREMENT,))
    [report] = case_file.build(runtime, case, CITY, ("evaluation",)).section("evaluation")["reports"]
    assert report["verdict"] == "vetoed" and report["score"] == 100
    assert [v["label"] for v in report["vetoes"]] == ["污染物排放符合国家和地方排放标准及总量控制要求"]


def test_the_citys_opinion_is_in_the_file_with_who_and_when(runtime):
    case = applied(runtime)
    runtime.complete(open_task(case.id).id, {"decision": "return", "opinion": "得分未达合格分，请整改后重新申报。"}, CITY)
    found = case_file.build(runtime, db.session.get(ProcessInstance, case.id), CITY, case_file.DEFAULT)
    [entry] = found.section("opinions")["entries"]
    assert entry["step"] == "市级审核" and entry["by"] == "lz" and entry["at"] is not None
    fields = {f["label"]: f["value"] for f in entry["fields"]}
    assert fields == {"审核结论": "退回补正", "审核意见": "得分未达合格分，请整改后重新申报。"}


def test_a_task_without_the_property_shows_the_default_sections(runtime):
    version = runtime.registry.load(deploy(runtime)[0].id)
    spec = next(s for s in version.specs.values() if "Task_assign_experts" in s.task_specs)
    assert case_file.sections_of(spec.task_specs["Task_assign_experts"]) == case_file.DEFAULT


def test_an_unknown_section_is_a_deploy_finding_with_file_line_and_element(app):
    diagram = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="D" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Task_review" name="审核">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="caseFileSections" value="organisation, evaluaton" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="Task_review" />
    <bpmn:sequenceFlow id="f2" sourceRef="Task_review" targetRef="e" />
  </bpmn:process>
</bpmn:definitions>"""
    errors = Validation({"review.bpmn": diagram.encode()}, None, lambda lane: None).errors
    [finding] = [f for f in errors if "caseFileSections" in f.message]
    assert (finding.file, finding.line, finding.element) == ("review.bpmn", 9, "Task_review")
    assert "'evaluaton'" in finding.message and "evaluation" in finding.message  # the known ones are listed


# ---------------------------------------------------------------------------- the pages
def test_the_city_official_reviews_with_the_file_beside_the_form(app, runtime):
    case = applied(runtime, SHORT, failed=(VETOED_REQUIREMENT,))
    user("lz", "municipal", "620100")
    city = app.test_client()
    sign_in(city, "lz")
    doc = page(city.get(f"/tasks/{open_task(case.id).id}"))

    organisation = text(doc, "//*[@id='file-organisation']")
    assert "兰州绿源制造有限公司" in organisation and CODE in organisation and "兰州市" in organisation
    assert "暂无有效称号" in organisation
    rows = doc.xpath("//*[@id='file-evaluation']//table[contains(@class, 'score-table')]//tbody/tr")
    assert len(rows) == len(FACTORY_LEADING)
    energy = " ".join(doc.xpath("string(//tr[@data-indicator='gf_energy_per_product'])").split())
    assert "单位产品综合能耗" in energy and "120" in energy and "0.0 / " in energy
    verdict = text(doc, "//*[@id='file-evaluation']//dd[contains(@class, 'verdict')]")
    assert "一票否决" in verdict and "污染物排放符合国家和地方排放标准" in verdict
    assert text(doc, "//*[@id='file-evaluation']//tr[contains(@class, 'vetoed')]").startswith("污染物排放")
    assert doc.xpath("//*[@id='file-attachments']//a[contains(@href, 'preview=1')]")
    assert "未发现排除情形" in text(doc, "//*[@id='file-art18']")
    assert doc.xpath("//*[@id='task-form']//*[@data-field='decision']")  # and the form beside it
    assert "std_code" not in doc.text_content() and "gf_energy_per_product" not in doc.text_content()

    preview = doc.xpath("//*[@id='file-attachments']//a[contains(@href, 'preview=1')]/@href")[0]
    shown = city.get(preview)
    assert shown.status_code == 200 and shown.mimetype == "application/pdf"
    assert not shown.headers["Content-Disposition"].startswith("attachment")


def test_the_applicant_is_told_on_its_case_page_that_its_self_evaluation_failed_and_why(app, runtime):
    case = applied(runtime)
    score = db.session.get(ProcessInstance, case.id).data["evaluation"]["score"]
    applicant = app.test_client()
    sign_in(applicant, "firm")
    doc = page(applicant.get(f"/cases/{case.id}"))
    verdict = text(doc, "//*[@id='file-evaluation']//dd[contains(@class, 'verdict')]")
    assert "未达合格分" in verdict and f"得分 {score}，低于合格分 80" in verdict
    assert not doc.xpath("//*[@id='raw-data']")  # the raw keys are for administrators

    user("lz", "municipal", "620100")
    city = app.test_client()
    sign_in(city, "lz")
    task = open_task(case.id).id
    assert post_form(city, f"/tasks/{task}", {"action": "submit", "decision": "return",
                                              "opinion": "得分未达合格分，请整改后重新申报。"},
                     page=f"/tasks/{task}").status_code == 303
    doc = page(applicant.get(f"/cases/{case.id}"))
    opinion = text(doc, "//*[@id='file-opinions']")
    assert "市级审核" in opinion and "退回补正" in opinion and "得分未达合格分，请整改后重新申报。" in opinion and "lz" in opinion


def test_another_applicant_sees_nothing_and_the_administrator_also_gets_the_raw_data_folded(app, runtime):
    case = applied(runtime)
    registered("other", code="91620100MA77MNPQ43", org="兰州另一家制造有限公司")
    other = app.test_client()
    sign_in(other, "other")
    assert other.get(f"/cases/{case.id}").status_code == 404

    user("root", "admin")
    admin = app.test_client()
    sign_in(admin, "root")
    doc = page(admin.get(f"/cases/{case.id}"))
    assert "兰州绿源制造有限公司" in text(doc, "//*[@id='file-organisation']")
    assert doc.xpath("//details[@id='raw-data']//*[@data-key='credit_code']")


def test_the_agency_is_told_which_company_it_evaluates(app, runtime):
    deploy(runtime)
    applicant = firm()
    registered("evaluator", role="agency", code="91620100MA76ABCD3Y", org="甘肃绿评科技有限公司")  # and its account
    case = runtime.start("municipal_creation", {}, applicant, "620100")
    runtime.complete(open_task(case.id).id, {**APPLICATION, "evaluation_mode": "third_party",
                                             "agency_credit_code": "91620100MA76ABCD3Y"}, applicant)
    evaluator = app.test_client()
    sign_in(evaluator, "evaluator")
    doc = page(evaluator.get(f"/tasks/{open_task(case.id).id}"))
    organisation = text(doc, "//*[@id='file-organisation']")
    assert "兰州绿源制造有限公司" in organisation and CODE in organisation
    assert not doc.xpath("//*[@id='file-art18']") and not doc.xpath("//*[@id='file-opinions']")


def test_every_case_and_task_of_the_demo_opens_with_its_file(app):
    """Whatever a procedure leaves in a case (rounds, pools, reports, revocations), its file is drawn."""
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    db.session.rollback()
    user("root", "admin")
    user("prov", "provincial")
    cases = db.session.scalars(db.select(ProcessInstance.id)).all()
    # one task of each kind (an administrator may open any)
    tasks = db.session.scalars(db.select(db.func.min(HumanTask.id)).group_by(HumanTask.element)).all()
    assert cases and tasks
    for name in ("root", "prov"):
        reader = app.test_client()
        sign_in(reader, name)
        for case_id in cases:
            r = reader.get(f"/cases/{case_id}")
            assert r.status_code == 200, (name, case_id)
        for task_id in tasks if name == "root" else ():
            assert reader.get(f"/tasks/{task_id}").status_code == 200, task_id


def test_a_revocation_is_filed_under_the_unit_its_designation_names_with_the_citys_proposal(procedures):
    designation = designate(procedures)
    case = propose(procedures, designation, "false_materials")
    act(procedures, case.id, "Task_city_proposal", CITY_PROPOSAL, CITY)
    found = case_file.build(procedures, db.session.get(ProcessInstance, case.id), PROVINCE, case_file.DEFAULT)
    org = found.section("organisation")
    assert org["name"] == "兰州绿源制造有限公司" and org["credit_code"] == CODE
    assert [(d["level"], d["status"]) for d in org["current"]] == [("provincial", "listed")]
    [proposal] = found.section("opinions")["entries"]
    assert proposal["step"] == "市级提出取消建议"
    assert "企业提供的能耗数据与电网计量不符。" in [f.get("value") for f in proposal["fields"]]


def test_the_api_gives_the_same_file_to_whoever_may_see_the_case(app, runtime, client):
    case = applied(runtime)
    city = {"Authorization": f"Bearer {user('lz', 'municipal', '620100')}"}
    other = {"Authorization": f"Bearer {user('ts', 'municipal', '620500')}"}
    body = client.get(f"/api/v1/instances/{case.id}/file", headers=city).get_json()
    sections = {s["section"]: s for s in body["sections"]}
    assert list(sections) == list(case_file.SECTIONS[1:-1])  # no candidate, no opinion yet
    [report] = sections["evaluation"]["reports"]
    assert report["verdict"] == "failed" and report["pass_mark"] == 80
    assert sections["organisation"]["name"] == "兰州绿源制造有限公司"
    assert client.get(f"/api/v1/instances/{case.id}/file", headers=other).status_code == 404
