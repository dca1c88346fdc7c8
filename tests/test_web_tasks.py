"""The task page (办理页面): open a task, fill its form, submit or save a draft."""
from __future__ import annotations

from datetime import timedelta

import lxml.html
from conftest import MODELS, ROOT, upload
from creation import FACTORY_LEADING, TABLES, evaluation
from webclient import csrf_token, post_form, sign_in

from engine import clock
from engine.db import db
from engine.green.models import User
from engine.models import HumanTask, ProcessInstance
from web import formrender
from web.accounts.users import actor_of, add_user
from web.tasks.models import TaskDraft

CREATION = ROOT / "processes" / "municipal_creation.bpmn"
CODE = "91620100MA74XJ2P0P"
REPORT = {  # as the browser sends it
    "organisation_name": "兰州绿色制造有限公司",  # in case the form asks for it
    "unit_type": "green_factory", "credit_code": CODE, "evaluation_mode": "self",
    "summary": "能耗指标优于行业平均水平。",
}


def person(name, role, city=None, display_name=None):
    db.session.rollback()  # end the test's read, so that this write does not find the database moved on
    user, _ = add_user(name, role, city, password="correct-horse", display_name=display_name)
    return user


def open_case(client, users, runtime, city="620100"):
    """Deploy the creation procedure and let an applicant start a case; returns (case id, task id)."""
    assert upload(client, users("ana", "analyst"), CREATION, *TABLES).status_code == 201
    firm = person("firm", "applicant", display_name="兰州绿色制造有限公司")
    case = runtime.start("municipal_creation", {}, actor_of(firm), city)
    return case.id, ready_task(case.id)


def case_row(case_id) -> ProcessInstance:
    db.session.rollback()  # a new read: what the requests have written since
    return db.session.get(ProcessInstance, case_id)


def drafts() -> int:
    db.session.rollback()
    return db.session.scalar(db.select(db.func.count()).select_from(TaskDraft))


def ready_task(case_id):
    db.session.rollback()
    return db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == case_id))


def page(response) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(response.get_data(as_text=True))


def field(doc, path):
    [el] = doc.xpath(f'//*[@data-field="{path}"]')
    return el


def on_the_page(unit_type: str, values: dict, pdf: bool = False, failed=()) -> dict:
    """An evaluation form as the browser sends it: the table rows' hidden codes, the typed cells
    and, with `pdf`, the report file."""
    import io

    from creation import PDF, codes

    basic, scored = codes(unit_type)
    data = {"pledge": "true"}
    for i, c in enumerate(basic):
        data[f"basic_requirements[{i}][requirement]"] = c
        data[f"basic_requirements[{i}][met]"] = "false" if c in failed else "true"
    for i, c in enumerate(scored):
        data[f"indicators[{i}][indicator]"] = c
        data[f"indicators[{i}][value]"] = str(values.get(c, ""))
    if pdf:
        data["report_pdf__file"] = (io.BytesIO(PDF), "评价报告.pdf")
    return data


def submit(client, task_id, data, action="submit"):
    return post_form(client, f"/tasks/{task_id}", {**data, "action": action}, page=f"/tasks/{task_id}")


def test_the_task_page_shows_the_task_its_case_and_its_form(client, users, runtime):
    case_id, task_id = open_case(client, users, runtime)
    sign_in(client, "firm")
    r = client.get(f"/tasks/{task_id}")
    assert r.status_code == 200
    doc = page(r)
    assert doc.xpath("string(//h1)") == "申请并选择评价方式"
    facts = doc.xpath("string(//dl[@class='facts'])")
    assert f"#{case_id}" in facts and "市级绿色制造单位创建" in facts and "兰州市" in facts
    assert "按第十二条" in doc.xpath("string(//*[@id='instructions'])")  # the BPMN element's documentation
    assert "单位类型" in field(doc, "unit_type").text_content()
    assert "评价方式" in field(doc, "evaluation_mode").text_content()
    assert field(doc, "evaluation_mode").xpath(".//abbr[@class='req']")
    assert [o.text for o in field(doc, "unit_type").xpath(".//option")][1] == "绿色工厂"
    assert not field(doc, "agency_credit_code").xpath(".//abbr[@class='req']")  # only for third-party evaluation
    history = doc.xpath("//section[@id='history']//tbody/tr")
    assert len(history) == 1 and "发起" in history[0].text_content() and "兰州绿色制造有限公司" in history[0].text_content()
    assert "2026年03月02日 09:00" in history[0].text_content()


def test_wrong_and_missing_entries_come_back_beside_their_fields_with_everything_typed_kept(client, users, runtime):
    case_id, task_id = open_case(client, users, runtime)
    sign_in(client, "firm")
    typed = {**REPORT, "organisation_name": "兰", "summary": "我们的摘要 <不变>"}
    del typed["evaluation_mode"]
    r = submit(client, task_id, typed)
    assert r.status_code == 422
    doc = page(r)
    name = field(doc, "organisation_name")
    assert "至少填写 2 个字" in name.text_content() and name.xpath(".//input")[0].get("value") == "兰"
    assert "此项为必填项" in field(doc, "evaluation_mode").text_content()
    assert "至少填写" not in field(doc, "evaluation_mode").text_content()
    assert field(doc, "unit_type").xpath(".//option[@selected]")[0].get("value") == "green_factory"
    assert field(doc, "credit_code").xpath(".//input")[0].get("value") == CODE
    assert field(doc, "summary").xpath(".//textarea")[0].text == "我们的摘要 <不变>"
    assert ready_task(case_id) == task_id  # nothing was submitted


def test_a_check_the_engine_makes_is_shown_beside_its_field(client, users, runtime):
    case_id, task_id = open_case(client, users, runtime)
    sign_in(client, "firm")
    r = submit(client, task_id, {**REPORT, "evaluation_mode": "third_party",
                                 "credit_code": CODE[:-1] + "X"})  # wrong check character
    assert r.status_code == 422
    doc = page(r)
    assert "此项为必填项" in field(doc, "agency_credit_code").text_content()  # third-party evaluation names the agency
    assert "校验码不符" in field(doc, "credit_code").xpath("string(.//*[@class='field-error'])")
    assert field(doc, "credit_code").xpath(".//input")[0].get("value") == CODE[:-1] + "X"


def test_a_valid_submission_opens_the_users_next_step_then_the_inbox_and_the_case_moves_on(
        client, app, users, runtime):
    case_id, task_id = open_case(client, users, runtime)
    sign_in(client, "firm")
    r = submit(client, task_id, REPORT)
    evaluate = ready_task(case_id)  # the self-evaluation is the applicant's too: it opens at once
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/tasks/{evaluate}")
    assert "已提交" in client.get(r.headers["Location"]).get_data(as_text=True)
    r = submit(client, evaluate, on_the_page("green_factory", FACTORY_LEADING, pdf=True))
    assert r.status_code == 303 and r.headers["Location"].endswith("/inbox/"), r.get_data(as_text=True)
    assert case_row(case_id).data["evaluation"]["score"] == 100  # computed, not typed

    lanzhou = app.test_client()
    person("lz", "municipal", "620100", display_name="王科长")
    sign_in(lanzhou, "lz")
    review = ready_task(case_id)
    assert review != task_id and f'data-task="{review}"' in lanzhou.get("/inbox/?tab=role").get_data(as_text=True)
    doc = page(lanzhou.get(f"/tasks/{review}"))
    assert doc.xpath("string(//h1)") == "市级审核"
    assert "审核结论" in field(doc, "decision").text_content()
    history = [row.text_content() for row in doc.xpath("//section[@id='history']//tbody/tr")]
    assert "办理" in history[1] and "兰州绿色制造有限公司" in history[1] and "申请并选择评价方式" in history[1]
    assert "自评价：绿色工厂" in history[2]
    r = submit(lanzhou, review, {"decision": "approve", "opinion": "符合条件"})
    assert r.status_code == 303
    assert case_row(case_id).status == "completed"


def test_another_citys_official_gets_not_found(client, app, users, runtime):
    case_id, task_id = open_case(client, users, runtime)
    sign_in(client, "firm")
    assert submit(client, task_id, REPORT).status_code == 303
    runtime.complete(ready_task(case_id), evaluation("green_factory", case_id, FACTORY_LEADING),
                     actor_of(_user("firm")))
    review = ready_task(case_id)
    person("ts", "municipal", "620500")  # 天水
    tianshui = app.test_client()
    sign_in(tianshui, "ts")
    for path in (f"/tasks/{review}", f"/tasks/{task_id}", "/tasks/00000000-0000-0000-0000-000000000000",
                 "/tasks/not-a-task"):
        r = tianshui.get(path)
        assert r.status_code == 404
        assert "事项不存在" in r.get_data(as_text=True) and "兰州" not in r.get_data(as_text=True)
    token = csrf_token(tianshui, "/inbox/")
    r = tianshui.post(f"/tasks/{review}", data={"action": "submit", "decision": "approve", "opinion": "同意",
                                                  "csrf_token": token})
    assert r.status_code == 404 and ready_task(case_id) == review
    assert client.get(f"/tasks/{review}").status_code == 404  # nor the applicant: the review is not theirs


def test_a_draft_keeps_what_was_typed_even_if_wrong(client, app, users, runtime):
    case_id, task_id = open_case(client, users, runtime)
    sign_in(client, "firm")
    r = submit(client, task_id, {"unit_type": "green_park", "credit_code": "abc", "evaluation_mode": "third_party",
                                 "summary": "写了一半"}, action="draft")
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/tasks/{task_id}")
    doc = page(client.get(f"/tasks/{task_id}"))
    assert "草稿已保存" in doc.text_content() and doc.xpath("//*[contains(@class, 'draft-note')]")
    assert field(doc, "credit_code").xpath(".//input")[0].get("value") == "abc"
    assert field(doc, "unit_type").xpath(".//option[@selected]")[0].get("value") == "green_park"
    assert field(doc, "evaluation_mode").xpath(".//option[@selected]")[0].get("value") == "third_party"
    assert field(doc, "summary").xpath(".//textarea")[0].text == "写了一半"
    assert not doc.xpath("//*[@class='field-error']")  # a draft is not checked

    other = app.test_client()  # the same task for an administrator: no draft of theirs
    person("root", "admin")
    sign_in(other, "root")
    assert field(page(other.get(f"/tasks/{task_id}")), "credit_code").xpath(".//input")[0].get("value") == ""

    assert submit(client, task_id, REPORT).status_code == 303
    assert drafts() == 0


def test_a_post_without_the_csrf_token_is_refused(client, users, runtime):
    case_id, task_id = open_case(client, users, runtime)
    sign_in(client, "firm")
    r = client.post(f"/tasks/{task_id}", data={**REPORT, "action": "submit"})
    assert r.status_code == 400
    r = client.post(f"/tasks/{task_id}", data={**REPORT, "action": "draft"})
    assert r.status_code == 400
    assert ready_task(case_id) == task_id
    assert drafts() == 0


def test_completed_meanwhile_goes_back_to_the_inbox_with_a_message(client, users, runtime):
    case_id, task_id = open_case(client, users, runtime)
    sign_in(client, "firm")
    token = csrf_token(client, f"/tasks/{task_id}")  # the page is open ...
    inst = case_row(case_id)
    form = runtime.registry.load(inst.version_id).forms["evaluation_report.json"]
    # ... and the same task is done elsewhere (the API)
    runtime.complete(task_id, formrender.parse(form, REPORT)[0], actor_of(_user("firm")))
    r = client.post(f"/tasks/{task_id}", data={**REPORT, "action": "submit", "csrf_token": token})
    assert r.status_code == 303 and r.headers["Location"].endswith("/inbox/")
    assert "已由他人办理" in client.get("/inbox/").get_data(as_text=True)
    assert client.get(f"/tasks/{task_id}").status_code == 404


def test_a_task_without_a_form_takes_a_note_and_shows_when_it_is_late(client, users, runtime):
    assert upload(client, users("ana", "analyst"), MODELS / "time_limits.bpmn").status_code == 201
    lz = person("lz", "municipal", "620100")
    case = runtime.start("city_recommendation", {}, actor_of(lz))
    task_id = ready_task(case.id)
    sign_in(client, "lz")
    doc = page(client.get(f"/tasks/{task_id}"))
    assert "2026年03月31日 24:00" in doc.xpath("string(//*[@id='due'])") and "已逾期" not in doc.text_content()
    assert field(doc, "note").xpath(".//textarea")
    clock.current().advance(timedelta(days=40))
    doc = page(client.get(f"/tasks/{task_id}"))
    assert "已逾期" in doc.xpath("string(//*[@id='due'])")
    assert submit(client, task_id, {"note": "已报送"}).status_code == 303
    assert case_row(case.id).data["note"] == "已报送"


def _user(name):
    return db.session.scalar(db.select(User).where(User.name == name))
