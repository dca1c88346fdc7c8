"""Signing in to the web pages: hashed passwords, slowing down guessers without
locking anyone out, CSRF, cookies, redirects."""
from __future__ import annotations

from webclient import csrf_token, post_form, sign_in

from engine.db import db
from engine.green.models import User
from web.accounts.users import add_user


def person(name="lz", role="municipal", city="620100", password="correct-horse"):
    user, _ = add_user(name, role, city, password=password, display_name="王科长")
    return user


def test_sign_in_takes_the_user_to_their_inbox(client):
    person()
    r = sign_in(client, "lz")
    assert r.status_code == 302 and r.headers["Location"].endswith("/inbox/")
    page = client.get("/inbox/").get_data(as_text=True)
    assert "王科长" in page and "兰州市" in page
    stored = db.session.scalar(db.select(User.password_hash).where(User.name == "lz"))
    assert "correct-horse" not in stored and stored.startswith(("scrypt:", "pbkdf2:"))


def test_wrong_password_and_unknown_user_get_the_same_answer(client):
    person()
    wrong = sign_in(client, "lz", "nope-nope")
    unknown = sign_in(client, "nobody", "nope-nope")
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in wrong.get_data(as_text=True) and "用户名或密码错误" in unknown.get_data(as_text=True)
    assert 'value="lz"' in wrong.get_data(as_text=True)  # the name typed is kept


def from_address(client, address):
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_wrong_passwords_slow_down_that_name_from_that_address_only(app):
    from datetime import timedelta

    from engine import clock

    person()
    stranger = from_address(app.test_client(), "10.0.0.66")
    for _ in range(3):  # a few slips cost nothing
        assert sign_in(stranger, "lz", "guess-guess").status_code == 401
    slowed = sign_in(stranger, "lz", "guess-guess")
    assert slowed.status_code == 429 and slowed.headers["Retry-After"] == "30"
    assert "稍后再试" in slowed.get_data(as_text=True)
    assert sign_in(stranger, "lz").status_code == 429  # while it waits, even the right password
    official = from_address(app.test_client(), "10.0.0.5")
    assert sign_in(official, "lz").status_code == 302  # her own address: never locked out by him

    clock.current().advance(timedelta(seconds=31))
    assert sign_in(stranger, "lz", "guess-again").status_code == 401
    assert sign_in(stranger, "lz", "guess-again").headers["Retry-After"] == "60"  # each failure waits twice as long


def test_a_name_that_does_not_exist_is_slowed_exactly_like_one_that_does(app):
    person()
    answers = {}
    for name in ("lz", "nobody"):
        client = from_address(app.test_client(), "10.0.0.66")
        answers[name] = [(r.status_code, r.headers.get("Retry-After"), "用户名或密码错误" in r.get_data(as_text=True))
                         for r in (sign_in(client, name, "guess-guess") for _ in range(5))]
    assert answers["lz"] == answers["nobody"] == [(401, None, True)] * 3 + [(429, "30", False)] * 2


def test_signing_in_forgets_the_earlier_slips(app):
    person()
    client = from_address(app.test_client(), "10.0.0.5")
    for _ in range(2):
        sign_in(client, "lz", "typo-typo")
    assert sign_in(client, "lz").status_code == 302
    post_form(client, "/logout")
    for _ in range(3):
        assert sign_in(client, "lz", "typo-typo").status_code == 401  # three free slips again


def test_pages_need_a_signed_in_user(client):
    r = client.get("/inbox/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_a_form_without_its_csrf_token_is_refused(client):
    person()
    r = client.post("/login", data={"username": "lz", "password": "correct-horse"})
    assert r.status_code == 400
    sign_in(client, "lz")
    assert client.post("/logout").status_code == 400
    assert post_form(client, "/logout").status_code == 302
    assert client.get("/inbox/").status_code == 302  # signed out


def test_the_session_cookie_is_http_only_and_same_site(client):
    person()
    r = sign_in(client, "lz")
    cookie = r.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_no_open_redirect_after_sign_in(client):
    person()
    token = csrf_token(client)
    r = client.post("/login?next=//evil.example/x", data={"username": "lz", "password": "correct-horse",
                                                          "csrf_token": token})
    assert r.headers["Location"].endswith("/inbox/")


def test_english_on_request(client):
    person()
    sign_in(client, "lz")
    client.get("/lang/en")
    page = client.get("/inbox/").get_data(as_text=True)
    assert '<html lang="en"' in page


def test_many_failed_sign_ins_from_one_address_are_slowed_down(client):
    person()
    for n in range(20):
        assert sign_in(client, f"guess{n}", "nope-nope").status_code == 401
    refused = sign_in(client, "lz")  # a real user, right password, but this address is spraying
    assert refused.status_code == 429 and "稍后再试" in refused.get_data(as_text=True)
    from datetime import timedelta

    from engine import clock

    clock.current().advance(timedelta(minutes=16))
    assert sign_in(client, "lz").status_code == 302
