"""The demo's dynamic-management cases (`flask demo`): units at different stages of their year."""
from __future__ import annotations

from engine import clock
from engine.db import db
from engine.green.lifecycle import DesignationLifecycle, DynamicTableFiling, OnsiteReview
from engine.models import HumanTask


def test_the_demo_seeds_lifecycle_cases_at_their_stages_once(app):
    assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
    assert clock.now().isoformat() == "2026-03-02T09:00:00+08:00"  # the seeder's own clock is put back

    db.session.commit()
    waiting = {(t.element, t.role, t.jurisdiction) for t in db.session.scalars(
        db.select(HumanTask).where(HumanTask.process_id == "designation_lifecycle"))}
    assert ("Task_handle_missed_filing", "municipal", "620500") in waiting  # 天水: not filed by 15 April 2025
    assert ("Task_onsite_review", "municipal", "620100") in waiting  # 兰州: filed with a change of name
    assert ("Task_file_dynamic_table", "applicant", "620100") in waiting  # reviewed in 2025, now filing 2026
    assert [(f.year, f.on_time) for f in db.session.scalars(db.select(DynamicTableFiling))] == [
        (2025, True), (2025, True)]
    assert db.session.scalar(db.select(db.func.count()).select_from(OnsiteReview)) == 1
    lifecycles = db.session.scalar(db.select(db.func.count()).select_from(DesignationLifecycle))

    assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
    db.session.commit()
    assert db.session.scalar(db.select(db.func.count()).select_from(DesignationLifecycle)) == lifecycles
