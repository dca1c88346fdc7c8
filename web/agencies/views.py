"""Third-party evaluation agencies (第三方评价机构, Art 23): the officials' view of
the agencies and each legal representative's yearly count per level, and the
public list of agencies named for fraud whose results are not accepted."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import func, select

from engine import clock
from engine.db import db
from engine.green.agencies import VERDICTS, Agency, AgencyEngagement, EvaluationReport
from engine.green.models import LEVELS, UNIT_TYPES
from engine.green.roles import JURISDICTIONS

from ..inputs import YEAR
from ..policy import require

bp = Blueprint("agencies", __name__, template_folder="templates")


@bp.get("/agencies/")
@login_required
@require("agencies.read")
def index():
    today = clock.now().date()
    year = request.args.get("year", today.year, type=YEAR)
    query = select(Agency).order_by(Agency.legal_representative, Agency.name)
    # the province supervises every agency; a city those registered in its area (Art 23 ¶1)
    if current_user.jurisdiction is not None:
        query = query.where(Agency.jurisdiction == current_user.jurisdiction)
    agencies = db.session.scalars(query).all()
    counts = db.session.execute(
        select(AgencyEngagement.legal_representative, AgencyEngagement.level, func.count())
        .where(AgencyEngagement.year == year,
               AgencyEngagement.legal_representative.in_({a.legal_representative for a in agencies}))
        .group_by(AgencyEngagement.legal_representative, AgencyEngagement.level)).all()
    by_rep: dict[str, dict[str, int]] = {}
    for rep, level, n in counts:
        by_rep.setdefault(rep, {})[level] = n
    reports = db.session.execute(
        select(EvaluationReport).where(EvaluationReport.agency_id.in_([a.id for a in agencies]))
        .order_by(EvaluationReport.submitted_at.desc()).limit(50)).scalars().all()
    return render_template("agencies/agencies.html", agencies=agencies, by_rep=by_rep, year=year, today=today,
                           levels=LEVELS, cities=JURISDICTIONS, reports=reports, unit_types=UNIT_TYPES, verdicts=VERDICTS)


@bp.get("/public/agencies")
def public():
    today = clock.now().date()
    named = db.session.scalars(select(Agency).where(Agency.results_refused_until > today)
                               .order_by(Agency.named_for_fraud_on.desc())).all()
    return render_template("agencies/public_agencies.html", named=named)
