"""Signing in through the real login form, CSRF token and all."""
from __future__ import annotations

import re

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client, path="/login") -> str:
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def sign_in(client, name, password="correct-horse", follow=False):
    token = csrf_token(client)
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token},
                       follow_redirects=follow)


def post_form(client, path, data=None, page="/inbox/"):
    """POST as a browser would: with the CSRF token of a page the user has open."""
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, page)})
