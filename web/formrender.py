"""Task forms as web pages (表单渲染): JSON Schema in, fields for a template out,
and a submitted form back to typed JSON.

`build(schema, values, errors)` turns a form's JSON Schema (draft 2020-12, as in
`forms/*.json`) into `Field`s the macros in `_schema_form.html` draw. `values` are
the raw texts of the inputs (a submission or a saved draft, keyed by input name),
so whatever the user typed is shown again, wrong entries included.

`parse(schema, form)` converts the inputs back: numbers, booleans, choices, dates;
empty optional fields are left out; text that cannot be converted becomes a field
error. `validate` also checks the result against the schema with Chinese messages,
so a page can show every problem at once before the engine's own check runs.

Fields the system knows (`x-known`, `x-choices`: engine/green/known_fields.py) come
filled in or as a list when the page passes what it knows (`known`, `choices`); a field
of a conditional section (`x-section`) carries its conditions (`Field.show_when`) for
the page's script, and what does not apply is left out of the parsed data.

Input names: a property's name (`score`); a table cell (array of objects)
`items[2][value]`. Error paths are jsonschema's (`score`, `items/2/value`, `$`),
with a table's row numbers being the rows of the page, not of the JSON array
(empty rows are dropped from the JSON).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import date

from flask import has_request_context
from flask_babel import gettext
from jsonschema import Draft202012Validator

# The engine checks forms with this format checker (domain formats such as the
# credit code are registered on it), and explains a domain format's problem.
from engine.forms import FORMAT_CHECKER, MAX_DEPTH, ROWS_FROM, inapplicable, sections, source_rows
from engine.forms import explain as _engine_message

from .inputs import nested_too_deep
from .model_texts import localized, model_text

TABLE_ROWS = 5  # rows a table of entries offers
MAX_ROWS = 100  # more rows than this in a submission are ignored
ROWS_FROM_MAX = 1000  # an item-by-item table (x-rowsFrom) has one row per item of the case, up to this
TEXTAREA_OVER = 200  # a longer maxLength gets a multi-line box
_CELL = re.compile(r"^(.+)\[(\d{1,6})\]\[([^\[\]]+)\]$")
_DATE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$")
_EMPTY = object()


def _t(msgid: str, **kw) -> str:
    """Chinese msgid, translated when a request chose another language."""
    if has_request_context():
        return gettext(msgid, **kw)
    return msgid % kw if kw else msgid


@dataclass
class Field:
    """One input (or one table of inputs) of a form."""

    name: str  # the input's name
    path: str  # its jsonschema error path
    kind: str  # text textarea date number integer boolean select table file json
    label: str
    help: str = ""
    required: bool = False
    value: str = ""  # raw text as typed
    errors: list[str] = field(default_factory=list)
    attrs: dict = field(default_factory=dict)  # HTML attributes: maxlength, pattern, min, max, step
    options: list[tuple[str, str]] = field(default_factory=list)  # (value, title) of a choice
    columns: list[Field] = field(default_factory=list)  # a table's column headings
    rows: list[list[Field]] = field(default_factory=list)  # a table's cells
    row: int | None = None  # a cell's row on the page
    unit: str = ""  # a number's unit (schema keyword `unit`), shown beside its input
    readonly: bool = False  # given by the case or the schema (readOnly): shown, sent back unchanged, not typed
    accept: list[str] = field(default_factory=list)  # a file field's accepted types
    max_bytes: int | None = None  # a file field's size limit
    attachment: dict | None = None  # the file a file field already holds: name, size, url (set by the page)
    known: bool = False  # filled in from what the system knows (x-known), not typed
    show_when: list[dict] | None = None  # a conditional section's field: when it applies (any of these)
    max_rows: int | None = None  # a table's most rows (rows are added and removed on the page)
    fixed_rows: bool = False  # an item-by-item table: one row per item, none added or removed

    @property
    def shown(self) -> str:
        """The text a reader sees for a given value: a choice's title rather than its code."""
        return dict(self.options).get(self.value, self.value) if self.options else self.value

    @property
    def id(self) -> str:
        return "f-" + re.sub(r"[^A-Za-z0-9_-]+", "-", self.name).strip("-")

    @property
    def invalid(self) -> bool:
        return bool(self.errors) or any(c.errors for r in self.rows for c in r)


@dataclass
class Form:
    title: str
    description: str
    fields: list[Field]
    messages: list[str]  # problems that belong to no single field

    def __iter__(self):
        return iter(self.fields)

    def __getitem__(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def invalid(self) -> bool:
        return bool(self.messages) or any(f.invalid for f in self.fields)


# --------------------------------------------------------------------------- schema reading
def _type(schema: dict) -> str | None:
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    return t


def _choices(schema: dict) -> list[tuple[object, str]] | None:
    for key in ("oneOf", "anyOf"):
        alts = schema.get(key)
        if isinstance(alts, list) and alts and all(isinstance(a, dict) and "const" in a for a in alts):
            return [(a["const"], str(a.get("title", a["const"]))) for a in alts]
    if isinstance(schema.get("enum"), list):
        return [(v, str(v)) for v in schema["enum"]]
    return None


def _option_value(const) -> str:
    return const if isinstance(const, str) else json.dumps(const, ensure_ascii=False)


def _columns(schema: dict) -> dict | None:
    items = schema.get("items")
    if _type(schema) == "array" and isinstance(items, dict) and _type(items) == "object" \
            and isinstance(items.get("properties"), dict) and items["properties"]:
        return items["properties"]
    return None


def kind_of(schema: dict) -> str:
    if schema.get("format") == "attachment":
        return "file"
    if _choices(schema) is not None:
        return "select"
    t = _type(schema)
    if t == "array" and _columns(schema) is not None:
        return "table"
    if t in ("boolean", "number", "integer"):
        return t
    if t == "string":
        if schema.get("format") == "date":
            return "date"
        if isinstance(schema.get("maxLength"), int) and schema["maxLength"] > TEXTAREA_OVER:
            return "textarea"
        return "text"
    return "json"  # anything else: typed as JSON text, so every schema stays usable


def _html_pattern(pattern: str) -> str:
    """JSON Schema patterns search; the HTML attribute must match the whole value."""
    left = "" if pattern.startswith("^") else ".*"
    right = "" if pattern.endswith("$") and not pattern.endswith("\\$") else ".*"
    return f"{left}{pattern}{right}"


def _attrs(schema: dict, kind: str) -> dict:
    attrs = {}
    if kind in ("text", "textarea"):
        if isinstance(schema.get("maxLength"), int):
            attrs["maxlength"] = schema["maxLength"]
        if isinstance(schema.get("minLength"), int):
            attrs["minlength"] = schema["minLength"]
        if kind == "text" and isinstance(schema.get("pattern"), str):
            attrs["pattern"] = _html_pattern(schema["pattern"])
    if kind in ("number", "integer"):
        if isinstance(schema.get("minimum"), (int, float)):
            attrs["min"] = schema["minimum"]
        if isinstance(schema.get("maximum"), (int, float)):
            attrs["max"] = schema["maximum"]
        attrs["step"] = 1 if kind == "integer" else "any"
    return attrs


def _raw(value) -> str:
    """A JSON value as the text of its input (defaults, and values of the case)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _field(name: str, path: str, prop: dict, required: bool, values: dict, choices: dict | None = None) -> Field:
    kind = kind_of(prop)
    listed = (choices or {}).get(prop.get("x-choices"))
    if listed is not None:
        kind = "select"
    f = Field(name=name, path=path, kind=kind, label=str(prop.get("title") or name.rsplit("[", 1)[-1].rstrip("]")),
              help=str(prop.get("description") or ""), required=required, value=str(values.get(name, "")),
              attrs=_attrs(prop, kind))
    if isinstance(prop.get("unit"), str):
        f.unit = prop["unit"]
    if kind == "file":
        f.accept = [prop["accept"]] if isinstance(prop.get("accept"), str) else list(prop.get("accept") or [])
        f.max_bytes = prop.get("maxBytes") if isinstance(prop.get("maxBytes"), int) else None
    if listed is not None:
        f.options = list(listed)
    elif kind == "select":
        f.options = [(_option_value(v), title) for v, title in _choices(prop)]
    if kind == "boolean":
        f.options = [("true", _t("是")), ("false", _t("否"))]
    f.readonly = prop.get("readOnly") is True
    return f


def _max_rows(prop: dict) -> int:
    return ROWS_FROM_MAX if isinstance(prop, dict) and prop.get(ROWS_FROM) else MAX_ROWS


def _row_indices(values, key: str, limit: int = MAX_ROWS) -> set[int]:
    rows = set()
    for name in values:
        m = _CELL.match(name)
        if m and m.group(1) == key and int(m.group(2)) < limit:
            rows.add(int(m.group(2)))
    return rows


def _table(key: str, prop: dict, required: bool, values: dict, choices: dict | None = None) -> Field:
    cols = _columns(prop)
    item_required = set(prop["items"].get("required", []))
    table = Field(name=key, path=key, kind="table", label=str(prop.get("title") or key),
                  help=str(prop.get("description") or ""), required=required)
    # a column the case fills in is not marked for the user to fill
    table.columns = [_field(f"{key}[][{c}]", "", s, c in item_required and s.get("readOnly") is not True, {},
                            choices) for c, s in cols.items()]
    present = _row_indices(values, key, _max_rows(prop))
    filled = [i for i in present if any(str(values.get(f"{key}[{i}][{c}]", "")).strip() for c in cols)]
    limit = min(prop["maxItems"], MAX_ROWS) if isinstance(prop.get("maxItems"), int) else MAX_ROWS
    table.max_rows, table.fixed_rows = limit, bool(prop.get(ROWS_FROM))
    n = min(TABLE_ROWS, limit)
    if isinstance(prop.get("minItems"), int):
        n = max(n, prop["minItems"])
    if filled and max(filled) + 2 <= limit:  # a spare empty row after the last one used
        n = max(n, max(filled) + 2)
    n = min(max(n, max(present, default=-1) + 1), MAX_ROWS)
    if prop.get(ROWS_FROM):  # the case's items, no more and no fewer
        n = max(present, default=-1) + 1
    for i in range(n):
        row = []
        for c, s in cols.items():
            cell = _field(f"{key}[{i}][{c}]", f"{key}/{i}/{c}", s, False, values, choices)
            cell.row = i
            row.append(cell)
        table.rows.append(row)
    return table


def defaults(schema: dict | None, context: dict | None = None) -> dict[str, str]:
    """Input texts from the schema's `default`s, for a form nobody has typed into;
    an item-by-item table gets one row per item of the task's data (`context`)."""
    values = {}
    for key, prop in ((schema or {}).get("properties") or {}).items():
        items = source_rows(prop, context)
        if items is not None and kind_of(prop) == "table":
            columns = _columns(prop)
            for i, item in enumerate(items[:ROWS_FROM_MAX]):
                for c, sub in columns.items():  # what the item does not give, the column's default
                    values[f"{key}[{i}][{c}]"] = _raw(item[c] if c in item else sub.get("default"))
            continue
        if not isinstance(prop, dict) or "default" not in prop:
            continue
        if kind_of(prop) == "table" and isinstance(prop["default"], list):
            for i, row in enumerate(prop["default"][:MAX_ROWS]):
                for c, v in (row.items() if isinstance(row, dict) else ()):
                    values[f"{key}[{i}][{c}]"] = _raw(v)
        else:
            values[key] = _raw(prop["default"])
    return values


def values_of(schema: dict | None, data: dict | None) -> dict[str, str]:
    """A submission's data as the texts of the form's inputs (an earlier submission, shown again)."""
    values = {}
    for key, prop in ((schema or {}).get("properties") or {}).items():
        if not isinstance(prop, dict) or not isinstance(data, dict) or key not in data:
            continue
        value = data[key]
        if kind_of(prop) == "table" and isinstance(value, list):
            for i, row in enumerate(value[:_max_rows(prop)]):
                for c in (row if isinstance(row, dict) else {}):
                    if c in _columns(prop):
                        values[f"{key}[{i}][{c}]"] = _raw(row[c])
        else:
            values[key] = _raw(value)
    return values


def _client_condition(rule: dict) -> dict | None:
    """An `if` schema as the page's script reads it ({field: {"in"|"not_in": [option values]}},
    each field given): None when it says more than that, and the field is then always shown."""
    props, out = rule.get("properties") or {}, {}
    # an absent field fails the page's test, as it fails an `if` that requires it
    if set(rule) - {"properties", "required"} or not isinstance(props, dict) \
            or not set(props) <= set(rule.get("required") or []):
        return None
    for name, cond in props.items():
        if not isinstance(cond, dict):
            return None
        negated = set(cond) == {"not"} and isinstance(cond["not"], dict)
        inner = cond["not"] if negated else cond
        if set(inner) == {"const"}:
            allowed = [inner["const"]]
        elif set(inner) == {"enum"} and isinstance(inner["enum"], list):
            allowed = inner["enum"]
        else:
            return None
        out[name] = {"not_in" if negated else "in": [_option_value(v) for v in allowed]}
    return out


def build(schema: dict | None, values: dict | None = None, errors: dict | None = None,
          context: dict | None = None, known: dict | None = None, choices: dict | None = None) -> Form:
    """The fields of a form, with the texts to show in them and the messages beside them.
    `values` None means a fresh form: the schema's defaults (and the task's items, `context`).
    `known`: what the system knows by `x-known` name (such a field shows it, and cannot be typed);
    `choices`: the (value, title) lists by `x-choices` name."""
    schema = localized(schema or {})
    values = dict(defaults(schema, context) if values is None else values)
    required = set(schema.get("required", []))
    conditional = sections(schema)
    fields = []
    for key, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        if (known or {}).get(prop.get("x-known")) is not None:
            values[key] = str(known[prop["x-known"]])
        if kind_of(prop) == "table":
            f = _table(key, prop, key in required, values, choices)
        else:
            f = _field(key, key, prop, key in required, values, choices)
            if (known or {}).get(prop.get("x-known")) is not None:
                f.readonly = f.known = True
        if key in conditional:
            shown = [_client_condition(c) for c in conditional[key]]
            f.show_when = None if any(c is None for c in shown) else shown
        fields.append(f)
    form = Form(title=str(schema.get("title") or ""), description=str(schema.get("description") or ""),
                fields=fields, messages=[])
    _place(form, errors or {})
    return form


def _place(form: Form, errors: dict) -> None:
    """Each message beside its field; what fits no field goes to the top."""
    by_path = {}
    for f in form.fields:
        by_path[f.path] = f
        for row in f.rows:
            for cell in row:
                by_path[cell.path] = cell
    for path, messages in errors.items():
        messages = [messages] if isinstance(messages, str) else list(messages)
        path = str(path)
        if path in by_path:
            by_path[path].errors.extend(messages)
            continue
        parts = path.split("/")
        owner = next((by_path[p] for p in ("/".join(parts[:n]) for n in range(len(parts) - 1, 0, -1))
                      if p in by_path), None)
        if owner is not None:
            if owner.kind == "table" and len(parts) > 1 and _is_index(parts[1]):
                messages = [_t("第 %(n)s 行：", n=int(parts[1]) + 1) + m for m in messages]
            owner.errors.extend(messages)
        elif path in ("", "$"):
            form.messages.extend(messages)
        else:
            form.messages.extend(f"{path}: {m}" for m in messages)


# --------------------------------------------------------------------------- parsing
def raw_values(schema: dict | None, form) -> dict[str, str]:
    """The texts of the form's own inputs in a submission (what a draft keeps)."""
    props = (schema or {}).get("properties") or {}
    kept = {}
    for name in form:
        value = form.get(name)
        if not isinstance(value, str):
            continue
        m = _CELL.match(name)
        if name in props and kind_of(props[name]) != "table":
            kept[name] = value
        elif m and m.group(1) in props and int(m.group(2)) < _max_rows(props[m.group(1)]) \
                and m.group(3) in (_columns(props[m.group(1)]) or {}):
            kept[name] = value
    return kept


def _convert(prop: dict, raw):
    """(value, None), (_EMPTY, None) for an empty input, or (_EMPTY, message)."""
    if raw is None:
        return _EMPTY, None
    kind = kind_of(prop)
    text = str(raw).replace("\r\n", "\n").strip()
    if text == "":
        return _EMPTY, None
    if kind == "select":
        for const, _title in _choices(prop):
            if _option_value(const) == text:
                return const, None
        return _EMPTY, _t("请从列表中选择。")
    if kind == "boolean":
        if text in ("true", "false"):
            return text == "true", None
        return _EMPTY, _t("请选择“是”或“否”。")
    if kind == "file":
        if re.fullmatch(r"\d{1,12}", text):
            return int(text), None
        return _EMPTY, _t("请重新上传文件。")
    if kind in ("number", "integer"):
        try:
            value = int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
        except ValueError:
            return _EMPTY, _t("请填写整数。") if kind == "integer" else _t("请填写数字。")
        if isinstance(value, float):
            if not math.isfinite(value):
                return _EMPTY, _t("请填写数字。")
            if kind == "integer":
                if not value.is_integer():
                    return _EMPTY, _t("请填写整数。")
                value = int(value)
        return value, None
    if kind == "date":
        m = _DATE.match(text)
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat(), None
        except (AttributeError, ValueError):
            return _EMPTY, _t("请填写有效日期，如 2026-03-31。")
    if kind == "json":
        if nested_too_deep(text):  # before the parser, which would overflow Python's stack
            return _EMPTY, _t("嵌套层数过多（最多 %(limit)s 层）。", limit=MAX_DEPTH)
        try:
            return json.loads(text), None
        except ValueError:
            return _EMPTY, _t("请填写有效的 JSON。")
    return text, None


def _parse(schema: dict | None, form):
    """(data, errors by page path, rows: table → the page row of each JSON item)."""
    data, errors, rows = {}, {}, {}
    for key, prop in ((schema or {}).get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        if kind_of(prop) != "table":
            value, problem = _convert(prop, form.get(key))
            if problem:
                errors[key] = [problem]
            elif value is not _EMPTY:
                data[key] = value
            continue
        items, used = [], []
        for i in sorted(_row_indices(form, key, _max_rows(prop))):
            item, typed = {}, False
            for col, sub in _columns(prop).items():
                raw = form.get(f"{key}[{i}][{col}]")
                typed = typed or bool(str(raw or "").strip())
                value, problem = _convert(sub, raw)
                if problem:
                    errors[f"{key}/{i}/{col}"] = [problem]
                elif value is not _EMPTY:
                    item[col] = value
            if typed:
                items.append(item)
                used.append(i)
        rows[key] = used
        if items:
            data[key] = items
    return data, errors, rows


def _applicable(schema: dict | None, data: dict, errors: dict) -> tuple[dict, dict]:
    """Without what a conditional section that does not apply holds: neither kept nor checked
    (an entry that could not be converted either)."""
    conditional = sections(schema)
    if not conditional:
        return data, errors
    dropped = inapplicable(schema, data)
    data = {k: v for k, v in data.items() if k not in dropped}

    def applies(key: str) -> bool:
        return key not in conditional or key in data or key not in inapplicable(schema, {**data, key: None})
    return data, {p: m for p, m in errors.items() if applies(p.split("/")[0])}


def parse(schema: dict | None, form) -> tuple[dict, dict[str, list[str]]]:
    """A submitted form as typed JSON, and the inputs whose text could not be converted."""
    data, errors, _rows = _parse(schema, form)
    return _applicable(schema, data, errors)


def _is_index(part: str) -> bool:
    # ASCII digits only: "²" is a digit to str.isdigit but not to int()
    return part.isascii() and part.isdigit()


def _page_path(parts: list, rows: dict) -> str:
    parts = [int(p) if isinstance(p, str) and _is_index(p) else p for p in parts]
    if len(parts) >= 2 and parts[0] in rows and isinstance(parts[1], int) and parts[1] < len(rows[parts[0]]):
        parts[1] = rows[parts[0]][parts[1]]
    return "/".join(str(p) for p in parts) or "$"


def page_errors(schema: dict | None, form, fields: dict) -> dict[str, list[str]]:
    """The engine's field errors (paths into the submitted JSON) as paths on the page."""
    _data, _errors, rows = _parse(schema, form)
    out: dict[str, list[str]] = {}
    for path, messages in fields.items():
        parts = [] if path in ("", "$") else str(path).split("/")
        out.setdefault(_page_path(parts, rows), []).extend(model_text(m) for m in messages)
    return out


def field_message(error) -> str:
    """A jsonschema error as the person who made it reads it, in the language they chose."""
    v, limit = error.validator, error.validator_value
    if v == "required":
        return _t("此项为必填项。")
    if v == "pattern":
        return _t("格式不正确。")
    if v == "format":
        if limit == "date":
            return _t("请填写有效日期，如 2026-03-31。")
        explained = _engine_message(error)
        return explained if explained != error.message else _t("格式不正确。")
    if v == "minimum":
        return _t("不能小于 %(limit)s。", limit=limit)
    if v == "maximum":
        return _t("不能大于 %(limit)s。", limit=limit)
    if v == "exclusiveMinimum":
        return _t("必须大于 %(limit)s。", limit=limit)
    if v == "exclusiveMaximum":
        return _t("必须小于 %(limit)s。", limit=limit)
    if v == "minLength":
        return _t("至少填写 %(limit)s 个字。", limit=limit)
    if v == "maxLength":
        return _t("最多填写 %(limit)s 个字。", limit=limit)
    if v in ("enum", "const", "oneOf", "anyOf"):
        return _t("请从列表中选择。")
    if v == "minItems":
        return _t("至少填写 %(limit)s 行。", limit=limit)
    if v == "maxItems":
        return _t("最多填写 %(limit)s 行。", limit=limit)
    if v == "contains":
        return _t("缺少必填的指标或要求：%(name)s", name=_contained_title(error))
    if v == "multipleOf":
        return _t("应为 %(limit)s 的整数倍。", limit=limit)
    return error.message


def _contained_title(error) -> str:
    """Which row an `allOf: [{contains: {title, properties: {col: {const: X}}}}]` rule misses."""
    rule = error.validator_value if isinstance(error.validator_value, dict) else {}
    if rule.get("title"):
        return str(model_text(rule["title"]))
    consts = [p.get("const") for p in (rule.get("properties") or {}).values() if isinstance(p, dict)]
    return ", ".join(str(c) for c in consts if c is not None)


def _error_parts(error) -> list:
    parts = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [n for n in error.validator_value if n not in error.instance and repr(n) in error.message]
        if missing:
            parts.append(missing[0])
    return parts


def validate(schema: dict | None, form) -> tuple[dict, dict[str, list[str]]]:
    """`parse`, then the schema's rules on what parsed: every problem of the
    submission at once, by page path. A field whose text could not be converted
    keeps that one message."""
    data, errors, rows = _parse(schema, form)
    if schema is None:
        return data, errors
    data, errors = _applicable(schema, data, errors)
    converted = set(errors)
    for error in Draft202012Validator(schema, format_checker=FORMAT_CHECKER).iter_errors(data):
        path = _page_path(_error_parts(error), rows)
        if any(path == p or path.startswith(p + "/") for p in converted):
            continue
        messages = errors.setdefault(path, [])
        message = field_message(error)
        if message not in messages:
            messages.append(message)
    return data, errors
