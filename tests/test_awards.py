"""One-time awards (Art 25) decided by processes/award_amounts.dmn through the
service operation award.grant, as a listing step calls it.

How Art 25 is read (docs/traceability.md): the award is one-time per unit type
and level ("首次进入"); within one year a unit gets one award whatever the
number of types (不叠加), so a second listing the same year is not paid, and a
listing at a higher level the same year is paid only the difference up to the
higher award; a different type in a later year is a first entry and is paid."""
from __future__ import annotations

from datetime import datetime

import pytest
from factories import quoted, revoke_diagram
from national_helpers import ADMIN, deploy, list_unit

from engine import clock
from engine.db import db
from engine.green import awards
from engine.green.awards import Award
from engine.services import ServiceError, StepContext

REVOKE = revoke_diagram(ground=quoted("refuses_supervision"), article=quoted("Art 21(6)"),
                        announcement=quoted("with_publication"))


@pytest.fixture
def deployed(runtime):
    return deploy(runtime)


def year(y, month=3, day=2):
    clock.current().set(datetime(y, month, day, 9, 0, tzinfo=clock.SHANGHAI))


def test_first_entry_is_paid_at_the_caps(runtime, deployed):
    _, _, provincial = list_unit(runtime, 1, "兰州绿源制造有限公司", "green_factory")
    assert (provincial["amount"], provincial["paid"]) == (500000, True)
    assert "首次进入省级" in provincial["reason"]
    _, _, national = list_unit(runtime, 2, "天水经济技术开发区", "green_park", level="national", city="620500",
                               reference="GP-2026-0001")
    assert national["amount"] == 1000000 and "首次进入国家级" in national["reason"]
    for n, unit_type in enumerate(("water_saving_enterprise", "water_saving_park", "green_supply_chain"), start=3):
        assert list_unit(runtime, n, f"单位{n}", unit_type)[2]["amount"] == 500000  # all five types, provincially
    _, _, municipal = list_unit(runtime, 9, "市级单位", "green_factory", level="municipal")
    assert municipal["amount"] == 0 and "市级" in municipal["reason"]


def test_one_award_per_unit_per_year_across_types(runtime, deployed):
    list_unit(runtime, 1, "兰州绿源制造有限公司", "green_factory")
    year(2026, 11, 20)
    _, _, second = list_unit(runtime, 1, "兰州绿源制造有限公司", "green_supply_chain")
    assert (second["amount"], second["paid"]) == (0, False) and "不叠加" in second["reason"]
    # a later year, a different type: a first entry of that type, paid
    year(2027)
    _, _, later = list_unit(runtime, 1, "兰州绿源制造有限公司", "water_saving_enterprise")
    assert later["amount"] == 500000
    rows = db.session.scalars(db.select(Award).order_by(Award.id)).all()
    assert [(a.year, a.unit_type, a.amount) for a in rows] == [
        (2026, "green_factory", 500000), (2026, "green_supply_chain", 0), (2027, "water_saving_enterprise", 500000)]


def test_a_higher_level_the_same_year_tops_up_to_the_higher_award_only(runtime, deployed):
    list_unit(runtime, 1, "兰州绿源制造有限公司", "green_factory")
    year(2026, 12, 1)
    _, _, national = list_unit(runtime, 1, "兰州绿源制造有限公司", "green_factory", level="national",
                               reference="GF-2026-0001")
    assert national["amount"] == 500000 and "补足" in national["reason"]
    total = db.session.scalar(db.select(db.func.sum(Award.amount)))
    assert total == 1000000  # one award, the national one, never 1.5 million
    # already at the national cap this year: a further listing gets nothing
    _, _, park = list_unit(runtime, 1, "兰州绿源制造有限公司", "green_park", level="national", reference="GP-2026-0002")
    assert park["amount"] == 0


def test_listing_again_after_a_revocation_is_not_paid_again(runtime, deployed):
    runtime.registry.deploy({"revoke.bpmn": REVOKE})
    _, first, award = list_unit(runtime, 1, "兰州绿源制造有限公司", "green_factory")
    assert award["amount"] == 500000
    runtime.start("revoke", {"designation_id": first.id, "reason": "未按时报送动态管理表"}, ADMIN)
    assert db.session.get(type(first), first.id).status == "revoked"
    year(2028)
    _, again, award = list_unit(runtime, 1, "兰州绿源制造有限公司", "green_factory")
    assert again.id != first.id and award["amount"] == 0 and "非首次进入" in award["reason"]


def test_granting_twice_for_one_designation_pays_once(runtime, deployed):
    case, designation, award = list_unit(runtime, 1, "兰州绿源制造有限公司", "green_factory")
    step = StepContext(case.id, "listing_with_award", case.version_id, "registrar")
    again = awards.grant({"designation_id": designation.id}, step)
    assert again["amount"] == 500000 and again["already_recorded"] is True
    assert db.session.scalar(db.select(db.func.count()).select_from(Award)) == 1
    with pytest.raises(ServiceError):
        awards.grant({"designation_id": 99999}, step)


def test_an_analyst_changes_the_amounts_in_the_table(runtime, deployed):
    from national_helpers import FILES

    table = FILES["award_amounts.dmn"].read_text().replace("max(0, 500000 - paid_this_year)",
                                                           "max(0, 300000 - paid_this_year)")
    deploy(runtime, **{"award_amounts.dmn": table.encode()})
    _, _, award = list_unit(runtime, 1, "兰州绿源制造有限公司", "green_factory")
    assert award["amount"] == 300000
    row = db.session.scalar(db.select(Award))
    assert row.version_id != deployed.id  # the ledger names the rules' version that decided


def test_a_version_without_the_table_holds_the_case_with_the_reason(runtime):
    from national_helpers import FILES

    runtime.registry.deploy({"listing_with_award.bpmn": FILES["listing_with_award.bpmn"].read_bytes()})
    from national_helpers import code

    case = runtime.start("listing_with_award", {
        "credit_code": code(1), "organisation_name": "兰州绿源制造有限公司", "unit_type": "green_factory",
        "level": "provincial", "platform_reference": None, "decision": "x"}, ADMIN, "620100")
    assert case.status == "error" and "award_amounts" in case.error_message
    assert db.session.scalar(db.select(db.func.count()).select_from(Award)) == 0
