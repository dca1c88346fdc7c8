"""One language at a time (issue 17.3): Chinese first for everyone, English for whoever chose it,
the choice kept on the account, and model texts (diagrams, forms, decision tables, validation
and engine messages) shown in the page's one language."""
from __future__ import annotations

import ast
import io
import re

from babel.messages.pofile import read_po
from conftest import ROOT
from flask import session
from flask_babel import refresh
from test_api import REPORT, deploy_creation, start
from test_modeler import FLOW_TO_WAIT, NOTICE, NOTICE_FILE
from test_web_cases import PASSWORD, case_in_review
from webclient import csrf_token, post_form, sign_in

from engine import script_check
from engine.db import db
from engine.errors import en, halves, zh
from engine.green.models import User
from engine.model_registry import collect, semantics
from engine.models import HumanTask
from web.accounts.users import add_user, choose_language, issue_token
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


# ---- the engine's messages ----------------------------------------------------------------------

# What the engine raises to refuse something, and what the pages and the API show of it
REFUSALS = {"EngineError", "NotFound", "Forbidden", "Conflict", "RegistrationRefused", "ServiceError", "ModelingError",
            "StaleBase", "AttachmentRefused", "ArrangementInvalid", "NoticeClosed", "ScriptRefused", "ScriptTooLarge"}
# Messages no person reads on a page (kept for the log or a developer's console): none yet
LOG_ONLY: set[tuple[str, str]] = set()


def _template(node) -> str | None:
    """A message's text as written, each f-string placeholder as a word; None if it is no string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "value" for v in node.values)
    return None


def engine_messages():
    """Every message the engine refuses with or reports as a validation finding, with where it is:
    the first argument of a refusal it raises, the message of a finding (`add(file, line, element,
    message)`, or `add(*where, message)`)."""
    for path in sorted((ROOT / "engine").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            message = None
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
                called = node.exc.func
                if (called.id if isinstance(called, ast.Name) else getattr(called, "attr", "")) in REFUSALS:
                    message = node.exc.args[0]
            elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "add":
                at = 1 if node.args and isinstance(node.args[0], ast.Starred) else 3
                message = node.args[at] if len(node.args) > at else None
            text = _template(message) if message is not None else None
            if text is not None:
                yield f"{path.relative_to(ROOT)}:{node.lineno}", text


def test_every_engine_message_people_read_is_written_in_both_languages():
    messages = list(engine_messages())
    assert len(messages) > 200  # the scan finds them: refusals and the model registry's findings
    one_language = [f"{where}: {text}" for where, text in messages
                    if (where.split(":")[0], text) not in LOG_ONLY and not halves(text)]
    assert not one_language, 'write them "中文 (English)" (engine/errors.py):\n' + "\n".join(one_language)


def api_messages():
    """What the API refuses a request with: the message of each refusal `web/api` and its paging
    raise, and each field message of a FormInvalid, with where it is."""
    for path in (ROOT / "web" / "api" / "views.py", ROOT / "web" / "paging.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args):
                continue
            called = node.exc.func
            name = called.id if isinstance(called, ast.Name) else getattr(called, "attr", "")
            first = node.exc.args[0]
            if name == "FormInvalid" and isinstance(first, ast.Dict):
                texts = [_template(e) for v in first.values if isinstance(v, ast.List) for e in v.elts]
            elif name in REFUSALS | {"BadCursor", "ValueError"}:
                texts = [_template(first)]
            else:
                continue
            yield from ((f"{path.relative_to(ROOT)}:{node.lineno}", t) for t in texts if t is not None)


def test_every_api_refusal_is_written_in_both_languages():
    messages = list(api_messages())
    assert len(messages) > 25  # the scan finds them
    one_language = [f"{where}: {text}" for where, text in messages if not halves(text)]
    assert not one_language, 'write them "中文 (English)" (engine/errors.py):\n' + "\n".join(one_language)


def test_the_tables_messages_are_built_from_are_written_in_both_languages():
    tables = {"UNSUPPORTED": semantics.UNSUPPORTED, "FOREIGN_HINTS": semantics.FOREIGN_HINTS,
              "_UNREAD_HINTS": semantics._UNREAD_HINTS, "_WHY": script_check._WHY}
    one_language = [f"{name}: {text}" for name, table in tables.items() for text in table.values() if not halves(text)]
    assert not one_language, "\n".join(one_language)


def test_a_message_is_shown_by_the_readers_half_code_and_quoted_names_included(app):
    refused = "没有顺序流通向「公示期满」：办件永远到不了这里 (no sequence flow leads to '公示期满': a case never reaches it)"
    coded = "文件名 'a b.bpmn' 不允许：只能用字母、数字、_ . - (file name 'a b.bpmn' is not allowed: letters, digits, _ . -)"
    with app.test_request_context("/"):
        assert model_text(refused) == "没有顺序流通向「公示期满」：办件永远到不了这里"
        assert model_text(coded) == "文件名 'a b.bpmn' 不允许：只能用字母、数字、_ . -"
    with app.test_request_context("/"):
        session["lang"] = "en"
        refresh()
        assert model_text(refused) == "No sequence flow leads to 'Notice period over': a case never reaches it"
        assert model_text(coded) == "File name 'a b.bpmn' is not allowed: letters, digits, _ . -"
    assert halves("单位产品能耗 (kgce/t)") is None and halves("名单 (2026-1)") is None  # a unit, a number: no English
    # a message built from another keeps one language in each half
    inner = "脚本嵌套过深 (the script is nested too deeply)"
    assert f"脚本不予运行：{zh(inner)} (script refused: {en(inner)})" == \
        "脚本不予运行：脚本嵌套过深 (script refused: the script is nested too deeply)"


def test_no_model_text_is_taken_for_a_message():
    split = [f"{where}: {text}" for text, where in _model_texts().items() if halves(text)]
    assert not split, "a model's text ends in an English bracket and would be cut as a message:\n" + "\n".join(split)


def test_the_modeler_shows_a_broken_diagrams_findings_in_the_analysts_language(app, runtime):
    deployed, _ = runtime.registry.deploy(collect([ROOT / "processes"]), actor="dev", note="first")
    add_user("ana", "analyst", password="correct-horse")
    analyst = app.test_client()
    sign_in(analyst, "ana")
    broken = {"base": deployed.id, "file": NOTICE_FILE, "xml": NOTICE.replace(FLOW_TO_WAIT, "")}

    def findings():
        r = analyst.post("/models/validate", json=broken, headers={"X-CSRFToken": csrf_token(analyst, "/models/")})
        assert r.status_code == 200
        return r.json["findings"]

    [error] = [f for f in findings() if f["severity"] == "error"]
    assert error["element"] == "Timer_notice_ends"
    assert error["message"] == "没有顺序流通向「公示期满」：办件永远到不了这里"

    analyst.get("/lang/en")
    shown = findings()
    [error] = [f for f in shown if f["severity"] == "error"]
    assert error["message"] == "No sequence flow leads to 'Notice period over': a case never reaches it"
    assert not [f["message"] for f in shown if CJK.search(f["message"])]

    refused = (ROOT / "tests" / "conformance" / "refused_error_start_event.bpmn").read_bytes()
    page = analyst.post("/models/import", data={
        "file": (io.BytesIO(refused), "refused.bpmn"), "note": "imported",
        "csrf_token": csrf_token(analyst, "/models/import")}, content_type="multipart/form-data").get_data(as_text=True)
    assert "Error start event &#39;Start_falsified&#39; is not supported" in page and "不支持" not in page


def test_a_malformed_api_request_is_answered_in_the_accounts_language(client, users):
    firm = users("firm", "applicant")
    asks = [lambda: client.post("/api/v1/instances", data="[1, 2]", content_type="application/json", headers=firm),
            lambda: client.get("/api/v1/tasks?limit=many", headers=firm),
            lambda: client.get("/api/v1/tasks?after=garbage", headers=firm)]
    chinese = [ask().json["error"] for ask in asks]
    assert chinese == ["请求体须为 JSON 对象", "「limit」须为整数", "「after」：不是本列表的游标"]
    choose_language(db.session.scalar(db.select(User).where(User.name == "firm")), "en")
    db.session.commit()
    assert [ask().json["error"] for ask in asks] == [
        "The request body must be a JSON object", "'limit' must be a whole number", "'after': not a cursor of this list"]


def test_an_api_refusal_answers_in_the_accounts_language(client, users):
    deploy_creation(client, users)
    firm = users("firm", "applicant")
    url = f"/api/v1/tasks/{start(client, firm)['tasks'][0]['id']}/complete"
    assert client.post(url, json={"data": REPORT}, headers=firm).status_code == 200
    r = client.post(url, json={"data": REPORT}, headers=firm)
    assert r.status_code == 409 and r.json["error"] == "该事项已办结或不再等待办理"

    # the firm chose English on the pages (the link at the top keeps it on the account)
    choose_language(db.session.scalar(db.select(User).where(User.name == "firm")), "en")
    db.session.commit()
    r = client.post(url, json={"data": REPORT}, headers=firm)
    assert r.status_code == 409 and r.json["error"] == "This task has already been completed or is no longer waiting"
