"""The one runtime of this app, as every page, the API and the CLI reach it.

The app factory builds it (models, roles and domain callables wired once) and
keeps it in `app.extensions`; reaching it through here keeps the pages from
depending on the API module, or on each other, for it."""
from __future__ import annotations

from flask import current_app

from engine.runtime import Runtime

KEY = "green_ladder.runtime"


def runtime() -> Runtime:
    return current_app.extensions[KEY]
