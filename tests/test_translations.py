"""The English catalog: every Chinese msgid in web/ has an English text, and English pages show it.

The catalog is web/translations/en/LC_MESSAGES/messages.po; `make translations`
re-extracts the msgids after a text changes, and `make run`/`make test` compile
it to messages.mo. So that a plain `pytest` works too, this module compiles the
catalog itself when the .mo is missing or older than the .po.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from webclient import sign_in

from web.accounts.users import add_user

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "web" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
# Han characters, CJK punctuation and full-width forms (、，。：；（） and the like)
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


def _catalog():
    with open(PO, "rb") as f:
        return read_po(f, locale="en")


def compile_catalog_if_stale() -> None:
    """Write messages.mo from messages.po as `pybabel compile` would (fuzzy entries left out),
    atomically, unless it is already up to date."""
    if MO.exists() and MO.stat().st_mtime >= PO.stat().st_mtime:
        return
    fd, tmp = tempfile.mkstemp(dir=MO.parent, suffix=".mo.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write_mo(f, _catalog())
        os.chmod(tmp, 0o644)  # mkstemp's file is private; a compiled catalog is not
        os.replace(tmp, MO)
    except BaseException:
        os.unlink(tmp)
        raise


# At collection, before any test runs: Flask-Babel caches a locale's translations for the whole
# process, so a page rendered in English before the .mo existed would keep showing Chinese.
compile_catalog_if_stale()


@pytest.fixture(scope="module")
def source_msgids(tmp_path_factory) -> list[str]:
    """The msgids in today's source, extracted as `make translations` does."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    CommandLineInterface().run([
        "pybabel", "--quiet", "extract", "-F", str(ROOT / "babel.cfg"), "-k", "_l", "-k", "lazy_gettext",
        "-o", str(pot), str(ROOT),
    ])
    with open(pot, "rb") as f:
        ids = [m.id for m in read_po(f) if m.id]
    assert len(ids) > 100, "the extraction found hardly any message: is babel.cfg right?"
    return ids


def _translated(message) -> bool:
    if message is None or message.fuzzy:
        return False
    strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
    return all(s and s.strip() for s in strings)


def test_every_msgid_in_the_source_has_an_english_translation(source_msgids):
    catalog = _catalog()
    missing = [i if isinstance(i, str) else i[0] for i in source_msgids if not _translated(catalog.get(i))]
    assert not missing, (
        f"{len(missing)} text(s) in web/ have no English translation (or a fuzzy one) in {PO.relative_to(ROOT)}; "
        "run `make translations` and translate them: " + ", ".join(missing)
    )


def test_translations_are_english_and_keep_their_placeholders():
    catalog = _catalog()
    problems = [f"{m.id}: {err}" for m, errors in catalog.check() for err in errors]
    assert not problems, problems  # python-format placeholders such as %(page)s must match the msgid's
    chinese = [m.id for m in catalog if m.id and not m.fuzzy and CJK.search(str(m.string))]
    assert not chinese, f"English texts with Chinese characters in them: {chinese}"


def test_the_compiled_catalog_is_current():
    assert MO.exists() and MO.stat().st_mtime >= PO.stat().st_mtime


LANGUAGE_LINK = re.compile(r'<a href="[^"]*/lang/zh_CN[^"]*">中文</a>')  # the way back, named in Chinese on purpose


def test_the_inbox_in_english_shows_no_chinese(client):
    add_user("lz", "municipal", "620100", password="correct-horse")
    sign_in(client, "lz")
    assert "待办事项" in client.get("/inbox/").get_data(as_text=True)  # Chinese first

    client.get("/lang/en")
    for path in ("/inbox/", "/inbox/?tab=role"):
        page = client.get(path).get_data(as_text=True)
        assert '<html lang="en"' in page
        assert "<h1>To-do list</h1>" in page and ">To do</a>" in page and "Nothing to do." in page
        assert "Overdue" in page
        assert "Municipal industry authority" in page and "Lanzhou" in page
        assert LANGUAGE_LINK.search(page), "the language link changed: update LANGUAGE_LINK"
        leftovers = sorted({line.strip() for line in LANGUAGE_LINK.sub("", page).splitlines() if CJK.search(line)})
        assert not leftovers, f"Chinese on the English page {path}: {leftovers}"
