"""Delegation (委托代办): an official names a substitute of her role and city for a range of
days, sees whom she named and who named her, and ends a delegation early. Thin over
`engine.green.delegation`, where the rules are checked."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import FormInvalid
from engine.green import delegation

from ..handler import Refused, writes

bp = Blueprint("delegation", __name__, template_folder="templates", url_prefix="/delegation")


def _messages() -> dict[str, str]:
    """The engine's reasons, in the page's words, by field."""
    return {
        "name the substitute": _("请选择代办人。"),
        "a substitute is someone else": _("不能委托给自己。"),
        "the substitute must be an active colleague of the same role and city": _("代办人须是同一角色、同一地区的在用账户。"),
        "give the first day": _("请填写开始日期。"),
        "give the last day": _("请填写结束日期。"),
        "the last day comes before the first": _("结束日期早于开始日期。"),
        "the range is over already": _("这段日期已经过去。"),
        "a delegation covers at most a year": _("委托期限最长一年。"),
        "these days overlap a delegation you named already; end that one first":
            _("这段日期与您已有的委托重叠，请先结束原委托。"),
    }


def _page(entries: dict | None = None, problems: dict | None = None, status: int = 200):
    given, received = delegation.delegations_of(current_user)
    return render_template(
        "delegation/delegation.html", given=given, received=received, entries=entries or {},
        problems=problems or {}, candidates=delegation.substitutes_for(current_user),
        may_delegate=current_user.role in delegation.DELEGATING_ROLES, today=delegation.today()), status


@bp.get("/")
@login_required
def index():
    return _page()


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@bp.post("/")
@login_required
@writes
def name():
    form = request.form
    entries = {k: form.get(k, "") for k in ("substitute", "starts_on", "ends_on")}
    problems = {k: _("日期格式应为 YYYY-MM-DD。") for k in ("starts_on", "ends_on")
                if entries[k] and _day(entries[k]) is None}
    try:
        delegation.name_substitute(current_user, entries["substitute"], _day(entries["starts_on"]),
                                   _day(entries["ends_on"]))
    except FormInvalid as exc:
        known = _messages()
        for field, messages in exc.fields.items():
            problems.setdefault(field, "；".join(known.get(m, m) for m in messages))
        raise Refused(_page(entries, problems, 422)) from None
    if problems:  # a day given but unreadable, although the other checks passed
        raise Refused(_page(entries, problems, 422))
    flash(_("已委托 %(name)s 代办。", name=entries["substitute"]), "info")
    return redirect(url_for(".index"), 303)


@bp.post("/<int:delegation_id>/end")
@login_required
@writes
def end(delegation_id):
    delegation.end_delegation(current_user, delegation_id)  # not hers: 404, by web.handler
    flash(_("委托已结束。"), "info")
    return redirect(url_for(".index"), 303)
