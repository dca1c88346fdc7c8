"""The notification centre in a real browser: a hand-over reaches the colleague's header, is
read there, and the colleague chooses to be told by e-mail."""
from __future__ import annotations

from test_web_cases import PASSWORD, case_in_review

from web.accounts.users import add_user

from .session import sign_in


def sign_out(page):
    page.click("header.top button:has-text('退出')")


def test_a_task_handed_over_shows_in_the_colleagues_header_and_centre(page, live_server, runtime, screenshot):
    case = case_in_review(runtime)
    add_user("lz2", "municipal", "620100", password=PASSWORD, display_name="李干事")

    sign_in(page, live_server, "lz")
    page.locator("#tasks tbody tr", has_text=f"#{case}").locator("button", has_text="认领").click()
    page.wait_for_url("**tab=mine**")
    row = page.locator("#tasks tbody tr", has_text=f"#{case}")
    row.locator("select[name=to]").select_option("lz2")
    row.locator("button", has_text="转交").click()
    page.wait_for_selector(".flash")
    assert page.locator("#unread-count").count() == 0  # the one who handed it over is not told
    sign_out(page)

    sign_in(page, live_server, "lz2")
    assert page.inner_text("#unread-count") == "1"
    page.click("#notifications-link")
    told = page.locator("#notifications tbody tr.unread")
    assert "转办" in told.inner_text() and f"#{case}" in told.inner_text() and "仅站内" in told.inner_text()
    screenshot(page, "notification-centre")
    told.locator("button", has_text="标为已读").click()
    page.wait_for_selector("#notifications tbody tr.read")
    assert page.locator("#unread-count").count() == 0

    page.click("text=通知方式")
    page.fill("input[name=email]", "li@lanzhou")
    page.click("button:has-text('保存')")
    assert "有效的电子邮箱" in page.inner_text("#error-email")
    assert page.input_value("input[name=email]") == "li@lanzhou"
    assert page.is_disabled("input[value=email]")  # this server has no mail server set up
    screenshot(page, "notification-settings")
    assert [e for e in page.errors if "status of 422" not in e] == []  # the refused form answers 422
