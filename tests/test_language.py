"""One language at a time (issue 17.3): Chinese first for everyone, English for whoever chose it,
the choice kept on the account, and model texts (diagrams, forms, decision tables, validation
and engine messages) shown in the page's one language."""
from __future__ import annotations

from webclient import csrf_token, sign_in

from web.accounts.users import add_user

ENGLISH_BROWSER = {"Accept-Language": "en-GB,en;q=0.9"}


def official(name="lz"):
    add_user(name, "municipal", "620100", password="correct-horse")


def test_an_english_browser_still_gets_chinese_first(client):
    official()
    page = client.get("/login", headers=ENGLISH_BROWSER).get_data(as_text=True)
    assert '<html lang="zh-CN"' in page
    sign_in(client, "lz")
    assert '<html lang="zh-CN"' in client.get("/inbox/", headers=ENGLISH_BROWSER).get_data(as_text=True)


def test_english_chosen_on_the_login_page_survives_signing_in(client):
    official()
    client.get("/lang/en?next=/login")
    assert '<html lang="en"' in client.get("/login").get_data(as_text=True)
    sign_in(client, "lz")
    assert '<html lang="en"' in client.get("/inbox/").get_data(as_text=True)


def test_the_choice_is_remembered_on_the_account_in_another_browser(app):
    official()
    first, second = app.test_client(), app.test_client()
    sign_in(first, "lz")
    first.get("/lang/en")
    sign_in(second, "lz")  # another browser, nothing chosen there
    assert '<html lang="en"' in second.get("/inbox/").get_data(as_text=True)

    second.get("/lang/zh_CN")  # and back, again for every later sign-in
    third = app.test_client()
    sign_in(third, "lz")
    assert '<html lang="zh-CN"' in third.get("/inbox/").get_data(as_text=True)


def test_signing_out_keeps_nobody_elses_choice(app):
    official("lz")
    official("tianshui")
    browser = app.test_client()
    sign_in(browser, "lz")
    browser.get("/lang/en")
    browser.post("/logout", data={"csrf_token": csrf_token(browser, "/inbox/")})
    sign_in(browser, "tianshui")  # a colleague at the same desk who never chose English
    assert '<html lang="zh-CN"' in browser.get("/inbox/").get_data(as_text=True)
