"""Real names and contacts (实名与联系方式): Art 24 takes reports under a real name
with a way to reach the reporter, and a registration names real people. A name that
only stands in for one (匿名, 无, 某某, test) or a contact nobody answers is refused.
"""
from __future__ import annotations

import re

# Words people type instead of a name; compared in lower case with spaces removed.
PLACEHOLDERS = frozenset({
    "匿名", "无", "无名", "无名氏", "佚名", "某人", "某某", "不详", "未知", "保密", "不告诉你", "略", "暂无", "没有",
    "空", "群众", "网友", "市民", "举报人", "本人", "我", "测试", "姓名", "名字", "单位", "公司", "test", "tester",
    "testing", "anonymous", "anon", "none", "null", "nil", "na", "n/a", "unknown", "name", "xxx", "abc", "asdf",
})
_PLACEHOLDER_PARTS = ("某某", "匿名", "测试", "test", "xxx")
MOBILE = re.compile(r"1[3-9]\d{9}")
# an area code 0xx or 0xxx, then a 7- or 8-digit number, an extension allowed
LANDLINE = re.compile(r"0\d{2,3}-?[2-9]\d{6,7}(-\d{1,6})?")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def name_problem(name: str, organisation: bool = False) -> str | None:
    """Why `name` is not a real person's (or, with `organisation`, an organisation's)
    name, or None: a placeholder, one character repeated, no letters at all, too short."""
    text = re.sub(r"[\s·•.\-]", "", str(name or "")).lower()
    if len(text) < (4 if organisation else 2):
        return "too_short"
    if text in PLACEHOLDERS or any(part in text for part in _PLACEHOLDER_PARTS):
        return "placeholder"
    if len(set(text)) == 1:
        return "repeated"
    if not re.search(r"[\u4e00-\u9fffA-Za-z]", text) or re.search(r"\d{3,}", text):
        return "not_a_name"
    return None


def is_mobile(value: str) -> bool:
    return bool(MOBILE.fullmatch(re.sub(r"[\s-]", "", str(value or "")).removeprefix("+86")))


def contact_problem(contact: str) -> str | None:
    """Why `contact` reaches nobody, or None: a mainland mobile, a landline with its
    area code, or an e-mail address will do."""
    value = str(contact or "").strip()
    if "@" in value:
        return None if EMAIL.fullmatch(value) else "email"
    if is_mobile(value) or LANDLINE.fullmatch(value.replace(" ", "")):
        return None
    return "phone"


def explain_name(name: str) -> str | None:
    """For form validation (format `real-name`): a person's name, in both languages."""
    return None if name_problem(name) is None else \
        "请填写真实姓名，不接受“匿名”“无”“某某”等代称 (a real name, not a placeholder such as 匿名, 无, 某某 or test)"


def explain_contact(contact: str) -> str | None:
    """For form validation (format `contact`): a phone or e-mail that reaches someone."""
    return None if contact_problem(contact) is None else \
        "请填写有效的手机号、带区号的固定电话或电子邮箱 (a valid mainland mobile, landline with area code, or e-mail)"
