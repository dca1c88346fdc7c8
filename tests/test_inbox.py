"""The inbox: filters by what a case is about, and the role tab of a city."""
from __future__ import annotations

from conftest import ROOT
from creation import deploy, self_evaluated
from webclient import sign_in

from engine.db import db
from engine.models import HumanTask
from engine.runtime import Actor
from web.accounts.users import add_user

BASE = {"organisation_name": "兰州某企业", "credit_code": "91620100MA74XJ2P0P", "evaluation_mode": "self"}


def in_review(runtime, unit_type):
    firm = Actor("firm", "applicant")
    case = self_evaluated(runtime, firm, application={**BASE, "unit_type": unit_type})
    return db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == case.id))


def test_the_inbox_filters_by_unit_type_and_level(client, runtime):
    deploy(runtime)
    factory = in_review(runtime, "green_factory")
    water = in_review(runtime, "water_saving_enterprise")
    add_user("lz", "municipal", "620100", password="correct-horse")
    sign_in(client, "lz")
    page = client.get("/inbox/?tab=role&unit_type=green_factory").get_data(as_text=True)
    assert factory in page and water not in page
    page = client.get("/inbox/?tab=role&unit_type=water_saving_enterprise").get_data(as_text=True)
    assert water in page and factory not in page
    assert factory in client.get("/inbox/?tab=role&unit_type=nonsense").get_data(as_text=True)  # ignored

    line = (ROOT / "tests" / "models" / "time_limits.bpmn").read_bytes()
    runtime.registry.deploy({"limits.bpmn": line})
    provincial = runtime.start("city_recommendation", {"level": "provincial"}, Actor("lz", "municipal", "620100"))
    provincial_task = db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == provincial.id))
    page = client.get("/inbox/?tab=role&level=provincial").get_data(as_text=True)
    assert provincial_task in page and factory not in page


def test_the_inbox_names_each_tasks_procedure_as_the_diagram_does(client, runtime):
    deploy(runtime)
    in_review(runtime, "green_factory")
    add_user("lz", "municipal", "620100", password="correct-horse")
    sign_in(client, "lz")
    page = client.get("/inbox/?tab=role").get_data(as_text=True)
    name = runtime.registry.process_name("municipal_creation")
    assert name.startswith("市级绿色制造单位")  # the diagram's name, not its id
    assert f'<span class="muted">{name}</span>' in page  # the task's row
    assert f'<option value="municipal_creation" >{name}</option>' in page  # the procedure filter
