"""Ready for production: what a browser is told on every response, the client's
address and scheme behind a proxy, Secure cookies, request ids in responses and
log lines, /healthz."""
from __future__ import annotations

import io
import logging
import re
from datetime import timedelta

import pytest

from engine import clock, timers
from engine.db import db
from engine.models import RateHit
from web import create_app, request_id
from web.users import add_user
from webclient import sign_in

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def assert_secure_headers(headers, path, https=False):
    csp = headers.get("Content-Security-Policy", "")
    directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in csp.split(";"))
    assert directives.get("frame-ancestors") == "'none'", path
    assert directives.get("script-src") == "'self'", path
    assert directives.get("default-src") == "'self'", path
    assert "unsafe-inline" not in csp, path
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value, (path, name)
    assert ("Strict-Transport-Security" in headers) == https, path
    assert re.fullmatch(r"[A-Za-z0-9._:-]{8,128}", headers.get("X-Request-ID", "")), path


def other_app(app, **config):
    """A second app on the fixture's database, configured otherwise."""
    return create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "TESTING": True,
                       "CLOCK": "virtual", "UPLOAD_DIR": app.config["UPLOAD_DIR"], **config})


# --------------------------------------------------------------------------- headers
def test_pages_the_api_files_and_errors_all_carry_the_security_headers(client, users):
    add_user("firm", "applicant", password="correct-horse")
    sign_in(client, "firm")
    for path in ["/login", "/public/lists", "/inbox/", "/static/app.css", "/no/such/page", "/api/v1/openapi.json",
                 "/api/v1/tasks", "/healthz"]:
        r = client.get(path)
        assert_secure_headers(r.headers, path)


def test_hsts_is_sent_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    r = client.get("/login", base_url="https://green.example.cn")
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_only_the_analysts_editor_page_may_use_the_editors_inline_styles(client, runtime):
    from creation import deploy

    version, _ = deploy(runtime)
    add_user("ana", "analyst", password="correct-horse")
    sign_in(client, "ana")
    editor = client.get(f"/models/versions/{version.id}/edit/provincial_selection.bpmn")
    nonce = re.search(r'&#34;styleNonce&#34;: &#34;([^&]+)&#34;', editor.get_data(as_text=True)).group(1)
    style_src = re.search(r"style-src ([^;]+)", editor.headers["Content-Security-Policy"]).group(1)
    assert f"'nonce-{nonce}'" in style_src and "'unsafe-hashes'" in style_src and "unsafe-inline" not in style_src
    again = client.get(f"/models/versions/{version.id}/edit/provincial_selection.bpmn")
    assert nonce not in again.headers["Content-Security-Policy"]  # a nonce serves one response only
    for path in ["/models/", "/inbox/"]:
        assert re.search(r"style-src ([^;]+)", client.get(path).headers["Content-Security-Policy"]).group(1) == "'self'"


# --------------------------------------------------------------------------- behind a proxy
FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "green.example.cn"}


def failed_sign_in_counted_for(an_app) -> str:
    client = an_app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "nobody", "password": "wrong", "csrf_token": token},
                headers={**FORWARDED, "Referer": "https://green.example.cn/login"})
    with an_app.app_context():
        return db.session.scalar(db.select(RateHit.key).order_by(RateHit.id.desc()).limit(1))


def test_behind_one_proxy_the_client_address_and_https_come_from_its_headers(app):
    proxied = other_app(app, PROXY_FIX=1)
    assert failed_sign_in_counted_for(proxied) == "sign-in:203.0.113.7"
    r = proxied.test_client().get("/login", headers=FORWARDED)
    assert r.headers["Strict-Transport-Security"]


def test_without_proxy_fix_forwarded_headers_are_not_believed(app):
    assert failed_sign_in_counted_for(app) == "sign-in:127.0.0.1"
    assert "Strict-Transport-Security" not in app.test_client().get("/login", headers=FORWARDED).headers


# --------------------------------------------------------------------------- cookies
@pytest.fixture
def production_env(monkeypatch):
    """The environment of a production process: nothing says development."""
    for name in ("GREEN_LADDER_ENV", "SESSION_COOKIE_SECURE", "FLASK_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    # an app made outside tests sets up logging to stderr for the process: not inside pytest
    monkeypatch.setattr(request_id, "configure_logging", lambda level: None)
    return monkeypatch


def session_cookie_after_sign_in(an_app):
    client = an_app.test_client()
    with an_app.app_context():
        add_user("firm", "applicant", password="correct-horse")
    r = sign_in(client, "firm")
    assert r.status_code == 302
    [cookie] = [c for c in r.headers.getlist("Set-Cookie") if c.startswith("session=")]
    return client, cookie


def test_outside_development_the_session_cookie_is_https_only(app, production_env):
    production = other_app(app, TESTING=False)
    _, cookie = session_cookie_after_sign_in(production)
    assert "; Secure" in cookie and "; HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_make_run_on_plain_http_still_lets_a_newcomer_sign_in(app, production_env):
    production_env.setenv("GREEN_LADDER_ENV", "development")  # as the Makefile's run target sets it
    development = other_app(app, TESTING=False)
    client, cookie = session_cookie_after_sign_in(development)
    assert "Secure" not in cookie
    assert client.get("/inbox/").status_code == 200


# --------------------------------------------------------------------------- request ids
def test_each_response_names_its_request_and_a_safe_id_from_the_proxy_is_kept(client):
    generated = client.get("/login").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert client.get("/login").headers["X-Request-ID"] != generated
    given = "4f6c1e0a9b8d7c6e5f4a3b2c1d0e9f8a"  # nginx's $request_id
    assert client.get("/login", headers={"X-Request-ID": given}).headers["X-Request-ID"] == given
    for forged in ["<script>alert(1)</script>", "short", "x" * 200, "id with spaces 123", "a;b=c|d\\e"]:
        echoed = client.get("/login", headers={"X-Request-ID": forged}).headers["X-Request-ID"]
        assert echoed != forged and re.fullmatch(r"[0-9a-f]{32}", echoed)


def test_every_log_line_of_a_request_carries_its_id(app):
    stream = io.StringIO()
    handler = request_id.handler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    app.logger.setLevel(logging.INFO)

    @app.get("/trouble")
    def trouble():
        logging.getLogger("web.somewhere").warning("about to fail")
        raise RuntimeError("it failed")

    try:
        r = app.test_client().get("/trouble", headers={"X-Request-ID": "req-0001-trouble"})
        logging.getLogger("engine.timers").warning("outside any request")
    finally:
        root.removeHandler(handler)
    assert r.status_code == 500 and r.headers["X-Request-ID"] == "req-0001-trouble"
    lines = [line for line in stream.getvalue().splitlines() if " [" in line]
    assert any("[req-0001-trouble] web.somewhere: about to fail" in line for line in lines)
    assert any("[req-0001-trouble] web.api: unexpected error on /trouble" in line for line in lines)
    assert any("[-] engine.timers: outside any request" in line for line in lines)


# --------------------------------------------------------------------------- /healthz
def test_healthz_fails_until_a_scheduler_has_swept(client):
    r = client.get("/healthz")
    assert r.status_code == 503
    assert r.json["database"] == {"ok": True}
    assert r.json["scheduler"]["ok"] is False and r.json["scheduler"]["last_sweep"] is None
    assert "Set-Cookie" not in r.headers


def test_a_sweep_makes_healthz_healthy_and_a_stalled_scheduler_shows(app, client, monkeypatch):
    monkeypatch.setattr(timers, "_app", app)
    monkeypatch.setitem(app.extensions, "green_ladder.timers", type("T", (), {"reconcile": lambda self: 0})())
    timers.sweep()
    r = client.get("/healthz")
    assert r.status_code == 200, r.json
    assert r.json["status"] == "ok" and r.json["scheduler"]["seconds_since_sweep"] == 0

    clock.current().advance(timedelta(seconds=app.config["SCHEDULER_STALE_SECONDS"] + 1))
    r = client.get("/healthz")
    assert r.status_code == 503 and r.json["status"] == "failing"
    assert r.json["scheduler"]["seconds_since_sweep"] == app.config["SCHEDULER_STALE_SECONDS"] + 1
    assert "not swept" in r.json["scheduler"]["error"]

    timers.sweep()  # it came back
    assert client.get("/healthz").status_code == 200


def test_healthz_says_the_database_is_unreachable_without_saying_where_it_is(tmp_path, production_env):
    missing = tmp_path / "no-such-folder" / "green.sqlite3"
    broken = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{missing}", "TESTING": True})
    r = broken.test_client().get("/healthz")
    assert r.status_code == 503
    assert r.json["database"]["ok"] is False and r.json["scheduler"]["ok"] is False
    assert "no-such-folder" not in r.get_data(as_text=True)
