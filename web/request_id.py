"""A request id (请求编号) on every request, its response and every log line it causes.

An official reporting "it failed at 10:42" can be matched to the lines of that one
request among several web workers, and to nginx's access log: nginx sends its own
`$request_id` as X-Request-ID, gunicorn's access log prints the response's header.
An id from outside is taken only when it is a plain token: it is written into log
lines and a response header, so nothing that could forge a line or a header gets in.
"""
from __future__ import annotations

import logging
import re
import sys
import uuid

from flask import Flask, g, has_request_context, request

HEADER = "X-Request-ID"
SAFE = re.compile(r"[A-Za-z0-9._:-]{8,128}")
FORMAT = "%(asctime)s %(levelname)s [%(process)d] [%(request_id)s] %(name)s: %(message)s"
# SpiffWorkflow logs every task state change at INFO: a flood that would hide the lines an
# operator needs.
CHATTY = ("spiff",)


def init_app(app: Flask) -> None:
    app.before_request(_take_id)
    app.after_request(_echo_id)
    if not app.testing:
        configure_logging(app.config["LOG_LEVEL"])


def current() -> str:
    return g.get("request_id", "-") if has_request_context() else "-"


def _take_id():
    given = request.headers.get(HEADER, "")
    g.request_id = given if SAFE.fullmatch(given) else uuid.uuid4().hex


def _echo_id(response):
    # a request that failed before the request hooks ran (opening its session, say) still gets one
    if "request_id" not in g:
        _take_id()
    response.headers[HEADER] = g.request_id
    return response


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on each record (`-` outside a request: the scheduler, the CLI)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current()
        return True


def handler(stream=None) -> logging.Handler:
    out = logging.StreamHandler(stream or sys.stderr)
    out.setFormatter(logging.Formatter(FORMAT))
    out.addFilter(RequestIdFilter())
    out._green_ladder = True
    return out


def configure_logging(level: str) -> None:
    """One handler on the root logger, to stderr (systemd's journal, gunicorn's error log), once
    per process however many apps it creates."""
    root = logging.getLogger()
    if any(getattr(h, "_green_ladder", False) for h in root.handlers):
        return
    root.addHandler(handler())
    root.setLevel(level.upper())
    for name in CHATTY:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
