"""Task forms (表单): JSON Schema files in `forms/`, checked on completion.

Only the fields a form declares reach the case's data, so a submission can
never set a routing variable the form does not ask for.
"""
from __future__ import annotations

from typing import Callable

from jsonschema import Draft202012Validator, FormatChecker

from .errors import FormInvalid

FORMAT_CHECKER = FormatChecker()
_EXPLAIN: dict[str, Callable[[object], str]] = {}


def register_format(name: str, problem: Callable[[object], str | None]) -> None:
    """Teach form validation a domain format (e.g. a credit code): `problem`
    says what is wrong with a value, or None when it is right."""
    FORMAT_CHECKER.checks(name)(lambda value: not isinstance(value, str) or problem(value) is None)
    _EXPLAIN[name] = problem


def explain(error) -> str:
    """A jsonschema error as a person should read it (domain formats say what is wrong)."""
    if error.validator == "format" and error.validator_value in _EXPLAIN:
        return _EXPLAIN[error.validator_value](error.instance) or error.message
    return error.message


def _field(error) -> str:
    path = list(error.absolute_path)
    if error.validator == "required":
        # jsonschema reports a missing field on its parent; name the field itself
        missing = error.message.split("'")[1] if "'" in error.message else ""
        path.append(missing)
    return "/".join(str(p) for p in path) or "$"


def accepted_data(schema: dict | None, data, reserved: frozenset[str] = frozenset()) -> dict:
    """The part of `data` a task with this form accepts; FormInvalid with
    messages per field otherwise."""
    if not isinstance(data, dict):
        raise FormInvalid({"$": ["data must be a JSON object"]})
    errors: dict[str, list[str]] = {}
    for key in data:
        if key in reserved or key.startswith("_"):
            errors.setdefault(key, []).append(f"'{key}' is reserved by the system and cannot be submitted")
    if schema is not None:
        declared = schema.get("properties", {})
        for key in data:
            if key not in declared and key not in errors:
                errors.setdefault(key, []).append(f"'{key}' is not a field of this form")
        for error in Draft202012Validator(schema, format_checker=FORMAT_CHECKER).iter_errors(data):
            errors.setdefault(_field(error), []).append(explain(error))
    if errors:
        raise FormInvalid(errors)
    if schema is None:
        return dict(data)
    return {k: v for k, v in data.items() if k in schema.get("properties", {})}
