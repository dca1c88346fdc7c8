"""Forms that remember (issue 17.4): a form sent back for correction reopens with what was
submitted and the remarks of whoever sent it back; what the system knows is filled in or
chosen from its register, never retyped, and refused on the server when it is not so; the
next task opens at once when it is the same user's; only the sections that apply count."""
from __future__ import annotations

import lxml.html
from conftest import ROOT, upload
from creation import FACTORY_LEADING, TABLES, agency
from factories import LANZHOU, PASSWORD, TIANSHUI, designation_row, registered, user
from test_provincial_selection import code
from test_web_tasks import on_the_page
from webclient import post_form, sign_in

from engine.db import db
from engine.green.models import User
from engine.model_registry import collect
from engine.models import HumanTask, ProcessInstance
from engine.runtime import Actor
from web.accounts.users import add_user, issue_token

CREATION = ROOT / "processes" / "municipal_creation.bpmn"
CODE, NAME, ADDRESS = "91620100MA74XJ2P0P", "兰州绿源制造有限公司", "甘肃省兰州市城关区雁滩路 88 号"
OTHER_CODE = "91620100MA75QWER28"  # a valid code, but another organisation's


def page(response) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(response.get_data(as_text=True))


def field(doc, path):
    [el] = doc.xpath(f'//*[@data-field="{path}"]')
    return el


def waiting(case_id) -> HumanTask:
    db.session.rollback()  # a new read: what the requests have written since
    [task] = db.session.scalars(db.select(HumanTask).where(HumanTask.instance_id == case_id)).all()
    return task


def submit(client, task_id, data, action="submit"):
    return post_form(client, f"/tasks/{task_id}", {**data, "action": action}, page=f"/tasks/{task_id}")


def the_enterprise_applies(client, users):
    """The procedure deployed, the enterprise registered and confirmed by its city, signed in,
    and its application started from 新建办件; returns (case id, the task it opens on)."""
    assert upload(client, users("ana", "analyst"), CREATION, *TABLES).status_code == 201
    registered("firm")
    sign_in(client, "firm")
    r = post_form(client, "/cases/new", {"process": "municipal_creation"}, page="/cases/new")
    assert r.status_code == 303 and "/tasks/" in r.headers["Location"]
    task_id = r.headers["Location"].rsplit("/", 1)[1]
    return db.session.get(HumanTask, task_id).instance_id, task_id


def test_the_organisations_own_entries_are_filled_in_from_its_registration(client, users):
    case_id, task_id = the_enterprise_applies(client, users)
    doc = page(client.get(f"/tasks/{task_id}"))
    for path, value in (("organisation_name", NAME), ("credit_code", CODE), ("address", ADDRESS)):
        known = field(doc, path)
        assert known.xpath("string(.//span[@class='fixed'])") == value  # shown, not an input to type into
        assert known.xpath(".//input[@type='hidden']/@value") == [value]
        assert "取自本单位注册信息" in known.text_content()


def test_a_returned_application_reopens_with_the_earlier_entries_and_the_citys_remarks(client, app, users):
    case_id, task_id = the_enterprise_applies(client, users)
    r = submit(client, task_id, {"unit_type": "green_factory", "evaluation_mode": "self",
                                 "organisation_name": NAME, "credit_code": CODE, "address": ADDRESS,
                                 "summary": "能耗指标优于行业平均水平。"})
    evaluate = waiting(case_id)
    # the self-evaluation is the enterprise's own next step: it opens at once, not the inbox
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/tasks/{evaluate.id}")
    assert evaluate.element == "Task_self_green_factory"
    r = submit(client, evaluate.id, on_the_page("green_factory", FACTORY_LEADING, pdf=True))
    assert r.status_code == 303 and r.headers["Location"].endswith("/inbox/")  # the next step is the city's

    city = app.test_client()
    add_user("lz", "municipal", LANZHOU, password=PASSWORD, display_name="王科长")
    sign_in(city, "lz")
    review = waiting(case_id)
    r = submit(city, review.id, {"decision": "return", "opinion": "请补充单位产品能耗的计算说明。"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/inbox/")

    back = waiting(case_id)
    assert back.element == "Task_submit_report" and back.id != task_id
    doc = page(client.get(f"/tasks/{back.id}"))
    remarks = doc.xpath("string(//*[@id='returned-remarks'])")
    assert "请补充单位产品能耗的计算说明。" in remarks and "王科长" in remarks and "市级审核" in remarks
    assert "已载入您" in doc.xpath("string(//*[@id='earlier-note'])")
    assert field(doc, "unit_type").xpath(".//option[@selected]/@value") == ["green_factory"]
    assert field(doc, "evaluation_mode").xpath(".//option[@selected]/@value") == ["self"]
    assert field(doc, "summary").xpath("string(.//textarea)") == "能耗指标优于行业平均水平。"
    assert field(doc, "credit_code").xpath(".//input[@type='hidden']/@value") == [CODE]

    # corrected wrongly: refused beside the field, the remarks still above the form
    r = submit(client, back.id, {"unit_type": "green_factory", "evaluation_mode": "", "summary": "补充说明"})
    assert r.status_code == 422
    assert "请补充单位产品能耗的计算说明。" in page(r).xpath("string(//*[@id='returned-remarks'])")


def test_another_organisations_credit_code_is_refused_beside_the_field_with_the_entries_kept(client, users):
    case_id, task_id = the_enterprise_applies(client, users)
    r = submit(client, task_id, {"unit_type": "green_factory", "evaluation_mode": "self", "organisation_name": NAME,
                                 "credit_code": OTHER_CODE, "address": ADDRESS, "summary": "另一家的代码"})
    assert r.status_code == 422
    doc = page(r)
    assert "不是本单位的统一社会信用代码" in field(doc, "credit_code").xpath("string(.//*[@class='field-error'])")
    assert field(doc, "summary").xpath("string(.//textarea)") == "另一家的代码"
    assert field(doc, "unit_type").xpath(".//option[@selected]/@value") == ["green_factory"]
    assert waiting(case_id).id == task_id  # nothing was submitted


def test_the_api_refuses_another_organisations_credit_code_too(client, users, runtime):
    case_id, task_id = the_enterprise_applies(client, users)
    token = issue_token(db.session.scalar(db.select(User).where(User.name == "firm")), "firm")
    r = client.post(f"/api/v1/tasks/{task_id}/complete", headers={"Authorization": f"Bearer {token}"},
                    json={"data": {"unit_type": "green_factory", "evaluation_mode": "self",
                                   "organisation_name": NAME, "credit_code": OTHER_CODE}})
    assert r.status_code == 422 and "不是本单位的统一社会信用代码" in r.json["fields"]["credit_code"][0]


def test_the_agency_is_chosen_from_the_register_and_one_not_on_record_is_refused(client, users):
    agency("甘肃绿评科技有限公司", "91620100MA71GRN01R", "王建国")
    case_id, task_id = the_enterprise_applies(client, users)
    doc = page(client.get(f"/tasks/{task_id}"))
    chosen = field(doc, "agency_credit_code")
    assert chosen.xpath(".//select/option/text()")[1:] == ["甘肃绿评科技有限公司 · 91620100MA71GRN01R"]
    # the agency applies to a third-party evaluation only
    assert '"third_party"' in chosen.get("data-show-when")
    r = submit(client, task_id, {"unit_type": "green_factory", "evaluation_mode": "third_party",
                                 "organisation_name": NAME, "credit_code": CODE, "address": ADDRESS,
                                 "agency_credit_code": OTHER_CODE})
    assert r.status_code == 422
    message = field(page(r), "agency_credit_code").xpath("string(.//*[@class='field-error'])")
    assert "不是已备案的第三方评价机构" in message


def test_a_section_that_does_not_apply_is_neither_checked_nor_kept(client, users):
    case_id, task_id = the_enterprise_applies(client, users)
    # without the page's script every section is sent: a self-evaluation's agency entry does not count
    r = submit(client, task_id, {"unit_type": "green_factory", "evaluation_mode": "self", "organisation_name": NAME,
                                 "credit_code": CODE, "address": ADDRESS, "agency_credit_code": "not a code"})
    assert r.status_code == 303
    db.session.rollback()
    assert "agency_credit_code" not in db.session.get(ProcessInstance, case_id).data


def test_a_city_chooses_only_its_own_units_and_anothers_is_refused_with_the_entries_kept(client, runtime):
    runtime.registry.deploy(collect([ROOT / "processes"]), actor="ana")
    ours, theirs = code(LANZHOU, 1), code(TIANSHUI, 3)
    designation_row(ours, name="兰州甲制造有限公司", level="municipal", city=LANZHOU)
    designation_row(theirs, name="天水丙电器有限公司", level="municipal", city=TIANSHUI)
    case = runtime.start("provincial_selection", {}, Actor("prov", "provincial"))
    user("lz", "municipal", LANZHOU)
    sign_in(client, "lz")
    task_id = db.session.scalar(db.select(HumanTask.id).where(
        HumanTask.instance_id == case.id, HumanTask.jurisdiction == LANZHOU))

    doc = page(client.get(f"/tasks/{task_id}"))
    options = field(doc, "units/0/credit_code").xpath(".//option/text()")
    assert options[1:] == [f"兰州甲制造有限公司 · {ours}"]  # not 天水's unit

    r = submit(client, task_id, {"units[0][credit_code]": theirs, "units[0][unit_type]": "green_factory",
                                 "units[0][evaluation_mode]": "self", "units[0][reason]": "行业代表性强"})
    assert r.status_code == 422
    doc = page(r)
    cell = field(doc, "units/0/credit_code")
    assert "不是本市（州）公布的市级单位" in cell.xpath("string(.//*[@class='field-error'])")
    assert cell.xpath(".//option[@selected]/@value") == [theirs]  # kept, to be corrected
    assert field(doc, "units/0/reason").xpath("string(.//textarea)") == "行业代表性强"


def test_the_api_too_leaves_out_a_section_that_does_not_apply(client, users):
    case_id, task_id = the_enterprise_applies(client, users)
    token = issue_token(db.session.scalar(db.select(User).where(User.name == "firm")), "firm")
    r = client.post(f"/api/v1/tasks/{task_id}/complete", headers={"Authorization": f"Bearer {token}"},
                    json={"data": {"unit_type": "green_factory", "evaluation_mode": "self", "organisation_name": NAME,
                                   "credit_code": CODE, "agency_credit_code": "not a code"}})
    assert r.status_code == 200, r.json
    db.session.rollback()
    assert "agency_credit_code" not in db.session.get(ProcessInstance, case_id).data


def test_a_draft_saved_after_the_return_is_what_the_form_opens_with_beside_the_remarks(client, app, users):
    case_id, task_id = the_enterprise_applies(client, users)
    submit(client, task_id, {"unit_type": "green_factory", "evaluation_mode": "self", "organisation_name": NAME,
                             "credit_code": CODE, "address": ADDRESS, "summary": "第一次提交"})
    submit(client, waiting(case_id).id, on_the_page("green_factory", FACTORY_LEADING, pdf=True))
    city = app.test_client()
    add_user("lz", "municipal", LANZHOU, password=PASSWORD)
    sign_in(city, "lz")
    submit(city, waiting(case_id).id, {"decision": "return", "opinion": "请补充说明。"})

    back = waiting(case_id).id
    assert submit(client, back, {"unit_type": "green_factory", "evaluation_mode": "self", "summary": "修改中"},
                  action="draft").status_code == 303
    doc = page(client.get(f"/tasks/{back}"))
    assert field(doc, "summary").xpath("string(.//textarea)") == "修改中"  # newer than the earlier submission
    assert "请补充说明。" in doc.xpath("string(//*[@id='returned-remarks'])")  # still beside it
    assert not doc.xpath("//*[@id='earlier-note']") and doc.xpath("//*[contains(@class, 'draft-note')]")
