"""Demo of the provincial round (Arts 14-15): this year's round with every city's
recommendation in, three reviewers from the province's expert pool assigned to each
candidate (周教授, who declared 金川集团 as a unit she worked for, is not) and their
review done, so its list is on public notice and open to objections on the public site.

The whole round is played on the day the demo is seeded, not on a replayed past:
the process takes the round's year from the day it opens, and the notice runs its
working days from the day the experts finish, so in any month the round is this
year's and its notice is open now. (Replaying the recommendations before 31 March
would leave the experts months past their ten working days.)"""
from __future__ import annotations

from uuid import UUID

from engine import clock
from engine.db import db
from engine.green import experts
from engine.green.models import Designation, Organisation
from engine.green.roles import JURISDICTIONS
from engine.models import HumanTask, ProcessInstance
from engine.runtime import Actor

from .accounts import DEMO_USERS


def official_of(city: str) -> str:
    return next(name for name, role, where, _ in DEMO_USERS if role == "municipal" and where == city)


def seed(runtime) -> None:
    if db.session.scalar(db.select(ProcessInstance.id).where(ProcessInstance.process_id == "provincial_selection")):
        return
    case = runtime.start("provincial_selection", {}, Actor("provincial", "provincial"))
    # a city recommends its municipal units that are not provincial yet for the type: one that is
    # (金川, listed provincial by web/demo/listing.py) would be refused at the collection
    provincial = db.aliased(Designation)
    already = db.exists().where(provincial.organisation_id == Designation.organisation_id,
                                provincial.unit_type == Designation.unit_type, provincial.level == "provincial",
                                provincial.status == "listed")
    listed = db.session.execute(
        db.select(Organisation.credit_code, Designation.unit_type, Designation.jurisdiction).join(Designation)
        .where(Designation.level == "municipal", Designation.status == "listed", ~already)).all()
    for city in JURISDICTIONS:
        task = db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == case.id,
                                                               HumanTask.jurisdiction == city))
        units = [{"credit_code": code, "unit_type": unit_type, "reason": "能效水平行业领先，示范带动作用明显。"}
                 for code, unit_type, where in listed if where == city]
        runtime.complete(task, {"units": units}, Actor(official_of(city), "municipal", city))
    pool = expert_pool()
    assign = db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == case.id,
                                                             HumanTask.element == "Task_assign_experts"))
    panel = runtime.read_workflow(case.id).get_task_from_id(UUID(assign)).data["review_panel"]
    reviewers = ",".join(str(pool[name]) for name in ("expert", "expert-qian", "expert-sun"))
    runtime.complete(assign, {"assignments": [{**row, "experts": reviewers} for row in panel]},
                     Actor("provincial", "provincial"))
    for task in db.session.scalars(db.select(HumanTask).where(HumanTask.instance_id == case.id)).all():
        runtime.complete(task.id, {"conclusion": "pass", "score": 90, "opinion": "材料齐全，主要指标达到省级要求。"},
                         Actor(task.assignee, "expert"))


POOL = [  # account, name, field, organisation
    ("expert", "赵教授", "工业节能与绿色制造", "兰州理工大学"),
    ("expert-qian", "钱研究员", "清洁生产与资源综合利用", "甘肃省节能监察中心"),
    ("expert-sun", "孙高工", "有色冶金与节水", "西北有色工程有限公司"),
    ("expert-zhou", "周教授", "环境管理体系", "兰州大学"),
]


def expert_pool() -> dict[str, int]:
    """The province's expert pool; 周教授 has declared a unit she worked for last year."""
    pool = {}
    for account, name, field, organisation in POOL:
        expert = experts.expert_of(account) or experts.add_expert(
            {"name": name, "field": field, "organisation": organisation, "account": account}, "provincial")
        pool[account] = expert.id
    zhou = experts.expert_of("expert-zhou")
    if not zhou.conflicts:
        experts.declare_conflict(zhou, {
            "credit_code": "91620000224330075D", "unit_name": "金川集团股份有限公司", "kind": "worked_for",
            "worked_until": clock.now().date().replace(month=1, day=1).isoformat(),
            "note": "曾为该单位能源审计项目提供咨询。"})
    return pool
