"""What a script may build, and what it may read off the values it holds (脚本规模与属性限制).

The time limit (`scripting._run`) is a trace function: it acts between Python
lines and calls. One operation done in C runs to its end first, holding the
interpreter lock, and every other request of the server waits for it:
`10 ** (10 ** 7)` ran 28 s, `'a' * 10 ** 10` asks for 10 GB, `str()` of a list
holding a million references to a million-character string writes 10^12
characters. So the checked script (`script_check.rewrite`) calls the guards
below in place of each operator that can build something large, and the
builtins that could are replaced: each guard works out the size of the result
from the sizes of its operands *before* the operation runs, and refuses one
over `SCRIPT_MAX_SIZE` elements or characters, or an integer over
`SCRIPT_MAX_INT_BITS` bits, with a message that becomes the case's error.

Attributes go through `guarded_getattr`, an allow-list per type of value: the
types a case's data and the helpers hold (str, numbers, list, dict, dates...)
and, for each, the methods an analyst uses. Anything else (a function's
`__globals__` is already refused by name; a generator's `send`, a tzinfo's
internals, a method nobody listed) is refused, so what a script can reach is
what is listed here, not whatever Python happens to offer. Methods that build
large results (`join`, `replace`, `ljust`, `format`...) come back guarded too.
"""
from __future__ import annotations

import datetime as _dt
import math
import string
from decimal import Decimal
from functools import lru_cache


class ScriptRefused(ValueError):
    """A script uses something the restricted environment does not offer."""


class ScriptTooLarge(ScriptRefused):
    """An operation would build a value over the configured size (脚本结果过大)."""


DEFAULT_MAX_SIZE = 1_000_000  # elements or characters of one value
DEFAULT_MAX_INT_BITS = 10_000  # about 3,000 decimal digits
# What a script may leave in a case's data, all values together, in multiples of SCRIPT_MAX_SIZE.
DATA_SIZE_FACTOR = 4


class Settings:
    """What the app configures (SCRIPT_TIME_LIMIT, SCRIPT_MAX_SIZE, SCRIPT_MAX_INT_BITS);
    read at each evaluation."""

    time_limit: float | None = 2.0
    max_size: int = DEFAULT_MAX_SIZE
    max_int_bits: int = DEFAULT_MAX_INT_BITS


settings = Settings()


def _too_large(what: str, size: int) -> ScriptTooLarge:
    return ScriptTooLarge(f"脚本结果过大：将有 {size:,} 个元素或字符，超过允许的 {settings.max_size:,}（SCRIPT_MAX_SIZE） "
                          f"({what} would have {size:,} elements or characters, more than the "
                          f"{settings.max_size:,} allowed in scripts (SCRIPT_MAX_SIZE))")


def _int_too_large(what: str, bits: float) -> ScriptTooLarge:
    return ScriptTooLarge(f"脚本结果过大：整数将约有 {int(bits):,} 位（二进制），超过允许的 {settings.max_int_bits:,}"
                          f"（SCRIPT_MAX_INT_BITS） ({what} would give an integer of about {int(bits):,} bits, more than the "
                          f"{settings.max_int_bits:,} allowed in scripts (SCRIPT_MAX_INT_BITS))")


def _check_size(what: str, size: int) -> None:
    if size > settings.max_size:
        raise _too_large(what, size)


# ---------------------------------------------------------------------- sizes without building
_SHORT_TEXT = {int, float, bool, type(None), complex, _dt.date, _dt.datetime, _dt.time, _dt.timedelta}
_CONTAINERS = (list, tuple, set, frozenset)


def text_size(value, limit: int, quoted: bool = False) -> int:
    """An upper bound of len(str(value)) (len(repr(value)) if `quoted`), counted without
    building it and given up once past `limit`: a list may hold the same long string a
    million times, and its text is the string a million times over."""
    total = 0
    stack = [(value, quoted)]
    while stack:
        v, q = stack.pop()
        t = type(v)
        if t is str:
            # repr escapes what it cannot print, up to ten characters each (\U0001f600)
            total += len(v) + 2 if not q or v.isprintable() else 10 * len(v) + 2
        elif t is int:
            total += v.bit_length() // 3 + 2
        elif t in _SHORT_TEXT:
            total += 40
        elif t is Decimal:
            total += len(str(v))
        elif t is dict:
            total += 2 + 4 * len(v)
            if total <= limit:
                stack.extend((k, True) for k in v)
                stack.extend((x, True) for x in v.values())
        elif isinstance(v, _CONTAINERS):
            total += 2 + 2 * len(v)
            if total <= limit:
                stack.extend((x, True) for x in v)
        else:
            total += 100  # a function, a class, an iterator: a short <... at 0x...>
        if total > limit:
            return total
    return total


_NESTED = (dict, list, tuple, set, frozenset)


def data_size(data: dict, limit: int) -> int:
    """Roughly what a case's data comes to stored (a character per character of text, one per
    element, every reference counted), given up once past `limit`. It runs after every script,
    so it is cruder and quicker than `text_size`: the bloat it is for is a million-fold."""
    total = 0
    stack = [data]
    while stack:
        value = stack.pop()
        total += len(value)
        for item in (value.values() if type(value) is dict else value):
            kind = type(item)
            if kind is str:
                total += len(item)
            elif kind in _NESTED:
                stack.append(item)
        if type(value) is dict:
            for key in value:
                if type(key) is str:
                    total += len(key)
        if total > limit:
            break
    return total


def _weight(value, limit: int) -> int:
    """Elements and characters a sequence stands for, nested ones included: `[s] * n` is n
    times this (`[0] * n` is n elements; `['a' * 1000] * n`, n times a thousand characters)."""
    if type(value) is str:
        return len(value)
    return data_size(value, limit)


# ---------------------------------------------------------------------- operators
def _int_bits(value) -> int:
    return value.bit_length() if isinstance(value, int) else 0


_SEQUENCES = (str, list, tuple)


def guarded_pow(a, b):
    if isinstance(a, int) and isinstance(b, int) and b > 1 and a not in (0, 1, -1):
        bits = b * math.log2(abs(a))
        if bits > settings.max_int_bits:
            raise _int_too_large(f"{a if a.bit_length() < 64 else 'a large number'} ** {b}", bits)
    return a ** b


def guarded_mul(a, b):
    if type(a) is int and type(b) is int:
        if a.bit_length() + b.bit_length() > settings.max_int_bits:
            raise _int_too_large("this multiplication", a.bit_length() + b.bit_length())
        return a * b
    if isinstance(b, int) and isinstance(a, _SEQUENCES):
        seq, n = a, b
    elif isinstance(a, int) and isinstance(b, _SEQUENCES):
        seq, n = b, a
    else:
        return a * b
    if n > 0 and seq:
        limit = settings.max_size
        if len(seq) * n > limit:
            raise _too_large(f"a {type(seq).__name__} of length {len(seq):,} repeated {n:,} times", len(seq) * n)
        if type(seq) is not str:
            weight = _weight(seq, limit // n + 1)
            if weight * n > limit:
                raise _too_large(f"a {type(seq).__name__} holding {weight:,} elements and characters "
                                 f"repeated {n:,} times", weight * n)
    return a * b


def guarded_lshift(a, b):
    if isinstance(a, int) and isinstance(b, int) and a and b > 0:
        if a.bit_length() + b > settings.max_int_bits:
            raise _int_too_large(f"shifting left by {b:,}", a.bit_length() + b)
    return a << b


def guarded_add(a, b):
    if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        _check_size(f"joining a {type(a).__name__} and a {type(b).__name__}", len(a) + len(b))
    return a + b


def guarded_mod(a, b):
    if type(a) is str:
        _check_size("this % formatting", _percent_size(a, b))
    return a % b


def _percent_directives(fmt: str):
    """(key, width, precision) of each directive of a printf-style format, as Python reads it
    (a key in parentheses may hold parentheses of its own)."""
    i, n = 0, len(fmt)
    while True:
        i = fmt.find("%", i)
        if i < 0 or i + 1 >= n:
            return
        i += 1
        key = None
        if fmt[i] == "(":
            depth, start = 1, i + 1
            while i + 1 < n and depth:
                i += 1
                depth += {"(": 1, ")": -1}.get(fmt[i], 0)
            key, i = fmt[start:i], i + 1
        while i < n and fmt[i] in "-+ #0":
            i += 1
        numbers = []
        for _ in range(2):
            start = i
            if i < n and fmt[i] == "*":
                raise ScriptRefused("脚本中 % 格式化不能用 * 指定宽度或精度；请直接写明宽度 (a * width or precision in % formatting is not available in scripts; "
                                    "write the width in the format)")
            while i < n and fmt[i].isdigit():
                i += 1
            numbers.append(int(fmt[start:i]) if i > start else 0)
            if i < n and fmt[i] == "." and len(numbers) == 1:
                i += 1
            else:
                break
        while i < n and fmt[i] in "hlL":
            i += 1
        if i < n and fmt[i] == "%":
            i += 1
            continue
        yield key, sum(numbers)
        i += 1


@lru_cache(maxsize=1024)
def _percent_widths(fmt: str) -> tuple[int, tuple]:
    """The format's length with its widths and precisions, and the keys its directives name."""
    total, keys = len(fmt), []
    for key, widths in _percent_directives(fmt):
        total += widths
        keys.append(key)
    return total, tuple(keys)


def _percent_size(fmt: str, args) -> int:
    limit = settings.max_size
    # the format is nearly always a literal of the script: read once
    total, keys = _percent_widths(fmt) if len(fmt) < 256 else _percent_widths.__wrapped__(fmt)
    if total > limit:
        return total
    if isinstance(args, dict):
        values = [args[k] for k in keys if k is not None and k in args]
    elif isinstance(args, tuple):
        values = list(args)
    else:
        values = [args]
    for value in values:
        total += 40 if type(value) in _SHORT_TEXT else text_size(value, limit - total + 1, quoted=True)
        if total > limit:
            break
    return total


def guarded_augitem(container, key, op, value):
    """`container[key] op= value` with the operator guarded, container and key evaluated once."""
    container[key] = BINARY[op](container[key], value)


BINARY = {"Pow": guarded_pow, "Mult": guarded_mul, "LShift": guarded_lshift,
          "Add": guarded_add, "Mod": guarded_mod}


# ---------------------------------------------------------------------- text
def _spec_size(spec: str, value) -> int:
    """A bound on what format(value, spec) writes besides the value's own text: the widths and
    precisions in the spec (for a date, each strftime directive writes a few dozen characters)."""
    size = _spec_widths(spec) if len(spec) < 64 else _spec_widths.__wrapped__(spec)
    if isinstance(value, (_dt.date, _dt.time)):
        size += 40 * spec.count("%")
    return size


@lru_cache(maxsize=1024)
def _spec_widths(spec: str) -> int:
    total, digits = len(spec), 0
    for ch in spec:
        if ch.isdigit():
            digits = digits * 10 + ord(ch) - 48
            if digits > settings.max_size:
                return digits
        else:
            total += digits
            digits = 0
    return total + digits


def format_value(value, spec: str = "", conversion: str | None = None) -> str:
    """format(value, spec) after the conversion (!s, !r, !a), its size checked first."""
    limit = settings.max_size
    if type(spec) is not str:
        raise TypeError("a format spec must be a string")
    kind = type(value)
    if conversion is None and (kind is str or kind in _SHORT_TEXT):
        # the common case, an f-string field of text, a number or a date: only the spec can grow it
        if spec:
            _check_size("this formatted value", (len(value) if kind is str else 40) + _spec_size(spec, value))
        return format(value, spec)
    size = text_size(value, limit + 1, quoted=conversion in ("r", "a"))
    if spec:
        size += _spec_size(spec, value)
    _check_size("this formatted value", size)
    if conversion == "r":
        value = repr(value)
    elif conversion == "a":
        value = ascii(value)
    elif conversion == "s":
        value = str(value)
    result = format(value, spec)
    _check_size("this formatted value", len(result))
    return result


_CONVERSIONS = {-1: None, 115: "s", 114: "r", 97: "a"}


def guarded_fstring_value(value, conversion: int, spec: str) -> str:
    """An f-string's `{value!conversion:spec}`; the spec's own fields are evaluated already."""
    return format_value(value, spec, _CONVERSIONS[conversion])


def guarded_format(value, spec=""):
    """The builtin format()."""
    return format_value(value, spec)


def to_str(value) -> str:
    if type(value) is str:
        return value
    if type(value) in _SHORT_TEXT:
        return str(value)  # an integer's digits are capped by Python itself (4,300)
    _check_size("this text", text_size(value, settings.max_size + 1))
    return str(value)


class _StrType(type):
    """`str` as scripts see it: `str(x)` is size-checked, `isinstance(x, str)` still holds."""

    def __call__(cls, *args, **kwargs):
        if len(args) == 1 and not kwargs:
            return to_str(args[0])
        if not args and not kwargs:
            return ""
        raise TypeError("str() takes one value in scripts")

    def __instancecheck__(cls, obj):
        return isinstance(obj, str)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, str)

    def __repr__(cls):
        return "<class 'str'>"


class GuardedStr(metaclass=_StrType):
    pass


class _SafeFormatter(string.Formatter):
    """str.format without attribute or index fields, each field's size checked and the whole."""

    def __init__(self):
        self.total = 0

    def get_field(self, field_name, args, kwargs):
        if "." in field_name or "[" in field_name:
            raise ScriptRefused("脚本中不能使用带属性或下标字段的 str.format；请用 f-string (str.format with attribute or index fields is not available in scripts; "
                                "use an f-string)")
        return super().get_field(field_name, args, kwargs)

    def convert_field(self, value, conversion):
        return value if conversion is None else _Converted(value, conversion)

    def format_field(self, value, spec):
        if isinstance(value, _Converted):
            result = format_value(value.value, spec, value.conversion)
        else:
            result = format_value(value, spec)
        self.total += len(result)
        _check_size("this str.format", self.total)
        return result


class _Converted:
    __slots__ = ("value", "conversion")

    def __init__(self, value, conversion):
        self.value, self.conversion = value, conversion


def guarded_range(*args):
    r = range(*args)
    if len(r) > settings.max_size:
        raise ScriptTooLarge(f"脚本中 range 含 {len(r):,} 个数，超过允许的 {settings.max_size:,}（SCRIPT_MAX_SIZE） "
                             f"(range of {len(r):,} numbers is longer than {settings.max_size:,} allowed in "
                             "scripts (SCRIPT_MAX_SIZE))")
    return r


_NUMBERS = (int, float, complex, Decimal, _dt.timedelta)


def guarded_sum(iterable, /, start=0):
    if not isinstance(start, _NUMBERS):
        raise ScriptRefused("脚本中 sum() 只用于数字相加；文本请用 ''.join(...) 连接，列表请用推导式 (sum() adds numbers in scripts; join text with ''.join(...) and lists with "
                            "a comprehension)")
    return sum(iterable, start)


def guarded_round(number, ndigits=None):
    if ndigits is not None and isinstance(ndigits, int) and abs(ndigits) > 1000:
        raise ScriptTooLarge(f"脚本中 round() 最多保留 1,000 位，不能为 {ndigits:,} 位 (round() to {ndigits:,} digits is not available in scripts (at most 1,000))")
    return round(number) if ndigits is None else round(number, ndigits)


# ---------------------------------------------------------------------- methods that build
def _join(s: str):
    def join(iterable):
        parts = iterable if isinstance(iterable, (list, tuple)) else list(iterable)
        if len(parts) > 1:
            try:
                size = sum(map(len, parts)) + len(s) * (len(parts) - 1)
            except TypeError:
                size = 0  # not all text: join says which item is not
            _check_size("this join", size)
        return s.join(parts)
    return join


def _replace(s: str):
    def replace(old, new, count=-1, /):
        if type(old) is str and type(new) is str and len(new) > len(old):
            n = s.count(old) if old else len(s) + 1
            if isinstance(count, int) and count >= 0:
                n = min(n, count)
            _check_size("this replace", len(s) + n * (len(new) - len(old)))
        return s.replace(old, new, count)
    return replace


def _padding(name):
    def factory(s: str):
        method = getattr(s, name)

        def pad(width, *fill):
            if isinstance(width, int):
                _check_size(f"{name}({width:,})", width)
            return method(width, *fill)
        return pad
    return factory


def _expandtabs(s: str):
    def expandtabs(tabsize=8):
        if isinstance(tabsize, int) and tabsize > 0:
            _check_size("this expandtabs", len(s) + s.count("\t") * tabsize)
        return s.expandtabs(tabsize)
    return expandtabs


def _str_format(s: str):
    def format(*args, **kwargs):
        return _SafeFormatter().vformat(s, args, kwargs)
    return format


def _str_format_map(s: str):
    def format_map(mapping):
        return _SafeFormatter().vformat(s, (), mapping)
    return format_map


def _strftime(d):
    def strftime(fmt):
        if type(fmt) is str:
            _check_size("this strftime", _spec_size(fmt, d))
        return d.strftime(fmt)
    return strftime


def _growing(name):
    """list.extend, set.update, dict.update...: the result is at most the sizes together."""
    def factory(obj):
        method = getattr(obj, name)

        def grow(*others, **kwargs):
            size = len(obj) + len(kwargs) + sum(len(o) for o in others if hasattr(o, "__len__"))
            _check_size(f"this {name}", size)
            return method(*others, **kwargs)
        return grow
    return factory


def _plain(names: str) -> dict:
    return dict.fromkeys(names.split())


_STR = {
    **_plain("capitalize casefold count endswith find index isalnum isalpha isascii isdecimal isdigit "
             "isidentifier islower isnumeric isprintable isspace istitle isupper lower lstrip partition "
             "removeprefix removesuffix rfind rindex rpartition rsplit rstrip split splitlines startswith "
             "strip swapcase title upper"),
    "join": _join, "replace": _replace, "center": _padding("center"), "ljust": _padding("ljust"),
    "rjust": _padding("rjust"), "zfill": _padding("zfill"), "expandtabs": _expandtabs,
    "format": _str_format, "format_map": _str_format_map,
}
_INT = _plain("bit_length real imag numerator denominator")
_DATE = {**_plain("year month day weekday isoweekday isoformat isocalendar replace toordinal ctime"),
         "strftime": _strftime}
_TIME = {**_plain("hour minute second microsecond tzinfo isoformat replace utcoffset tzname"), "strftime": _strftime}
_DATETIME = {**_DATE, **_TIME, **_plain("date time timetz astimezone timestamp")}
_SET = {**_plain("add clear copy difference difference_update discard intersection intersection_update "
                 "isdisjoint issubset issuperset pop remove symmetric_difference symmetric_difference_update"),
        "union": _growing("union"), "update": _growing("update")}

# type of a value -> the attributes a script may read on it (None: as it is; else a guard around it)
ATTRIBUTES: dict[type, dict] = {
    str: _STR,
    int: _INT,
    bool: _INT,
    float: _plain("is_integer real imag"),
    Decimal: _plain("adjusted compare copy_abs copy_negate is_finite is_infinite is_nan is_signed is_zero "
                    "max min normalize quantize to_integral_value"),
    list: {**_plain("append clear copy count index insert pop remove reverse sort"), "extend": _growing("extend")},
    tuple: _plain("count index"),
    dict: {**_plain("clear copy get items keys pop popitem setdefault values"), "update": _growing("update")},
    set: _SET,
    frozenset: _plain("copy difference intersection isdisjoint issubset issuperset symmetric_difference union"),
    range: _plain("start stop step count index"),
    _dt.date: _DATE,
    _dt.datetime: _DATETIME,
    _dt.time: _TIME,
    _dt.timedelta: _plain("days seconds microseconds total_seconds"),
}
# The classes scripts are given, by the class itself (date.today and datetime.now read the
# server's clock behind the case's: the helper today() reads the case's clock).
CLASS_ATTRIBUTES: dict[type, dict] = {
    _dt.date: _plain("fromisoformat fromordinal fromisocalendar min max"),
    _dt.datetime: _plain("fromisoformat combine min max"),
    _dt.timedelta: _plain("min max resolution"),
}
EXCEPTION_ATTRIBUTES = _plain("args")

ATTRIBUTE_NAMES = frozenset(name for table in [*ATTRIBUTES.values(), *CLASS_ATTRIBUTES.values(),
                                                EXCEPTION_ATTRIBUTES] for name in table)


def guarded_getattr(obj, name: str):
    table = ATTRIBUTES.get(type(obj))
    if table is None:
        if type(obj) is type:
            table = CLASS_ATTRIBUTES.get(obj)
        elif isinstance(obj, BaseException):
            table = EXCEPTION_ATTRIBUTES
    if table is None or name not in table:
        what = obj.__name__ if type(obj) is type and obj in CLASS_ATTRIBUTES else f"a {type(obj).__name__}"
        raise ScriptRefused(f"脚本中不能使用 {what} 的「{name}」 ('{name}' of {what} is not available in scripts)")
    guard = table[name]
    return getattr(obj, name) if guard is None else guard(obj)
