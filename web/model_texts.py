"""The texts of the models (模型文本) and the engine's messages in the reader's language: names in the diagrams and decision
tables, titles and descriptions in the forms, the reasons a decision table gives.

The models are written in Chinese; their English is the `models` gettext domain
(web/translations/en/LC_MESSAGES/models.po), extracted from processes/ and forms/ by the two
Babel extractors below (babel-models.cfg, `make translations`). `model_text` is the one function
every page uses to show such a text, and `localized` gives a form's schema with all its texts in
the reader's language. A text stored before the models were split into one language (a task name
"市级审核 Municipal review" kept in a case) is shown by the half in the reader's language.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import escape, unescape
from pathlib import Path
from xml.etree import ElementTree

from flask import has_request_context
from flask_babel import Domain, get_locale

from engine.errors import halves

CATALOGS = Path(__file__).resolve().parent / "translations"
_domain = Domain(translation_directories=str(CATALOGS), domain="models")
CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef"
HAN = re.compile(f"[{CJK}]")
_HAN_RUN = re.compile(f"[{CJK}]+")
# What a model text was before: Chinese, white space, English (see the split in the commit history)
_PAIR = re.compile(rf"^(?P<zh>.*[{CJK}][^\sA-Za-z{CJK}]*?)\s+(?P<en>[^{CJK}]*(?:[a-z]{{2}}|\b[A-Z][a-z]\b)[^{CJK}]*)$", re.S)
# what ends a Chinese text without being its English: a file name, an identifier, an address
_CODE = re.compile(r"[_@=<>{}\\]|\.[A-Za-z]{2,}\b")
# The schema keys whose strings are texts a reader sees
SCHEMA_TEXTS = ("title", "description")


def english() -> bool:
    return has_request_context() and str(get_locale()) == "en"


def model_text(text):
    """A model's Chinese text, or its English when the reader chose English. Anything that is
    not a Chinese text (a code, a number, None) is returned as it is."""
    if not isinstance(text, str) or not HAN.search(text):
        return text
    pair = halves(text)
    if pair:  # an engine message written 中文 (English): the reader's half
        return _english_half(pair[1]) if english() else pair[0]
    pair = _PAIR.match(text)
    if pair and not _CODE.search(pair["en"]):  # a name stored before the models were split: the reader's half
        return _english_half(pair["en"]) if english() else pair["zh"].strip()
    if not english():
        return text
    return _domain.gettext(text)  # no variables: a "%" in the text is not a placeholder


_NAME = re.compile(r'(\sname=")([^"]*)"')


def names_in_language(xml: str) -> str:
    """A diagram whose element names are in the reader's language, for a page that draws it."""
    if not english():
        return xml
    return _NAME.sub(lambda m: m[1] + escape(model_text(unescape(m[2])), quote=True) + '"', xml)


def _english_half(text: str) -> str:
    text = text.strip()
    if text.startswith("(") and text.endswith(")") and text.count("(") == 1:
        text = text[1:-1].strip()
    if re.match(r"[a-z]+(?=[\s,:;])", text):  # a sentence, not a name or a file that begins it
        text = text[:1].upper() + text[1:]
    # a model's name quoted in the message ("no sequence flow leads to '公示期满'") in English too;
    # what is not a model's text (a company's name) stays as it was entered
    return _HAN_RUN.sub(lambda m: _domain.gettext(m[0]), text)


def localized(schema):
    """A copy of a form's schema whose titles and descriptions are in the reader's language."""
    if isinstance(schema, dict):
        return {k: (model_text(v) if k in SCHEMA_TEXTS and isinstance(v, str) else localized(v))
                for k, v in schema.items()}
    if isinstance(schema, list):
        return [localized(v) for v in schema]
    return schema


# ---- extraction (pybabel extract -F babel-models.cfg) ------------------------------------------

def _chinese(text) -> bool:
    return isinstance(text, str) and bool(HAN.search(text))


def extract_form(fileobj, keywords, comment_tags, options) -> Iterator[tuple]:
    """Babel extractor: every Chinese title and description of a form (forms/*.json)."""
    source = fileobj.read().decode("utf-8")
    lines = source.splitlines()

    def line_of(text: str) -> int:
        needle = json.dumps(text, ensure_ascii=False)
        return next((n for n, line in enumerate(lines, 1) if needle in line), 1)

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in SCHEMA_TEXTS and _chinese(value):
                    yield line_of(value), None, value, []
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    yield from walk(json.loads(source))


_LITERAL = re.compile(r'"([^"\\]*)"')


def extract_model(fileobj, keywords, comment_tags, options) -> Iterator[tuple]:
    """Babel extractor: every Chinese text of a diagram or decision table (processes/*.bpmn, *.dmn):
    element names and column labels, documentation and rule descriptions, and the Chinese string
    literals of decision cells (the reasons a table gives, which pages show)."""
    for _event, element in ElementTree.iterparse(fileobj, events=("end",)):
        tag = element.tag.rsplit("}", 1)[-1]
        for attribute in ("name", "label"):
            if _chinese(element.get(attribute)):
                yield 0, None, element.get(attribute), []
        if tag in ("documentation", "description") and _chinese(element.text):
            yield 0, None, element.text, []
        if tag == "text" and element.text:
            for literal in _LITERAL.findall(element.text):
                if _chinese(literal):
                    yield 0, None, literal, []
