"""Accounts with a life cycle: signing out and a new password end sessions on the
server (a replayed cookie opens nothing), API tokens shown once, rotated, revoked
and expiring, and administrators deactivating and reactivating accounts from
their page and from the command line."""
from __future__ import annotations

import re
from datetime import timedelta

from webclient import csrf_token, post_form, sign_in

from engine import clock
from engine.db import db
from engine.green.models import User
from engine.models import AuditEvent
from web.accounts.users import add_user

API = "/api/v1/tasks"


def person(name="lz", role="municipal", city="620100", password="correct-horse"):
    return add_user(name, role, city, password=password, display_name="王科长")[1]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def session_cookie(client):
    return client.get_cookie("session").value


def replay(client, value):
    client.set_cookie("session", value)
    return client


def test_a_session_cookie_replayed_after_signing_out_opens_nothing(app):
    person()
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, "lz")
    sign_in(phone, "lz")
    stolen = session_cookie(laptop)
    assert laptop.get("/inbox/").status_code == 200
    assert post_form(laptop, "/logout").status_code == 302
    thief = replay(app.test_client(), stolen)
    r = thief.get("/inbox/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert phone.get("/inbox/").status_code == 302  # signing out ends the account's other sessions too
    assert sign_in(laptop, "lz").status_code == 302 and laptop.get("/inbox/").status_code == 200


def test_a_new_password_needs_the_old_one_and_ends_the_other_sessions(app):
    person()
    me, elsewhere = app.test_client(), app.test_client()
    sign_in(me, "lz")
    sign_in(elsewhere, "lz")
    before = session_cookie(me)
    page = me.get("/account").get_data(as_text=True)
    assert 'id="password"' in page and "王科长" in me.get("/inbox/").get_data(as_text=True)
    token = csrf_token(me, "/account")

    wrong = me.post("/account/password", data={"old": "not-my-password", "new": "new-horse-1", "confirm": "new-horse-1",
                                                "csrf_token": token})
    assert wrong.status_code == 422 and 'id="error-old"' in wrong.get_data(as_text=True)
    short = me.post("/account/password", data={"old": "correct-horse", "new": "short", "confirm": "short",
                                                "csrf_token": token})
    assert short.status_code == 422 and 'id="error-new"' in short.get_data(as_text=True)
    assert elsewhere.get("/inbox/").status_code == 200  # nothing changed yet

    done = me.post("/account/password", data={"old": "correct-horse", "new": "new-horse-1", "confirm": "new-horse-1",
                                               "csrf_token": token})
    assert done.status_code == 303
    assert me.get("/inbox/").status_code == 200  # this session goes on
    assert elsewhere.get("/inbox/").status_code == 302
    assert replay(app.test_client(), before).get("/inbox/").status_code == 302
    assert sign_in(app.test_client(), "lz").status_code == 401
    assert sign_in(app.test_client(), "lz", "new-horse-1").status_code == 302
    assert db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "user.password")).actor == "lz"


def test_a_token_is_shown_once_rotated_and_revoked_on_the_users_own_page(app, client):
    first = person()
    sign_in(client, "lz")
    assert client.get(API, headers=bearer(first)).status_code == 200
    page = client.get("/account").get_data(as_text=True)
    assert "2027年03月02日" in page and first not in page  # valid for a year from today; never shown again

    r = client.post("/account/token", data={"days": "90", "csrf_token": csrf_token(client, "/account")})
    second = re.search(r'id="new-token">([^<]+)<', r.get_data(as_text=True)).group(1)
    assert r.status_code == 200 and "只显示这一次" in r.get_data(as_text=True)
    assert second not in client.get("/account").get_data(as_text=True)
    stored = db.session.scalar(db.select(User).where(User.name == "lz"))
    assert second not in (stored.token_hash or "") and stored.token_expires_at == clock.now() + timedelta(days=90)
    assert client.get(API, headers=bearer(first)).status_code == 401  # rotated: the old one is dead
    assert client.get(API, headers=bearer(second)).status_code == 200

    assert post_form(client, "/account/token/revoke", page="/account").status_code == 303
    refused = client.get(API, headers=bearer(second))
    assert refused.status_code == 401 and "revoked" in refused.json["error"]
    assert "没有接口令牌" in client.get("/account").get_data(as_text=True)


def test_an_expired_token_is_refused(app, client):
    token = add_user("bot", "provincial", token_days=30)[1]
    assert client.get(API, headers=bearer(token)).status_code == 200
    clock.current().advance(timedelta(days=30, seconds=1))
    r = client.get(API, headers=bearer(token))
    assert r.status_code == 401 and "expired" in r.json["error"]


def test_an_administrator_deactivates_an_account_and_everything_it_holds_stops(app):
    token = person()
    add_user("root", "admin", password="correct-horse")
    official, admin = app.test_client(), app.test_client()
    sign_in(official, "lz")
    sign_in(admin, "root")

    assert post_form(official, "/admin/users/lz/deactivate").status_code == 403  # only administrators
    assert official.get("/admin/users/").status_code == 403
    listing = admin.get("/admin/users/").get_data(as_text=True)
    assert 'id="user-lz"' in listing and "/admin/users/root/deactivate" not in listing  # not oneself
    assert post_form(admin, "/admin/users/lz/deactivate", page="/admin/users/").status_code == 303

    assert official.get("/inbox/").status_code == 302
    assert official.get(API, headers=bearer(token)).status_code == 401
    refused = sign_in(app.test_client(), "lz")
    assert refused.status_code == 401 and "已停用" in refused.get_data(as_text=True)
    assert "已停用" not in sign_in(app.test_client(), "lz", "a-wrong-guess").get_data(as_text=True)
    assert "已停用" in admin.get("/admin/users/").get_data(as_text=True)

    assert post_form(admin, "/admin/users/lz/reactivate", page="/admin/users/").status_code == 303
    assert sign_in(app.test_client(), "lz").status_code == 302
    assert official.get(API, headers=bearer(token)).status_code == 200
    actions = db.session.scalars(db.select(AuditEvent.action).where(AuditEvent.actor == "root")).all()
    assert actions == ["user.deactivate", "user.reactivate"]


def test_an_administrator_cannot_deactivate_herself(app, client):
    add_user("root", "admin", password="correct-horse")
    sign_in(client, "root")
    r = post_form(client, "/admin/users/root/deactivate", page="/admin/users/")
    assert r.status_code == 303
    assert "不能停用" in client.get("/admin/users/").get_data(as_text=True)
    assert client.get("/inbox/").status_code == 200


def test_the_command_line_deactivates_reactivates_and_gives_tokens(app, client):
    old = person()
    cli = app.test_cli_runner()
    out = cli.invoke(args=["users", "deactivate", "lz"])
    assert out.exit_code == 0 and client.get(API, headers=bearer(old)).status_code == 401
    assert sign_in(app.test_client(), "lz").status_code == 401
    assert cli.invoke(args=["users", "reactivate", "lz"]).exit_code == 0
    assert client.get(API, headers=bearer(old)).status_code == 200

    out = cli.invoke(args=["users", "token", "lz", "--days", "7"])
    new = out.output.strip().splitlines()[-1]
    assert out.exit_code == 0 and "2026-03-09" in out.output
    assert client.get(API, headers=bearer(old)).status_code == 401
    assert client.get(API, headers=bearer(new)).status_code == 200
    assert cli.invoke(args=["users", "revoke-token", "lz"]).exit_code == 0
    assert client.get(API, headers=bearer(new)).status_code == 401
    missing = cli.invoke(args=["users", "deactivate", "nobody"])
    assert missing.exit_code != 0 and "no user" in missing.output
