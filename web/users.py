"""Users and API tokens (用户与令牌)."""
from __future__ import annotations

import hashlib
import secrets

from engine import clock
from engine.audit import append as audit
from engine.db import db
from engine.errors import Conflict, EngineError
from engine.green.roles import JURISDICTIONS, MUNICIPAL_ROLES, ROLES
from engine.models import User
from engine.runtime import Actor


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_user(
    name: str, role: str, jurisdiction: str | None = None, actor: str | None = None, token: str | None = None
) -> tuple[User, str]:
    """Create a user and return it with its token (shown once, stored hashed).
    A token is generated unless given (the demo's accounts use known ones)."""
    if role not in ROLES:
        raise EngineError(f"unknown role '{role}'; choose one of {', '.join(ROLES)}")
    if jurisdiction is not None and jurisdiction not in JURISDICTIONS:
        raise EngineError(f"unknown jurisdiction '{jurisdiction}'")
    if role in MUNICIPAL_ROLES and jurisdiction is None:
        raise EngineError(f"a {role} user needs --jurisdiction (a division code such as 620100)")
    if db.session.scalar(db.select(User).where(User.name == name)) is not None:
        raise Conflict(f"user '{name}' exists already")
    token = token or secrets.token_urlsafe(32)
    user = User(name=name, role=role, jurisdiction=jurisdiction, token_hash=_hash(token), created_at=clock.now())
    db.session.add(user)
    audit(actor, "user.add", detail={"name": name, "role": role, "jurisdiction": jurisdiction})
    db.session.commit()
    return user, token


def user_for_token(token: str) -> User | None:
    return db.session.scalar(db.select(User).where(User.token_hash == _hash(token)))


def actor_of(user: User) -> Actor:
    return Actor(user.name, user.role, user.jurisdiction)
