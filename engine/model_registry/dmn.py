"""The lint of decision tables (DMN): every input expression and cell is an
expression the restricted environment runs, and each table evaluates on a
sample taken from its own rules, so a cell that cannot be compared with its
column fails at deployment rather than in a running case.
"""
from __future__ import annotations

import ast
import copy
import re
from collections.abc import Callable
from types import SimpleNamespace

from lxml import etree
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.dmn.specs.model import HitPolicy

from .. import scripting
from ..errors import en, zh
from ..scripting import make_script_engine
from .documents import line_of

_NOT_LITERAL = object()


def lint_dmn(name: str, doc, parser, add: Callable):
    """Each decision table's input expressions and cells, then (when every cell reads) the table
    evaluated once on a sample."""
    engine = make_script_engine()
    cells_ok = True
    dmn = etree.QName(doc.getroot()).namespace
    for expression in doc.iter(f"{{{dmn}}}inputExpression"):
        text_el = expression.find(f"{{{dmn}}}text")
        text = (text_el.text or "").strip() if text_el is not None else ""
        why = scripting.refusal(text, "eval") if text else None
        if why is not None:
            column = expression.getparent()
            add(name, expression.sourceline, column.get("id"), f"脚本不予运行：{zh(why)} (script refused: {en(why)})")
            cells_ok = False
    for rule in doc.iter(f"{{{dmn}}}rule"):
        for cell in rule:
            text_el = cell.find(f"{{{dmn}}}text")
            text = (text_el.text or "").strip() if text_el is not None else ""
            if not text or text == "-":
                continue
            kind = etree.QName(cell).localname
            candidates = [text] if kind == "outputEntry" else [text, f"v {text}", text.replace("?", "v")]
            runs = next((c for c in candidates if _compiles(engine, c)), None)
            if runs is None:
                add(name, cell.sourceline, rule.get("id"), f"{kind}「{text}」不是有效的表达式 ({kind} '{text}' is not a valid expression)")
                cells_ok = False
                continue
            why = scripting.refusal(runs, "eval")
            if why is not None:
                add(name, cell.sourceline, rule.get("id"), f"脚本不予运行：{kind}「{text}」：{zh(why)} (script refused: {kind} '{text}': {en(why)})")
                cells_ok = False
    if cells_ok:
        _try_on_a_sample(name, doc, engine, parser, add)

def _try_on_a_sample(name: str, doc, engine, parser, add: Callable):
    """Evaluate each decision table once, on inputs taken from its own rules:
    an entry that cannot be compared with its column's values fails here
    rather than in a running case."""
    for decision_id, dmn_parser in parser.dmn_parsers.items():
        if dmn_parser.filename != name:
            continue
        try:
            dmn_parser.parse()
            table = dmn_parser.decision.decisionTables[0]
        except Exception as exc:
            add(name, line_of(doc, decision_id), decision_id, f"无法读取决策：{exc} (decision cannot be read: {exc})")
            continue
        sample = {}
        for column, inp in enumerate(table.inputs):
            if not (inp.expression or "").isidentifier():
                continue
            literals = [rule.inputEntries[column].lhs[0] for rule in table.rules
                        if rule.inputEntries[column].lhs and rule.inputEntries[column].lhs[0]]
            sample[inp.expression] = next((v for v in map(_literal, literals) if v is not _NOT_LITERAL), None)
        workflow = SimpleNamespace(script_engine=engine, spec=SimpleNamespace(file=name))
        workflow.top_workflow = workflow
        task = SimpleNamespace(data=dict(sample), workflow=workflow, task_spec=SimpleNamespace(
            name=decision_id, bpmn_id=decision_id, bpmn_name=decision_id, description=""))
        every_rule = copy.copy(table)  # a unique-hit table would stop at its first match
        every_rule.hit_policy = HitPolicy.COLLECT.value
        try:
            DMNEngine(every_rule).result(task)
        except Exception as exc:
            message = " ".join([str(exc).strip(), *getattr(exc, "__notes__", [])])
            row = re.search(r"row (\d+)", message)
            rule = next((r for r in table.rules if row and str(r.row_number) == row.group(1)), None)
            if rule is None:  # an output cell: its error names the expression, not the row
                rule = next((r for r in table.rules for out in r.outputEntries
                             if out.text and f"'{out.text}'" in message), None)
            element = rule.id if rule is not None else decision_id
            add(name, line_of(doc, element), element, f"用样例 {sample} 运行失败：{zh(message)} (fails on the sample {sample}: {en(message)})")


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return _NOT_LITERAL


def _compiles(engine, text) -> bool:
    try:
        engine.validate(text)
        return True
    except SyntaxError:
        return False
