"""The incident-report page (Art 20) and a designation's dynamic-management page:
a city reports into its own designations' lifecycle cases only."""
from __future__ import annotations

from conftest import ROOT
from test_lifecycle import CITY_REVOKES, INCIDENT, MODELS, list_unit
from webclient import csrf_token, sign_in

from engine.db import db
from engine.green.lifecycle import IncidentReport
from engine.green.models import Designation
from engine.models import HumanTask
from engine.runtime import Actor
from web.accounts.users import add_user


def setup(runtime):
    runtime.registry.deploy({name: (ROOT / "processes" / name).read_bytes() for name in MODELS})
    for name, role, city in (("firm", "applicant", None), ("lz", "municipal", "620100"),
                             ("ts", "municipal", "620500"), ("prov", "provincial", None)):
        add_user(name, role, city, password="correct-horse")
    designation_id, case = list_unit(runtime)
    return designation_id, case


def signed_in(app, name):
    client = app.test_client()
    sign_in(client, name)
    return client


def report(client, designation_id, **fields):
    path = f"/registry/{designation_id}/incident"
    return client.post(path, data={**fields, "csrf_token": csrf_token(client, path)})


def test_a_city_reports_a_major_accident_and_the_designation_is_revoked_and_announced(app, runtime):
    designation_id, case = setup(runtime)
    lanzhou = signed_in(app, "lz")
    page = lanzhou.get(f"/registry/{designation_id}/lifecycle").get_data(as_text=True)
    assert f"#{case.id}" in page and 'id="report-incident"' in page
    assert 'id="lifecycle-link"' in lanzhou.get(f"/registry/{designation_id}").get_data(as_text=True)
    form = lanzhou.get(f"/registry/{designation_id}/incident").get_data(as_text=True)
    assert "特别重大（Ⅰ级）" in form and 'name="csrf_token"' in form

    r = report(lanzhou, designation_id, **INCIDENT)
    assert r.status_code == 303
    after = lanzhou.get(r.headers["Location"]).get_data(as_text=True)
    assert "已转入取消资格程序" in after and 'id="report-incident"' not in after  # one revocation at a time
    # a municipal unit: the city's own decision, in its inbox, due by the end of the next working day
    inbox = lanzhou.get("/inbox/").get_data(as_text=True)
    assert "市级提出取消建议" in inbox and f'href="/cases/{case.id}"' in inbox
    db.session.commit()  # a fresh snapshot: the report was another session's
    proposal = db.session.scalar(db.select(HumanTask).where(HumanTask.instance_id == case.id,
                                                            HumanTask.element == "Task_city_proposal"))
    runtime.complete(proposal.id, {**CITY_REVOKES, "facts": INCIDENT["description"]}, Actor("lz", "municipal", "620100"))
    db.session.commit()
    assert db.session.get(Designation, designation_id).status == "revoked"
    public = app.test_client().get("/public/revocations").get_data(as_text=True)
    assert "兰州绿源制造有限公司" in public and 'data-ground="major_incident"' in public  # announced at once
    assert db.session.scalar(db.select(IncidentReport)).reported_by == "lz"


def test_a_minor_incident_is_recorded_and_shown_for_the_annual_review(app, runtime):
    designation_id, case = setup(runtime)
    lanzhou = signed_in(app, "lz")
    r = report(lanzhou, designation_id, **{**INCIDENT, "severity": "general", "description": "叉车碰撞致1人轻伤，已整改完毕。"})
    assert r.status_code == 303
    page = lanzhou.get(r.headers["Location"]).get_data(as_text=True)
    assert "记录在案" in page and "叉车碰撞致1人轻伤" in page and 'id="report-incident"' in page
    db.session.commit()
    assert db.session.get(Designation, designation_id).status == "listed"


def test_bad_input_is_refused_with_the_entries_kept(app, runtime):
    designation_id, case = setup(runtime)
    lanzhou = signed_in(app, "lz")
    path = f"/registry/{designation_id}/incident"
    assert lanzhou.post(path, data=INCIDENT).status_code == 400  # no CSRF token
    r = report(lanzhou, designation_id, **{**INCIDENT, "severity": "", "occurred_on": "去年"})
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and "熔炼车间发生爆炸事故" in page and "去年" in page
    db.session.commit()
    assert db.session.get(Designation, designation_id).status == "listed"
    assert db.session.scalar(db.select(db.func.count()).select_from(IncidentReport)) == 0


def test_only_the_designations_own_city_reports(app, runtime):
    designation_id, case = setup(runtime)
    path = f"/registry/{designation_id}/incident"
    tianshui = signed_in(app, "ts")
    assert tianshui.get(path).status_code == 404
    assert report(signed_in(app, "lz"), designation_id, **{**INCIDENT, "severity": "general"}).status_code == 303
    r = tianshui.post(path, data={**INCIDENT, "csrf_token": csrf_token(tianshui, "/inbox/")})
    assert r.status_code == 404
    assert tianshui.get(f"/registry/{designation_id}/lifecycle").status_code == 404
    province = signed_in(app, "prov")
    assert province.get(f"/registry/{designation_id}/lifecycle").status_code == 200
    assert province.get(path).status_code == 403
    assert signed_in(app, "firm").get(path).status_code == 403
    db.session.commit()
    assert db.session.get(Designation, designation_id).status == "listed"
