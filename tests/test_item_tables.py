"""Item-by-item tables (x-rowsFrom): a form that answers each item a case gives it,
opened with one row per item, accepted only with every item answered once and
the given columns unchanged."""
from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from engine.errors import FormInvalid
from engine.forms import accepted_data
from web import formrender

SCHEMA = {"type": "object", "properties": {"answers": {
    "type": "array", "x-rowsFrom": "items", "x-rowKey": "id",
    "items": {"type": "object", "required": ["id", "ok"], "properties": {
        "id": {"title": "编号", "type": "integer", "readOnly": True},
        "kind": {"title": "类型", "type": "string", "readOnly": True,
                 "oneOf": [{"const": "a", "title": "甲类"}, {"const": "b", "title": "乙类"}]},
        "ok": {"title": "同意", "type": "boolean", "default": False}}}}}}
ITEMS = {"items": [{"id": n, "kind": "a" if n % 2 else "b", "extra": "not a column"} for n in range(1, 151)]}


def test_the_form_opens_with_every_item_even_past_a_hundred(app):
    with app.test_request_context():
        form = formrender.build(SCHEMA, None, context=ITEMS)
        table = form["answers"]
        assert len(table.rows) == 150  # no spare row, none missing
        assert table.rows[149][0].value == "150" and table.rows[0][1].shown == "甲类"
        assert table.rows[0][0].readonly and not table.rows[0][2].readonly
        assert table.rows[0][2].value == "false"  # what the item does not give: the column's default
        assert not table.columns[0].required and table.columns[2].required
        submitted = MultiDict({f"answers[{i}][{c}]": v for i, item in enumerate(ITEMS["items"])
                               for c, v in (("id", str(item["id"])), ("kind", item["kind"]), ("ok", "true"))})
        data, errors = formrender.validate(SCHEMA, submitted)
        assert errors == {} and len(data["answers"]) == 150
        assert accepted_data(SCHEMA, data, context=ITEMS) == data


def test_every_item_is_answered_once_and_given_columns_stay(app):
    rows = [{"id": n, "kind": "a" if n % 2 else "b", "ok": True} for n in (1, 2, 3)]
    context = {"items": ITEMS["items"][:3]}
    assert accepted_data(SCHEMA, {"answers": rows}, context=context)["answers"] == rows
    with pytest.raises(FormInvalid) as refused:
        accepted_data(SCHEMA, {"answers": rows[:2] + [rows[0]]}, context=context)
    assert "answered twice" in refused.value.fields["answers/2/id"][0]
    assert "3" in refused.value.fields["answers"][0]  # the item left unanswered is named
    with pytest.raises(FormInvalid) as refused:
        accepted_data(SCHEMA, {"answers": rows + [{"id": 99, "ok": True}]}, context=context)
    assert list(refused.value.fields) == ["answers/3/id"]
    with pytest.raises(FormInvalid) as refused:
        accepted_data(SCHEMA, {"answers": [dict(rows[0], kind="b"), *rows[1:]]}, context=context)
    assert list(refused.value.fields) == ["answers/0/kind"]
    with pytest.raises(FormInvalid) as refused:  # a task without the list cannot be answered at all
        accepted_data(SCHEMA, {"answers": rows}, context={})
    assert "items" in refused.value.fields["answers"][0]
