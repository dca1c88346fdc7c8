"""Seeds the demo: the models in processes/, the accounts, the first cases of a city's
creation procedure, then each procedure's own seeder; the `flask demo` command."""
from __future__ import annotations

import click
from flask import current_app

from engine.db import db
from engine.green.models import User
from engine.green.roles import JURISDICTIONS, ROLES
from engine.model_registry import collect
from engine.models import HumanTask, ProcessInstance
from engine.runtime import Actor

from ..accounts.users import actor_of, add_user, decide_registration, register
from . import cultivation, evaluation, lifecycle, revocation, rounds
from .accounts import CONFIRMED_BY, DEMO_PASSWORD, DEMO_REGISTRATIONS, DEMO_USERS
from .evaluation import apply_and_self_evaluate
from .national import seed as seed_national

CASES = [
    # applicant, its city (the organisation's, which the case takes), how far to take it
    ("jinchuan-group", "620100", "submitted"),
    ("tianshui-electric", "620500", "new"),
    ("jinchuan-group", "620100", "listed"),
]

# Each procedure's own demo cases, seeded after the accounts above exist; each seeder
# checks what is already there so `make run` can be repeated.
FEATURE_SEEDERS: list = [evaluation.seed, cultivation.seed, seed_national, lifecycle.seed,
                         revocation.seed, rounds.seed]

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
            if name in DEMO_REGISTRATIONS:
                _register(name, token, display)
            else:
                add_user(name, role, city, actor="demo", token=token, password=DEMO_PASSWORD, display_name=display)
        accounts.append((name, role, city, token))
    if db.session.scalar(db.select(db.func.count()).select_from(ProcessInstance)) == 0:
        for applicant, city, stage in CASES:
            actor = actor_of(db.session.scalar(db.select(User).where(User.name == applicant)))
            inst = runtime.start("municipal_creation", {}, actor)
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


def _register(name: str, token: str, display: str) -> None:
    """An enterprise or agency registers itself and its city confirms it, as on the pages."""
    role, org, code, representative, address, division, contact, mobile = DEMO_REGISTRATIONS[name]
    user = register({"role": role, "name": org, "credit_code": code, "legal_representative": representative,
                     "address": address, "division_code": division, "contact_person": contact, "mobile": mobile},
                    name, DEMO_PASSWORD, display, token=token)
    city = actor_of(user).jurisdiction
    decide_registration(user.registration_id, actor_of(db.session.scalar(
        db.select(User).where(User.name == CONFIRMED_BY[city]))), confirm=True)


@click.command("demo")
def demo():
    """Deploy processes/, create the demo accounts and cases, print the accounts."""
    accounts = seed()
    click.echo("Demo accounts: sign in at http://127.0.0.1:5000/login with the name and password;")
    click.echo("the API takes 'Authorization: Bearer <token>'.")
    for line in account_table(accounts):
        click.echo(line)


ACCOUNT_COLUMNS = ("name", "role", "city", "password", "token")


def account_table(accounts: list[tuple[str, str, str | None, str]]) -> list[str]:
    """The demo's accounts as a table with a header: who signs in with what, in which role and city
    (names of roles and cities in English, so that the columns line up in any terminal)."""
    rows = [(name, ROLES[role][1], JURISDICTIONS[city][1] if city else "-", DEMO_PASSWORD, token)
            for name, role, city, token in accounts]
    widths = [max(len(r[i]) for r in [ACCOUNT_COLUMNS, *rows]) for i in range(len(ACCOUNT_COLUMNS))]

    def line(cells):
        return "  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    return [line(ACCOUNT_COLUMNS), line(["-" * w for w in widths]), *(line(r) for r in rows)]
