"""The case lists' pages (办件列表): 我的申报 for an organisation's accounts and the case
search (办件查询) for officials. Thin over `lists`; the filters live in the URL, so a
search can be bookmarked, shared and gone back to."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from engine import clock
from engine.green.roles import JURISDICTIONS

from .. import paging
from ..accounts.users import actor_of
from ..cases.views import STATUS
from ..policy import require
from ..runtime import runtime
from . import lists

bp = Blueprint("case_lists", __name__, template_folder="templates")
PAGE = 50


def _shown(operation, template: str):
    """A list's page; wrong filters come back as field messages with the entries kept (400)."""
    try:
        filters = lists.filters_from(request.args)
    except lists.FiltersInvalid as exc:
        return _render(template, None, exc.fields), 400
    actor = actor_of(current_user)
    try:
        listing = operation(runtime(), actor, filters, request.args.get("after"), PAGE)
    except paging.BadCursor:  # a cursor this list did not hand out starts it again
        listing = operation(runtime(), actor, filters, None, PAGE)
    return _render(template, listing, {}, filters)


def _render(template, listing, errors, filters=None):
    args = {k: v for k, v in request.args.items() if v}
    return render_template(f"case_lists/{template}", listing=listing, errors=errors, args=args,
                           sort=(filters or lists.Filters()).sort, processes=lists.processes(runtime()),
                           statuses=lists.STATUSES, status_labels=STATUS, cities=JURISDICTIONS, now=clock.now())


@bp.get("/cases/mine")
@login_required
@require("cases.mine")
def mine():
    return _shown(lists.mine, "mine.html")


@bp.get("/cases/search")
@login_required
@require("cases.search")
def search():
    return _shown(lists.search, "search.html")
