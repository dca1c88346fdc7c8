"""Task forms (表单): JSON Schema files in `forms/`, checked on completion.

Only the fields a form declares reach the case's data, so a submission can
never set a routing variable the form does not ask for; and no value reaches
it that the databases or the audit log cannot keep (`unstorable`).
"""
from __future__ import annotations

import math
from collections.abc import Callable

from jsonschema import Draft202012Validator, FormatChecker

from .errors import FormInvalid

FORMAT_CHECKER = FormatChecker()
# A table answered item by item (逐项填写): `"x-rowsFrom": "candidates"` names a list in
# the task's data, `"x-rowKey": "designation_id"` the column that identifies an item.
# The form opens with one row per item, and is accepted only with exactly one row per
# item, its `readOnly` columns as they were given.
ROWS_FROM = "x-rowsFrom"
ROW_KEY = "x-rowKey"
# A conditional section (只填适用部分): an `if`/`then` rule (the form's own, or one of its `allOf`)
# marked `"x-section": true` says that the fields its `then` names (`required` or `properties`)
# apply only when its `if` holds; a field several sections name applies when any of them holds.
# The page shows only what applies, and what does not apply is left out before validation.
SECTION = "x-section"
_EXPLAIN: dict[str, Callable[[object], str]] = {}
# How a field's error is put to the person who made it (the web app's, in the language they chose);
# without one, jsonschema's own English message.
_phrasing: Callable[[object], str] | None = None
# Deeper than any form goes; far from what makes a parser or a deep copy recurse out.
MAX_DEPTH = 64


def label_of(node) -> str | None:
    """What a form calls a field or a choice (its JSON Schema `title`), as the pages show it:
    the one place that picks the text, so that choosing a language changes it everywhere
    (`register_labelling`)."""
    title = node.get("title") if isinstance(node, dict) else None
    return _labelling(title) if isinstance(title, str) and title.strip() else None


def _labelling(title: str) -> str:
    return title


def register_labelling(translate: Callable[[str], str]) -> None:
    """Have `label_of` give each form title in the reader's language (the web app's model texts)."""
    global _labelling
    _labelling = translate


def register_format(name: str, problem: Callable[[object], str | None]) -> None:
    """Teach form validation a domain format (e.g. a credit code): `problem`
    says what is wrong with a value, or None when it is right."""
    FORMAT_CHECKER.checks(name)(lambda value: not isinstance(value, str) or problem(value) is None)
    _EXPLAIN[name] = problem


def register_phrasing(phrase: Callable[[object], str]) -> None:
    """Have every field error of a submission worded by `phrase(jsonschema_error)`."""
    global _phrasing
    _phrasing = phrase


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


def source_rows(prop: dict, context: dict | None) -> list[dict] | None:
    """The items an item-by-item table answers, from the task's data; None when
    the table is not one, or the data has no such list."""
    if not isinstance(prop, dict) or not prop.get(ROWS_FROM):
        return None
    items = (context or {}).get(prop[ROWS_FROM])
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else None


def _check_rows(schema: dict, data: dict, context: dict | None, errors: dict) -> None:
    for key, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict) or not prop.get(ROWS_FROM):
            continue
        row_key = prop.get(ROW_KEY)
        items = source_rows(prop, context)
        if items is None or not row_key:
            errors.setdefault(key, []).append(
                f"此表应逐项填写“{prop[ROWS_FROM]}”中的事项，但本事项没有该清单 "
                f"(this table answers the items of '{prop[ROWS_FROM]}', which this task does not have)")
            continue
        expected = {item.get(row_key): item for item in items}
        columns = ((prop.get("items") or {}).get("properties") or {})
        fixed = [c for c, s in columns.items() if isinstance(s, dict) and s.get("readOnly")]
        seen = set()
        rows = data.get(key) if isinstance(data.get(key), list) else []
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                continue
            k = row.get(row_key)
            if k not in expected:
                errors.setdefault(f"{key}/{i}/{row_key}", []).append(
                    "不是本事项清单中的一项 (not one of this task's items)")
                continue
            if k in seen:
                errors.setdefault(f"{key}/{i}/{row_key}", []).append("同一项填写了两次 (this item is answered twice)")
                continue
            seen.add(k)
            for column in fixed:
                if row.get(column) != expected[k].get(column):
                    errors.setdefault(f"{key}/{i}/{column}", []).append(
                        "此栏由系统给出，不可修改 (this column is given and cannot be changed)")
        missing = [str(k) for k in expected if k not in seen]
        if missing:
            errors.setdefault(key, []).append(
                f"以下事项尚未填写：{'、'.join(missing)} (no answer yet for: {', '.join(missing)})")


def _section_rules(schema: dict) -> list[dict]:
    rules = [schema, *(schema.get("allOf") or [])] if isinstance(schema, dict) else []
    return [r for r in rules if isinstance(r, dict) and r.get(SECTION) is True
            and isinstance(r.get("if"), dict) and isinstance(r.get("then"), dict)]


def sections(schema: dict | None) -> dict[str, list[dict]]:
    """Each conditional field and the `if` schemas under which it applies (any one will do).
    A field the form always requires is never conditional."""
    always = set((schema or {}).get("required") or [])
    out: dict[str, list[dict]] = {}
    for rule in _section_rules(schema or {}):
        then = rule["then"]
        named = [*(then.get("required") or []), *((then.get("properties") or {}).keys())]
        for name in dict.fromkeys(n for n in named if isinstance(n, str) and n not in always):
            out.setdefault(name, []).append(rule["if"])
    return out


def inapplicable(schema: dict | None, data: dict) -> set[str]:
    """The fields of `data` whose every section's condition fails on it. Leaving one out can
    make another's condition fail (a type chosen in a section that no longer applies), so
    this repeats until nothing more drops out."""
    conditions = sections(schema)
    if not conditions or not isinstance(data, dict):
        return set()
    left, dropped = dict(data), set()
    while True:
        now = {name for name, ifs in conditions.items() if name in left
               and not any(Draft202012Validator(i, format_checker=FORMAT_CHECKER).is_valid(left) for i in ifs)}
        if not now:
            return dropped
        dropped |= now
        for name in now:
            del left[name]


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "不能含有空字符 U+0000 (text may not contain the NUL character U+0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (f"含有无法编码的字符 U+{ord(text[exc.start]):04X}（单独的代理项） "
                f"(the text holds a lone surrogate U+{ord(text[exc.start]):04X}, which cannot be encoded)")
    return None


def _value_problem(value, depth: int) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN 和 Infinity 不是可以保存的数值 (NaN and Infinity are not numbers a case can keep)"
    if isinstance(value, str):
        return _text_problem(value)
    if isinstance(value, (dict, list, tuple)) and depth >= MAX_DEPTH:
        return f"嵌套超过 {MAX_DEPTH} 层 (nested deeper than {MAX_DEPTH} levels)"
    return None


def _path(parts: tuple) -> str:
    """A field path fit to show and to send back: an offending key itself is escaped."""
    text = "/".join(str(p) for p in parts) or "$"
    return text.replace("\x00", "\\0").encode("utf-8", "backslashreplace").decode("utf-8")


def unstorable(data) -> dict[str, list[str]]:
    """What no case can keep, by field path: NaN and Infinity (not JSON: PostgreSQL refuses
    them and SQLite echoes them as invalid JSON), text with a lone surrogate (it has no UTF-8,
    so neither a database nor the audit hash can take it) or NUL (PostgreSQL text cannot hold
    it), and nesting deeper than MAX_DEPTH. Checked before a step begins, never by the audit log."""
    problems: dict[str, list[str]] = {}
    pending = [((), data)]
    while pending:  # a loop, not recursion: the data may be as deep as a caller made it
        parts, value = pending.pop()
        problem = _value_problem(value, len(parts))
        if problem:
            problems.setdefault(_path(parts), []).append(problem)
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and (problem := _text_problem(key)):
                    problems.setdefault(_path((*parts, key)), []).append(problem)
                else:
                    pending.append(((*parts, key), item))
        elif isinstance(value, (list, tuple)):
            pending.extend(((*parts, i), item) for i, item in enumerate(value))
    return dict(sorted(problems.items()))


def refuse_unstorable(data) -> None:
    """FormInvalid naming each field `unstorable` finds."""
    problems = unstorable(data)
    if problems:
        raise FormInvalid(problems)


def accepted_data(schema: dict | None, data, reserved: frozenset[str] = frozenset(),
                  context: dict | None = None) -> dict:
    """The part of `data` a task with this form accepts; FormInvalid with
    messages per field otherwise. `context` is the task's own data, which
    item-by-item tables are checked against."""
    if not isinstance(data, dict):
        raise FormInvalid({"$": ["data must be a JSON object"]})
    refuse_unstorable(data)
    errors: dict[str, list[str]] = {}
    for key in data:
        if key in reserved or key.startswith("_"):
            errors.setdefault(key, []).append(f"'{key}' is reserved by the system and cannot be submitted")
    if schema is not None:
        # what a section that does not apply holds is not the case's, and not checked
        data = {k: v for k, v in data.items() if k not in inapplicable(schema, data)}
        declared = schema.get("properties", {})
        for key in data:
            if key not in declared and key not in errors:
                errors.setdefault(key, []).append(f"'{key}' is not a field of this form")
        for error in Draft202012Validator(schema, format_checker=FORMAT_CHECKER).iter_errors(data):
            errors.setdefault(_field(error), []).append(_phrasing(error) if _phrasing else explain(error))
        _check_rows(schema, data, context, errors)
    if errors:
        raise FormInvalid(errors)
    if schema is None:
        return dict(data)
    return {k: v for k, v in data.items() if k in schema.get("properties", {})}
