"""Users and their life cycle (用户与令牌): creation, passwords, API tokens,
deactivation, and the sessions that each of these ends.

An API token is random, shown once and stored only as its SHA-256 (a random
token needs no slow hash: nothing guessable is hashed). It expires, can be
revoked and rotated; a deactivated account's token is refused like an unknown one.
A session carries the account's `session_epoch` (see `User.get_id`): signing
out, changing the password or being deactivated raises the epoch, which ends
every session begun before, on any device.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from engine import clock
from engine.audit import append as audit
from engine.db import db
from engine.errors import Conflict, EngineError, Forbidden, NotFound
from engine.green import delegation, registrations
from engine.green.models import User
from engine.green.roles import JURISDICTIONS, MUNICIPAL_ROLES, ROLES
from engine.runtime import Actor

from ..handler import operation

MIN_PASSWORD = 8
TOKEN_DAYS = 365  # a token's lifetime unless another is asked for
MAX_TOKEN_DAYS = 3 * 365
# compared against when the name is unknown, so an unknown name costs what a wrong password costs
_NOBODY = generate_password_hash(secrets.token_urlsafe(16))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _password_hash(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def _password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"a password needs at least {MIN_PASSWORD} characters"
    return None


@operation
def add_user(
    name: str, role: str, jurisdiction: str | None = None, actor: str | None = None, token: str | None = None,
    password: str | None = None, display_name: str | None = None, token_days: int = TOKEN_DAYS,
    registration_id: int | None = None,
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
    if password is not None and (problem := _password_problem(password)):
        raise EngineError(problem)
    user = User(name=name, role=role, jurisdiction=jurisdiction, created_at=clock.now(), display_name=display_name,
                session_epoch=0, password_hash=_password_hash(password) if password else None,
                registration_id=registration_id)
    db.session.add(user)
    token = _set_token(user, token_days, token)
    audit(actor, "user.add", detail={"name": name, "role": role, "jurisdiction": jurisdiction})
    return user, token


def find(name: str) -> User:
    user = db.session.scalar(db.select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"no user '{name}'")
    return user


def actor_of(user: User) -> Actor:
    """Who the user acts as: an organisation's account in the organisation's city, beside its colleagues;
    an official with whomever named him substitute for today, and whether he is a head."""
    if user.registration_id is None:
        return Actor(user.name, user.role, user.jurisdiction, principals=delegation.principals_of(user),
                     head=bool(user.is_head))
    row = registrations.registration_of(user)
    return Actor(user.name, user.role, row.jurisdiction, registrations.colleagues(user))


# ------------------------------------------------------------------ API tokens
class TokenRefused(Exception):
    """Why a bearer token opens nothing (told to its holder, who has the token anyway)."""


def user_for_token(token: str) -> User:
    """The account a bearer token belongs to, if it may act now; TokenRefused otherwise."""
    user = db.session.scalar(db.select(User).where(User.token_hash == _hash(token))) if token else None
    if user is None:
        raise TokenRefused("unknown or revoked token")
    if user.token_expires_at is None or user.token_expires_at <= clock.now():
        raise TokenRefused("the token has expired; make a new one on your account page")
    if not user.is_active:
        raise TokenRefused("the account is deactivated")
    return user


def _set_token(user: User, days: int, token: str | None = None) -> str:
    if not isinstance(days, int) or not 1 <= days <= MAX_TOKEN_DAYS:
        raise EngineError(f"a token lasts 1 to {MAX_TOKEN_DAYS} days")
    token = token or secrets.token_urlsafe(32)
    user.token_hash, user.token_expires_at = _hash(token), clock.now() + timedelta(days=days)
    return token


@operation
def issue_token(user: User, actor: str | None, days: int = TOKEN_DAYS) -> str:
    """A new token for the account (rotation: the one it had stops working at once); shown once."""
    token = _set_token(user, days)
    audit(actor, "user.token", detail={"name": user.name, "expires": user.token_expires_at.isoformat()})
    return token


@operation
def revoke_token(user: User, actor: str | None) -> None:
    """The account's token stops working; the account itself goes on."""
    had = user.token_hash is not None
    user.token_hash = user.token_expires_at = None
    if had:
        audit(actor, "user.token_revoke", detail={"name": user.name})


# ------------------------------------------------------------------ sessions and passwords
def end_sessions(user: User) -> None:
    """Every session of the account begun so far stops opening pages (the caller commits)."""
    user.session_epoch = (user.session_epoch or 0) + 1


@operation
def sign_out(user: User) -> None:
    end_sessions(user)


class SignInRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def sign_in(name: str, password: str) -> User:
    """Check a password. An unknown name and a wrong password get the same answer
    and cost the same time; only someone who knows the password learns that the
    account is deactivated. How often a name may be tried is `ratelimit`'s business."""
    user = db.session.scalar(db.select(User).where(User.name == name))
    if user is None or not user.password_hash:
        check_password_hash(_NOBODY, password)
        raise SignInRefused("wrong")
    if not check_password_hash(user.password_hash, password):
        raise SignInRefused("wrong")
    if not user.is_active:
        raise SignInRefused("deactivated")
    return user


LANGUAGES = ("zh_CN", "en")


@operation
def choose_language(user: User, code: str) -> None:
    """The person's choice of language for the pages, kept on the account for every later sign-in."""
    if code in LANGUAGES and user.language != code:
        user.language = code


class PasswordRefused(EngineError):
    """The old password is wrong or the new one will not do: field → message."""

    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(fields.values()))
        self.fields = fields


@operation
def change_password(user: User, old: str, new: str, confirm: str) -> None:
    """The user's own change, proven by the old password; every other session of the account ends."""
    problems = {}
    if not user.password_hash or not check_password_hash(user.password_hash, old):
        problems["old"] = "wrong"
    if problem := _password_problem(new):
        problems["new"] = problem
    elif new != confirm:
        problems["confirm"] = "different"
    if problems:
        raise PasswordRefused(problems)
    user.password_hash = _password_hash(new)
    end_sessions(user)
    audit(user.name, "user.password", detail={"name": user.name})


# ------------------------------------------------------------------ deactivation (administrators)
@operation
def deactivate(name: str, actor: Actor) -> User:
    """The account can no longer sign in or use its token; its sessions end at once."""
    if not actor.is_admin:
        raise Forbidden("only an administrator may deactivate an account")
    user = find(name)
    if actor.name == user.name:
        raise EngineError("an administrator cannot deactivate their own account; ask another administrator")
    if user.deactivated_at is None:
        user.deactivated_at = clock.now()
        end_sessions(user)
        audit(actor.name, "user.deactivate", detail={"name": user.name})
    return user


@operation
def reactivate(name: str, actor: Actor) -> User:
    """The account signs in again; its token, if it has not expired, works again."""
    if not actor.is_admin:
        raise Forbidden("only an administrator may reactivate an account")
    user = find(name)
    if user.deactivated_at is not None:
        user.deactivated_at = None
        audit(actor.name, "user.reactivate", detail={"name": user.name})
    return user


def token_state(user: User, now: datetime | None = None) -> str:
    """none | active | expired: what the account page and the user list say about the token."""
    if user.token_hash is None:
        return "none"
    return "active" if user.token_expires_at and user.token_expires_at > (now or clock.now()) else "expired"


# ------------------------------------------------------------------ organisations' own accounts (单位注册)
class RegistrationRefused(registrations.RegistrationRefused):
    """Also what is wrong with the account itself (its name, its password)."""


def _new_account_problems(account: str, password: str | None, display_name: str | None,
                          name_required: bool) -> dict[str, str]:
    """What is wrong with an organisation's new account: field -> the kind of problem."""
    found = {}
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{2,79}", account):
        found["account"] = "account"
    elif db.session.scalar(db.select(User.id).where(User.name == account)) is not None:
        found["account"] = "account_taken"
    if _password_problem(password or ""):
        found["password"] = "password"
    if (display_name or name_required) and registrations.real_name.name_problem(display_name or ""):
        found["display_name"] = "person_name"
    return found


@operation
def register(details: dict, account: str, password: str, display_name: str | None = None,
             token: str | None = None) -> User:
    """Self-registration: the organisation's particulars and its first account, which
    signs in at once but applies only after the city confirms the organisation."""
    account = (account or "").strip()
    found = _new_account_problems(account, password, display_name, name_required=False)
    try:
        row = registrations.record(details, account)
    except registrations.RegistrationRefused as refused:
        raise RegistrationRefused({**found, **refused.fields}) from None
    if found:
        raise RegistrationRefused(found)
    user, _token = add_user(account, row.role, None, actor=account, password=password, token=token,
                            display_name=display_name or row.contact_person, registration_id=row.id)
    return user


@operation
def add_colleague(user: User, account: str, password: str, display_name: str) -> User:
    """Another account acting for the user's own organisation, made by one of its accounts
    once the city has confirmed the organisation (the city vouched for it, its people vouch for theirs)."""
    row = registrations.registration_of(user)
    if row is None or row.status != "confirmed":
        raise Forbidden("only an account of a confirmed organisation adds colleagues")
    account = (account or "").strip()
    found = _new_account_problems(account, password, display_name, name_required=True)
    if found:
        raise RegistrationRefused(found)
    colleague, _token = add_user(account, user.role, None, actor=user.name, password=password,
                                 display_name=display_name.strip(), registration_id=row.id)
    audit(user.name, "registration.colleague", detail={"registration": row.id, "name": account})
    return colleague


@operation
def decide_registration(registration_id: int, actor: Actor, confirm: bool, reason: str | None = None):
    return registrations.decide(registration_id, actor, confirm, reason)
