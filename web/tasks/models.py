"""The task page's drafts (草稿): what a user typed and saved before submitting is the page's
business, not the engine's; the engine only removes a task, and its drafts go with it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import db
from engine.models import Aware


class TaskDraft(db.Model):
    """Entries typed into a task's form and saved, not yet submitted (草稿), one per task and user.
    `values` keeps the raw text of each input, invalid entries included; a draft goes with its task."""

    __tablename__ = "task_draft"
    # (no ON UPDATE action: on SQLite it would make every UPDATE of an inbox entry's id rewrite all
    # of the inbox's indexes; the step that hands an entry over deletes its drafts: store.hand_over)
    task_id: Mapped[str] = mapped_column(ForeignKey("human_task.id", ondelete="CASCADE"), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(80), primary_key=True)
    values: Mapped[dict] = mapped_column(JSON)
    saved_at: Mapped[datetime] = mapped_column(Aware())
