"""Three-valued (Kleene), vectorised evaluation of parsed regime conditions: NaN or None means missing.

Owns what a condition means for a set of inputs; parsing lives in config.conditions.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np

from config.conditions import (
    And,
    BoolArray,
    Comparison,
    FloatArray,
    InputValue,
    Name,
    Node,
    Not,
    Number,
    Operand,
    Or,
    input_names,
)

__all__ = ["Explanation", "Truth", "evaluate", "explain"]


@dataclass(frozen=True, eq=False)
class Truth:
    """Three-valued result per element: ``true``, ``unknown`` (a needed input was missing), else false."""

    true: BoolArray
    unknown: BoolArray

    @property
    def false(self) -> BoolArray:
        """Elements where the condition is known not to hold."""
        return ~(self.true | self.unknown)

    @property
    def holds(self) -> BoolArray:
        """Elements where the condition holds; an unknown condition does not hold."""
        return self.true


_COMPARE: Final[Mapping[str, Callable[[FloatArray, FloatArray], BoolArray]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def _prepare(node: Node, inputs: Mapping[str, InputValue]) -> tuple[dict[str, FloatArray], tuple[int, ...]]:
    """Float64 arrays of the inputs ``node`` uses (None → NaN) and the broadcast shape of every input."""
    arrays: dict[str, FloatArray] = {}
    for name in input_names(node):
        if name not in inputs:
            raise ValueError(f"no value supplied for input {name!r} used in condition {node.text!r}")
    shapes = []
    for name, value in inputs.items():
        array = np.asarray(np.nan if value is None else value, dtype=np.float64)
        arrays[name] = array
        shapes.append(array.shape)
    return arrays, np.broadcast_shapes(*shapes) if shapes else ()


def _operand_values(operand: Operand, arrays: Mapping[str, FloatArray]) -> FloatArray:
    if isinstance(operand, Number):
        return np.asarray(operand.value, dtype=np.float64)
    return arrays[operand.name]


def _truth(node: Node, arrays: Mapping[str, FloatArray]) -> tuple[BoolArray, BoolArray]:
    """(true, false) arrays of ``node``; where neither is set the node is unknown."""
    if isinstance(node, Comparison):
        true: BoolArray = np.asarray(True)
        false: BoolArray = np.asarray(False)
        values = [_operand_values(op, arrays) for op in node.operands]
        for left, op, right in zip(values, node.operators, values[1:], strict=False):
            known = ~(np.isnan(left) | np.isnan(right))
            with np.errstate(invalid="ignore"):
                result = np.asarray(_COMPARE[op](left, right), dtype=np.bool_)
            true = true & result & known
            false = false | (~result & known)
        return true, false
    if isinstance(node, Not):
        inner_true, inner_false = _truth(node.operand, arrays)
        return inner_false, inner_true
    parts = [_truth(term, arrays) for term in node.terms]
    if isinstance(node, And):
        true, false = parts[0]
        for term_true, term_false in parts[1:]:
            true, false = true & term_true, false | term_false
        return true, false
    true, false = parts[0]
    for term_true, term_false in parts[1:]:
        true, false = true | term_true, false & term_false
    return true, false


def evaluate(node: Node, inputs: Mapping[str, InputValue]) -> Truth:
    """Three-valued truth of ``node`` for every element of the broadcast inputs (NaN or None = missing).

    A comparison on a missing value is unknown; ``and``/``or``/``not`` follow Kleene logic, so
    ``not (VVIX > 150)`` with VVIX missing stays unknown. The result has the broadcast shape of all inputs.

    Args:
        node: a parsed condition.
        inputs: value per input name, each a scalar or an array (one value per day); units as INPUT_UNITS.

    Example:
        >>> t = evaluate(parse_condition("VIX > 22 or VVIX > 150"), {"VIX": [20.0, 25.0, np.nan], "VVIX": np.nan})
        >>> t.true.tolist(), t.unknown.tolist()
        ([False, True, False], [True, False, True])
    """
    arrays, shape = _prepare(node, inputs)
    true, false = _truth(node, arrays)
    true = np.array(np.broadcast_to(true, shape), dtype=np.bool_)
    unknown = np.array(np.broadcast_to(~(true | false), shape), dtype=np.bool_)
    return Truth(true=true, unknown=unknown)


@dataclass(frozen=True, slots=True)
class Explanation:
    """Scalar verdict of a condition, with the clause that decided it and the missing inputs that mattered."""

    holds: bool
    """True only when the condition is known to hold."""
    unknown: bool
    """A needed input was missing, so the condition could be neither confirmed nor ruled out."""
    decided_by: str | None
    """Source text of the deciding clause when the condition holds, else None."""
    missing: frozenset[str]
    """Input names whose missing value left the condition unknown (empty when it is true or false)."""


def _scalar(node: Node, arrays: Mapping[str, FloatArray]) -> tuple[bool, bool]:
    true, false = _truth(node, arrays)
    return bool(true), bool(false)


def _decided_by(node: Node, arrays: Mapping[str, FloatArray]) -> str:
    """Text of the clause that made a true ``node`` true: the first true disjunct of an ``or``, else itself."""
    if isinstance(node, Or):
        for term in node.terms:
            if _scalar(term, arrays)[0]:
                return _decided_by(term, arrays)
    return node.text


def _missing(node: Node, arrays: Mapping[str, FloatArray]) -> frozenset[str]:
    """Names whose NaN made ``node`` unknown; a known sub-clause needs none, whatever it contains."""
    true, false = _scalar(node, arrays)
    if true or false:
        return frozenset()
    if isinstance(node, Comparison):
        return frozenset(op.name for op in node.operands if isinstance(op, Name) and math.isnan(float(arrays[op.name])))
    if isinstance(node, Not):
        return _missing(node.operand, arrays)
    return frozenset().union(*(_missing(term, arrays) for term in node.terms))


def explain(node: Node, inputs: Mapping[str, float | None]) -> Explanation:
    """The verdict on one set of scalar inputs, with its deciding clause and the missing inputs that mattered.

    Args:
        node: a parsed condition.
        inputs: one value per input name (NaN or None = missing).

    Example:
        >>> e = explain(parse_condition("VIX > 35 or VVIX > 150"), {"VIX": 40.0, "VVIX": None})
        >>> e.holds, e.decided_by, sorted(e.missing)
        (True, 'VIX > 35', [])
    """
    arrays, shape = _prepare(node, inputs)
    if shape != ():
        raise ValueError(f"explain takes one scalar per input; got shape {shape} for {node.text!r}")
    true, false = _scalar(node, arrays)
    return Explanation(
        holds=true,
        unknown=not (true or false),
        decided_by=_decided_by(node, arrays) if true else None,
        missing=_missing(node, arrays),
    )
