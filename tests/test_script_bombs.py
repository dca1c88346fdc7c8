"""One expression that would build something huge in C (脚本资源炸弹) is refused before
it runs, with a message that says which limit, and the server is not held meanwhile:
in a script, a condition, a timer expression, a due date or a decision cell, at
run time and while a deploy is validated."""
from __future__ import annotations

import time

import pytest
from conftest import upload
from test_script_escapes import diagram

from engine import scripting
from engine.db import db
from engine.models import ProcessInstance
from engine.runtime import Actor
from engine.scripting import ScriptTooLarge, make_script_engine

ADMIN = Actor("root", "admin")

# Each alone held the interpreter for seconds to minutes, or asked for gigabytes.
BOMBS = [
    "10 ** (10 ** 7)",
    "pow10 = 10 ** 100000\nx = str(pow10)",
    "'a' * 10 ** 10",
    "[0] * 10 ** 10",
    "10 ** 10 * [0]",
    "[[0] * 1000] * 1000",
    "1 << 10 ** 9",
    "'%0999999999d' % 1",
    "'%.999999999f' % 1.5",
    "'%(a)999999999s' % {'a': 1}",
    "f'{1:>999999999}'",
    "f'{1.5:.999999999f}'",
    "f'{1!r:>{10 ** 9}}'",
    "format(1, '>999999999')",
    "'{:>999999999}'.format(1)",
    "'{:{}}'.format(1, '>999999999')",
    "'x'.ljust(10 ** 10)",
    "'x'.zfill(10 ** 10)",
    "('a' * 1000).replace('a', 'a' * 10000)",
    "''.join(['a' * 10 ** 6] * 10)",
    "'-'.join(['a' * 100000 for i in range(100)])",
    "big = 'a' * 10 ** 6\nx = str([big for i in range(1000)])",
    "big = 'a' * 10 ** 6\nx = f'{[big] * 2}' + f'{[big for i in range(1000)]}'",
    "big = 'a' * 10 ** 6\nx = big + big",
    "x = 'a'\nfor i in range(64):\n    x += x",
    "x = [1]\nfor i in range(64):\n    x.extend(x)",
    "d = {'k': 'a'}\nd['k'] *= 10 ** 10",
    "range(10 ** 12)",
    "sum(range(10 ** 12))",
    "sorted(range(10 ** 9))",
    "round(1, -10 ** 8)",
    "(10 ** 3000) * (10 ** 3000)",
    "date(2026, 1, 1).strftime('%999999999Y')",
    "big = 'a' * 10 ** 6\nx = [big for i in range(100)]",  # each value fine; the data it leaves is not
]


def run(script):
    context = {}
    make_script_engine().environment.execute(script, context)
    return context


@pytest.mark.parametrize("bomb", BOMBS)
def test_a_bomb_is_refused_before_it_runs_and_says_which_limit(bomb):
    began = time.thread_time()
    with pytest.raises(ScriptTooLarge, match=r"SCRIPT_MAX_(SIZE|INT_BITS)|at most 1,000") as refused:
        run(bomb)
    assert time.thread_time() - began < 1.5, "it ran in C before it was refused"
    assert "allowed in scripts" in str(refused.value) or "not available in scripts" in str(refused.value)


@pytest.mark.parametrize("bomb, why", [
    ("x = '%*d' % (10 ** 9, 1)", r"\* width .* write the width in the format"),
    ("x = sum([[0] * 1000 for i in range(1000)], [])", r"sum\(\) adds numbers"),
])
def test_a_way_round_the_size_checks_is_refused_with_the_way_to_write_it(bomb, why):
    with pytest.raises(scripting.ScriptRefused, match=why):
        run(bomb)


def test_what_a_case_needs_stays_well_within_the_limits():
    data = run("big = 2 ** 10000\nline = '-' * 1_000_000\nrows = [[0] * 100] * 100\n"
               "text = ', '.join(str(i) for i in range(1000))\nyear = '%s年度' % 2026\n"
               "label = f'{3.14159:.2f} 分 {date(2026, 3, 2):%Y-%m-%d}'\nwide = '{:>8}'.format('x')\n"
               "total = sum(range(1000))\nparts = sorted(range(1_000_000))[-1]\n"
               "zeros = len([0] * 1_000_000) + len([None] * 1_000_000)")
    assert data["big"].bit_length() == 10001 and len(data["line"]) == 1_000_000
    assert data["year"] == "2026年度" and data["label"] == "3.14 分 2026-03-02" and data["wide"] == "       x"
    assert data["parts"] == 999_999 and data["total"] == 499500 and data["zeros"] == 2_000_000


def test_the_limits_are_the_app_settings(app):
    from web import create_app

    before = (scripting.settings.time_limit, scripting.settings.max_size, scripting.settings.max_int_bits)
    try:
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "TESTING": True,
                    "SCRIPT_MAX_SIZE": 1000, "SCRIPT_MAX_INT_BITS": 64})
        with pytest.raises(ScriptTooLarge, match="more than the 1,000 allowed"):
            run("x = 'a' * 1001")
        with pytest.raises(ScriptTooLarge, match="more than the 64 allowed"):
            run("x = 2 ** 65")
        assert run("x = 'a' * 900 + str(2 ** 63)")["x"].endswith("9223372036854775808")
    finally:
        scripting.configure(*before)
    assert app.config["SCRIPT_MAX_SIZE"] == scripting.settings.max_size == 1_000_000


def test_a_bomb_in_a_script_task_fails_the_case_with_the_reason(runtime):
    runtime.registry.deploy(dict(diagram("script", "x = 10 ** (10 ** 7)")))
    began = time.thread_time()
    case = runtime.start("attempt", {}, ADMIN)
    assert time.thread_time() - began < 2
    stored = db.session.get(ProcessInstance, case.id)
    assert stored.status == "error" and stored.error_element == "Script_attempt"
    assert "SCRIPT_MAX_INT_BITS" in stored.error_message


@pytest.mark.parametrize("kind, text, element", [
    ("timer", "'P%dD' % (10 ** (10 ** 7))", "Timer_attempt"),
    ("timer", "'P' + 'x' * 10 ** 10", "Timer_attempt"),
    ("due", "'P1D' * 10 ** 10", "Task_attempt"),
    ("dmn_out", "'x' * 10 ** 10", "Rule_attempt"),
    ("dmn_in", "? == 10 ** (10 ** 7)", "Rule_attempt"),
])
def test_a_bomb_found_while_a_deploy_is_validated_is_a_finding_in_milliseconds(client, users, kind, text, element):
    began = time.thread_time()
    r = upload(client, users("ana", "analyst"), *diagram(kind, text))
    assert time.thread_time() - began < 2, "the deploy's validation ran the bomb"
    assert r.status_code == 422
    [finding] = [e for e in r.json["errors"] if e["element"] == element]
    assert "超过允许的" in finding["message"]


def test_a_failing_script_does_not_leave_a_bloated_case_behind(runtime):
    """Its case's error is stored with the step's data: what the script built to the size of a
    bomb is not kept, and the error names it."""
    script = "big = 'a' * 10 ** 6\nrows = [big for i in range(100)]\nkept = 1\nx = 1 / 0"
    runtime.registry.deploy(dict(diagram("script", script)))
    case = runtime.start("attempt", {"note": "entered by the applicant"}, ADMIN)
    stored = db.session.get(ProcessInstance, case.id)
    assert stored.status == "error" and stored.error_element == "Script_attempt"
    assert "division by zero" in stored.error_message
    assert len(repr(stored.data)) < 10_000 and stored.data.get("note") == "entered by the applicant"


def test_data_a_script_leaves_is_measured_with_every_reference_counted():
    with pytest.raises(ScriptTooLarge, match="not kept: big, rows"):
        run("big = 'a' * 10 ** 6\nrows = [big for i in range(5)]")
    data = run("big = 'a' * 10 ** 6\nrows = [big for i in range(2)]")  # 3,000,000 characters: within 4 x the size
    assert len(data["rows"]) == 2
