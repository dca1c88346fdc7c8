"""Demo data for `make run` (演示数据): the models in processes/, an account
for every role, and cases at different stages. Safe to run again."""
from __future__ import annotations

import click
from flask import current_app

from engine.db import db
from engine.green.roles import JURISDICTIONS, ROLES
from engine.models import HumanTask, ProcessInstance, User
from engine.model_registry import collect
from engine.runtime import Actor

from . import demo_cultivation, demo_evaluation, demo_revocation, demo_rounds, lifecycle_demo
from .demo_evaluation import apply_and_self_evaluate
from .demo_national import seed as seed_national
from .users import add_user

# Known tokens and one password so a newcomer can sign in and call the API at once;
# never used outside the demo database.
DEMO_PASSWORD = "green-ladder"
DEMO_USERS = [
    ("admin", "admin", None, "系统管理员"),
    ("analyst", "analyst", None, "流程分析员 李工"),
    ("provincial", "provincial", None, "省工信厅节能处 张处长"),
    ("expert", "expert", None, "评审专家 赵教授"),
    ("ecology", "ecology", None, "省生态环境厅 孙处长"),
    ("emergency", "emergency", None, "省应急管理厅 周处长"),
    ("market", "market", None, "省市场监管局 吴处长"),
    ("lanzhou", "municipal", "620100", "兰州市工信局 王科长"),
    ("lanzhou2", "municipal", "620100", "兰州市工信局 刘科员"),
    ("tianshui", "municipal", "620500", "天水市工信局 陈科长"),
    # one official for each of the other cities, named by the city's pinyin
    *((names[1].lower().replace(" ", "-"), "municipal", code,
       f"{names[0]}{'经发局' if code == '620171' else '工信局'}")  # Lanzhou New Area's authority is its 经发局
      for code, names in JURISDICTIONS.items() if code not in ("620100", "620500")),
    ("jinchuan-group", "applicant", None, "金川集团股份有限公司"),
    ("tianshui-electric", "applicant", None, "天水电气传动研究所"),
    ("agency-gsgreen", "agency", None, "甘肃绿评科技有限公司"),
    ("agency-lzhk", "agency", None, "兰州环科评价咨询有限公司"),
]

CASES = [
    # applicant, city, how far to take it
    ("jinchuan-group", "620100", "submitted"),
    ("tianshui-electric", "620500", "new"),
    ("jinchuan-group", "620100", "listed"),
]

# Each procedure's own demo cases, seeded after the accounts above exist; each seeder
# checks what is already there so `make run` can be repeated.
FEATURE_SEEDERS: list = [demo_evaluation.seed, demo_cultivation.seed, seed_national, lifecycle_demo.seed,
                         demo_revocation.seed, demo_rounds.seed]

REPORT = {
    "organisation_name": "金川集团股份有限公司", "unit_type": "green_factory", "credit_code": "91620000224330075D",
    "evaluation_mode": "self", "summary": "基础设施、管理体系、能源资源投入等指标均满足 GB/T 36132 要求。",
}


def seed() -> list[tuple[str, str, str | None, str]]:
    runtime = current_app.extensions["green_ladder.runtime"]
    runtime.registry.deploy(collect([current_app.config["PROCESSES_DIR"]]), actor="demo", note="demo seed")
    accounts = []
    for name, role, city, display in DEMO_USERS:
        token = f"demo-{name}"
        if db.session.scalar(db.select(User).where(User.name == name)) is None:
            add_user(name, role, city, actor="demo", token=token, password=DEMO_PASSWORD, display_name=display)
        accounts.append((name, role, city, token))
    if db.session.scalar(db.select(db.func.count()).select_from(ProcessInstance)) == 0:
        for applicant, city, stage in CASES:
            actor = Actor(applicant, "applicant")
            inst = runtime.start("municipal_creation", {}, actor, city)
            if stage == "new":
                continue
            apply_and_self_evaluate(runtime, inst, actor, REPORT)
            if stage == "listed":
                task = db.session.scalar(db.select(HumanTask).where(HumanTask.instance_id == inst.id))
                runtime.complete(task.id, {"decision": "approve", "opinion": "符合市级绿色工厂条件。"},
                                 Actor("lanzhou", "municipal", city))
    for seed_feature in FEATURE_SEEDERS:
        seed_feature(runtime)
    return accounts


@click.command("demo")
def demo():
    """Deploy processes/, create the demo accounts and cases, print the accounts."""
    accounts = seed()
    click.echo(f"Demo accounts: sign in at http://127.0.0.1:5000/login with password {DEMO_PASSWORD};")
    click.echo("the API takes 'Authorization: Bearer <token>':")
    for name, role, city, token in accounts:
        where = f"（{JURISDICTIONS[city][0]}）" if city else ""
        click.echo(f"  {token:26} {name:18} {ROLES[role][0]}{where}")
