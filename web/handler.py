"""The one owner of a request's writes and of how the engine's refusals are answered
(Indico's `RH.process()` is the model).

A view that writes rows itself (a rate-limit hit, an objection, an upload, a
notification read) is decorated with `writes`: its transaction begins holding
SQLite's write lock, commits when the view returns an answer and rolls back when
anything is raised. Views and the checks they call never commit on their own. A
view that only calls runtime operations needs none of this: each step is its own
transaction (`Runtime._step`, with its revision check), and a `writes` view that
calls one lets the step commit what came before it, as the step always does.

Whatever the engine refuses (`engine.errors`) is answered here, once: the API gets a
JSON problem body with the error's status (and the fields, for invalid data); a
page gets the status as its error page: 400, 403, 404 (a missing or undisclosed
case), 409 (a conflict), 422, and 503 when another write held the database past the wait
(`engine.errors.Busy`, with Retry-After). A page that shows a refusal itself (its form again,
with the message and the entries kept) catches that one error where it is raised,
or raises `Refused` with its answer when what it wrote so far must not stay.
"""
from __future__ import annotations

import logging
from functools import wraps

from flask import current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, default_exceptions

from engine.db import busy, db, writing
from engine.errors import Busy, EngineError, FormInvalid
from engine.model_registry import ModelInvalid

from .model_texts import model_text

# the name operators' log alerts match, from when the API's module logged these
log = logging.getLogger("web.api")


class Refused(Exception):
    """A page's own answer to a refusal found after it wrote something: the write is rolled back."""

    def __init__(self, response):
        super().__init__("refused")
        self.response = response


def writes(view):
    """The view's writes are one transaction: committed with its answer, rolled back on any error.
    A GET or HEAD writes nothing, so it reads without taking the write lock."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if request.method in ("GET", "HEAD"):
            return view(*args, **kwargs)
        try:
            with writing():
                return view(*args, **kwargs)
        except Refused as refused:
            return refused.response

    return wrapper


def operation(function):
    """An operation a test or the CLI calls without HTTP (adding a user, ending sessions): its
    writes are one transaction of its own, or the caller's when a `writes` view calls it."""

    @wraps(function)
    def wrapper(*args, **kwargs):
        with writing():
            return function(*args, **kwargs)

    return wrapper


def problem(status: int, message: str, **extra):
    """An API answer that is not a success: {"error": message, ...} with its status."""
    resp = jsonify({"error": message, **extra})
    resp.status_code = status
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="green-ladder"'
    return resp


def _in_api() -> bool:
    return request.path.startswith("/api/")


def _engine_error(exc: EngineError):
    if isinstance(exc, Busy):
        return _busy(exc)
    if _in_api():
        if isinstance(exc, FormInvalid):
            return problem(422, model_text(exc.message),
                           fields={k: [model_text(m) for m in v] for k, v in exc.fields.items()})
        return problem(exc.status, model_text(exc.message))
    # as if the view had aborted with the status: a blueprint's own error page (the task page's 404) still shows
    return current_app.handle_http_exception(default_exceptions[exc.status]())


def _busy(exc: Busy):
    """503 with Retry-After, saying that nothing was saved: the same request may be sent again."""
    db.session.rollback()
    if _in_api():
        resp = problem(503, model_text(exc.message))
        resp.headers["Retry-After"] = str(exc.retry_after)
        return resp
    return render_template("busy.html", message=model_text(exc.message)), 503, {"Retry-After": str(exc.retry_after)}


def _model_invalid(exc: ModelInvalid):
    if not _in_api():
        return _unexpected(exc)
    def shown(f):
        return {**f.as_dict(), "message": model_text(f.message)}
    return jsonify({"errors": [shown(f) for f in exc.findings if f.severity == "error"],
                    "warnings": [shown(f) for f in exc.findings if f.severity == "warning"]}), 422


def _http(exc: HTTPException):
    """Under /api/ (unknown paths and oversized bodies too): JSON, never an HTML page."""
    if _in_api():
        fields = getattr(exc, "fields", None)  # a refused JSON body names where (web.inputs)
        return problem(exc.code or 500, exc.description or exc.name, **({"fields": fields} if fields else {}))
    return exc


def _unexpected(exc: Exception):
    if busy(exc):  # the database refused for another's lock (a page's own writes): busy, not broken
        return _busy(Busy())
    log.exception("unexpected error on %s", request.path)
    db.session.rollback()
    if _in_api():
        return problem(500, "internal error; it has been logged")
    return "Internal error", 500


def init_app(app) -> None:
    app.register_error_handler(EngineError, _engine_error)
    app.register_error_handler(ModelInvalid, _model_invalid)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(Exception, _unexpected)
