"""The compiled catalogs (.mo, ignored by git) built from their .po when missing or older, as
`make test` does, so that a plain `pytest` of any file shows English pages in English."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parent.parent / "web" / "translations"


def compile_if_stale(po: Path) -> None:
    """Write the .mo beside a .po as `pybabel compile` would (fuzzy entries left out), atomically."""
    mo = po.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        return
    with open(po, "rb") as f:
        catalog = read_po(f, locale="en")
    fd, tmp = tempfile.mkstemp(dir=mo.parent, suffix=".mo.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write_mo(f, catalog)
        os.chmod(tmp, 0o644)
        os.replace(tmp, mo)
    except BaseException:
        os.unlink(tmp)
        raise


def compile_all() -> None:
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/*.po"):
        compile_if_stale(po)
