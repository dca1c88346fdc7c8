"""The table rate limiting counts in (限流), kept by the web layer: the engine never limits anyone."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import db
from engine.models import Aware


class RateHit(db.Model):
    """One attempt counted against a limit (限流): sign-ins from an address, public reports."""

    __tablename__ = "rate_hit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(Aware())

    __table_args__ = (Index("ix_rate_hit_key_at", "key", "at"),)
