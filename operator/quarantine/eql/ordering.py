"""The order in which the operands of an `and` are evaluated.

`and` stops at the first false operand, and its three-valued result does not depend on the
order of its operands. Rules usually open with tests most events pass (`event.type ==
"start"`, `host.os.type == "linux"`, `container.id like "?*"`) and name the rare thing (a
process name, an argument) after them; testing the rare thing first makes most events fail
after one test instead of four.
"""

from __future__ import annotations

from quarantine.eql import ast

# ECS fields whose values most events of a category share.
COMMON_FIELDS = frozenset(
    {
        "event.action",
        "event.category",
        "event.dataset",
        "event.kind",
        "event.module",
        "event.outcome",
        "event.type",
        "host.os.family",
        "host.os.name",
        "host.os.platform",
        "host.os.type",
    }
)
# Patterns any present value matches: a test of presence, which most events pass.
_PRESENCE_PATTERNS = frozenset({"*", "?*"})


def rare_first(operands: tuple[ast.Expr, ...]) -> list[int]:
    """The positions of the operands in evaluation order: those most events pass last,
    otherwise as written."""
    common = [_mostly_true(operand) for operand in operands]
    return sorted(range(len(operands)), key=common.__getitem__)  # stable: keeps written order


def _mostly_true(expr: ast.Expr) -> bool:
    if isinstance(expr, ast.Compare):
        return any(_common_field(side) for side in (expr.left, expr.right))
    if isinstance(expr, ast.InSet):
        return _common_field(expr.operand)
    if isinstance(expr, ast.Match) and isinstance(expr.operand, ast.Field):
        if _common_field(expr.operand):
            return True
        return expr.kind != "regex" and all(p in _PRESENCE_PATTERNS for p in expr.patterns)
    return False


def _common_field(expr: ast.Expr) -> bool:
    return isinstance(expr, ast.Field) and expr.path in COMMON_FIELDS
