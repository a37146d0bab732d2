"""The what-if form's lines and tables: parse_leg per line, the small form's leg line, before/after rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from config.risk_matrix import load_risk_matrix
from dashboard.book import demo_inputs
from dashboard.whatif_view import (
    READ_ONLY_NOTICE,
    ParsedLegs,
    form_leg_line,
    greeks_rows,
    leg_rows,
    limit_rows,
    parse_leg_lines,
    problem_rows,
    verdict_html,
    verdict_text,
)
from models.positions import Right
from risk_engine.whatif import Verdict, WhatIfResult, what_if
from tests.dashboard.books import NOW

MATRIX = load_risk_matrix()


def _check(text: str) -> tuple[WhatIfResult, ParsedLegs]:
    parsed = parse_leg_lines(text)
    inputs = demo_inputs(NOW)
    return what_if(inputs.positions, parsed.legs, inputs.market, MATRIX, NOW), parsed


def test_every_shape_of_leg_line_is_read_and_comments_and_blanks_skipped() -> None:
    parsed = parse_leg_lines("SPY 2027-01-15 560 P -3  # a leg\n\nSPXW  270115P05600000 -3\n# note\nQQQ 50\n")
    assert [(leg.underlying, leg.quantity, leg.right) for leg in parsed.legs] == [
        ("SPY", -3.0, Right.PUT),
        ("SPX", -3.0, Right.PUT),
        ("QQQ", 50.0, None),
    ]
    assert parsed.lines == ("SPY 2027-01-15 560 P -3", "SPXW  270115P05600000 -3", "QQQ 50")
    assert parsed.problems == ()


def test_a_bad_line_is_listed_by_number_with_the_field() -> None:
    parsed = parse_leg_lines("QQQ 50\nSPY 2027-01-15 560 X -3\nSPY 0")
    assert [leg.underlying for leg in parsed.legs] == ["QQQ"]
    assert [(number, text) for number, text, _ in parsed.problems] == [
        (2, "SPY 2027-01-15 560 X -3"),
        (3, "SPY 0"),
    ]
    assert "right" in parsed.problems[0][2]
    assert "quantity 0" in parsed.problems[1][2]


@pytest.mark.parametrize(
    ("kwargs", "line"),
    [
        ({"underlying": "spy", "quantity": -3.0, "expiry": dt.date(2027, 1, 15), "strike": 560.0, "right": "P"},
         "SPY 2027-01-15 560 P -3"),
        ({"underlying": "SPY", "quantity": 2.0, "expiry": dt.date(2027, 1, 15), "strike": 560.5, "right": "C",
          "iv_vol_points": 21.0}, "SPY 2027-01-15 560.5 C 2 iv=0.21"),
        ({"underlying": "QQQ", "quantity": 50.0}, "QQQ 50"),
        ({"underlying": "SPY", "quantity": 1.0, "strike": 560.0, "right": "P"}, "SPY ? 560 P 1"),
    ],
    ids=["option", "option-with-iv", "shares", "missing-expiry"],
)  # fmt: skip
def test_small_form_becomes_a_leg_line(kwargs: dict[str, object], line: str) -> None:
    assert form_leg_line(**kwargs) == line  # type: ignore[arg-type]


def test_small_form_line_with_a_missing_field_is_a_problem_not_a_guess() -> None:
    parsed = parse_leg_lines(form_leg_line("SPY", 1.0, strike=560.0, right="P"))
    assert parsed.legs == ()
    assert "expiry" in parsed.problems[0][2]


def test_empty_trade_changes_nothing() -> None:
    result, _ = _check("")
    assert all(row["before"] == row["after"] for row in greeks_rows(result))
    assert all(row["change"] in ("0.00", "n/a") for row in greeks_rows(result))
    for row in limit_rows(result):
        assert row["value before"] == row["value after"]
        assert row["status before"] == row["status after"]
    assert leg_rows(result) == []


def test_buying_shares_past_the_delta_limit_fails_with_the_limit_named() -> None:
    result, _ = _check("SPY 2000")
    assert result.verdict is Verdict.FAIL
    assert "max_beta_delta" in verdict_text(result)
    row = next(r for r in limit_rows(result) if r["limit"] == "max_beta_delta")
    assert row["status after"] == "BREACH"
    delta = greeks_rows(result)[0]
    assert delta["figure"] == "Beta-weighted delta"
    change = result.after.totals.beta_weighted_delta - result.before.totals.beta_weighted_delta
    assert delta["change"] == f"{change:,.2f}"
    assert "#c62828" in verdict_html(result)
    assert leg_rows(result) == [{"symbol": "SPY", "qty": "+2,000", "mult": "1", "expiry": "", "strike": "",
                                 "right": "", "IV": ""}]  # fmt: skip


def test_verdict_html_escapes_the_reasons() -> None:
    result, _ = _check("SPY 2000")
    assert "<script>" not in verdict_html(replace(result, reasons=("<script>",)))


def test_leg_the_engine_cannot_value_is_listed_with_its_line() -> None:
    result, parsed = _check("QQQ 50\nZZZZ 2027-01-15 10 C 1")
    rows = problem_rows(parsed, result)
    assert [(row["leg"], row["text"]) for row in rows] == [("1", "ZZZZ 2027-01-15 10 C 1")]
    assert result.verdict is Verdict.FAIL


def test_read_only_notice_says_nothing_is_sent() -> None:
    assert "nothing is sent" in READ_ONLY_NOTICE
