"""The assistant box answers from the report's own figures, with units and as-of."""

from __future__ import annotations

from typing import Any

import pytest

from agent_tools.llm_loop import ToolCallRecord
from config.risk_matrix import load_risk_matrix
from dashboard.book import demo_inputs, report_for
from dashboard.chat import ChatReply, answer_question, append_turn, history, llm_history, report_answer, tool_call_rows
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


def test_llm_history_turns_the_session_into_chat_messages(demo: RiskReport) -> None:
    state: dict[str, Any] = {}
    append_turn(state, "What is my vega?", ChatReply(text="Vega: -1 $/vol pt", used=(), as_of=demo.as_of))
    assert llm_history(state) == [
        {"role": "user", "content": "What is my vega?"},
        {"role": "assistant", "content": "Vega: -1 $/vol pt"},
    ]


def test_tool_call_rows_show_results_as_json_and_errors_as_text() -> None:
    ok = ToolCallRecord(1, "get_book_summary", "{}", {"theta_usd_per_day": 566.3}, None)
    bad = ToolCallRecord(2, "place_order", '{"qty": 1}', None, "unknown tool 'place_order'")
    rows = tool_call_rows([ok, bad])
    assert rows[0] == {
        "step": 1,
        "tool": "get_book_summary",
        "arguments": "{}",
        "outcome": "ok",
        "result or error": '{"theta_usd_per_day": 566.3}',
    }
    assert (rows[1]["outcome"], rows[1]["result or error"]) == ("error", "unknown tool 'place_order'")


def test_long_tool_results_are_clipped_for_the_expander() -> None:
    big = ToolCallRecord(1, "get_positions", "", {"rows": ["x" * 50] * 100}, None)
    (row,) = tool_call_rows([big])
    assert row["arguments"] == "{}"
    assert len(str(row["result or error"])) == 600
    assert str(row["result or error"]).endswith("…")
