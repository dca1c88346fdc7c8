"""Personal data in a case (个人信息): which of its data the forms mark
`"x-personal": true`, how such data reads masked ("张**", "138****5678",
evidence hidden), and the audit event that records each unmasked read.

Who may read what unmasked is the domain's rule; this module only knows the
marks. A mark counts in every case once a form carries it, in the case's own
version or in the version new cases of any process start on: marking a field
later covers the data taken before, and an older version never unmarks it.
Each mark also says which roles' own forms ask for it (a party may read what
its role's forms asked of it, and nothing more).
"""
from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from copy import copy

from . import audit
from .db import db
from .model_registry import FORM_PROPERTY
from .models import ProcessHead

MARK = "x-personal"
ANY = "*"  # every item of a list, in a path
HIDDEN = "***"  # what stands for a value that is neither text nor a structure (a file's id, a number)

Path = tuple[str, ...]
Marks = dict[Path, frozenset]  # a marked path → the roles whose forms ask for it

_cache: dict[str, Marks] = {}
_cache_lock = threading.Lock()


def marked_paths(schema: dict | None) -> set[Path]:
    """The paths into a form's data that the form marks personal: a property, a property
    of an object, a column of a table (`("rows", "*", "phone")`). A marked object or
    list is personal as a whole."""
    found: set[Path] = set()

    def walk(properties, prefix: Path):
        for name, prop in (properties or {}).items() if isinstance(properties, dict) else ():
            if not isinstance(prop, dict):
                continue
            path = (*prefix, name)
            if prop.get(MARK) is True:
                found.add(path)
                continue
            walk(prop.get("properties"), path)
            if isinstance(prop.get("items"), dict):
                walk(prop["items"].get("properties"), (*path, ANY))

    walk((schema or {}).get("properties"), ())
    return found


def version_marks(version, role_of: Callable[[str | None], str | None]) -> Marks:
    """The marks of one deployed version's forms, each with the roles of the lanes whose
    steps use the form (a start event's form: the lane of the start)."""
    with _cache_lock:
        if version.id in _cache:
            return _cache[version.id]
    roles: dict[str, set] = {}
    specs = [*version.specs.values(), *(s for subs in version.subprocess_specs.values() for s in subs.values())]
    for spec in specs:
        for task_spec in spec.task_specs.values():
            form = (getattr(task_spec, "extensions", None) or {}).get("properties", {}).get(FORM_PROPERTY)
            if form:
                role = role_of(getattr(task_spec, "lane", None))
                roles.setdefault(form, set()).update({role} if role else set())
    marks: dict[Path, set] = {}
    for name, schema in version.forms.items():
        for path in marked_paths(schema):
            marks.setdefault(path, set()).update(roles.get(name, set()))
    frozen = {path: frozenset(r) for path, r in marks.items()}
    with _cache_lock:
        _cache[version.id] = frozen  # a version never changes, so neither do its marks
    return frozen


def merge(*all_marks: Marks) -> Marks:
    merged: dict[Path, frozenset] = {}
    for marks in all_marks:
        for path, roles in marks.items():
            merged[path] = merged.get(path, frozenset()) | roles
    return merged


def present(data, marks: Iterable[Path]) -> list[Path]:
    """The marked paths that hold a value in this data."""
    return sorted(path for path in marks if _holds(data, path))


def _holds(value, path: Path) -> bool:
    if not path:
        return value not in (None, "", [], {})
    head, rest = path[0], path[1:]
    if head == ANY:
        return isinstance(value, list) and any(_holds(item, rest) for item in value)
    return isinstance(value, dict) and head in value and _holds(value[head], rest)


def masked(data: dict, paths: Iterable[Path]) -> dict:
    """A copy of the data with the values at these paths masked; the data itself is untouched."""
    out = data
    for path in paths:
        out = _mask_at(out, path)
    return out


def _mask_at(value, path: Path):
    if not path:
        return mask(value)
    head, rest = path[0], path[1:]
    if head == ANY:
        return [_mask_at(item, rest) for item in value] if isinstance(value, list) else value
    if not isinstance(value, dict) or head not in value:
        return value
    out = copy(value)
    out[head] = _mask_at(value[head], rest)
    return out


def mask(value):
    """A value as someone who may not read it sees it: text keeps its first character
    (a phone number its first three and last four digits, an e-mail its domain)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    return HIDDEN


def mask_text(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    if "@" in text:
        local, _at, domain = text.rpartition("@")
        return f"{local[:1]}***@{domain}"
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 7 and len(digits) * 10 >= len(text) * 7:  # a phone number, maybe with dashes or spaces
        return digits[:3] + "****" + digits[-4:]
    return text[0] + "**"


def dotted(path: Path) -> str:
    return ".".join(path)


def record_read(reader: str | None, instance_id: int, *, via: str, fields: Iterable[str] = (), **what) -> None:
    """Audit one unmasked read in the caller's transaction: who read which personal data of
    which case, and how. The event names the data by its place (the case's `reporter`,
    objection 12, attachment 7), never by copying it: the log is kept for good."""
    detail = {"case": instance_id, "via": via, **({"fields": sorted(fields)} if fields else {}), **what}
    audit.append(reader, "personal.read", detail=detail)


def marks_for(registry, version_id: str, role_of: Callable[[str | None], str | None]) -> Marks:
    """The marks that count in a case of this version (see the module's docstring)."""
    heads = set(db.session.scalars(db.select(ProcessHead.version_id).distinct()))
    return merge(*(version_marks(registry.load(v), role_of) for v in sorted({version_id, *heads})))
