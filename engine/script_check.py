"""What a script may say (脚本白名单), checked on its syntax tree before it is compiled.

An allow-list, not a deny-list. The previous check refused the names and
attributes it recognised as dangerous and let everything else through; a
`match` statement then read dunders by string (`case tuple(__class__=c)`),
a capture pattern bound `__builtins__`, and `str.format` reached through a
keyword pattern walked attributes to the app's SECRET_KEY. Every version of
Python adds syntax, and each addition was a new way past a deny-list
(RestrictedPython's record says the same: `try/except*` in 3.11, positional-only
parameters shadowing its guards). Here a node type not listed below is refused,
with its place, whatever Python version adds it.

What is allowed is what analysts write in conditions, scripts, decision cells,
timers and due dates: assignments, if/for/while/try, functions and lambdas
without defaults or decorators, comprehensions and generator expressions,
literals, f-strings, calls, subscripts, and attributes from
`script_limits.ATTRIBUTE_NAMES` (checked again per type of value at run time).
No attribute may start with `_`, nor a name, parameter or keyword with `__`
or look like a guard (`_x_`); identifiers are NFKC-normalised by the parser,
so `＿＿class__` is `__class__` here too.

`rewrite` then makes the operators that can build something huge in one C call
(`**`, `*`, `<<`, `%`, `+`), every attribute read and every f-string field call
the guards of `script_limits`, as RestrictedPython routes attribute access
through `_getattr_`. The guards' names are `_x_`, so no script can name, rebind
or shadow them; a case's data cannot either (`scripting` refuses such keys).

Why not RestrictedPython itself (spiff-arena builds on it): what we take from it
is here (its transformer's allow-list of nodes, attribute reads through
`_getattr_`, names checked on every kind of parameter, `except*` refused,
exceptions that expose no `.obj`). What it would not give: its attribute policy
(`safer_getattr`) is a deny-list (anything not starting with `_` and not
`str.format` passes, on any type), f-strings and `%` pass unchecked, and it does
nothing about work done in C (its `limited_range` is an optional 1,000); so its
compiled code would still need our per-type attribute tables, size guards and
trace deadline, plus adapting to its print collector and guard protocol, for a
dependency whose own record is escapes through syntax it allowed.
"""
from __future__ import annotations

import ast
import string

from . import script_limits
from .script_limits import ScriptRefused

# name in the rewritten code -> the guard (script_globals() puts them beside the builtins)
GUARDS = {
    "_pow_": script_limits.guarded_pow,
    "_mul_": script_limits.guarded_mul,
    "_lshift_": script_limits.guarded_lshift,
    "_add_": script_limits.guarded_add,
    "_mod_": script_limits.guarded_mod,
    "_augitem_": script_limits.guarded_augitem,
    "_getattr_": script_limits.guarded_getattr,
    "_fv_": script_limits.guarded_fstring_value,
}
_GUARDED_OPS = {ast.Pow: "_pow_", ast.Mult: "_mul_", ast.LShift: "_lshift_", ast.Add: "_add_", ast.Mod: "_mod_"}

_ALLOWED = frozenset({
    ast.Module, ast.Expression, ast.Expr, ast.Assign, ast.AugAssign, ast.Delete, ast.Pass, ast.Break,
    ast.Continue, ast.If, ast.For, ast.While, ast.Try, ast.ExceptHandler, ast.Raise, ast.Assert, ast.Return,
    ast.FunctionDef, ast.Lambda, ast.arguments, ast.arg, ast.keyword,
    ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp, ast.Call, ast.NamedExpr,
    ast.Attribute, ast.Subscript, ast.Slice, ast.Starred, ast.Name, ast.Constant,
    ast.List, ast.Tuple, ast.Dict, ast.Set, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
    ast.comprehension, ast.JoinedStr, ast.FormattedValue, ast.Load, ast.Store, ast.Del,
    ast.And, ast.Or, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift, ast.RShift,
    ast.BitOr, ast.BitXor, ast.BitAnd, ast.UAdd, ast.USub, ast.Not, ast.Invert,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn,
})

# Why some of the others are refused, in an analyst's words; the rest get a generic sentence.
_WHY = {
    ast.Import: "脚本中不能导入模块 (imports are not available in scripts)",
    ast.ImportFrom: "脚本中不能导入模块 (imports are not available in scripts)",
    ast.ClassDef: "脚本中不能定义类 (classes are not available in scripts)",
    ast.Global: "脚本中不能使用 global 和 nonlocal (global and nonlocal are not available in scripts)",
    ast.Nonlocal: "脚本中不能使用 global 和 nonlocal (global and nonlocal are not available in scripts)",
    ast.Yield: "脚本中不能使用生成器函数（yield）；请构建列表 (generator functions (yield) are not available in scripts; build a list)",
    ast.YieldFrom: "脚本中不能使用生成器函数（yield）；请构建列表 (generator functions (yield) are not available in scripts; build a list)",
    ast.Await: "脚本中不能使用异步代码 (async code is not available in scripts)",
    ast.AsyncFunctionDef: "脚本中不能使用异步代码 (async code is not available in scripts)",
    ast.AsyncFor: "脚本中不能使用异步代码 (async code is not available in scripts)",
    ast.AsyncWith: "脚本中不能使用异步代码 (async code is not available in scripts)",
    ast.With: "脚本中不能使用 with 语句 (with statements are not available in scripts)",
    ast.AnnAssign: "脚本中不能使用类型注解 (annotations are not available in scripts)",
    ast.MatMult: "脚本中不能使用 @ 运算符 (the @ operator is not available in scripts)",
}
if hasattr(ast, "Match"):
    _WHY[ast.Match] = "脚本中不能使用 match 语句（其模式按名称读取属性）；请用 if 和 elif " \
                      "(match statements are not available in scripts (their patterns read attributes by name); use if and elif)"
if hasattr(ast, "TryStar"):
    _WHY[ast.TryStar] = "脚本中不能使用 except* (except* is not available in scripts)"


def _plain_format_string(node) -> bool:
    """'{} 年'.format(x) reads nothing but its arguments; '{0.__class__}' reads attributes."""
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return False
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(node.value) if f]
    except ValueError:
        return False
    return all("." not in f and "[" not in f for f in fields)


def reserved(name: str) -> bool:
    """Dunders (`__builtins__`, `__import__`) and the guards' own pattern (`_getattr_`). One
    leading underscore is a name like any other: service results such as `_agency_check`."""
    return name.startswith("__") or (len(name) > 2 and name.startswith("_") and name.endswith("_"))


_KINDS = {"name": "名称", "parameter": "参数名", "keyword": "关键字参数"}


def _name(kind: str, name: str | None) -> str | None:
    if name and reserved(name):
        return f"脚本中不能使用{_KINDS[kind]}「{name}」 (the {kind} '{name}' is not available in scripts)"
    return None


def _why_not(node) -> str | None:
    """Why this node, allowed as a type, is refused as written; None if it is fine."""
    if isinstance(node, ast.Name):
        return _name("name", node.id)
    if isinstance(node, ast.Attribute):
        attr = node.attr
        if not isinstance(node.ctx, ast.Load):
            return "脚本不能设置或删除属性；请把值保存在办件数据中 (scripts cannot set or delete attributes; keep values in the case's data)"
        if attr in ("format", "format_map"):
            if _plain_format_string(node.value):
                return None
            return "脚本中不能使用带属性或下标字段的 str.format；请用 f-string (str.format with attribute or index fields is not available in scripts; use an f-string)"
        if attr.startswith("_") or attr not in script_limits.ATTRIBUTE_NAMES:
            return f"脚本中不能使用属性「{attr}」 (the attribute '{attr}' is not available in scripts)"
        return None
    if isinstance(node, (ast.FunctionDef, ast.Lambda)):
        if isinstance(node, ast.FunctionDef):
            if node.decorator_list:
                return "脚本中不能使用装饰器 (decorators are not available in scripts)"
            if node.returns is not None:
                return "脚本中不能使用类型注解 (annotations are not available in scripts)"
            return _name("name", node.name)
        return None
    if isinstance(node, ast.arguments):
        if node.defaults or any(d is not None for d in node.kw_defaults):
            return "脚本中不能使用参数默认值 (default values of parameters are not available in scripts)"
        return None
    if isinstance(node, ast.arg):
        if node.annotation is not None:
            return "脚本中不能使用类型注解 (annotations are not available in scripts)"
        return _name("parameter", node.arg)
    if isinstance(node, ast.keyword):
        return _name("keyword", node.arg)
    if isinstance(node, ast.ExceptHandler):
        if node.type is None:  # it would catch the time limit too
            return "脚本中不能使用不带类型的 except:；请写 except Exception: (a bare except: is not available in scripts; write except Exception:)"
        return _name("name", node.name)
    if isinstance(node, ast.Try) and node.finalbody:  # a return there would swallow the time limit
        return "脚本中不能使用 finally (finally is not available in scripts)"
    if isinstance(node, ast.Constant) and isinstance(node.value, bytes):
        return "脚本中不能使用 bytes (bytes are not available in scripts)"
    if isinstance(node, ast.comprehension) and node.is_async:
        return "脚本中不能使用异步代码 (async code is not available in scripts)"
    if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Subscript) \
            and isinstance(node.target.slice, ast.Slice):
        return "脚本中不能对切片做增量赋值（x[a:b] += ...） (an augmented assignment to a slice (x[a:b] += ...) is not available in scripts)"
    return None


def check(tree: ast.AST) -> str | None:
    """Why this syntax tree is refused, or None. The first finding in reading order (by where
    it ends: in `().__class__.__base__`, `__class__`) is the one reported; what a refused node
    holds is not looked at (a match statement is named, not its patterns)."""
    found = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if type(node) not in _ALLOWED:
            why = _WHY.get(type(node), f"脚本中不能使用 {type(node).__name__} ({type(node).__name__} is not available in scripts)")
        else:
            why = _why_not(node)
            stack.extend(ast.iter_child_nodes(node))
        if why is not None:
            where = (getattr(node, "end_lineno", 0) or 0, getattr(node, "end_col_offset", 0) or 0)
            found.append((where, why))
    return min(found)[1] if found else None


def refusal(source: str, mode: str = "exec") -> str | None:
    """Why the restricted environment refuses this script or expression, or None.
    A syntax error is left to the compiler, whose message names the line."""
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError:
        return None
    except (RecursionError, MemoryError):
        return "脚本嵌套过深 (the script is nested too deeply)"
    return check(tree)


def _call(name: str, node: ast.AST, *args) -> ast.Call:
    return ast.copy_location(ast.Call(func=ast.Name(name, ast.Load()), args=list(args), keywords=[]), node)


class _Rewrite(ast.NodeTransformer):
    def visit_BinOp(self, node):
        self.generic_visit(node)
        guard = _GUARDED_OPS.get(type(node.op))
        if guard is None:
            return node
        # a number added to anything grows nothing
        if guard == "_add_" and any(isinstance(side, ast.Constant) and type(side.value) in (int, float)
                                    for side in (node.left, node.right)):
            return node
        return _call(guard, node, node.left, node.right)

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        guard = _GUARDED_OPS.get(type(node.op))
        if guard is None:
            return node
        target = node.target
        if isinstance(target, ast.Name):
            value = _call(guard, node, ast.Name(target.id, ast.Load()), node.value)
            return ast.copy_location(ast.Assign(targets=[target], value=value), node)
        # x[k] op= v: the container and the key are evaluated once, as Python does
        call = _call("_augitem_", node, target.value, target.slice, ast.Constant(type(node.op).__name__), node.value)
        return ast.copy_location(ast.Expr(call), node)

    def visit_Attribute(self, node):
        self.generic_visit(node)
        return _call("_getattr_", node, node.value, ast.Constant(node.attr))

    def visit_FormattedValue(self, node):
        self.generic_visit(node)
        spec = node.format_spec if node.format_spec is not None else ast.Constant("")
        value = _call("_fv_", node, node.value, ast.Constant(node.conversion), spec)
        return ast.copy_location(ast.FormattedValue(value=value, conversion=-1, format_spec=None), node)


def rewrite(tree: ast.AST) -> ast.AST:
    """The checked tree with the guards in place (see the module's docstring)."""
    return ast.fix_missing_locations(_Rewrite().visit(tree))


def parse(source: str, mode: str) -> ast.AST:
    try:
        return ast.parse(source, mode=mode)
    except (RecursionError, MemoryError):
        raise ScriptRefused("脚本嵌套过深 (the script is nested too deeply)") from None


def checked(tree: ast.AST) -> ast.AST:
    """The parsed source checked and rewritten; ScriptRefused if the check refuses it."""
    why = check(tree)
    if why is not None:
        raise ScriptRefused(why)
    try:
        return rewrite(tree)
    except RecursionError:
        raise ScriptRefused("脚本嵌套过深 (the script is nested too deeply)") from None
