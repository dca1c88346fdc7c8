"""Ready for production: what a browser is told on every response, the client's
address and scheme behind a proxy, Secure cookies, request ids in responses and
log lines, /healthz — and, last, the whole set-up of deploy/ run as an operator
would: gunicorn with four workers and the timer scheduler on a PostgreSQL
database of its own, worked through the API and the pages."""
from __future__ import annotations

import http.client
import io
import json
import logging
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from conftest import ROOT
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from webclient import sign_in

from engine import clock, timers
from engine.db import db
from web import create_app, request_id
from web.accounts.models import RateHit
from web.accounts.users import add_user

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


INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:", re.I)


def test_no_template_has_an_inline_script_style_or_handler_the_policy_would_block():
    """The browser tests see the pages they visit; this sees every template."""
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
             for path in sorted((ROOT / "web").glob("**/templates/**/*.html"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if INLINE.search(line)]
    assert found == []


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
    """The address a failed sign-in was counted against (the per-address limit's key)."""
    client = an_app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "nobody", "password": "wrong", "csrf_token": token},
                headers={**FORWARDED, "Referer": "https://green.example.cn/login"})
    with an_app.app_context():
        return db.session.scalar(db.select(RateHit.key).where(RateHit.key.like("sign-in:%")))


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


# --------------------------------------------------------------------------- gunicorn, as deployed
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def operator_database():
    """A PostgreSQL database of its own, beside the suite's (whose tables the `app` fixture empties)."""
    if not os.environ.get("TEST_POSTGRES_URL"):
        pytest.fail("TEST_POSTGRES_URL is not set: the production test runs gunicorn on PostgreSQL "
                    "(`make test` sets it to the local server)")
    suite = make_url(os.environ["TEST_POSTGRES_URL"]).set(drivername="postgresql+psycopg")
    name = f"{suite.database}_gunicorn"
    admin = create_engine(suite.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))  # a crashed run's
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield suite.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Operator:
    """Runs the commands of README's Production section, in this environment."""

    def __init__(self, env, logs):
        self.env, self.logs, self.running = env, logs, []

    def flask(self, *args, input=None) -> str:
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "web", *args], cwd=ROOT, env=self.env,
                              input=input, capture_output=True, text=True, timeout=300,
                              start_new_session=True)  # no terminal: the password prompt reads stdin
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self, name, *command):
        out = open(self.logs / f"{name}.log", "w")
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.running.append((process, out))
        return process

    def stop(self, process) -> int:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise AssertionError(f"{process.args} did not stop on SIGTERM") from None

    def stop_all(self):
        for process, out in self.running:
            if process.poll() is None:
                self.stop(process)
            out.close()

    def log(self, name) -> str:
        return (self.logs / f"{name}.log").read_text()


HOST = "green.example.gov.cn"


class Browser:
    """A browser behind nginx: every request arrives over https from 203.0.113.7, with cookies
    kept by hand (an http client would, rightly, not send Secure cookies over plain http)."""

    def __init__(self, port):
        self.port, self.cookies = port, {}

    def request(self, method, path, body=None, headers=None, https=True):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        sent = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Host": HOST, **(headers or {})}
        if https:
            sent["X-Forwarded-Proto"] = "https"
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        response.text = response.read().decode()
        conn.close()
        for cookie in response.headers.get_all("Set-Cookie") or []:
            assert "; Secure" in cookie and "; HttpOnly" in cookie, cookie
            name, _, value = cookie.split(";", 1)[0].partition("=")
            self.cookies[name] = value
        return response

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)


def children(pid) -> list[int]:
    found = []
    for stat in os.listdir("/proc"):
        if stat.isdigit():
            try:
                with open(f"/proc/{stat}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(stat))
    return found


def wait_for(predicate, what, seconds=90):
    """Polls until `predicate()` is true (a server coming up, a state it reaches)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (ConnectionError, http.client.HTTPException, OSError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what} after {seconds}s")


def test_gunicorn_with_four_workers_and_the_scheduler_serve_a_case_as_deployed(operator_database, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("GREEN_LADDER_ENV", "SESSION_COOKIE_SECURE", "FLASK_DEBUG", "CLOCK", "SCHEDULER")}
    env.update({
        "PYTHONPATH": str(ROOT), "DATABASE_URL": operator_database.render_as_string(hide_password=False),
        "SECRET_KEY": secrets.token_hex(32), "UPLOAD_DIR": str(tmp_path / "uploads"),
        "PROXY_FIX": "1", "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "4",
        # a sweep a second, and a stall visible after five, so the test need not wait minutes
        "TIMER_SWEEP_SECONDS": "1", "SCHEDULER_STALE_SECONDS": "5",
    })
    operator = Operator(env, tmp_path)
    browser = Browser(port)
    try:
        operator.flask("db", "upgrade")
        assert "deployed version" in operator.flask("models", "deploy", "processes", "--note", "first release")
        token = operator.flask("users", "add", "firm", "--role", "applicant", "--display-name", "兰州绿源制造有限公司",
                               "--password", "--token", input="s3cret-horse\ns3cret-horse\n").strip().splitlines()[-1]
        api = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        web = operator.start("gunicorn", sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py")
        wait_for(lambda: browser.get("/healthz").status in (200, 503), "gunicorn to answer")
        health = browser.get("/healthz")
        assert health.status == 503 and '"last_sweep":null' in health.text.replace(" ", "")  # no scheduler yet
        workers = children(web.pid)
        assert len(workers) == 4

        scheduler = operator.start("timers", sys.executable, "-m", "flask", "--app", "web", "timers", "run")
        wait_for(lambda: browser.get("/healthz").status == 200, "/healthz to see the scheduler's sweeps")

        # ---- four officials' clicks on the same task at once: one is taken, three are told
        started = browser.request("POST", "/api/v1/instances", headers=api,
                                  body='{"process": "municipal_creation", "data": {"jurisdiction": "620100"}}')
        assert started.status == 201, started.text
        case, [task] = json.loads(started.text)["id"], json.loads(started.text)["tasks"]
        application = json.dumps({"data": {"organisation_name": "兰州绿源制造有限公司", "unit_type": "green_factory",
                                           "credit_code": "91620100MA74XJ2P0P", "evaluation_mode": "self"}})
        answers = []
        database = create_engine(operator_database)
        with database.connect() as holder, \
                database.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
            # Hold the case as a step would, so every request is inside the engine together,
            # whichever worker took it; then let them go.
            held = holder.begin()
            holder.execute(text("SELECT id FROM process_instance WHERE id = :id FOR UPDATE"), {"id": case})
            threads = [threading.Thread(target=lambda: answers.append(browser.request(
                "POST", f"/api/v1/tasks/{task['id']}/complete", body=application, headers=api))) for _ in range(4)]
            for t in threads:
                t.start()
            wait_for(lambda: watcher.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )).scalar() == 4, "all four completions to wait on the case", seconds=60)
            held.rollback()
        for t in threads:
            t.join(60)
        database.dispose()
        assert sorted(a.status for a in answers) == [200, 409, 409, 409]
        assert all("已办结" in json.loads(a.text)["error"] for a in answers if a.status == 409)
        [evaluation] = json.loads(browser.get(f"/api/v1/tasks?instance={case}", headers=api).text)["tasks"]
        assert evaluation["element"] != task["element"]  # the case moved on, once

        # ---- the pages, signed in through the form
        login = browser.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
        signed_in = browser.request(
            "POST", "/login", body=urlencode({"username": "firm", "password": "s3cret-horse", "csrf_token": csrf}),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Referer": f"https://{HOST}/login",
                     "X-Request-ID": "walk-0001-sign-in"})
        assert signed_in.status == 302 and signed_in.headers["Location"].endswith("/inbox/"), signed_in.text
        assert signed_in.headers["X-Request-ID"] == "walk-0001-sign-in"
        inbox = browser.get("/inbox/")
        assert inbox.status == 200 and f"#{case}" in inbox.text and evaluation["name"] in inbox.text
        task_page = browser.get(f"/tasks/{evaluation['id']}")
        assert task_page.status == 200 and evaluation["name"] in task_page.text
        pages = {"/login": login, "POST /login": signed_in, "/inbox/": inbox, "/tasks/...": task_page}
        for path in [f"/cases/{case}", f"/cases/{case}/markers.json", "/static/case_diagram.js",
                     "/public/lists", "/public/revocations", "/public/notices/", "/public/agencies", "/healthz"]:
            pages[path] = browser.get(path)
            assert pages[path].status == 200, (path, pages[path].status, pages[path].text[:300])
        for path, r in pages.items():
            assert_secure_headers(r.headers, path, https=True)
        assert_secure_headers(browser.get("/public/lists", https=False).headers, "plain http", https=False)

        # ---- the scheduler stops: /healthz shows it within the stale time
        assert operator.stop(scheduler) == 0 and "scheduler stopped" in operator.log("timers")
        wait_for(lambda: browser.get("/healthz").status == 503, "/healthz to notice the scheduler stopped", 30)
        assert "not swept" in browser.get("/healthz").text

        assert operator.stop(web) == 0
        for pid in workers:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        access = operator.log("gunicorn")
        assert re.search(r'walk-0001-sign-in .*"POST /login HTTP/1.1" 302', access), access[-2000:]
    finally:
        operator.stop_all()
