"""What a case history shows beside an event besides who did what: on whose behalf a substitute
acted (代办), and a comment's text (批注). The task page and the case page read it alike."""
from __future__ import annotations

import json

from engine.models import AuditEvent


def remark(event: AuditEvent) -> dict:
    """{on_behalf_of, text, on_task} as far as the event has them; parsed only from the events
    that can have them."""
    if event.action != "comment" and '"on_behalf_of"' not in (event.detail or ""):
        return {}
    detail = json.loads(event.detail or "{}") or {}
    out = {"on_behalf_of": detail.get("on_behalf_of")}
    if event.action == "comment":
        out.update(text=detail.get("text"), on_task=detail.get("task"))
    return out
