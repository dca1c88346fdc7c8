"""What a request may carry (请求输入): the web layer's one boundary for ids in a URL,
whole numbers in a query, where a `next` parameter may lead, and JSON bodies.

A value outside these bounds is a 4xx, or the page's default, before a view,
SpiffWorkflow or a database sees it: ids are 32-bit in PostgreSQL and 64-bit in
SQLite and overflow past that; a redirect to `//evil.com` or `/%09/evil.com` leaves
the site and one with CR/LF cannot be sent at all; a JSON body a thousand levels
deep overflows Python's parser before any view can refuse it.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest, UnprocessableEntity

from engine.forms import MAX_DEPTH, unstorable

ID_MAX = 2**31 - 1  # ids are 32-bit integers in the database; routes take `<int(max=ID_MAX):...>`
YEAR_MAX = 9999  # the last year a date can carry
_DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII only: str.isdigit takes "²", which int() refuses


def whole_number(lo: int, hi: int) -> Callable[[str], int]:
    """A `type=` for `request.args.get`: text outside lo..hi is a ValueError, which makes
    `get` answer its default, as it does for any text that is not a number."""

    def convert(text: str) -> int:
        if not _DIGITS.fullmatch(text.strip()):
            raise ValueError(f"not a whole number: {text!r}")
        value = int(text)
        if not lo <= value <= hi:
            raise ValueError(f"{value} is outside {lo}..{hi}")
        return value

    return convert


RECORD_ID = whole_number(1, ID_MAX)
PAGE_NUMBER = whole_number(1, ID_MAX // 1000)  # the offset a page gives stays far below the 64-bit limit
YEAR = whole_number(1, YEAR_MAX)


def record_id(text: str | None) -> int | None:
    """A record's id typed by someone (a receipt number), or None when it cannot be one."""
    try:
        return RECORD_ID(text or "")
    except ValueError:
        return None


def local_path(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None. No scheme, no host, no `//` or
    backslash (browsers read `/\\evil.com` as another host), and no control character:
    a browser drops tab and newline from a URL, so `/%09/evil.com` (a tab) would become
    `//evil.com`, and CR/LF cannot go in a Location header."""
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


# --------------------------------------------------------------------------- JSON bodies
class JSONTooDeep(BadRequest):
    description = f"the JSON body is nested deeper than {MAX_DEPTH} levels"


class JSONUnstorable(UnprocessableEntity):
    """NaN, Infinity, a lone surrogate or NUL somewhere in a body; `fields` says where."""

    def __init__(self, fields: dict[str, list[str]]):
        super().__init__("the JSON body holds values that cannot be kept: see 'fields'")
        self.fields = fields


_ESCAPE = re.compile(r"\\.", re.S)  # `\"` and `\\` inside a string: neither ends it
_STRING = re.compile(r'"[^"]*"')  # once the escapes are gone
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def nested_too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether the JSON text opens more than `limit` arrays or objects inside each other,
    counted on the text itself, before a recursive parser sees it. Linear in the text:
    the regular expressions leave only the brackets outside strings to count."""
    if text.count("[") + text.count("{") <= limit:  # most bodies
        return False
    depth = 0
    for mark in _NOT_BRACKET.sub("", _STRING.sub("", _ESCAPE.sub("", text))):
        if mark in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def read_json(text: str | bytes, **kwargs):
    """JSON as a person or a script may send it: JSONTooDeep before parsing, a ValueError
    for text that is not JSON, JSONUnstorable naming the fields no case can keep."""
    if isinstance(text, (bytes, bytearray)):
        # as json.loads decodes bytes; a UnicodeDecodeError is a ValueError: not JSON
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    if nested_too_deep(text):
        raise JSONTooDeep()
    value = json.loads(text, **kwargs)
    problems = unstorable(value)
    if problems:
        raise JSONUnstorable(problems)
    return value


class InputJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with every request body read through `read_json`. Its refusals are
    HTTP errors, not ValueErrors, so `get_json(silent=True)` cannot turn them into None."""

    def loads(self, s: str | bytes, **kwargs):
        return read_json(s, **kwargs)
