"""Signing in on the login page, as a person does, for the browser tests."""
from __future__ import annotations

from factories import PASSWORD


def sign_in(page, live_server, name, password=PASSWORD):
    """Sign `name` in on `page` (whoever was signed in there before is signed out) and wait for the inbox."""
    page.context.clear_cookies()
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/inbox/**")
