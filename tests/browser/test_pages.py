"""The pages in a real browser: sign in, the inbox, the case page with its diagram, English."""
from __future__ import annotations

from test_web_cases import PASSWORD, case_in_review


def test_an_official_signs_in_and_follows_a_case(page, live_server, runtime, screenshot):
    case = case_in_review(runtime)

    page.goto(f"{live_server}/login")
    screenshot(page, "login")
    page.fill("input[name=username]", "lz")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/inbox/**")

    row = page.locator("#tasks tbody tr", has_text=f"#{case}")
    assert "市级审核" in row.inner_text()
    screenshot(page, "inbox")

    page.goto(f"{live_server}/cases/{case}")
    page.wait_for_selector("#case-diagram[data-state=ready] .djs-container svg")
    element = 'g.djs-element[data-element-id="{}"]'.format
    assert "done" in page.get_attribute(element("Task_submit_report"), "class").split()
    assert "active" in page.get_attribute(element("Task_municipal_review"), "class").split()
    assert not {"done", "active"} & set(page.get_attribute(element("End_listed"), "class").split())
    assert "兰州市" in page.inner_text(".case-facts")
    assert page.locator("#timeline tbody tr").count() == 2
    screenshot(page, "case")

    page.click("header.top >> text=English")
    page.wait_for_selector("html[lang=en]")
    page.wait_for_selector("#case-diagram[data-state=ready]")
    assert page.url.endswith(f"/cases/{case}")
    facts = page.inner_text(".case-facts")
    assert "Lanzhou" in facts and "2026-03-02 09:00" in facts and "兰州市" not in facts
    assert page.locator("header.top a", has_text="中文").count() == 1
    screenshot(page, "case-en")
    assert page.errors == []


def test_another_city_sees_no_case(page, live_server, runtime):
    case = case_in_review(runtime)
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "ts")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/inbox/**")
    assert page.goto(f"{live_server}/cases/{case}").status == 404
    assert page.goto(f"{live_server}/cases/{case}/markers.json").status == 404
