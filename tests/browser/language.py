"""One language at a time (issue 17.3): what a page shows a reader, and what of it is in the
other language.

A Chinese page may show Latin letters only in codes (a credit code, a file name, an identifier),
in the allow-list below (file formats, units, the brand, the link to English) and in what people
and organisations entered (their names, addresses, opinions: the data). An English page may
show Han characters only in that data. Everything else — the app's texts, the diagrams', forms'
and decision tables' texts, the engine's messages — must be in the page's language.

The data is everything stored in the database as text (every text column, every string inside
a JSON column), less the texts the models define (a task's name, a decision table's reason):
those are stored too but must be shown translated.
"""
from __future__ import annotations

import re

from babel.messages.pofile import read_po

from engine.db import db
from web.model_texts import CATALOGS

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\u3000-\u303f\uff01-\uff5e]")
# a Latin word: two letters or more, not part of a code, a file name, an address or an identifier
LATIN_WORD = re.compile(r"(?<![\w./@:#&=?%-])[A-Za-z][A-Za-z'’]*[A-Za-z](?![\w./@:#&=?%-])")
# Latin a Chinese page may show: the way to English, the brand, file formats and units, standards' prefixes
ALLOWED_LATIN = {
    "English", "Green", "Ladder", "PDF", "JPG", "JPEG", "PNG", "XLSX", "Excel", "MB", "KB", "GB", "BPMN", "DMN",
    "XML", "JSON", "API", "kgce", "tce", "tCO", "km", "ha", "kg", "kWh", "zip", "Camunda", "Modeler", "Signavio",
}
ALLOWED_HAN = {"中文"}  # the way back to Chinese, named in Chinese on purpose

# Not checked: bpmn-js's logo; the raw data an administrator may unfold under the case file (its
# keys are the diagrams' own, not texts for a reader); and the modeler,
# whose canvas is the diagram being edited (its names are the file's Chinese; their English is
# models.po) and whose panels are bpmn-js's, translated by web/static/modeler/src/translate-zh.js.
EXEMPT = ".bjs-powered-by, #case-data, #modeler"

# The text a reader meets: visible text nodes, and the attributes read out or shown on hover.
VISIBLE_TEXT = """(EXEMPT) => {
  const skip = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'CODE', 'PRE', 'KBD', 'SAMP', 'TEXTAREA']);
  const out = [document.title];
  const walk = (el) => {
    if (skip.has(el.tagName.toUpperCase()) || el.getAttribute('translate') === 'no') return;
    if (el.matches(EXEMPT)) return;
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') return;
    for (const a of ['placeholder', 'title', 'aria-label', 'alt']) {
      if (el.getAttribute(a)) out.push(el.getAttribute(a));
    }
    if (el.tagName === 'INPUT' && ['submit', 'button'].includes(el.type) && el.value) out.push(el.value);
    if (el.tagName === 'SELECT') { for (const o of el.options) out.push(o.text); return; }
    for (const n of el.childNodes) {
      if (n.nodeType === Node.TEXT_NODE) { const t = n.textContent.trim(); if (t) out.push(t); }
      else if (n.nodeType === Node.ELEMENT_NODE) walk(n);
    }
  };
  walk(document.body);
  return out;
}"""


def model_msgids() -> set[str]:
    with open(CATALOGS / "en" / "LC_MESSAGES" / "models.po", "rb") as f:
        return {m.id for m in read_po(f) if m.id}


def stored_texts() -> list[str]:
    """What people and the engine stored as text, longest first (so a name inside a longer one
    is not cut out of it first), less the models' own texts."""
    found: set[str] = set()

    def collect(value, anything=False):
        if isinstance(value, str):
            if len(value) >= 2 and (anything or HAN.search(value) or re.search(r"\d", value)):
                found.add(value.strip())
        elif isinstance(value, dict):
            for v in value.values():
                collect(v)
        elif isinstance(value, list | tuple):
            for v in value:
                collect(v)

    db.session.rollback()  # what the app committed since
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(table.select()).all():
            for value in row:  # a text column holds a name, a note, an account; a JSON one the case's codes too
                collect(value, anything=isinstance(value, str) and not value.lstrip().startswith(("{", "[")))
    return sorted(found - model_msgids(), key=len, reverse=True)


def other_language(texts: list[str], language: str, data: list[str]) -> list[str]:
    """The texts (or the part of each) that are not in `language` ("zh" or "en") once the data is cut out."""
    problems = []
    for text in texts:
        rest = text
        for value in data:
            if value in rest:
                rest = rest.replace(value, " ")
        if language == "en":
            if rest.strip() not in ALLOWED_HAN and HAN.search(rest):
                problems.append(text)
        else:
            words = [w for w in LATIN_WORD.findall(rest) if w not in ALLOWED_LATIN]
            if words:
                problems.append(f"{text}  [{' '.join(words)}]")
    return problems


def check(page, language: str, data: list[str]) -> list[str]:
    """What the page shows in the other language; also its <html lang>."""
    expected = "en" if language == "en" else "zh-CN"
    problems = [] if page.get_attribute("html", "lang") == expected else [f"<html lang> is not {expected}"]
    return problems + sorted(set(other_language(page.evaluate(VISIBLE_TEXT, EXEMPT), language, data)))
