"""Users and API tokens (用户与令牌)."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from werkzeug.security import check_password_hash, generate_password_hash

from engine import clock
from engine.audit import append as audit
from engine.db import db
from engine.errors import Conflict, EngineError
from engine.green.roles import JURISDICTIONS, MUNICIPAL_ROLES, ROLES
from engine.models import User
from engine.runtime import Actor


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 8


def add_user(
    name: str, role: str, jurisdiction: str | None = None, actor: str | None = None, token: str | None = None,
    password: str | None = None, display_name: str | None = None,
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
    if password is not None and len(password) < MIN_PASSWORD:
        raise EngineError(f"a password needs at least {MIN_PASSWORD} characters")
    token = token or secrets.token_urlsafe(32)
    user = User(name=name, role=role, jurisdiction=jurisdiction, token_hash=_hash(token), created_at=clock.now(),
                display_name=display_name, failed_logins=0,
                password_hash=generate_password_hash(password) if password else None)
    db.session.add(user)
    audit(actor, "user.add", detail={"name": name, "role": role, "jurisdiction": jurisdiction})
    db.session.commit()
    return user, token


def user_for_token(token: str) -> User | None:
    return db.session.scalar(db.select(User).where(User.token_hash == _hash(token)))


def actor_of(user: User) -> Actor:
    return Actor(user.name, user.role, user.jurisdiction)


class SignInRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def sign_in(name: str, password: str) -> User:
    """Check a password. Five wrong ones in a row lock the account for 15
    minutes; an unknown name and a wrong password get the same answer."""
    user = db.session.scalar(db.select(User).where(User.name == name))
    now = clock.now()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        raise SignInRefused(f"locked until {user.locked_until.strftime('%H:%M')}")
    if user is None or not user.password_hash or not check_password_hash(user.password_hash, password):
        if user is not None:
            user.failed_logins = (user.failed_logins or 0) + 1
            if user.failed_logins >= MAX_FAILED_LOGINS:
                user.locked_until, user.failed_logins = now + LOCKOUT, 0
                audit(name, "user.locked", detail={"until": user.locked_until.isoformat()})
            db.session.commit()
        raise SignInRefused("wrong")
    user.failed_logins, user.locked_until = 0, None
    db.session.commit()
    return user
