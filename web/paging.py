"""Keyset pagination (分页) for every list: a page is "the next N rows after this
one in a fixed order", never "skip N rows".

OFFSET makes the database read and throw away every earlier row, so page 200 of
the "all" inbox costs as much as the whole table, and a row inserted meanwhile
shifts every later page by one (a task seen twice, another never). A keyset page
starts where the last one stopped: an index range scan whose cost does not grow
with the page number, and rows added or removed elsewhere do not move it.

The cursor is the sort key of the last row shown, as URL-safe base64 of a JSON
list (`after=WyIyMDI2LTAzLTAyIiwgNDJd` is `["2026-03-02", 42]`, with dates and
times tagged). It is opaque to clients but not secret: whatever it holds only
ever reaches the query as bound parameters, and a value of the wrong type is
refused as a bad cursor rather than handed to the database.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, datetime

from flask import request
from sqlalchemy import and_, false, or_


class BadCursor(ValueError):
    """An `after` value this list did not hand out."""


@dataclass(frozen=True)
class Key:
    """One column of a list's order. The last key of every order is a unique id,
    so that the order is total and a cursor names exactly one place in it."""

    column: object
    kind: type  # what the cursor must hold for this key: int, str, date or datetime
    descending: bool = False
    nullable: bool = False  # NULLs sort after every value, whichever the direction

    def order(self):
        by = self.column.desc() if self.descending else self.column.asc()
        # PostgreSQL's own order for an ascending index, so a plain index on the column serves it
        return by.nulls_last() if self.nullable else by


def order_by(keys: list[Key]) -> list:
    return [key.order() for key in keys]


def after(keys: list[Key], values: list):
    """The rows strictly after `values` in the order `keys` make: (k1 > v1) or
    (k1 = v1 and k2 > v2) or ..., spelled out so mixed directions and NULLs work
    on both databases (a row-value comparison handles neither)."""
    branches, equal = [], []
    for key, value in zip(keys, values):
        if value is None:  # a NULL sorts last: nothing but NULLs come after it, and they tie
            branches.append(false())
            equal.append(key.column.is_(None))
            continue
        beyond = key.column < value if key.descending else key.column > value
        if key.nullable:
            beyond = or_(beyond, key.column.is_(None))
        branches.append(and_(*equal, beyond))
        equal.append(key.column == value)
    return or_(*branches)


def _plain(value):
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    return value


def _typed(raw, key: Key):
    if raw is None and key.nullable:
        return None
    try:
        if key.kind is datetime and isinstance(raw, dict) and set(raw) == {"t"}:
            value = datetime.fromisoformat(raw["t"])
            if value.tzinfo is None:
                raise BadCursor("游标中的时间须带时区偏移 (a time in a cursor carries its offset)")
            return value
        if key.kind is date and isinstance(raw, dict) and set(raw) == {"d"}:
            return date.fromisoformat(raw["d"])
    except (TypeError, ValueError):
        raise BadCursor("不是本列表的游标 (not a cursor of this list)") from None
    if key.kind in (int, str) and type(raw) is key.kind and (key.kind is str or abs(raw) < 2**63):
        return raw
    raise BadCursor("不是本列表的游标 (not a cursor of this list)")


def encode(values: list) -> str:
    text = json.dumps([_plain(v) for v in values], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(cursor: str, keys: list[Key]) -> list:
    if len(cursor) > 1000:
        raise BadCursor("不是本列表的游标 (not a cursor of this list)")
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor("不是本列表的游标 (not a cursor of this list)") from None
    if not isinstance(raw, list) or len(raw) != len(keys):
        raise BadCursor("不是本列表的游标 (not a cursor of this list)")
    return [_typed(v, k) for v, k in zip(raw, keys)]


@dataclass
class Page:
    rows: list
    next: str | None  # the cursor of the page after this one; None on the last page


def page(session, query, keys: list[Key], cursor: str | None, size: int, key_of) -> Page:
    """One page of `query` in the order `keys` make, after `cursor` (None: the first
    page), in one statement: it asks for one row more than it shows, to know
    whether there is a next page without counting. `key_of(row)` gives a row's
    values for `keys`. Raises BadCursor."""
    if cursor:
        query = query.where(after(keys, decode(cursor, keys)))
    rows = session.execute(query.order_by(*order_by(keys)).limit(size + 1)).all()
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, encode(key_of(rows[-1])) if more else None)


def requested(session, query, keys: list[Key], size: int, key_of) -> Page:
    """A page's rows after the request's `after` cursor. One this list did not hand out
    (edited, or from another list) starts the list again, as a page number out of range did."""
    try:
        return page(session, query, keys, request.args.get("after"), size, key_of)
    except BadCursor:
        return page(session, query, keys, None, size, key_of)
