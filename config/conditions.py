"""Safe parser for the regime conditions of the risk matrix (evaluation: config.condition_eval).

Owns the condition grammar. Text is tokenized and parsed by hand into frozen nodes; it is never handed to
Python's own evaluator, compiler or ``ast`` module.

Grammar (keywords are case-insensitive, input names are not)::

    condition  := or_expr END
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | atom
    atom       := "(" or_expr ")" | comparison
    comparison := operand (("<" | "<=" | ">" | ">=" | "==" | "!=") operand)+   # chains: a < b <= c
    operand    := NAME | NUMBER | NUMBER "%"                                   # 40% = 0.40
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "INPUT_NAMES",
    "INPUT_UNITS",
    "MAX_CONDITION_LENGTH",
    "MAX_NESTING",
    "And",
    "BoolArray",
    "Comparison",
    "ConditionError",
    "FloatArray",
    "InputValue",
    "Name",
    "Node",
    "Not",
    "Number",
    "Operand",
    "Or",
    "input_names",
    "parse_condition",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
InputValue = FloatArray | float | None
"""One input: a scalar or an array of days; NaN (or None) means missing."""

INPUT_UNITS: Final[Mapping[str, str]] = {
    "VIX": "index points",
    "VIX3M": "index points",
    "VVIX": "index points",
    "TermStructure": "ratio",
    "Polymarket_Recession_Prob": "probability",
}
"""Input names a condition may use, with their unit. TermStructure = VIX3M / VIX; the probability is 0..1."""

INPUT_NAMES: Final[frozenset[str]] = frozenset(INPUT_UNITS)

MAX_CONDITION_LENGTH: Final = 1_000
"""Characters; a regime condition is one line, so anything longer is a mistake (or an attack)."""

MAX_NESTING: Final = 32
"""Parentheses plus ``not`` levels; bounds the recursion so hostile input cannot exhaust the stack."""


class ConditionError(ValueError):
    """A condition that does not parse, or uses something the grammar does not allow; names reason and position."""

    def __init__(self, reason: str, source: str, position: int | None) -> None:
        self.reason = reason
        self.source = source
        self.position = position
        where = "" if position is None else f"at position {position} of "
        super().__init__(f"{where}condition {source!r}: {reason}")


# ---------------------------------------------------------------------------------------------------------
# Nodes. Every node keeps the exact source text it was parsed from, so a deciding clause can be quoted back.


@dataclass(frozen=True, slots=True)
class Number:
    """A numeric constant; ``40%`` is stored as 0.40."""

    value: float
    text: str
    position: int


@dataclass(frozen=True, slots=True)
class Name:
    """A reference to one input (VIX, VIX3M, VVIX, TermStructure, Polymarket_Recession_Prob)."""

    name: str
    text: str
    position: int


Operand = Number | Name


@dataclass(frozen=True, slots=True)
class Comparison:
    """A comparison, possibly chained: operands[i] operators[i] operands[i+1] for every i, all must hold."""

    operands: tuple[Operand, ...]
    operators: tuple[str, ...]
    text: str
    position: int


@dataclass(frozen=True, slots=True)
class And:
    """Kleene conjunction of two or more terms."""

    terms: tuple[Node, ...]
    text: str
    position: int


@dataclass(frozen=True, slots=True)
class Or:
    """Kleene disjunction of two or more terms."""

    terms: tuple[Node, ...]
    text: str
    position: int


@dataclass(frozen=True, slots=True)
class Not:
    """Kleene negation: true ↔ false, unknown stays unknown."""

    operand: Node
    text: str
    position: int


Node = Comparison | And | Or | Not


def input_names(node: Node) -> frozenset[str]:
    """The input names a condition refers to."""
    if isinstance(node, Comparison):
        return frozenset(op.name for op in node.operands if isinstance(op, Name))
    if isinstance(node, Not):
        return input_names(node.operand)
    return frozenset().union(*(input_names(term) for term in node.terms))


# ---------------------------------------------------------------------------------------------------------
# Tokenizer


class _Kind(enum.Enum):
    NUMBER = "number"
    NAME = "name"
    COMPARE = "comparison operator"
    AND = "'and'"
    OR = "'or'"
    NOT = "'not'"
    LPAREN = "'('"
    RPAREN = "')'"
    END = "end of condition"
    BAD = "invalid text"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    text: str
    start: int
    end: int
    value: float = 0.0
    reason: str = ""  # why a BAD token is not allowed


# re.ASCII: without it \d also matches non-ASCII digits such as "٣", which float() would accept.
_NUMBER_RE: Final = re.compile(r"\d+(?:\.\d*)?|\.\d+", re.ASCII)
_NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_WHITESPACE: Final = frozenset(" \t\r\n")
_KEYWORDS: Final = {"and": _Kind.AND, "or": _Kind.OR, "not": _Kind.NOT}
_COMPARE_OPS: Final = ("<=", ">=", "==", "!=", "<", ">")
_FORBIDDEN: Final = {
    "'": "string literals are not allowed",
    '"': "string literals are not allowed",
    ".": "attribute access is not allowed",
    "[": "subscripts are not allowed",
    "]": "subscripts are not allowed",
    "+": "arithmetic is not allowed",
    "-": "arithmetic (and signed numbers) is not allowed",
    "*": "arithmetic is not allowed",
    "/": "arithmetic is not allowed",
    "%": "'%' must directly follow a number, as in 40%",
    "&": "use 'and' instead of '&'",
    "|": "use 'or' instead of '|'",
    "~": "use 'not' instead of '~'",
    "=": "'=' is assignment; compare with '=='",
    "!": "'!' is only allowed in '!='",
    ",": "commas (argument lists, tuples) are not allowed",
    ":": "':' (lambdas, slices) is not allowed",
}


def _tokenize(source: str) -> list[_Token]:
    """Tokens of ``source``, ending in END; lexing stops at the first BAD token, which the parser reports."""
    tokens: list[_Token] = []
    i, n = 0, len(source)
    while i < n:
        char = source[i]
        if char in _WHITESPACE:
            i += 1
            continue
        number = _NUMBER_RE.match(source, i)
        if number is not None:
            end = number.end()
            percent = end < n and source[end] == "%"
            stop = end + 1 if percent else end
            if stop < n and (source[stop].isalnum() or source[stop] in "_.%"):
                tokens.append(_Token(_Kind.BAD, source[i : stop + 1], i, stop + 1, reason="malformed number"))
                return tokens
            # Decimal keeps "40%" exactly 40/100 before the one rounding to float, so 40% == 0.40.
            exact = Decimal(number.group())
            value = float(exact.scaleb(-2) if percent else exact)
            tokens.append(_Token(_Kind.NUMBER, source[i:stop], i, stop, value=value))
            i = stop
            continue
        name = _NAME_RE.match(source, i)
        if name is not None:
            word = name.group()
            kind = _KEYWORDS.get(word.lower(), _Kind.NAME)
            tokens.append(_Token(kind, word, i, name.end()))
            i = name.end()
            continue
        op = next((op for op in _COMPARE_OPS if source.startswith(op, i)), None)
        if op is not None:
            tokens.append(_Token(_Kind.COMPARE, op, i, i + len(op)))
            i += len(op)
            continue
        if char in "()":
            tokens.append(_Token(_Kind.LPAREN if char == "(" else _Kind.RPAREN, char, i, i + 1))
            i += 1
            continue
        reason = _FORBIDDEN.get(char, "unexpected character")
        tokens.append(_Token(_Kind.BAD, char, i, i + 1, reason=reason))
        return tokens
    tokens.append(_Token(_Kind.END, "", n, n))
    return tokens


# ---------------------------------------------------------------------------------------------------------
# Parser


@dataclass(frozen=True, slots=True)
class _Span:
    """A parsed node and the source range it covers, including any parentheses around it."""

    node: Node
    start: int
    end: int


class _Parser:
    def __init__(self, source: str, known_names: Collection[str]) -> None:
        self._source = source
        self._known = known_names
        self._tokens = _tokenize(source)
        self._index = 0
        self._depth = 0

    def _error(self, reason: str, position: int) -> ConditionError:
        return ConditionError(reason, self._source, position)

    def _peek(self, ahead: int = 0) -> _Token:
        token = self._tokens[min(self._index + ahead, len(self._tokens) - 1)]
        if token.kind is _Kind.BAD and ahead == 0:
            raise self._error(f"{token.reason} ({token.text!r})", token.start)
        return token

    def _advance(self) -> _Token:
        token = self._peek()
        self._index += 1
        return token

    def _describe(self, token: _Token) -> str:
        return token.kind.value if token.kind is _Kind.END else repr(token.text)

    def _nest(self, position: int) -> None:
        self._depth += 1
        if self._depth > MAX_NESTING:
            raise self._error(f"nesting deeper than {MAX_NESTING} levels", position)

    def parse(self) -> Node:
        if not self._source.strip():
            raise self._error("empty condition", 0)
        if len(self._source) > MAX_CONDITION_LENGTH:
            raise self._error(f"longer than {MAX_CONDITION_LENGTH} characters", MAX_CONDITION_LENGTH)
        span = self._or()
        token = self._peek()
        if token.kind is _Kind.RPAREN:
            raise self._error("unmatched ')'", token.start)
        if token.kind is not _Kind.END:
            raise self._error(f"unexpected {self._describe(token)} after a complete condition", token.start)
        return span.node

    def _joined(self, kind: type[And] | type[Or], spans: list[_Span]) -> _Span:
        if len(spans) == 1:
            return spans[0]
        start, end = spans[0].start, spans[-1].end
        node = kind(tuple(s.node for s in spans), self._source[start:end], start)
        return _Span(node, start, end)

    def _or(self) -> _Span:
        spans = [self._and()]
        while self._peek().kind is _Kind.OR:
            self._advance()
            spans.append(self._and())
        return self._joined(Or, spans)

    def _and(self) -> _Span:
        spans = [self._not()]
        while self._peek().kind is _Kind.AND:
            self._advance()
            spans.append(self._not())
        return self._joined(And, spans)

    def _not(self) -> _Span:
        token = self._peek()
        if token.kind is not _Kind.NOT:
            return self._atom()
        self._advance()
        self._nest(token.start)
        inner = self._not()
        self._depth -= 1
        node = Not(inner.node, self._source[token.start : inner.end], token.start)
        return _Span(node, token.start, inner.end)

    def _atom(self) -> _Span:
        token = self._peek()
        if token.kind is not _Kind.LPAREN:
            return self._comparison()
        self._advance()
        self._nest(token.start)
        inner = self._or()
        close = self._peek()
        if close.kind is not _Kind.RPAREN:
            raise self._error(
                f"expected ')' to close the '(' at position {token.start}, found {self._describe(close)}",
                close.start,
            )
        self._advance()
        self._depth -= 1
        return _Span(inner.node, token.start, close.end)

    def _comparison(self) -> _Span:
        first = self._operand()
        operands: list[Operand] = [first]
        operators: list[str] = []
        while self._peek().kind is _Kind.COMPARE:
            operators.append(self._advance().text)
            operands.append(self._operand())
            self._check_units(operands[-2], operators[-1], operands[-1])
        if not operators:
            token = self._peek()
            raise self._error(
                f"expected a comparison operator (< <= > >= == !=) after {first.text!r}, found {self._describe(token)}",
                token.start,
            )
        start, end = first.position, self._tokens[self._index - 1].end
        node = Comparison(tuple(operands), tuple(operators), self._source[start:end], start)
        return _Span(node, start, end)

    def _operand(self) -> Operand:
        token = self._peek()
        if token.kind is _Kind.NUMBER:
            self._advance()
            return Number(token.value, token.text, token.start)
        if token.kind is _Kind.NAME:
            if self._peek(1).kind is _Kind.LPAREN:
                raise self._error(f"function calls are not allowed ({token.text!r} followed by '(')", token.start)
            if token.text not in self._known:
                raise self._error(self._unknown_name(token.text), token.start)
            self._advance()
            return Name(token.text, token.text, token.start)
        raise self._error(f"expected a number or an input name, found {self._describe(token)}", token.start)

    def _unknown_name(self, word: str) -> str:
        known = sorted(self._known)
        hint = next((k for k in known if k.lower() == word.lower()), None)
        suggestion = f"; did you mean {hint!r}?" if hint else f"; known inputs: {', '.join(known)}"
        return f"unknown input name {word!r}{suggestion}"

    def _check_units(self, left: Operand, op: str, right: Operand) -> None:
        """Reject comparisons whose constant cannot be in the unit of the input: a silent always-false."""
        for name, number in ((left, right), (right, left)):
            if not (isinstance(name, Name) and isinstance(number, Number)):
                continue
            unit = INPUT_UNITS.get(name.name)
            is_percent = number.text.endswith("%")
            if unit == "probability" and not 0.0 <= number.value <= 1.0:
                raise self._error(
                    f"{name.name} is a probability in 0..1, so {number.text} can never compare as meant; "
                    f"write a percentage such as 40% or a fraction such as 0.40",
                    number.position,
                )
            if unit == "index points" and is_percent:
                raise self._error(
                    f"{name.name} is in index points; a percentage ({number.text}) does not apply to it "
                    f"(in '{left.text} {op} {right.text}')",
                    number.position,
                )


def parse_condition(source: str, known_names: Collection[str] = INPUT_NAMES) -> Node:
    """The parsed condition tree of ``source``; raises ConditionError naming the reason and position.

    Args:
        source: condition text, e.g. ``"VIX > 22 or Polymarket_Recession_Prob > 40%"``.
        known_names: input names the condition may use (case-sensitive).

    Example:
        >>> parse_condition("15 <= VIX <= 22").operators
        ('<=', '<=')
    """
    if not isinstance(source, str):
        raise ConditionError(f"a condition must be text, not {type(source).__name__}", repr(source), None)
    return _Parser(source, known_names).parse()
