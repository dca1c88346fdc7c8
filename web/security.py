"""What a browser is told about this site on every response (安全响应头), and what
the app believes about the request when it sits behind a reverse proxy.

The pages load scripts and styles from this site only: no inline `<script>`,
`style=` or `on…=` handlers anywhere in the templates, so the Content-Security-Policy
needs no `'unsafe-inline'`. bpmn-js draws the case page's diagram through the DOM,
which a CSP allows. Only the analysts' editors need more, and only they get it
(`allow_editor_styles`): the bpmn.io libraries write a few fixed `style=` attributes
with innerHTML (allowed one by one by their hash), and CodeMirror a `<style>`
element (allowed by a nonce made for that response). The dashboard's charts get
`style=` attributes alone (`allow_chart_styles`): ECharts positions what it draws with them.

Behind nginx the WSGI server sees the proxy's address and plain http. werkzeug's
ProxyFix, switched on by `PROXY_FIX` (the number of proxies in front), makes the
client's address (rate limits, session protection), the https scheme (Secure
cookies, HSTS, CSRF's Referer check) and the host come from the proxy's
X-Forwarded-For, -Proto and -Host.
Off by default: without a proxy those headers come from the client and would be lies.
"""
from __future__ import annotations

import base64
import hashlib
import secrets

from flask import Flask, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    # bpmn-js's and dmn-js's icons and the diagram-js cursors are data: URLs in their CSS
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

# The `style=` attributes the modeler bundles (web/static/modeler/build/) write with innerHTML
# (min-dom's domify). When a library upgrade changes one, the browser tests name the blocked
# hash; find the string in the bundle and put it here.
EDITOR_INLINE_STYLES = [
    # bpmn-js-properties-panel: the panel and its header
    "height: 100%",
    "flex: none; height: auto",
    # bpmn-js: the align and distribute icons of the context pad and the popup menu
    "stroke:currentColor;stroke-width:100;stroke-linecap:round;",
    "fill:none;stroke:currentColor;stroke-width:100;",
    "fill:none;stroke:currentColor;stroke-width:100;stroke-linejoin:round;",
    "fill:currentColor;stroke:currentColor;stroke-width:100;opacity:.5;",
    # dmn-js: the bpmn.io logo its licence requires, and the notice a click on it opens
    "position: absolute; bottom: 15px; right: 15px; z-index: 100;",
    "vertical-align:middle",
    "z-index: 1001;position: fixed;top: 0;left: 0;right: 0;bottom: 0",
    "width: 100%;height: 100%;background: rgba(40,40,40,0.2)",
    "position: absolute;left: 50%;top: 40%;transform: translate(-50%);width: 260px;padding: 10px;"
    "background: white;box-shadow: 0 1px 4px rgba(0,0,0,0.3);font-family: Helvetica, Arial, sans-serif;"
    "font-size: 14px;display: flex;line-height: 1.3",
    "margin: 15px 20px 15px 10px; align-self: center;",
    # dmn-js's decision table: the invisible image of a dragged row or column
    "\n          visibility: hidden;\n          position: fixed;\n          top: -10000px\n      ",
]


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


EDITOR_STYLE_SOURCES = ["'unsafe-hashes'", *map(_hash, EDITOR_INLINE_STYLES)]

HEADERS = {
    # for browsers older than CSP's frame-ancestors
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Same-origin requests keep their Referer: Flask-WTF checks it on every https form post.
    # Other sites learn nothing of our paths (case and task numbers).
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}

# A year; subdomains are left to whoever runs the domain.
STRICT_TRANSPORT_SECURITY = "max-age=31536000"


def init_app(app: Flask) -> None:
    proxies = app.config["PROXY_FIX"]
    if proxies:
        # Only what deploy/nginx.conf sets, overwriting whatever the client sent. The app is served
        # at the root of its host, and a forwarded port would put ":443" into the Referer check.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.after_request(_headers)


def allow_editor_styles() -> str:
    """Let this response's page run the bpmn.io editors; returns the nonce for CodeMirror's
    `<style>` element (web/static/modeler/src/style-nonce.js)."""
    g.editor_style_nonce = secrets.token_urlsafe(18)
    return g.editor_style_nonce


def allow_chart_styles() -> None:
    """Let this response's page draw ECharts: its SVG and tooltips position and colour each
    element with a `style=` attribute of its own making (sizes, colours from our data's numbers;
    text it escapes), which no list of hashes can foresee. Only attributes: `<style>` elements
    and stylesheets stay this site's own."""
    g.chart_styles = True


def content_security_policy() -> str:
    policy = dict(POLICY)
    nonce = g.get("editor_style_nonce")
    if nonce:
        policy["style-src"] = [*policy["style-src"], f"'nonce-{nonce}'", *EDITOR_STYLE_SOURCES]
    if g.get("chart_styles"):
        policy["style-src-attr"] = ["'unsafe-inline'"]
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in policy.items())


def _headers(response):
    response.headers.setdefault("Content-Security-Policy", content_security_policy())
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    # Sent over plain http it would be ignored; and only an https request proves the site has https.
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    return response
