"""The assistant box answers from the report's own figures, with units and as-of."""

from __future__ import annotations

from typing import Any

import pytest

from config.risk_matrix import load_risk_matrix
from dashboard.book import demo_inputs, report_for
from dashboard.chat import ChatReply, answer_question, append_turn, history, report_answer
from dashboard.format import format_number
from risk_engine.report import RiskReport
from tests.dashboard.books import NOW, breaching_report

MATRIX = load_risk_matrix()


@pytest.fixture(scope="module")
def demo() -> RiskReport:
    return report_for(demo_inputs(NOW), MATRIX, NOW)


def _ask(question: str, report: RiskReport) -> ChatReply:
    inputs = demo_inputs(NOW)
    return answer_question(question, report, matrix=MATRIX, market=inputs.market, positions=inputs.positions, now=NOW)


def test_vega_question_is_answered_with_the_books_vega_and_its_unit(demo: RiskReport) -> None:
    reply = _ask("How much vega am I short?", demo)
    assert format_number(demo.totals.vega_per_vol_point) + " $/vol pt" in reply.text
    assert reply.as_of == demo.as_of
    assert "as of" in reply.text.lower()
    assert reply.used  # the analyst names the tools it read


def test_regime_question_names_the_regime(demo: RiskReport) -> None:
    reply = _ask("What regime are we in?", demo)
    assert demo.regime.regime in reply.text


def test_question_the_analyst_does_not_understand_still_gets_the_headline_figures(demo: RiskReport) -> None:
    reply = _ask("sing me a song", demo)
    t = demo.totals
    for value in (t.beta_weighted_delta, t.beta_weighted_gamma, t.theta_per_day, t.vega_per_vol_point):
        assert format_number(value) in reply.text


def test_report_reading_answers_vega_with_unit_and_as_of(demo: RiskReport) -> None:
    reply = report_answer("vega?", demo)
    assert f"Vega: {format_number(demo.totals.vega_per_vol_point)} $/vol pt" in reply.text
    assert "as of 2026-11-23 15:00:00 UTC" in reply.text


def test_report_reading_names_the_regime_and_its_clause(demo: RiskReport) -> None:
    reply = report_answer("What regime are we in?", demo)
    assert "Neutral Volatility" in reply.text
    assert demo.regime.decided_by in reply.text


def test_report_reading_lists_the_breached_limit() -> None:
    reply = report_answer("Any limit breach?", breaching_report())
    line = next(text for text in reply.text.splitlines() if text.startswith("max_beta_delta"))
    assert "BREACH" in line


def test_history_keeps_question_and_answer_in_order() -> None:
    state: dict[str, Any] = {}
    append_turn(state, "q1", ChatReply("a1", (), NOW))
    append_turn(state, "q2", ChatReply("a2", (), NOW))
    assert [(t["role"], t["text"]) for t in history(state)] == [
        ("user", "q1"),
        ("assistant", "a1"),
        ("user", "q2"),
        ("assistant", "a2"),
    ]
