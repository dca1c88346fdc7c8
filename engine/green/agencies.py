"""Third-party evaluation agencies (第三方评价机构) and evaluation reports (评价报告):
the records behind Arts 12, 17 and 23.

An agency is linked to the account that works for it through `Agency.account`
(the user name of a user of role `agency`): when an applicant chooses the agency,
the check operation puts that account into the case, and the agency's task goes
to it (see `party_assignee`).
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import db
from engine.models import Aware

VERDICTS = {"passed": ("通过", "Passed"), "failed": ("未达合格分", "Below the pass mark"),
            "vetoed": ("一票否决", "Vetoed"),
            # Art 23 ¶1: handed in by an agency during the three years its results are not accepted
            "refused": ("机构被通报，结果不予采信", "Not accepted: the agency is named for fraud")}


class Agency(db.Model):
    """A third-party evaluation agency, by its credit code; its legal representative
    (法定代表人) is what the Art 23 yearly cap counts by."""

    __tablename__ = "agency"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    legal_representative: Mapped[str] = mapped_column(String(80), index=True)
    jurisdiction: Mapped[str | None] = mapped_column(String(12), index=True)
    account: Mapped[str | None] = mapped_column(String(80), unique=True)  # the agency user's name
    # named on the platform for faking or hiding problems (Art 23 ¶1)
    named_for_fraud_on: Mapped[date | None] = mapped_column(Date)
    results_refused_until: Mapped[date | None] = mapped_column(Date)  # first day its results count again
    named_reason: Mapped[str | None] = mapped_column(Text)
    named_by_instance: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(Aware())

    def refused_on(self, day: date) -> bool:
        return self.results_refused_until is not None and day < self.results_refused_until


class AgencyEngagement(db.Model):
    """One evaluation project an agency took on (评价项目): what the yearly cap counts.
    One per case and candidate (`subject`: empty in an applicant's own case, the
    candidate's key in a provincial or national round); choosing again replaces it."""

    __tablename__ = "agency_engagement"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    legal_representative: Mapped[str] = mapped_column(String(80))
    level: Mapped[str] = mapped_column(String(16))
    year: Mapped[int] = mapped_column(Integer)
    unit_type: Mapped[str | None] = mapped_column(String(40))
    instance_id: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(80), default="", server_default="")
    engaged_on: Mapped[date] = mapped_column(Date)
    agency: Mapped[Agency] = relationship()

    __table_args__ = (Index("ix_agency_engagement_count", "legal_representative", "level", "year"),
                      UniqueConstraint("instance_id", "subject", name="uq_agency_engagement_instance_id_subject"))


class EvaluationReport(db.Model):
    """An evaluation report as submitted (评价报告): the indicator values, the score
    and verdict the system computed from them, how it was evaluated and by whom."""

    __tablename__ = "evaluation_report"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(Integer, index=True)
    credit_code: Mapped[str] = mapped_column(String(18), index=True)
    organisation_name: Mapped[str] = mapped_column(String(200))
    unit_type: Mapped[str] = mapped_column(String(40))
    level: Mapped[str] = mapped_column(String(16))
    evaluation_mode: Mapped[str] = mapped_column(String(16))  # self / third_party
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    basic_requirements: Mapped[list] = mapped_column(JSON)
    indicators: Mapped[list] = mapped_column(JSON)  # each with its value and the points it earned
    score: Mapped[float] = mapped_column(Float)
    pass_mark: Mapped[float] = mapped_column(Float)
    verdict: Mapped[str] = mapped_column(String(16))  # passed / failed / vetoed / refused
    vetoed_by: Mapped[list] = mapped_column(JSON)
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachment.id"))
    submitted_at: Mapped[datetime] = mapped_column(Aware())
    submitted_by: Mapped[str | None] = mapped_column(String(80))
    version_id: Mapped[str | None] = mapped_column(String(64))
    agency: Mapped[Agency | None] = relationship()
