"""One language at a time (issue 17.3): Chinese first for everyone, English for whoever chose it,
the choice kept on the account, and model texts (diagrams, forms, decision tables, validation
and engine messages) shown in the page's one language."""
from __future__ import annotations

import re

from babel.messages.pofile import read_po
from conftest import ROOT
from flask import session
from flask_babel import refresh
from test_web_cases import PASSWORD, case_in_review
from webclient import csrf_token, post_form, sign_in

from engine.db import db
from engine.green.models import User
from engine.models import HumanTask
from web.accounts.users import add_user, issue_token
from web.model_texts import _PAIR as PAIR
from web.model_texts import CATALOGS, extract_form, extract_model, model_text

MODELS_PO = CATALOGS / "en" / "LC_MESSAGES" / "models.po"
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")

ENGLISH_BROWSER = {"Accept-Language": "en-GB,en;q=0.9"}


def official(name="lz"):
    add_user(name, "municipal", "620100", password="correct-horse")


def test_an_english_browser_still_gets_chinese_first(client):
    official()
    page = client.get("/login", headers=ENGLISH_BROWSER).get_data(as_text=True)
    assert '<html lang="zh-CN"' in page
    sign_in(client, "lz")
    assert '<html lang="zh-CN"' in client.get("/inbox/", headers=ENGLISH_BROWSER).get_data(as_text=True)


def test_english_chosen_on_the_login_page_survives_signing_in(client):
    official()
    client.get("/lang/en?next=/login")
    assert '<html lang="en"' in client.get("/login").get_data(as_text=True)
    sign_in(client, "lz")
    assert '<html lang="en"' in client.get("/inbox/").get_data(as_text=True)


def test_the_choice_is_remembered_on_the_account_in_another_browser(app):
    official()
    first, second = app.test_client(), app.test_client()
    sign_in(first, "lz")
    first.get("/lang/en")
    sign_in(second, "lz")  # another browser, nothing chosen there
    assert '<html lang="en"' in second.get("/inbox/").get_data(as_text=True)

    second.get("/lang/zh_CN")  # and back, again for every later sign-in
    third = app.test_client()
    sign_in(third, "lz")
    assert '<html lang="zh-CN"' in third.get("/inbox/").get_data(as_text=True)


def test_signing_out_keeps_nobody_elses_choice(app):
    official("lz")
    official("tianshui")
    browser = app.test_client()
    sign_in(browser, "lz")
    browser.get("/lang/en")
    browser.post("/logout", data={"csrf_token": csrf_token(browser, "/inbox/")})
    sign_in(browser, "tianshui")  # a colleague at the same desk who never chose English
    assert '<html lang="zh-CN"' in browser.get("/inbox/").get_data(as_text=True)


# ---- the models' texts ----------------------------------------------------------------------------

def review_task(runtime) -> str:
    case = case_in_review(runtime)
    return db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == case))


def test_the_city_reviews_in_chinese_or_in_english_never_both(client, runtime):
    task = review_task(runtime)
    sign_in(client, "lz", PASSWORD)
    page = client.get(f"/tasks/{task}").get_data(as_text=True)
    assert "<h1>市级审核</h1>" in page and "审核结论" in page and "通过并公布" in page
    assert "Municipal review" not in page and "Decision" not in page and "Approve" not in page

    client.get("/lang/en")
    page = client.get(f"/tasks/{task}").get_data(as_text=True)
    assert "<h1>Municipal review</h1>" in page and "Decision" in page and "Approve and list" in page
    assert "市级审核" not in page and "审核结论" not in page and "通过并公布" not in page

    client.get("/lang/zh_CN")
    refused = post_form(client, f"/tasks/{task}", {"decision": "approve", "opinion": "好", "action": "submit"},
                        page=f"/tasks/{task}")
    assert "至少填写 2 个字。" in refused.get_data(as_text=True)
    client.get("/lang/en")
    refused = post_form(client, f"/tasks/{task}", {"decision": "approve", "opinion": "好", "action": "submit"},
                        page=f"/tasks/{task}")
    assert refused.status_code == 422 and "at least 2" in refused.get_data(as_text=True).lower()


def test_the_api_answers_field_errors_in_the_accounts_language(client, runtime):
    task = review_task(runtime)
    lz = db.session.scalar(db.select(User).where(User.name == "lz"))
    token = issue_token(lz, "admin")
    headers = {"Authorization": f"Bearer {token}"}
    short = {"data": {"decision": "approve", "opinion": "好"}}
    r = client.post(f"/api/v1/tasks/{task}/complete", json=short, headers=headers)
    assert r.status_code == 422 and r.json["fields"]["opinion"] == ["至少填写 2 个字。"]

    sign_in(client, "lz", PASSWORD)
    client.get("/lang/en")  # chosen once, on the pages; the API client has no session of its own
    r = client.application.test_client().post(f"/api/v1/tasks/{task}/complete", json=short, headers=headers)
    assert r.status_code == 422 and "2" in r.json["fields"]["opinion"][0] and not CJK.search(r.json["fields"]["opinion"][0])


def test_a_name_stored_before_the_split_shows_the_readers_half(app):
    with app.test_request_context("/"):
        assert model_text("市级审核 Municipal review") == "市级审核"
        assert model_text("同一项填写了两次 (this item is answered twice)") == "同一项填写了两次"
    with app.test_request_context("/"):
        session["lang"] = "en"
        refresh()  # the test's app context outlives the request context: forget the locale found before
        assert model_text("市级审核 Municipal review") == "Municipal review"
        assert model_text("同一项填写了两次 (this item is answered twice)") == "This item is answered twice"
        assert model_text("市级审核") == "Municipal review"
        assert model_text("兰州绿源制造有限公司") == "兰州绿源制造有限公司"  # data, not a model's text


def _model_texts() -> dict[str, str]:
    """Every Chinese text of processes/ and forms/, by where it is, as `make translations` extracts them."""
    texts = {}
    for path in sorted((ROOT / "processes").glob("*.*")) + sorted((ROOT / "forms").glob("*.json")):
        extract = extract_form if path.suffix == ".json" else extract_model
        with open(path, "rb") as f:
            for _line, _func, text, _comments in extract(f, (), (), {}):
                texts.setdefault(text, path.name)
    return texts


def test_no_model_text_is_a_pair_of_both_languages():
    pairs = [f"{where}: {text}" for text, where in _model_texts().items() if PAIR.match(text)]
    assert not pairs, "write the Chinese in the model and its English in models.po:\n" + "\n".join(pairs)


def test_every_model_text_has_its_english():
    with open(MODELS_PO, "rb") as f:
        catalog = read_po(f, locale="en")
    missing = [f"{where}: {text}" for text, where in _model_texts().items()
               if not (catalog.get(text) and catalog.get(text).string and not catalog.get(text).fuzzy)]
    assert not missing, f"translate in {MODELS_PO.name} (`make translations` adds them):\n" + "\n".join(missing)
    chinese = [m.id for m in catalog if m.id and CJK.search(str(m.string))]
    assert not chinese, f"English texts with Chinese in them: {chinese}"
