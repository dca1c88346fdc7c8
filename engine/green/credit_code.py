"""The unified social credit code (统一社会信用代码, GB 32100-2015).

18 characters from 0-9 and the capitals without I, O, S, V, Z; the last is a
check character computed from the first 17. Characters 3-8 are the
registering authority's administrative division code.
"""
from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: a character's value is its index
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_character(first17: str) -> str:
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, WEIGHTS))
    return ALPHABET[(31 - total % 31) % 31]


def problem(code: str) -> str | None:
    """Why `code` is not a valid credit code, or None when it is."""
    if not isinstance(code, str) or len(code) != 18:
        return "统一社会信用代码应为18位 (a credit code has 18 characters)"
    bad = sorted({c for c in code if c not in ALPHABET})
    if bad:
        return f"含有不允许的字符 {' '.join(bad)}（不使用 I、O、S、V、Z 和小写字母） (characters not allowed in a credit code)"
    if not code[2:8].isdigit():
        return "第3至8位应为登记管理机关行政区划码（数字） (characters 3-8 are the division code)"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"校验码不符（应为 {expected}），请检查是否输错 (the check character is wrong: a character was mistyped)"
    return None


def is_valid(code: str) -> bool:
    return problem(code) is None
