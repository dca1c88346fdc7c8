"""A designation's dynamic management (动态管理) for officials: its yearly
filings, on-site reviews, declared changes and incidents; and the page on
which a city reports an incident into the designation's lifecycle case
(事故报告, Art 20), delivered as the BPMN message `incident_report`.

Only a municipal official of the designation's own city reports: another
city's designation is not found (404), other roles are refused (403).
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.db import db
from engine.errors import Conflict, EngineError, Forbidden
from engine.green.lifecycle import (
    DesignationChange,
    DynamicTableFiling,
    IncidentReport,
    MissedFiling,
    OnsiteReview,
    case_of,
)
from engine.green.models import LEVELS, STATUSES, UNIT_TYPES, Designation, Organisation
from engine.models import ProcessInstance

from .. import formrender
from ..accounts.users import actor_of
from ..inputs import ID_MAX
from ..model_texts import model_text
from ..policy import demand, may
from ..runtime import runtime

bp = Blueprint("lifecycle", __name__, template_folder="templates")
MESSAGE = "incident_report"
FORM = "incident_report.json"
# code: (Chinese, English), shown with name_in
CHANGE_KINDS = {"name": ("名称", "Name"), "scope": ("经营范围", "Scope"), "address": ("地址", "Address"),
                "boundary": ("组织边界", "Boundary")}
CHANGE_STATUSES = {"declared": ("待市级审核", "Declared"), "confirmed": ("市级已确认", "Confirmed by the city"),
                   "pending_province": ("待省工信厅审定", "Waiting for the province"),
                   "approved": ("省工信厅已审定", "Approved by the province"),
                   "passed_to_miit": ("已报工信部", "Passed to MIIT"),
                   "not_meeting_standard": ("不再符合标准", "No longer meets the standard")}
INCIDENT_KINDS = {"production_safety": ("生产安全事故", "Production-safety accident"),
                  "quality": ("质量事故", "Quality accident"), "environmental": ("突发环境事件", "Environmental incident")}
SEVERITIES = {"particularly_serious": ("特别重大（Ⅰ级）", "Particularly serious (I)"),
              "serious": ("重大（Ⅱ级）", "Major (II)"), "larger": ("较大（Ⅲ级）", "Larger (III)"),
              "general": ("一般（Ⅳ级）", "General (IV)")}


def _designation(designation_id: int):
    """The designation and its organisation if the signed-in official may read it (their city's only)."""
    demand("lifecycle.read")
    q = db.select(Designation, Organisation).join(Organisation).where(Designation.id == designation_id)
    if current_user.jurisdiction is not None:
        q = q.where(Designation.jurisdiction == current_user.jurisdiction)
    row = db.session.execute(q).first()
    if row is None:
        abort(404)
    return row.Designation, row.Organisation


@bp.get(f"/registry/<int(max={ID_MAX}):designation_id>/lifecycle")
@login_required
def show(designation_id):
    d, org = _designation(designation_id)
    case_id = case_of(d.id)
    case = db.session.get(ProcessInstance, case_id) if case_id else None

    def rows(model, *order):
        return db.session.scalars(db.select(model).where(model.designation_id == d.id).order_by(*order)).all()

    return render_template(
        "lifecycle/lifecycle.html", d=d, org=org, case=case, levels=LEVELS, unit_types=UNIT_TYPES, statuses=STATUSES,
        filings=rows(DynamicTableFiling, DynamicTableFiling.year), missed=rows(MissedFiling, MissedFiling.id),
        reviews=rows(OnsiteReview, OnsiteReview.year), changes=rows(DesignationChange, DesignationChange.id),
        incidents=rows(IncidentReport, IncidentReport.id), may_report=_may_report(d, case),
        change_kinds=CHANGE_KINDS, change_statuses=CHANGE_STATUSES, incident_kinds=INCIDENT_KINDS,
        severities=SEVERITIES)


def _may_report(d: Designation, case) -> bool:
    # not while a revocation the last report started is being decided: the case listens again after it
    return (may(current_user, "lifecycle.report_incident") and d.status == "listed" and case is not None
            and case.status in ("running", "waiting") and runtime().awaits_message(case.id, MESSAGE))


@bp.route(f"/registry/<int(max={ID_MAX}):designation_id>/incident", methods=["GET", "POST"])
@login_required
def report(designation_id):
    d, org = _designation(designation_id)
    demand("lifecycle.report_incident")
    case_id = case_of(d.id)
    case = db.session.get(ProcessInstance, case_id) if case_id else None
    if not _may_report(d, case):
        flash(_("该称号没有进行中的动态管理案件，无法报告事故。"), "error")
        return redirect(url_for(".show", designation_id=d.id), 303)
    schema = runtime().registry.load(case.version_id).forms.get(FORM)
    if schema is None:
        abort(404)  # the case's model version takes no incident reports
    if request.method == "GET":
        return render_template("lifecycle/incident_report.html", d=d, org=org, case=case, form=formrender.build(schema),
                               levels=LEVELS, unit_types=UNIT_TYPES)
    values = formrender.raw_values(schema, request.form)
    data, errors = formrender.validate(schema, request.form)
    if not errors:
        actor = actor_of(current_user)
        try:
            runtime().send_message(case.id, MESSAGE, {**data, "reported_by": actor.name}, actor)
        except Forbidden:
            raise  # answered by web.handler: 403
        except Conflict as exc:
            errors = {"$": [_("案件已不再接收事故报告：%(why)s", why=model_text(exc.message))]}
        except EngineError as exc:
            errors = {"$": [model_text(exc.message)]}
        else:
            revokes = db.session.scalar(db.select(IncidentReport.revokes).where(IncidentReport.designation_id == d.id)
                                        .order_by(IncidentReport.id.desc()).limit(1))
            flash(_("已报告。依第二十一条末款应立即撤销称号，已转入取消资格程序，由认定该称号的一级决定后公告。") if revokes
                  else _("已报告。事故已记录在案，供年度复核。"), "info")
            return redirect(url_for(".show", designation_id=d.id), 303)
    return render_template("lifecycle/incident_report.html", d=d, org=org, case=case,
                           form=formrender.build(schema, values, errors),
                           levels=LEVELS, unit_types=UNIT_TYPES), 422
