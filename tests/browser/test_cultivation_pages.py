"""Cultivation in a real browser: a city nominates from its pool page, fills the
nomination form, sees the reasons a barred candidate came back with, and the
case page draws the cultivation diagram."""
from __future__ import annotations

from cultivation_helpers import code, deploy, official, people, record_fact


def test_a_city_nominates_a_candidate_and_sees_it_refused_for_a_barring_fact(page, live_server, runtime, screenshot):
    deploy(runtime)
    people()
    record_fact(runtime, official(), code(7), "environmental_accident", "2025-10-08", source="authority",
                name="兰州某化工有限公司")

    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "city-620100")
    page.fill("input[name=password]", "correct-horse")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/inbox/**")
    page.click("header.top >> text=培育库")
    page.click("#nominate")
    page.wait_for_url(f"{live_server}/tasks/**")
    page.select_option("select[name=unit_type]", "green_factory")
    page.fill("input[name=organisation_name]", "兰州某化工有限公司")
    page.fill("input[name=credit_code]", code(7))
    page.fill("input[name=year]", "2026")
    for field in ("independent_legal_person", "manufacturing", "meets_standard"):
        page.check(f"input[name={field}][value=true]")
    screenshot(page, "cultivation-nomination")
    page.click("button[value=submit]")

    # the nomination comes straight back to the city, which sees why, its entries filled in again
    reasons = page.locator("#return-reasons")
    reasons.wait_for()
    assert "第十八条第（二）项" in reasons.inner_text() and "环境污染事故" in reasons.inner_text()
    assert "2025-10-08" in reasons.inner_text()
    assert page.input_value("input[name=credit_code]") == code(7)
    screenshot(page, "cultivation-refused")

    case = page.inner_text("#case").split()[0].lstrip("#")
    page.goto(f"{live_server}/cases/{case}")
    page.wait_for_selector("#case-diagram[data-state=ready] .djs-container svg")
    element = 'g.djs-element[data-element-id="{}"]'.format
    assert "done" in page.get_attribute(element("Service_check_exclusions"), "class").split()
    assert "active" in page.get_attribute(element("Task_nominate_candidate"), "class").split()
    screenshot(page, "cultivation-case")
    assert page.errors == []
