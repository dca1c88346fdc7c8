"""The province's round page shows each city (各市州推荐情况): recommended or not, by whom,
when, late or not; a city official's page shows its own row only."""
from __future__ import annotations

import re
from datetime import datetime

from conftest import ROOT
from factories import user
from webclient import post_form, sign_in

from engine import clock
from engine.db import db
from engine.model_registry import collect
from engine.models import HumanTask
from engine.timers import run_until
from web.accounts.users import add_user


def row(page: str, city: str) -> str:
    return re.search(rf'<tr data-city="{city}".*?</tr>', page, re.S).group(0)


def recommend(client, token, case_id, city):
    task = db.session.scalar(db.select(HumanTask.id).where(
        HumanTask.instance_id == case_id, HumanTask.element == "Task_recommend", HumanTask.jurisdiction == city))
    answer = client.post(f"/api/v1/tasks/{task}/complete", json={"data": {"units": []}},
                         headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.json


def test_the_round_page_shows_which_city_recommended_by_whom_when_and_who_is_late(app, runtime, client):
    runtime.registry.deploy(collect([ROOT / "processes"]))
    province = user("prov", "provincial")
    _, lanzhou = add_user("lz", "municipal", "620100", password="correct-horse", display_name="兰州市工信局 张科长")
    tianshui = user("ts", "municipal", "620500")
    answer = client.post("/api/v1/instances", json={"process": "provincial_selection"},
                         headers={"Authorization": f"Bearer {province}"})
    case_id = answer.json["id"]
    recommend(client, lanzhou, case_id, "620100")  # in time
    run_until(runtime, datetime(2026, 4, 2, 10, 0, tzinfo=clock.SHANGHAI))
    recommend(client, tianshui, case_id, "620500")  # a day late

    sign_in(client, "prov")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert len(re.findall(r'<tr data-city="', page)) == 15  # every city asked
    on_time = row(page, "620100")
    assert "已推荐" in on_time and "兰州市工信局 张科长" in on_time and "未逾期" in on_time
    late = row(page, "620500")
    assert "已推荐" in late and "2026年04月02日 10:00" in late and 'class="overdue"' in late
    silent = row(page, "621200")
    assert "待推荐" in silent and 'class="overdue"' in silent and "2026年03月31日 24:00" in silent

    user("ln", "municipal", "621200")  # 陇南, still asked
    city = app.test_client()
    sign_in(city, "ln")
    page = city.get(f"/cases/{case_id}").get_data(as_text=True)
    assert re.findall(r'<tr data-city="(\d+)"', page) == ["621200"]  # a city: its own row

    # the province closes the collection: the silent cities are recorded as not having recommended
    assert post_form(client, f"/cases/{case_id}/close-collection", page=f"/cases/{case_id}").status_code == 303
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "未推荐" in row(page, "621200") and "已推荐" in row(page, "620100")
