"""The demo (`flask demo`, run by `make run`) is seeded relative to today: run on days
spread over years and months (a December, the Spring Festival, the days around the
31 March and 31 July deadlines), what a newcomer clicking through it would notice must
make sense on that day: no failed case, rounds and pools of the right year, facts and
listings in the past, documents numbered with the right year.

The `app` fixture's virtual clock is replaced by the system clock, which
`time_machine` moves to each day; the fixture installs its own clock again after."""
from __future__ import annotations

import json
import re
from datetime import date, datetime, time

import pytest
import time_machine

from engine import clock
from engine.db import db
from engine.green.agencies import Agency
from engine.green.cultivation import CultivationPoolEntry
from engine.green.exclusions import AdverseFact
from engine.green.lifecycle import DynamicTableFiling, OnsiteReview
from engine.green.models import Designation
from engine.green.notices import PublicNotice
from engine.green.revocations import RevocationAnnouncement
from engine.models import HumanTask, ProcessInstance

DAYS = [
    date(2026, 12, 4),   # December: the provincial round opened late in its year, the national one is next year's
    date(2027, 1, 20),   # January: last year's dynamic-management filing is the one that has passed
    date(2027, 2, 10),   # the Spring Festival holiday
    date(2028, 3, 15),   # before 31 March: the cities' recommendation deadline is this year's
    date(2029, 7, 1),    # before 31 July: the national round is this year's
    date(2030, 12, 30),  # the provincial notice runs into the next year
    date(2031, 4, 10),   # before this year's 15 April filing deadline
]
# a year written in seeded text: 2026年, 〔2026〕, （2026）
YEAR_IN_TEXT = re.compile(r"(?<!\d)(20\d\d)(?=年|〕|）)")


def _single(process_id: str) -> ProcessInstance:
    return db.session.scalar(db.select(ProcessInstance).where(ProcessInstance.process_id == process_id))


def _seed(app):
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    db.session.rollback()  # read what the command committed


def _no_case_failed():
    failed = db.session.execute(db.select(ProcessInstance.id, ProcessInstance.process_id, ProcessInstance.error_element,
                                          ProcessInstance.error_message).where(ProcessInstance.status == "error")).all()
    assert failed == [], "\n".join(f"#{i} {p} at {el}: {msg}" for i, p, el, msg in failed)


def _provincial_round_is_this_years(today: date):
    case = _single("provincial_selection")
    assert case.data["year"] == today.year
    notice = db.session.scalar(db.select(PublicNotice).where(PublicNotice.instance_id == case.id))
    assert notice.title.startswith(f"{today.year}年度") and notice.year == today.year
    assert notice.published_on == today and notice.is_open(clock.now())  # open to objections now


def _national_round_is_the_next_31_julys(today: date):
    case = _single("national_recommendation")
    assert case.data["round_year"] == (today.year if (today.month, today.day) <= (7, 31) else today.year + 1)
    waiting = set(db.session.scalars(db.select(HumanTask.role).where(HumanTask.instance_id == case.id)))
    assert waiting == {"emergency", "market"}  # the ecology department has answered


def _pools_are_this_years(today: date):
    entries = db.session.scalars(db.select(CultivationPoolEntry)).all()
    assert entries and {e.year for e in entries} == {today.year}
    assert all(e.plan["target_year"] > today.year for e in entries)
    factory = next(e for e in entries if e.unit_type == "green_factory")
    assert factory.plan["goals"].startswith(f"{factory.plan['target_year']}年前")
    # the supply-chain leader's tax evasion is inside Art 18's look-back: sent back to the city
    refused = db.session.scalars(db.select(HumanTask.jurisdiction).where(
        HumanTask.element == "Task_nominate_candidate")).all()
    assert refused == ["620100"]


def _facts_lie_in_the_past(today: date):
    facts = db.session.scalars(db.select(AdverseFact)).all()
    assert len(facts) == 3  # a fact dated in the future would be refused and its task left waiting
    for fact in facts:
        assert fact.occurred_on < today and (fact.ended_on is None or fact.ended_on <= today)
        assert str(fact.occurred_on.year) in fact.reference
    named = db.session.scalar(db.select(Agency).where(Agency.named_for_fraud_on.is_not(None)))
    assert named.named_for_fraud_on < today < named.results_refused_until


def _listings_and_filings_lie_in_the_past(today: date):
    assert max(db.session.scalars(db.select(Designation.listed_on))) <= today
    assert max(db.session.scalars(db.select(DynamicTableFiling.year))) <= today.year
    assert max(db.session.scalars(db.select(OnsiteReview.visited_on))) <= today


def _documents_carry_the_year(today: date):
    decisions = {a.decision: (a.decided_on, a.public_on) for a in db.session.scalars(db.select(RevocationAnnouncement))}
    # numbered by the province's own sequence of the year, each once
    assert len(decisions) == 2 and all(d.startswith(f"甘工信发〔{today.year}〕") for d in decisions)
    assert all(decided == today <= public for decided, public in decisions.values())
    assert _single("spot_check").data["batch"].startswith(f"{today.year}年")
    listed_by = set(db.session.scalars(db.select(Designation.decision).where(Designation.decision.like("甘工信发%"))))
    assert listed_by == {f"甘工信发〔{today.year - 1}〕30号 省级绿色制造名单"}  # last year's list


def _no_stale_year_in_any_text(today: date):
    """A year left hard-coded shows up as one far from today somewhere in the seeded text."""
    texts = [json.dumps(data, ensure_ascii=False, default=str) for data in db.session.scalars(
        db.select(ProcessInstance.data))]
    texts += db.session.scalars(db.select(Designation.decision).where(Designation.decision.is_not(None))).all()
    texts += db.session.scalars(db.select(AdverseFact.reference)).all()
    years = {int(y) for text in texts for y in YEAR_IN_TEXT.findall(text)}
    assert years and years <= set(range(today.year - 3, today.year + 3)), sorted(years)


@pytest.mark.parametrize("today", DAYS, ids=str)
def test_the_demo_makes_sense_on_any_day(app, today):
    with time_machine.travel(datetime.combine(today, time(10, 0), clock.SHANGHAI), tick=False):
        clock.install(clock.SystemClock())
        _seed(app)
        _no_case_failed()
        _provincial_round_is_this_years(today)
        _national_round_is_the_next_31_julys(today)
        _pools_are_this_years(today)
        _facts_lie_in_the_past(today)
        _listings_and_filings_lie_in_the_past(today)
        _documents_carry_the_year(today)
        _no_stale_year_in_any_text(today)

        seeded = db.session.scalar(db.select(db.func.count()).select_from(ProcessInstance))
        _seed(app)
        assert db.session.scalar(db.select(db.func.count()).select_from(ProcessInstance)) == seeded
