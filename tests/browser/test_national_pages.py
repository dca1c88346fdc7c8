"""The national round and the award ledger in a real browser: the round's diagram drawn
with its parallel consultation marked, a department's item-by-item opinion form, the ledger."""
from __future__ import annotations

from national_helpers import PROVINCE, deploy, list_unit, ready, task_data

from web.accounts.users import add_user

from .session import sign_in

PASSWORD = "correct-horse"


def test_a_department_gives_its_opinions_and_the_province_follows_the_round(page, live_server, runtime, screenshot):
    deploy(runtime)
    list_unit(runtime, 1, "兰州绿源制造有限公司", "green_factory", city="620100")
    list_unit(runtime, 2, "天水经济技术开发区", "green_park", city="620500")
    add_user("eco", "ecology", None, password=PASSWORD)
    add_user("prov", "provincial", None, password=PASSWORD)
    case = runtime.start("national_recommendation", {}, PROVINCE)
    [shortlist] = ready(case.id)
    runtime.complete(shortlist.id, {"shortlist": [
        {**{k: e[k] for k in ("designation_id", "organisation_name", "unit_type", "jurisdiction")}, "consult": True}
        for e in task_data(runtime, shortlist)["eligible"]]}, PROVINCE)
    [task] = ready(case.id, "Task_consult_ecology")

    sign_in(page, live_server, "eco")
    page.goto(f"{live_server}/tasks/{task.id}")
    table = page.locator("fieldset#f-ecology_opinions")
    assert "兰州绿源制造有限公司" in table.inner_text() and "绿色工业园区" in table.inner_text()
    page.select_option("select[name='ecology_opinions[0][opinion]']", "no_objection")
    page.select_option("select[name='ecology_opinions[1][opinion]']", "objection")
    page.click("button[value=submit]")
    assert "此项为必填项" in page.inner_text("fieldset#f-ecology_opinions")  # the objection's reason
    page.fill("textarea[name='ecology_opinions[1][reason]'], input[name='ecology_opinions[1][reason]']",
              "园区污水处理厂2025年超标排放，尚在整改")
    screenshot(page, "national-consultation")
    page.click("button[value=submit]")
    page.wait_for_url(f"{live_server}/inbox/**")

    page.click("header.top form button")  # sign out; the province follows the round
    sign_in(page, live_server, "prov")
    page.goto(f"{live_server}/cases/{case.id}")
    page.wait_for_selector("#case-diagram[data-state=ready] .djs-container svg")
    element = 'g.djs-element[data-element-id="{}"]'.format
    assert "done" in page.get_attribute(element("Task_consult_ecology"), "class").split()
    assert "active" in page.get_attribute(element("Task_consult_market"), "class").split()
    assert "done" in page.get_attribute(element("Task_shortlist"), "class").split()
    screenshot(page, "national-round")

    page.goto(f"{live_server}/awards/")
    assert "1,000,000" in page.inner_text("#award-grand-total")
    screenshot(page, "award-ledger")
    assert [e for e in page.errors if "422 (UNPROCESSABLE ENTITY)" not in e] == []  # the refusal was meant
