"""The province searches cases in the browser: the filters go into the URL, a column header
sorts without losing them, and the back button returns to the search as it was."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from .session import sign_in
from .test_narrow_screens import cases  # noqa: F401 (fixture)


def test_the_province_searches_sorts_and_goes_back_to_its_search(page, live_server, cases, screenshot):  # noqa: F811
    sign_in(page, live_server, "prov")
    page.click("header.top >> text=办件查询")
    page.wait_for_url(f"{live_server}/cases/search")
    assert page.locator("#cases tbody tr").count() == 3
    page.fill("input[name=company]", "第1")
    page.click("#case-filters button[type=submit]")
    page.wait_for_url("**/cases/search?*")
    assert parse_qs(urlparse(page.url).query)["company"] == ["第1"]
    assert page.locator("#cases tbody tr").count() == 1
    page.fill("input[name=company]", "绿色精密")
    page.click("#case-filters button[type=submit]")
    page.wait_for_url("**company=%E7%BB%BF%E8%89%B2%E7%B2%BE%E5%AF%86*")
    page.click("#cases thead >> text=单位")
    page.wait_for_url("**sort=company*")
    companies = page.locator("#cases td.company").all_inner_texts()
    assert [c.splitlines()[0] for c in companies] == [f"兰州第{n}绿色精密制造股份有限公司" for n in range(3)]
    assert page.input_value("input[name=company]") == "绿色精密"  # the filter stays with the new order
    screenshot(page, "case-search")
    page.go_back()
    page.go_back()
    assert page.input_value("input[name=company]") == "第1"
    assert page.locator("#cases tbody tr").count() == 1
    assert page.errors == []
