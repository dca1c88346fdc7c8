"""The landing page: what is deployed, and where the API is. It is public, so it names the
procedures as people call them, never by their process ids or version hashes."""
from flask import Blueprint, redirect, render_template, url_for

from engine.db import db
from engine.models import ProcessHead

from ..runtime import runtime

bp = Blueprint("home", __name__, template_folder="templates")


@bp.get("/")
def index():
    heads = db.session.scalars(db.select(ProcessHead).order_by(ProcessHead.process_id)).all()
    procedures = [(runtime().registry.process_name(h.process_id, h.version_id), h.updated_at) for h in heads]
    return render_template("home/home.html", procedures=procedures)


@bp.get("/favicon.ico")
def favicon():
    """Where browsers look for the icon by default (a feed reader, a bookmark): the page's own icon."""
    return redirect(url_for("static", filename="favicon.svg"), 301)
