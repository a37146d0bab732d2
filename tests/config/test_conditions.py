"""The safe condition grammar: parsing, rejection of everything else, and Kleene evaluation over arrays."""

from __future__ import annotations

import builtins
import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.condition_eval import evaluate, explain
from config.conditions import (
    MAX_NESTING,
    And,
    Comparison,
    ConditionError,
    Name,
    Not,
    Number,
    Or,
    input_names,
    parse_condition,
)

NAN = math.nan
ABC = frozenset({"A", "B", "C"})


# ---------------------------------------------------------------------------------------------------------
# Parsing


def test_chained_comparison_keeps_both_operators_and_operands() -> None:
    node = parse_condition("15 <= VIX <= 22")
    assert isinstance(node, Comparison)
    assert node.operators == ("<=", "<=")
    assert [op.text for op in node.operands] == ["15", "VIX", "22"]


def test_chained_comparison_means_both_comparisons_hold() -> None:
    vix = np.array([14.99, 15.0, 18.0, 22.0, 22.01])
    truth = evaluate(parse_condition("15 <= VIX <= 22"), {"VIX": vix})
    assert truth.true.tolist() == [False, True, True, True, False]


def test_percentage_is_a_fraction() -> None:
    node = parse_condition("Polymarket_Recession_Prob > 40%")
    assert isinstance(node, Comparison)
    number = node.operands[1]
    assert isinstance(number, Number)
    assert (number.value, number.text) == (0.40, "40%")


def test_percentage_boundary_is_strict() -> None:
    truth = evaluate(
        parse_condition("Polymarket_Recession_Prob > 40%"), {"Polymarket_Recession_Prob": np.array([0.40, 0.41])}
    )
    assert truth.true.tolist() == [False, True]


def test_keywords_are_case_insensitive() -> None:
    node = parse_condition("VIX > 1 AND VVIX > 2 Or NOT VIX3M < 3")
    assert isinstance(node, Or)
    assert isinstance(node.terms[0], And)
    assert isinstance(node.terms[1], Not)


def test_and_binds_tighter_than_or() -> None:
    inputs = {"VIX": 35.0, "VVIX": 100.0}
    assert evaluate(parse_condition("VIX > 30 or VIX > 10 and VVIX > 200"), inputs).true
    assert not evaluate(parse_condition("(VIX > 30 or VIX > 10) and VVIX > 200"), inputs).true


def test_every_node_keeps_its_source_text() -> None:
    node = parse_condition("VIX > 22 or (VIX < 15 and  TermStructure > 1.10)")
    assert isinstance(node, Or)
    assert node.text == "VIX > 22 or (VIX < 15 and  TermStructure > 1.10)"
    assert [term.text for term in node.terms] == ["VIX > 22", "VIX < 15 and  TermStructure > 1.10"]


def test_input_names_lists_every_referenced_input() -> None:
    node = parse_condition("VIX > 35 or not (VVIX > 150 and TermStructure < 1)")
    assert input_names(node) == {"VIX", "VVIX", "TermStructure"}


def test_decimal_without_leading_digit_and_percent_with_fraction() -> None:
    node = parse_condition("Polymarket_Recession_Prob >= .5 or Polymarket_Recession_Prob < 12.5%")
    assert isinstance(node, Or)
    values = [
        op.value
        for term in node.terms
        if isinstance(term, Comparison)
        for op in term.operands
        if isinstance(op, Number)
    ]
    assert values == [0.5, 0.125]


HOSTILE = [
    ("import_call", "__import__('os').system('x')", "function calls are not allowed", 0),
    ("attribute", "VIX.real > 1", "attribute access is not allowed", 3),
    ("call", "abs(VIX) > 1", "function calls are not allowed", 0),
    ("subscript", "VIX[0] > 1", "subscripts are not allowed", 3),
    ("string", "VIX == 'x'", "string literals are not allowed", 7),
    ("lambda", "lambda: VIX > 1", "unknown input name 'lambda'", 0),
    ("unknown_name", "SPX > 4000", "unknown input name 'SPX'", 0),
    ("wrong_case_name", "vix > 20", "did you mean 'VIX'", 0),
    ("trailing_garbage", "VIX > 22 VVIX", "unexpected 'VVIX' after a complete condition", 9),
    ("trailing_statement", "VIX > 1\nimport os", "unexpected 'import'", 8),
    ("semicolon", "VIX > 1; x", "unexpected character", 7),
    ("empty", "", "empty condition", 0),
    ("blank", "   ", "empty condition", 0),
    ("unclosed_paren", "(VIX > 22", "expected ')' to close the '(' at position 0", 9),
    ("unmatched_paren", "VIX > 22)", "unmatched ')'", 8),
    ("empty_parens", "()", "expected a number or an input name, found ')'", 1),
    ("double_operator", "1 < < 2", "expected a number or an input name, found '<'", 4),
    ("bare_name", "VIX", "expected a comparison operator", 3),
    ("dangling_and", "VIX > 1 and", "expected a number or an input name, found end of condition", 11),
    ("assignment", "VIX = 22", "'=' is assignment", 4),
    ("arithmetic", "VIX * 2 > 40", "arithmetic is not allowed", 4),
    ("negative_number", "VIX > -1", "signed numbers", 6),
    ("bitwise_and", "VIX > 1 & VVIX > 1", "use 'and'", 8),
    ("exponent", "VIX > 1e3", "malformed number", 6),
    ("number_glued_to_name", "15VIX > 1", "malformed number", 0),
    ("non_ascii_digit", "VIX > \u0663", "unexpected character", 6),
    ("percent_on_index_level", "VIX > 40%", "VIX is in index points", 6),
    ("probability_above_one", "Polymarket_Recession_Prob > 40", "is a probability in 0..1", 28),
    ("dunder_via_parens", "().__class__", "expected a number or an input name", 1),
    ("too_deep", "(" * (MAX_NESTING + 1) + "VIX > 1" + ")" * (MAX_NESTING + 1), "nesting deeper", MAX_NESTING),
]


@pytest.mark.parametrize(("text", "reason", "position"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_or_malformed_condition_is_rejected_with_reason_and_position(
    text: str, reason: str, position: int
) -> None:
    with pytest.raises(ConditionError) as info:
        parse_condition(text)
    assert reason in str(info.value)
    assert info.value.position == position
    assert f"at position {position} " in str(info.value)


def test_overlong_condition_is_rejected() -> None:
    with pytest.raises(ConditionError, match="longer than"):
        parse_condition(" or ".join(["VIX > 1"] * 200))


def test_non_text_condition_is_rejected() -> None:
    with pytest.raises(ConditionError, match="must be text"):
        parse_condition(15)  # type: ignore[arg-type]


def test_parsing_and_evaluating_never_call_pythons_evaluator(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the condition code called a Python evaluator")

    # Patched only around the calls: pytest itself compiles code when it reports a failure.
    with monkeypatch.context() as patch:
        for name in ("eval", "exec", "compile"):
            patch.setattr(builtins, name, forbidden)
        node = parse_condition("VIX > 22 or Polymarket_Recession_Prob > 40% and not (VVIX >= 150)")
        truth = evaluate(node, {"VIX": np.array([20.0, 30.0]), "Polymarket_Recession_Prob": 0.5, "VVIX": NAN})
        verdict = explain(node, {"VIX": 30.0, "Polymarket_Recession_Prob": 0.5, "VVIX": None})
    assert truth.unknown.tolist() == [True, False]
    assert verdict.holds


# ---------------------------------------------------------------------------------------------------------
# Kleene evaluation

T, F, U = "T", "F", "U"
# Value of A and B that make "A > 0" true, false or unknown.
_VALUE = {T: 1.0, F: -1.0, U: NAN}
# Strong Kleene logic, K3 (Kleene 1952, §64), written out cell by cell.
KLEENE_AND = {(T, T): T, (T, F): F, (T, U): U, (F, T): F, (F, F): F, (F, U): F, (U, T): U, (U, F): F, (U, U): U}
KLEENE_OR = {(T, T): T, (T, F): T, (T, U): T, (F, T): T, (F, F): F, (F, U): U, (U, T): T, (U, F): U, (U, U): U}
KLEENE_NOT = {T: F, F: T, U: U}


def _labels(condition: str, inputs: dict[str, Any]) -> list[str]:
    truth = evaluate(parse_condition(condition, known_names=ABC), inputs)
    return [T if t else (U if u else F) for t, u in zip(truth.true.tolist(), truth.unknown.tolist(), strict=True)]


@pytest.mark.parametrize(("keyword", "table"), [("and", KLEENE_AND), ("or", KLEENE_OR)], ids=["and", "or"])
def test_binary_connective_follows_kleene_truth_table(keyword: str, table: dict[tuple[str, str], str]) -> None:
    pairs = list(table)
    inputs = {"A": np.array([_VALUE[a] for a, _ in pairs]), "B": np.array([_VALUE[b] for _, b in pairs])}
    assert _labels(f"A > 0 {keyword} B > 0", inputs) == [table[pair] for pair in pairs]


def test_not_follows_kleene_truth_table() -> None:
    cases = list(KLEENE_NOT)
    assert _labels("not A > 0", {"A": np.array([_VALUE[c] for c in cases])}) == [KLEENE_NOT[c] for c in cases]


def test_negated_comparison_on_missing_input_stays_unknown() -> None:
    truth = evaluate(parse_condition("not (VVIX > 150)"), {"VVIX": NAN})
    assert (bool(truth.true), bool(truth.unknown), bool(truth.holds)) == (False, True, False)


def test_none_means_missing() -> None:
    truth = evaluate(parse_condition("VVIX > 150"), {"VVIX": None})
    assert bool(truth.unknown)


def test_not_equal_on_missing_input_is_unknown_not_true() -> None:
    truth = evaluate(parse_condition("VIX != 20"), {"VIX": NAN})
    assert (bool(truth.true), bool(truth.unknown)) == (False, True)


def test_result_has_the_broadcast_shape_of_all_inputs() -> None:
    truth = evaluate(parse_condition("VVIX > 150"), {"VVIX": 160.0, "VIX": np.zeros(4)})
    assert truth.true.shape == (4,)
    assert truth.true.all()


def test_constant_comparison_broadcasts_to_the_inputs() -> None:
    truth = evaluate(parse_condition("1 < 2 or VIX > 1", known_names={"VIX"}), {"VIX": np.full(3, NAN)})
    assert truth.true.tolist() == [True, True, True]


def test_unsupplied_input_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="'VVIX'"):
        evaluate(parse_condition("VIX > 35 or VVIX > 150"), {"VIX": 20.0})


# ---------------------------------------------------------------------------------------------------------
# Scalar explanation


def test_deciding_clause_of_an_or_is_its_first_true_disjunct() -> None:
    node = parse_condition("VIX > 35 or VVIX > 150")
    assert explain(node, {"VIX": 40.0, "VVIX": 160.0}).decided_by == "VIX > 35"
    assert explain(node, {"VIX": 20.0, "VVIX": 160.0}).decided_by == "VVIX > 150"
    assert explain(node, {"VIX": NAN, "VVIX": 160.0}).decided_by == "VVIX > 150"


def test_deciding_clause_of_an_and_is_the_whole_conjunction() -> None:
    node = parse_condition("VIX < 15 and TermStructure > 1.10")
    assert explain(node, {"VIX": 12.0, "TermStructure": 1.2}).decided_by == "VIX < 15 and TermStructure > 1.10"


def test_deciding_clause_descends_into_a_parenthesised_or() -> None:
    node = parse_condition("(VIX > 35 or VVIX > 150) or Polymarket_Recession_Prob > 40%")
    verdict = explain(node, {"VIX": 20.0, "VVIX": 160.0, "Polymarket_Recession_Prob": 0.9})
    assert verdict.decided_by == "VVIX > 150"


def test_false_condition_has_no_deciding_clause() -> None:
    verdict = explain(parse_condition("VIX > 22"), {"VIX": 18.0})
    assert (verdict.holds, verdict.unknown, verdict.decided_by) == (False, False, None)


def test_missing_input_that_left_the_condition_unknown_is_reported() -> None:
    verdict = explain(parse_condition("VIX > 35 or VVIX > 150"), {"VIX": 20.0, "VVIX": None})
    assert (verdict.holds, verdict.unknown, verdict.missing) == (False, True, frozenset({"VVIX"}))


def test_missing_input_that_did_not_matter_is_not_reported() -> None:
    holds = explain(parse_condition("VIX > 35 or VVIX > 150"), {"VIX": 40.0, "VVIX": None})
    ruled_out = explain(parse_condition("VIX < 15 and TermStructure > 1.10"), {"VIX": 20.0, "TermStructure": None})
    assert (holds.holds, holds.missing) == (True, frozenset())
    assert (ruled_out.unknown, ruled_out.missing) == (False, frozenset())


def test_explain_refuses_arrays() -> None:
    with pytest.raises(ValueError, match="one scalar per input"):
        explain(parse_condition("VIX > 1"), {"VIX": np.ones(2)})  # type: ignore[dict-item]


# ---------------------------------------------------------------------------------------------------------
# Property: random conditions evaluated over every combination of values match a plain-Python Kleene reference.

Expr = tuple[Any, ...]
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
_VALUES = [NAN, -1.0, 0.0, 0.5, 1.0]
_operand = st.one_of(st.sampled_from(["A", "B", "C"]), st.sampled_from(["0", "0.5", "1", "50%"]))
_comparison = st.tuples(
    st.just("cmp"), st.lists(_operand, min_size=2, max_size=3), st.lists(st.sampled_from(list(_OPS)), min_size=2)
)
_keyword = st.sampled_from(["and", "AND", "And"]), st.sampled_from(["or", "OR", "oR"]), st.sampled_from(["not", "NOT"])


def _extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    return st.one_of(
        st.tuples(st.just("and"), st.lists(children, min_size=2, max_size=3), _keyword[0]),
        st.tuples(st.just("or"), st.lists(children, min_size=2, max_size=3), _keyword[1]),
        st.tuples(st.just("not"), children, _keyword[2]),
    )


_expressions = st.recursive(_comparison, _extend, max_leaves=6)


def _render(expr: Expr) -> str:
    if expr[0] == "cmp":
        operands, ops = expr[1], expr[2]
        parts = [operands[0]]
        for operand, op in zip(operands[1:], ops, strict=False):
            parts += [op, operand]
        return " ".join(parts)
    if expr[0] == "not":
        return f"{expr[2]} ({_render(expr[1])})"
    return f" {expr[2]} ".join(f"({_render(child)})" for child in expr[1])


def _reference(expr: Expr, row: dict[str, float]) -> bool | None:
    """Kleene value of ``expr`` on one row, None = unknown, computed with plain Python comparisons."""
    if expr[0] == "cmp":
        values = [row[o] if o in row else float(o.rstrip("%")) / (100 if o.endswith("%") else 1) for o in expr[1]]
        results: list[bool | None] = []
        for left, op, right in zip(values, expr[2], values[1:], strict=False):
            results.append(None if math.isnan(left) or math.isnan(right) else _OPS[op](left, right))
        if False in results:
            return False
        return None if None in results else True
    if expr[0] == "not":
        inner = _reference(expr[1], row)
        return None if inner is None else not inner
    children = [_reference(child, row) for child in expr[1]]
    decisive: bool = expr[0] == "or"  # True decides an or, False decides an and
    if decisive in children:
        return decisive
    return None if None in children else not decisive


@settings(max_examples=300, deadline=None)
@given(_expressions)
def test_random_condition_matches_plain_python_kleene_reference(expr: Expr) -> None:
    rows = [dict(zip("ABC", combo, strict=True)) for combo in itertools.product(_VALUES, repeat=3)]
    inputs = {name: np.array([row[name] for row in rows]) for name in "ABC"}
    truth = evaluate(parse_condition(_render(expr), known_names=ABC), inputs)
    expected = [_reference(expr, row) for row in rows]
    assert truth.true.tolist() == [value is True for value in expected]
    assert truth.unknown.tolist() == [value is None for value in expected]
    for index in (0, len(rows) // 2, len(rows) - 1):
        verdict = explain(parse_condition(_render(expr), known_names=ABC), rows[index])
        assert (verdict.holds, verdict.unknown) == (expected[index] is True, expected[index] is None)


def test_name_node_records_the_input() -> None:
    node = parse_condition("VIX3M > VIX")
    assert isinstance(node, Comparison)
    assert node.operands == (Name("VIX3M", "VIX3M", 0), Name("VIX", "VIX", 8))


def test_false_is_neither_true_nor_unknown() -> None:
    truth = evaluate(parse_condition("VIX > 22"), {"VIX": np.array([20.0, 25.0, NAN])})
    assert truth.false.tolist() == [True, False, False]
