"""The case file (卷宗) in a real browser: the city reviews with it beside the form, and the
applicant reads on its case page why its self-evaluation failed."""
from __future__ import annotations

from factories import user
from test_case_file import applied

from .session import sign_in


def test_the_city_reviews_with_the_file_beside_the_form_and_the_applicant_reads_why_it_failed(
        page, live_server, runtime, screenshot):
    case = applied(runtime)
    user("lz", "municipal", "620100")

    sign_in(page, live_server, "lz")
    page.click("#tasks tbody tr a:has-text('市级审核')")
    page.wait_for_url(f"{live_server}/tasks/**")
    organisation = page.inner_text("#file-organisation")
    assert "兰州绿源制造有限公司" in organisation and "91620100MA74XJ2P0P" in organisation
    assert page.locator("#file-evaluation .score-table tbody tr").count() == 10
    assert "低于合格分 80" in page.inner_text("#file-evaluation .verdict")
    file_box, form_box = page.locator("#case-file").bounding_box(), page.locator("#task-form").bounding_box()
    assert form_box["x"] > file_box["x"] + file_box["width"] - 1  # beside it, on a wide screen
    screenshot(page, "task-case-file")
    page.select_option("select[name=decision]", "return")
    page.fill("textarea[name=opinion]", "得分未达合格分，请提高可再生能源占比后重新申报。")
    page.click("button[value=submit]")
    page.wait_for_url(f"{live_server}/inbox/**")
    page.click("header.top form button")  # sign out

    sign_in(page, live_server, "firm")
    page.goto(f"{live_server}/cases/{case.id}")
    assert "低于合格分 80" in page.inner_text("#file-evaluation .verdict")
    assert "请提高可再生能源占比" in page.inner_text("#file-opinions")
    assert page.locator("#raw-data").count() == 0
    screenshot(page, "case-file-applicant")
    assert page.errors == []
