"""What a request may carry (请求输入): the web layer's one boundary for ids in a URL,
whole numbers in a query and where a `next` parameter may lead.

A value outside these bounds is a 4xx, or the page's default, before a view,
SpiffWorkflow or a database sees it: ids are 32-bit in PostgreSQL and 64-bit in
SQLite and overflow past that; a redirect to `//evil.com` or `/%09/evil.com` leaves
the site and one with CR/LF cannot be sent at all.
"""
from __future__ import annotations

import re
from typing import Callable
from urllib.parse import urlsplit

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
