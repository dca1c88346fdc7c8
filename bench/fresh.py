"""A fresh, migrated database for a benchmark run, with its models deployed."""
from __future__ import annotations

import gc


def fresh_app(url: str, files: dict[str, bytes], clock_kind: str = "system"):
    from flask_migrate import upgrade
    from sqlalchemy import text

    from engine.db import db
    from web import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "CLOCK": clock_kind})
    with app.app_context():
        if url.startswith("postgresql"):
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        app.extensions["green_ladder.runtime"].registry.deploy(files, actor="bench")
    # as a production worker does once its app is built (deploy/gunicorn.conf.py, `timers run`)
    gc.freeze()
    return app
