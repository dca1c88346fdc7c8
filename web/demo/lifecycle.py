"""Demo cases of annual dynamic management (动态管理演示数据): three units listed
a year or more ago, whose history is played on a virtual clock up to today so
that their lifecycle cases stand at different stages:

- 兰州 甘肃陇原绿能科技有限公司: filed on time and reviewed on site (then waiting for, or
  filing, the next year's table);
- 天水 天水秦州精密铸造有限公司: did not file by 15 April: the city must propose
  revocation or record an excuse;
- 兰州 兰州黄河新材料股份有限公司: filed with a change of name: on-site review and the
  change wait for the city.
"""
from __future__ import annotations

from datetime import datetime

from engine import clock
from engine.db import db
from engine.green.lifecycle import DesignationLifecycle
from engine.green.models import Designation, Organisation, User
from engine.models import HumanTask
from engine.runtime import Actor
from engine.timers import run_until

from ..accounts.users import add_user
from .accounts import DEMO_PASSWORD
from .evaluation import apply_and_self_evaluate

# Each unit acts for itself: an organisation's registered account applies only as that
# organisation (its name and credit code are known), so these are not the demo's logins.
UNITS = [  # applicant account, city, name, credit code, stage
    ("longyuan-greenenergy", "620100", "甘肃陇原绿能科技有限公司", "91620100MA7LC0001B", "reviewed"),
    ("qinzhou-casting", "620500", "天水秦州精密铸造有限公司", "91620500MA7LC00023", "overdue"),
    ("huanghe-materials", "620100", "兰州黄河新材料股份有限公司", "91620100MA7LC0003H", "filed"),
]
OFFICIALS = {"620100": Actor("lanzhou", "municipal", "620100"), "620500": Actor("tianshui", "municipal", "620500")}


def _table(name: str, code: str, **extra) -> dict:
    return {"organisation_name": name, "credit_code": code, "industry": "有色金属冶炼及压延加工",
            "contact_person": "王工", "contact_phone": "0931-8123456", "name_changed": False, "scope_changed": False,
            "address_changed": False, "boundary_changed": False, "accidents_declared": False, "credit_status": "good",
            "output_value": 86500, "main_product": "铝合金型材（吨）", "main_product_output": 42000,
            "total_energy": 23800, "energy_per_unit": 566.7, "carbon_per_unit": 1.21, "water_per_unit": 2.6,
            "water_reuse_rate": 95.2, "solid_waste_utilisation": 91.5, "renewable_share": 18.0,
            "pollutant_emissions": [{"pollutant": "颗粒物", "amount": 6.4, "unit": "吨"},
                                    {"pollutant": "氮氧化物", "amount": 21.3, "unit": "吨"}],
            "truthful": True, **extra}


def _task(instance_id: int, element: str | None = None) -> str | None:
    q = db.select(HumanTask.id).where(HumanTask.instance_id == instance_id)
    if element:
        q = q.where(HumanTask.element == element)
    return db.session.scalar(q)


def _lifecycle_case(code: str) -> int | None:
    return db.session.scalar(db.select(DesignationLifecycle.instance_id).join(
        Designation, Designation.id == DesignationLifecycle.designation_id).join(Organisation).where(
        Organisation.credit_code == code))


def seed(runtime) -> None:
    if db.session.scalar(db.select(Organisation.id).where(Organisation.credit_code == UNITS[0][3])) is not None:
        return  # seeded before
    real = clock.current()
    today = real.now()
    # the filing year whose 15 April has passed: its story is complete up to today
    year = today.year if today >= datetime(today.year, 4, 20, tzinfo=clock.SHANGHAI) else today.year - 1
    clock.install(clock.VirtualClock(datetime(year - 1, 3, 2, 10, 0, tzinfo=clock.SHANGHAI)))
    try:
        cases = {}
        for applicant, city, name, code, stage in UNITS:
            if db.session.scalar(db.select(User.id).where(User.name == applicant)) is None:
                add_user(applicant, "applicant", None, actor="demo", password=DEMO_PASSWORD, display_name=name)
            firm = Actor(applicant, "applicant")
            case = runtime.start("municipal_creation", {}, firm, city)
            apply_and_self_evaluate(runtime, case, firm, {
                "organisation_name": name, "unit_type": "green_factory", "credit_code": code})
            runtime.complete(_task(case.id), {"decision": "approve", "opinion": "符合市级绿色工厂条件，予以公布。"},
                             OFFICIALS[city])
            cases[code] = (_lifecycle_case(code), firm, city, name, stage)
        run_until(runtime, datetime(year, 3, 10, 9, 0, tzinfo=clock.SHANGHAI))
        for code, (case_id, firm, _city, name, stage) in cases.items():
            if stage == "reviewed":
                runtime.complete(_task(case_id, "Task_file_dynamic_table"), _table(name, code), firm)
        run_until(runtime, datetime(year, 4, 10, 15, 0, tzinfo=clock.SHANGHAI))
        for code, (case_id, firm, _city, name, stage) in cases.items():
            if stage == "filed":
                runtime.complete(_task(case_id, "Task_file_dynamic_table"), _table(
                    name, code, name_changed=True, new_name="甘肃黄河新材料集团股份有限公司",
                    change_explanation="经股东大会决议更名，已于上年12月完成市场监管部门变更登记。"), firm)
        run_until(runtime, datetime(year, 4, 20, 10, 0, tzinfo=clock.SHANGHAI))
        for case_id, _firm, city, _name, stage in cases.values():
            if stage == "reviewed":
                runtime.complete(_task(case_id, "Task_onsite_review"), {
                    "visited_on": f"{year}-04-20", "review_result": "pass",
                    "review_findings": "能源计量器具配备齐全，污染治理设施运行正常，指标与报表一致。"}, OFFICIALS[city])
        run_until(runtime, max(today, clock.now()))
    finally:
        clock.install(real)
