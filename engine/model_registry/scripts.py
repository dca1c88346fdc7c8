"""The lint of every text a diagram runs as Python, against the restricted
environment the engine runs it in (see `engine.scripting`).

It runs first among the lints: a text it refuses is not evaluated by the
lints after it (timers, due dates), so a refused text is reported once, as
refused, and never run even at deployment.
"""
from __future__ import annotations

import textwrap
from collections.abc import Callable

from .. import deadlines, scripting
from ..errors import en, zh
from .documents import BPMN_NS, SPIFF_NS


def lint_scripts(name: str, doc, add: Callable) -> set:
    """Every text the engine runs as Python (scripts, conditions, timers, due dates, service
    parameters, multi-instance expressions) that the restricted environment would refuse.
    Returns the (element, text) pairs refused."""
    refused = set()
    for el, text, mode in _python_texts(doc):
        why = scripting.refusal(text, mode)
        if why is not None:
            refused.add((el, text))
            owner = el
            while owner is not None and owner.get("id") is None:
                owner = owner.getparent()
            add(name, el.sourceline, owner.get("id") if owner is not None else None, f"脚本不予运行：{zh(why)} (script refused: {en(why)})")
    return refused


_EXEC = {f"{{{BPMN_NS}}}script", f"{{{SPIFF_NS}}}preScript", f"{{{SPIFF_NS}}}postScript"}
_EVAL = {f"{{{BPMN_NS}}}{tag}" for tag in ("conditionExpression", "timeDate", "timeDuration", "timeCycle",
                                           "loopCardinality", "completionCondition")}
_PYTHON_SCRIPT = ("python", "text/x-python", "py")


def _python_texts(doc):
    """(element, text, mode) of each text in a BPMN document that runs as Python; the value of an
    attribute (a due date, a service parameter) is given with its element."""
    for el in doc.iter(*_EXEC, *_EVAL):
        if el.tag == f"{{{BPMN_NS}}}script" and \
                (el.getparent().get("scriptFormat") or "python").strip().lower() not in _PYTHON_SCRIPT:
            continue  # named by the lint of unsupported elements
        text = textwrap.dedent(el.text or "")
        yield el, (text if el.tag in _EXEC else text.strip()), "exec" if el.tag in _EXEC else "eval"
    for prop in doc.iterfind(f".//{{{SPIFF_NS}}}property[@name='{deadlines.DUE_PROPERTY}']"):
        yield prop, (prop.get("value") or "").strip(), "eval"
    for param in doc.iterfind(f".//{{{SPIFF_NS}}}parameter"):
        yield param, (param.get("value") or "").strip(), "eval"
