"""Browser tests: the app served for real on 127.0.0.1, driven in Debian's Chromium by Playwright.

The `app` fixture (tests/conftest.py) gives an app on an empty database, once
per database; `live_server` serves it from a thread. Chromium is the system's
(`/usr/bin/chromium`, installed by `make test`): Playwright's own browser
download is not used.

Every page is served with the app's Content-Security-Policy; a test whose pages
break it (a script, style or image the policy blocks) fails, whatever it asserts.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "test-output" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def live_server(app):
    """The app on a free port of 127.0.0.1; each request runs in its own app context, as in production."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    server.server_close()


# Each violation of the page's Content-Security-Policy, as the browser reports it to the page.
REPORT_CSP_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', (e) => {
  window.reportCspViolation(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'}`
    + ` (${e.sourceFile || document.location.href}:${e.lineNumber}:${e.columnNumber})`);
});
"""


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context (no cookies) whose page fails the test on any script error,
    and on any violation of the Content-Security-Policy."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN",
                                  timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    violations = []
    context.expose_binding("reportCspViolation", lambda source, text: violations.append(text))
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico")
            and page.errors.append(f"{msg.text} ({msg.location.get('url')})"))
    page.on("console", lambda msg: "Content Security Policy" in msg.text and violations.append(msg.text))
    yield page
    context.close()
    assert not violations, "the pages broke their Content-Security-Policy:\n" + "\n".join(violations)


@pytest.fixture
def screenshot(app):
    """Saves a full-page screenshot as test-output/screenshots/<name>-<database>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name):
        path = SCREENSHOTS / f"{name}-{app.config['DB_KIND']}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
