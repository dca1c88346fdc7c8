"""Public pages show what the public reads (names, dates, decisions), never the system's
internal ids: no process id, no model version's hash, on the demo as a newcomer seeds it."""
from __future__ import annotations

import re

from engine.db import db
from engine.models import ModelVersion, ProcessHead

PUBLIC = ["/", "/public/lists", "/public/revocations", "/public/notices/", "/public/agencies",
          "/public/complaint", "/login", "/register"]


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_no_public_page_shows_a_process_id_or_a_version_hash(app):
    assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
    db.session.rollback()
    hashes = db.session.scalars(db.select(ModelVersion.id)).all()
    processes = db.session.scalars(db.select(ProcessHead.process_id)).all()
    visitor = app.test_client()
    notices = re.findall(r'href="(/public/notices/\d+)"', visitor.get("/public/notices/").get_data(as_text=True))
    assert notices  # the demo's rounds publish their notices
    for path in [*PUBLIC, *notices]:
        answer = visitor.get(path)
        assert answer.status_code == 200, path
        html = answer.get_data(as_text=True)
        text = visible_text(html)
        assert not [h for h in hashes if h[:8] in html], path
        assert not [p for p in processes if re.search(rf"\b{p}\b", text)], path
