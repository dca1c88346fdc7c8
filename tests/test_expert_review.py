"""Expert review as the province runs it (Art 15): the province keeps an expert pool
on its page, an expert declares the units they may not review on theirs, the
province assigns at least three reviewers per candidate (the number is the
diagram's), a declared conflict is refused with its reason, each expert sees only
the candidates assigned to them (inbox, task page, case page and API), and a
decision table an analyst can change consolidates the scores and opinions."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from conftest import ROOT, upload
from factories import people
from test_provincial_selection import all_cities_recommend, municipal_unit, tasks
from webclient import post_form, sign_in

from engine import clock
from engine.db import db
from engine.green.experts import ExpertAssignment
from engine.green.notices import PublicNotice
from engine.model_registry import collect
from engine.models import HumanTask, ProcessInstance

POOL = [  # account, name, field, organisation
    ("zhao", "赵教授", "工业节能", "兰州理工大学"),
    ("qian", "钱研究员", "清洁生产", "甘肃省节能中心"),
    ("sun", "孙高工", "有色冶金", "西北有色设计院"),
    ("li", "李教授", "节水管理", "兰州甲制造有限公司"),
]
NAMES = {"lz_a": "兰州甲制造有限公司", "lz_b": "兰州乙化工有限公司", "ts_c": "天水丙电器有限公司"}


@pytest.fixture
def world(app, runtime):
    runtime.registry.deploy(collect([ROOT / "processes"]))
    tokens = people(("prov", "provincial", None), ("analyst", "analyst", None), ("lanzhou", "municipal", "620100"),
                    *((account, "expert", None) for account, *_ in POOL))
    units = {"lz_a": municipal_unit(runtime, "620100", 1, NAMES["lz_a"]),
             "lz_b": municipal_unit(runtime, "620100", 2, NAMES["lz_b"]),
             "ts_c": municipal_unit(runtime, "620500", 3, NAMES["ts_c"])}
    return {"tokens": tokens, "units": units}


def bearer(world, name):
    return {"Authorization": f"Bearer {world['tokens'][name]}"}


def fill_pool(app) -> dict[str, int]:
    """The province puts the four experts in its pool on the pool page."""
    client = app.test_client()
    sign_in(client, "prov")
    for account, name, field, organisation in POOL:
        r = post_form(client, "/experts/", {"name": name, "field": field, "organisation": organisation,
                                            "account": account}, page="/experts/")
        assert r.status_code == 303, r.get_data(as_text=True)
    page = client.get("/experts/").get_data(as_text=True)
    db.session.commit()  # read what the requests committed
    from engine.green.experts import Expert
    return {e.account: e.id for e in db.session.scalars(db.select(Expert))} | {"_page": page}


def declare(app, account, fields):
    client = app.test_client()
    sign_in(client, account)
    r = post_form(client, "/experts/conflicts", fields, page="/experts/conflicts")
    db.session.commit()
    return r


def open_round(app, runtime, world):
    """The province opens the round over the API, the cities recommend."""
    client = app.test_client()
    r = client.post("/api/v1/instances", json={"process": "provincial_selection"}, headers=bearer(world, "prov"))
    assert r.status_code == 201, r.get_json()
    db.session.commit()
    case = db.session.get(ProcessInstance, r.get_json()["id"])
    all_cities_recommend(runtime, case, world["units"])
    return case


def assignment_task(app, world, case) -> tuple[str, list[dict]]:
    """The province's assignment task and its rows, as the API gives them to the province."""
    body = app.test_client().get(f"/api/v1/instances/{case.id}", headers=bearer(world, "prov")).get_json()
    [task] = [t for t in body["tasks"] if t["element"] == "Task_assign_experts"]
    return task["id"], body["data"]["review_panel"]


def assign(app, world, case, pool, who: dict[str, tuple[str, ...]]):
    task, rows = assignment_task(app, world, case)
    by_code = {world["units"][k]: k for k in NAMES}
    data = [{**row, "experts": ",".join(str(pool[a]) for a in who[by_code[row["candidate"].split(":")[0]]])}
            for row in rows]
    r = app.test_client().post(f"/api/v1/tasks/{task}/complete", json={"data": {"assignments": data}},
                               headers=bearer(world, "prov"))
    db.session.commit()
    return r


SPREAD = {"lz_a": ("zhao", "qian", "sun"), "lz_b": ("qian", "sun", "li"), "ts_c": ("qian", "sun", "li")}


# --------------------------------------------------------------------------- the pool
def test_the_province_keeps_the_pool_on_its_page_and_bad_entries_come_back_with_their_messages(app, world):
    pool = fill_pool(app)
    page = pool.pop("_page")
    assert all(name in page and organisation in page for _, name, _, organisation in POOL)

    client = app.test_client()
    sign_in(client, "prov")
    r = post_form(client, "/experts/", {"name": "吴工", "field": "", "organisation": "兰州交通大学",
                                        "account": "nobody"}, page="/experts/")
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "请填写专业领域" in page and "没有这个评审专家账号" in page
    assert 'value="吴工"' in page and 'value="兰州交通大学"' in page and 'value="nobody"' in page
    r = post_form(client, "/experts/", {"name": "赵教授", "field": "节能", "organisation": "兰州理工大学",
                                        "account": "zhao"}, page="/experts/")
    assert r.status_code == 422 and "该账号已在专家库中" in r.get_data(as_text=True)

    for other in ("lanzhou", "zhao", "analyst"):  # the pool is the province's
        c = app.test_client()
        sign_in(c, other)
        assert c.get("/experts/").status_code == 403
        assert c.post("/experts/", data={"name": "x"}).status_code in (400, 403)


def test_an_expert_declares_a_conflict_and_work_ended_over_three_years_ago_is_none(app, world):
    fill_pool(app)
    code = world["units"]["lz_b"]
    today = clock.now().date()
    three_years_ago = today.replace(year=today.year - 3)
    too_old = declare(app, "qian", {"credit_code": code, "unit_name": NAMES["lz_b"], "kind": "worked_for",
                                    "worked_until": (three_years_ago - timedelta(days=1)).isoformat()})
    page = too_old.get_data(as_text=True)
    assert too_old.status_code == 422 and "三年前已结束的工作不构成回避情形" in page
    assert f'value="{code}"' in page and NAMES["lz_b"] in page  # the entries are kept

    r = declare(app, "qian", {"credit_code": code, "unit_name": NAMES["lz_b"], "kind": "worked_for",
                              "worked_until": three_years_ago.isoformat()})
    assert r.status_code == 303
    bad = declare(app, "qian", {"credit_code": "91620100MA74XJ2P0X", "unit_name": "某单位", "kind": ""})
    assert bad.status_code == 422 and "请选择回避情形" in bad.get_data(as_text=True)

    client = app.test_client()
    sign_in(client, "qian")
    page = client.get("/experts/conflicts").get_data(as_text=True)
    assert NAMES["lz_b"] in page and "近三年内曾为该单位工作或提供服务" in page
    sign_in(client, "prov")  # the province sees it in the pool
    assert NAMES["lz_b"] in client.get("/experts/").get_data(as_text=True)


# --------------------------------------------------------------------------- assignment
def test_two_reviewers_are_refused_and_three_accepted_each_review_addressed_to_its_expert(app, runtime, world):
    pool = fill_pool(app)
    pool.pop("_page")
    case = open_round(app, runtime, world)
    _, rows = assignment_task(app, world, case)
    assert {row["reviewers_required"] for row in rows} == {3}  # the number in the diagram

    two = assign(app, world, case, pool, {**SPREAD, "lz_b": ("qian", "sun")})
    assert two.status_code == 422
    [(field, messages)] = two.get_json()["fields"].items()
    assert field.endswith("/experts") and "每个推荐单位至少需要 3 位评审专家，现为 2 位" in messages[0]
    assert tasks(case.id, "Task_expert_review") == []  # nothing moved

    three = assign(app, world, case, pool, SPREAD)
    assert three.status_code == 200, three.get_json()
    reviews = tasks(case.id, "Task_expert_review")
    assert sorted((t.assignee, t.subject) for t in reviews) == sorted(
        (account, f"{NAMES[k]}（绿色工厂）") for k, accounts in SPREAD.items() for account in accounts)
    assert {t.role for t in reviews} == {"expert"}
    assert db.session.scalar(db.select(db.func.count()).select_from(ExpertAssignment)) == 9


def test_an_expert_who_declared_a_conflict_is_refused_with_the_reason(app, runtime, world):
    pool = fill_pool(app)
    pool.pop("_page")
    assert declare(app, "li", {"credit_code": world["units"]["lz_a"], "unit_name": NAMES["lz_a"],
                               "kind": "own_organisation"}).status_code == 303
    case = open_round(app, runtime, world)
    task, rows = assignment_task(app, world, case)
    conflicts = {row["candidate"].split(":")[0]: row["conflicts"] for row in rows}
    assert conflicts[world["units"]["lz_a"]] == f"{pool['li']} 李教授：本人所在单位"
    assert conflicts[world["units"]["lz_b"]] == "无"

    client = app.test_client()
    sign_in(client, "prov")  # the assignment page lists the pool by number and the declared conflicts
    page = client.get(f"/tasks/{task}").get_data(as_text=True)
    assert 'id="expert-pool"' in page and "李教授：本人所在单位" in page

    refused = assign(app, world, case, pool, {**SPREAD, "lz_a": ("zhao", "qian", "li")})
    assert refused.status_code == 422
    [messages] = refused.get_json()["fields"].values()
    assert [m.split(" (")[0] for m in messages] == [f"李教授（{pool['li']}）已申报回避：本人所在单位，不能评审{NAMES['lz_a']}"]
    # the same expert on a unit she declared nothing about is accepted
    assert assign(app, world, case, pool, SPREAD).status_code == 200


# --------------------------------------------------------------------------- what an expert sees
def test_each_expert_sees_only_the_candidates_assigned_to_them_on_the_pages_and_over_the_api(app, runtime, world):
    pool = fill_pool(app)
    pool.pop("_page")
    case = open_round(app, runtime, world)
    assert assign(app, world, case, pool, SPREAD).status_code == 200
    others = (NAMES["lz_b"], NAMES["ts_c"])
    mine = db.session.scalar(db.select(HumanTask).where(HumanTask.assignee == "zhao"))
    li_task = db.session.scalar(db.select(HumanTask).where(HumanTask.assignee == "li"))

    zhao = app.test_client()
    sign_in(zhao, "zhao")
    inbox = zhao.get("/inbox/").get_data(as_text=True)
    assert f"评审对象：{NAMES['lz_a']}（绿色工厂）" in inbox and not any(n in inbox for n in others)
    task_page = zhao.get(f"/tasks/{mine.id}").get_data(as_text=True)
    assert 'id="file-candidate"' in task_page and NAMES["lz_a"] in task_page and "行业代表性强" in task_page
    assert not any(n in task_page for n in others)
    # his case file is the candidate and its evaluation: no other expert's opinion, nothing else of the round
    assert 'id="file-opinions"' not in task_page and 'id="file-attachments"' not in task_page
    assert zhao.get(f"/tasks/{li_task.id}").status_code == 404  # another expert's review does not exist for him
    case_page = zhao.get(f"/cases/{case.id}").get_data(as_text=True)
    assert NAMES["lz_a"] in case_page and not any(n in case_page for n in others)

    api = app.test_client()
    listed = api.get("/api/v1/tasks", headers=bearer(world, "zhao")).get_json()["tasks"]
    assert [(t["element"], t["subject"]) for t in listed] == [("Task_expert_review", f"{NAMES['lz_a']}（绿色工厂）")]
    body = api.get(f"/api/v1/instances/{case.id}", headers=bearer(world, "zhao")).get_json()
    text = json.dumps(body, ensure_ascii=False)
    assert body["data"] == {"assigned_candidates": [{"candidate": f"{world['units']['lz_a']}:green_factory",
                                                     "name": NAMES["lz_a"], "credit_code": world["units"]["lz_a"],
                                                     "unit_type": "green_factory"}]}
    assert [t["id"] for t in body["tasks"]] == [mine.id] and not any(n in text for n in others)
    listing = json.dumps(api.get("/api/v1/instances", headers=bearer(world, "zhao")).get_json(), ensure_ascii=False)
    assert not any(n in listing for n in others)
    r = api.post(f"/api/v1/tasks/{li_task.id}/complete", json={"data": {"conclusion": "pass", "score": 90,
                                                                         "opinion": "代为评审的意见"}},
                 headers=bearer(world, "zhao"))
    assert r.status_code in (403, 404)

    # the province, handling the round, still reads all of it
    prov = api.get(f"/api/v1/instances/{case.id}", headers=bearer(world, "prov")).get_json()
    assert len([t for t in prov["tasks"] if t["element"] == "Task_expert_review"]) == 9


def test_an_expert_cannot_release_or_hand_over_their_review(app, runtime, world):
    pool = fill_pool(app)
    pool.pop("_page")
    case = open_round(app, runtime, world)
    assert assign(app, world, case, pool, SPREAD).status_code == 200
    mine = db.session.scalar(db.select(HumanTask).where(HumanTask.assignee == "zhao"))
    zhao = app.test_client()
    sign_in(zhao, "zhao")
    for action, data in (("release", {}), ("handover", {"to": "li"})):
        r = post_form(zhao, f"/inbox/{mine.id}/{action}", data)
        assert r.status_code == 303
        assert "不能退回或转交" in zhao.get("/inbox/").get_data(as_text=True)
        assert db.session.get(HumanTask, mine.id).assignee == "zhao"
    li = app.test_client()
    sign_in(li, "li")
    post_form(li, f"/inbox/{mine.id}/claim", {})
    assert db.session.get(HumanTask, mine.id).assignee == "zhao"


# --------------------------------------------------------------------------- consolidation
def review(app, world, case, verdicts: dict[str, list[tuple[str, int]]]):
    """Each expert submits their own reviews over the API: verdicts by candidate, in the order assigned."""
    for key, results in verdicts.items():
        rows = db.session.scalars(db.select(HumanTask).where(
            HumanTask.instance_id == case.id, HumanTask.subject == f"{NAMES[key]}（绿色工厂）")
            .order_by(HumanTask.assignee)).all()
        for task, (conclusion, score) in zip(rows, results, strict=True):
            r = app.test_client().post(f"/api/v1/tasks/{task.id}/complete", json={"data": {
                "conclusion": conclusion, "score": score, "opinion": "对照评价要求逐项审查"}},
                headers=bearer(world, task.assignee))
            assert r.status_code == 200, r.get_json()
    db.session.commit()


VERDICTS = {"lz_a": [("pass", 90), ("pass", 85), ("fail", 70)],  # majority for, mean 81.67: passes
            "lz_b": [("pass", 95), ("fail", 88), ("fail", 90)],  # majority against: fails
            "ts_c": [("pass", 78), ("pass", 79), ("pass", 77)]}  # all for, mean 78 below 80: fails


def test_the_decision_table_consolidates_the_reviews_majority_and_mean_score(app, runtime, world):
    pool = fill_pool(app)
    pool.pop("_page")
    case = open_round(app, runtime, world)
    assert assign(app, world, case, pool, SPREAD).status_code == 200
    review(app, world, case, VERDICTS)
    notice = db.session.scalar(db.select(PublicNotice))
    assert [i["name"] for i in notice.items] == [NAMES["lz_a"]]
    totals = {t["name"]: t for t in db.session.get(ProcessInstance, case.id).data["review_outcome"]["totals"]}
    assert totals[NAMES["lz_a"]]["mean_score"] == 81.67 and totals[NAMES["lz_a"]]["passes"] == 2
    assert not totals[NAMES["ts_c"]]["passed"] and totals[NAMES["ts_c"]]["mean_score"] == 78.0
    assert {o["expert"] for o in totals[NAMES["lz_b"]]["opinions"]} == {"钱研究员", "孙高工", "李教授"}


def test_an_analyst_lowers_the_pass_mark_in_the_table_and_the_next_round_follows_it(app, runtime, world, tmp_path):
    table = (ROOT / "processes" / "expert_review_outcome.dmn").read_text(encoding="utf-8")
    assert "<text>&lt; 80</text>" in table
    files = [p for p in (ROOT / "processes").iterdir() if p.suffix in (".bpmn", ".dmn") and p.stem != "expert_review_outcome"]
    r = upload(app.test_client(), bearer(world, "analyst"), *files,
               ("expert_review_outcome.dmn", table.replace("<text>&lt; 80</text>", "<text>&lt; 75</text>").encode()))
    assert r.status_code == 201, r.get_json()
    pool = fill_pool(app)
    pool.pop("_page")
    case = open_round(app, runtime, world)
    assert assign(app, world, case, pool, SPREAD).status_code == 200
    review(app, world, case, VERDICTS)
    notice = db.session.scalar(db.select(PublicNotice))
    assert [i["name"] for i in notice.items] == [NAMES["lz_a"], NAMES["ts_c"]]  # 78 passes a mark of 75


def test_a_worked_for_conflict_lapses_three_years_after_the_work_ended(app, world):
    """The boundary on the assignment side: the conflict holds on the last day of the three years."""
    from engine.green import experts
    fill_pool(app)
    qian = experts.expert_of("qian")
    ended = clock.now().date() - timedelta(days=10)
    experts.declare_conflict(qian, {"credit_code": world["units"]["lz_b"], "unit_name": NAMES["lz_b"],
                                    "kind": "worked_for", "worked_until": ended.isoformat()})
    db.session.commit()
    last_day = ended.replace(year=ended.year + 3)
    assert experts.conflict_with(qian, world["units"]["lz_b"], last_day) is not None
    assert experts.conflict_with(qian, world["units"]["lz_b"], last_day + timedelta(days=1)) is None
    assert isinstance(last_day, date)


def test_on_the_assignment_page_a_short_panel_comes_back_with_its_message_and_the_entries_kept(app, runtime, world):
    import re
    pool = fill_pool(app)
    pool.pop("_page")
    case = open_round(app, runtime, world)
    task, _ = assignment_task(app, world, case)
    client = app.test_client()
    sign_in(client, "prov")
    page = client.get(f"/tasks/{task}").get_data(as_text=True)
    inputs = dict(re.findall(r'<input[^>]*name="(assignments\[\d+\]\[\w+\])"[^>]*value="([^"]*)"', page))
    rows = sorted({int(re.search(r"\[(\d+)\]", k).group(1)) for k in inputs})
    assert len(rows) == 3 and NAMES["lz_a"] in page
    two, three = f"{pool['zhao']},{pool['qian']}", f"{pool['zhao']},{pool['qian']},{pool['sun']}"
    fields = {**inputs, **{f"assignments[{i}][experts]": three for i in rows}, "action": "submit"}
    fields["assignments[0][experts]"] = two
    r = post_form(client, f"/tasks/{task}", fields, page=f"/tasks/{task}")
    answer = r.get_data(as_text=True)
    assert r.status_code == 422 and "每个推荐单位至少需要 3 位评审专家，现为 2 位" in answer
    assert f'value="{two}"' in answer and f'value="{three}"' in answer
    fields["assignments[0][experts]"] = three
    assert post_form(client, f"/tasks/{task}", fields, page=f"/tasks/{task}").status_code == 303
    db.session.commit()
    assert len(tasks(case.id, "Task_expert_review")) == 9
