"""Who may read or do what on the pages and in the API (权限): one table, permission → roles.

Pages, the menu in `base.html` and tests/test_authorization_matrix.py all read it, so a role
is given or taken a page here and nowhere else. The table says which roles may; which cases,
tasks and designations a role sees inside a permitted page (its own city's, the ones it takes
part in) is scoped by the engine (`Runtime.visible_instances`, `may_act`) and the page's query."""
from __future__ import annotations

from functools import wraps

from flask_login import current_user

from engine.case_migration import MIGRATOR_ROLES
from engine.errors import Forbidden

# officials who read the designations register (名录) and what is built on it
OFFICIALS = frozenset({"municipal", "provincial", "analyst", "admin", "ecology", "emergency", "market"})
# the departments that check units (ecology, emergency, market) read the register, not the money or agencies
INDUSTRY_OFFICIALS = frozenset({"municipal", "provincial", "analyst", "admin"})

POLICY: dict[str, frozenset[str]] = {
    "designations.read": OFFICIALS,  # the register, its export and a designation's page
    "designations.spot_check": frozenset({"provincial", "admin"}),  # Art 20: the province spot-checks
    "designations.propose_revocation": frozenset({"municipal", "provincial", "admin"}),  # Art 21
    "dashboard.read": OFFICIALS,
    # the case search (办件查询): a city its own city's cases, the province every city's (the engine scopes)
    "cases.search": INDUSTRY_OFFICIALS,
    "cases.mine": frozenset({"applicant", "agency"}),  # 我的申报: an organisation's own cases
    "cultivation.read": OFFICIALS,  # the cultivation pool (培育库) and adverse facts
    "cultivation.nominate": frozenset({"municipal"}),  # Art 6: the city nominates
    "adverse_facts.record": frozenset({"municipal", "provincial"}),
    "lifecycle.read": OFFICIALS,  # a designation's dynamic management (动态管理)
    "lifecycle.report_incident": frozenset({"municipal"}),  # Art 20: the city reports
    # the award ledger (奖励台账): public money decided by the province and paid through the cities; the
    # consulted departments, applicants and agencies have no business in it
    "awards.read": INDUSTRY_OFFICIALS,
    "agencies.read": INDUSTRY_OFFICIALS,  # third-party evaluation agencies (评价机构)
    "experts.manage": frozenset({"provincial"}),  # Art 15: the province keeps the expert pool (专家库)
    "experts.declare": frozenset({"expert"}),  # an expert declares the units they may not review (回避)
    "models.edit": frozenset({"analyst"}),  # the modeler: every page, validation, deployment, import
    "models.deploy": frozenset({"analyst", "admin"}),  # deploying by the API
    "cases.migrate": MIGRATOR_ROLES,  # moving running cases between model versions
    "cases.retry": frozenset({"admin"}),  # correcting a case in error and running it again
    "calendar.enter": frozenset({"admin"}),  # entering a year's holiday notice
    "users.manage": frozenset({"admin"}),
    # an organisation registering itself is confirmed by the city its address lies in (单位注册)
    "registrations.confirm": frozenset({"municipal", "admin"}),
}


def may(user, permission: str) -> bool:
    """Whether the user's role holds the permission (KeyError for a permission not in the table)."""
    return getattr(user, "role", None) in POLICY[permission]


def demand(permission: str) -> None:
    """Refuse the signed-in user unless they hold the permission (403, answered by `web.handler`)."""
    if not may(current_user, permission):
        raise Forbidden(f"the role may not {permission}")


def require(permission: str):
    """A view for holders of the permission only: 403 for every other signed-in user.
    Put below `login_required`, so that a signed-out visitor is sent to sign in first."""
    POLICY[permission]  # a misspelt permission fails when the module loads, not on the first request

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            demand(permission)
            return view(*args, **kwargs)

        return wrapper

    return decorate
