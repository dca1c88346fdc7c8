"""What every template may call: names of codes in the language the user chose, dates
in Chinese or English form, and `may(permission)` from the policy table for the menu. Apart from the app factory so that pages can use `name_in`
without importing the package that registers them."""
from __future__ import annotations

from datetime import timedelta

from flask_babel import get_locale
from flask_login import current_user

from engine import clock
from engine.green.agencies import VERDICTS
from engine.green.models import LEVELS, STATUSES, UNIT_TYPES
from engine.green.roles import JURISDICTIONS, ROLES

from .policy import may


def name_in(table: dict, code):
    """A code's name from a (Chinese, English) table, in the language the user chose."""
    names = table.get(code)
    return code if names is None else names[1 if str(get_locale()) == "en" else 0]


def helpers() -> dict:
    def english() -> bool:
        return str(get_locale()) == "en"

    def cn_datetime(moment):
        """Beijing time, in Chinese form (2026年04月01日 00:00) unless the user chose English."""
        if not moment:
            return ""
        local = moment.astimezone(clock.SHANGHAI)
        day, time = local.date(), local.strftime("%H:%M")
        if time == "00:00":  # a deadline "by 31 March" ends at midnight: show it on its own day
            day, time = day - timedelta(days=1), "24:00"
        return f"{day:%Y-%m-%d} {time}" if english() else f"{day:%Y年%m月%d日} {time}"

    def cn_date(day):
        return "" if not day else (f"{day:%Y-%m-%d}" if english() else f"{day:%Y年%m月%d日}")

    return {
        "get_locale": get_locale,
        "english": english,
        # a remark after a name: （…） in Chinese, " (…)" in English
        "paren": lambda text: f" ({text})" if english() else f"（{text}）",
        "colon": ": " if english() else "：",  # before what follows a label
        "role_name": lambda code: name_in(ROLES, code),
        "city_name": lambda code: name_in(JURISDICTIONS, code),
        "unit_type_name": lambda code: name_in(UNIT_TYPES, code),
        "level_name": lambda code: name_in(LEVELS, code),
        "status_name": lambda code: name_in(STATUSES, code),  # a designation's
        "verdict_name": lambda code: name_in(VERDICTS, code),  # an evaluation report's
        "may": lambda permission: may(current_user, permission),
        "name_in": name_in,
        "cn_datetime": cn_datetime,
        "cn_date": cn_date,
    }
