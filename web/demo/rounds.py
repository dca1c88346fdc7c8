"""Demo of the provincial round (Arts 14-15): this year's round with every city's
recommendation in and the experts' review done, so its list is on public notice
and open to objections on the public site.

The whole round is played on the day the demo is seeded, not on a replayed past:
the process takes the round's year from the day it opens, and the notice runs its
working days from the day the experts finish, so in any month the round is this
year's and its notice is open now. (Replaying the recommendations before 31 March
would leave the experts months past their ten working days.)"""
from __future__ import annotations

from engine.db import db
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
    for task in db.session.scalars(db.select(HumanTask.id).where(HumanTask.instance_id == case.id)).all():
        runtime.complete(task, {"conclusion": "pass", "score": 90, "opinion": "材料齐全，主要指标达到省级要求。"},
                         Actor("expert", "expert"))
