"""A tiny, safe expression language for script conditions and slot assignments.

Scripts say things like `when: "pay_amount >= balance"` or `set: {part_amount: "round(balance * part_ratio)"}`.
Expressions are parsed with Python's `ast` and only a small whitelist of node types and functions is allowed:
names (slots, account fields, params, entities), numbers, strings, None/True/False, comparisons, and/or/not,
+ - * / // %, `x if c else y`, and the functions below. Dates are ISO strings ("2026-11-20").
Evaluation is pure and deterministic: no attribute access, no subscripts, no I/O.
"""
from __future__ import annotations

import ast
import math
from collections.abc import Callable
from datetime import date, timedelta
from functools import lru_cache
from typing import Any


class ExprError(ValueError):
    """A script expression that cannot be parsed or evaluated."""


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _days_between(a: Any, b: Any) -> int:
    return (_as_date(b) - _as_date(a)).days


def _add_days(d: Any, n: Any) -> str:
    return (_as_date(d) + timedelta(days=int(n))).isoformat()


def _round_to(x: Any, step: Any = 1) -> float:
    step = float(step)
    return float(math.floor(float(x) / step + 0.5) * step)


def _ceil_to(x: Any, step: Any = 1) -> float:
    step = float(step)
    return float(math.ceil(float(x) / step - 1e-9) * step)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "int": int,
    "round_to": _round_to,     # round_to(1234, 100) -> 1200
    "ceil_to": _ceil_to,       # ceil_to(1234, 100) -> 1300
    "days_between": _days_between,  # days_between(today, pay_date) -> int
    "add_days": _add_days,     # add_days(today, 14) -> "YYYY-MM-DD"
    "weekday": lambda d: _as_date(d).weekday(),  # 0 = Monday
}

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
}
_CMPOPS: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.Is: lambda a, b: a is b,
    ast.IsNot: lambda a, b: a is not b,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.BinOp, ast.Compare,
    ast.Name, ast.Load, ast.Constant, ast.Call, ast.IfExp, ast.Tuple, ast.List,
    *_BINOPS.keys(), *_CMPOPS.keys(),
)


@lru_cache(maxsize=4096)
def parse(source: str) -> ast.Expression:
    """Parse and check an expression; raise ExprError on anything outside the whitelist."""
    try:
        tree = ast.parse(str(source).strip(), mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"cannot parse expression {source!r}: {exc.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ExprError(f"{type(node).__name__} is not allowed in expression {source!r}")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
                raise ExprError(f"only the functions {sorted(FUNCTIONS)} may be called in {source!r}")
    return tree


def names(source: str) -> set[str]:
    """The variable names an expression reads (function names excluded)."""
    tree = parse(source)
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - called


def evaluate(source: str, env: dict[str, Any]) -> Any:
    """Evaluate an expression against `env`; a missing name or a bad operation raises ExprError."""
    tree = parse(source)
    try:
        return _eval(tree.body, env)
    except ExprError:
        raise
    except Exception as exc:  # TypeError on None arithmetic, ZeroDivisionError, bad dates...
        raise ExprError(f"cannot evaluate {source!r}: {exc}") from None


def truthy(source: str | None, env: dict[str, Any]) -> bool:
    """A condition: empty means true; an evaluation error (e.g. None > 3) means false."""
    if not source:
        return True
    try:
        return bool(evaluate(source, env))
    except ExprError:
        return False


def _eval(node: ast.AST, env: dict[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise ExprError(f"unknown name {node.id!r}")
        return env[node.id]
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            result: Any = True
            for value in node.values:
                result = _eval(value, env)
                if not result:
                    return result
            return result
        result = False
        for value in node.values:
            result = _eval(value, env)
            if result:
                return result
        return result
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, env)
        return (not operand) if isinstance(node.op, ast.Not) else -operand
    if isinstance(node, ast.BinOp):
        return _BINOPS[type(node.op)](_eval(node.left, env), _eval(node.right, env))
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, env)
            if not _CMPOPS[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        return _eval(node.body, env) if _eval(node.test, env) else _eval(node.orelse, env)
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_eval(e, env) for e in node.elts)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        func = FUNCTIONS[node.func.id]
        return func(*(_eval(a, env) for a in node.args))
    raise ExprError(f"unsupported expression node {type(node).__name__}")
