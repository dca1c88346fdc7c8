"""The landing page: what is deployed, and where the API is."""
from flask import Blueprint, render_template

from engine.db import db
from engine.models import ProcessHead

bp = Blueprint("home", __name__, template_folder="templates")


@bp.get("/")
def index():
    heads = db.session.scalars(db.select(ProcessHead).order_by(ProcessHead.process_id)).all()
    return render_template("home/home.html", heads=heads)
