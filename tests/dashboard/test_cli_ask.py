"""`riskdash ask`: the offline analyst on the demo book, as text and as the JSON contract."""

from __future__ import annotations

import json
from typing import Any

from tests.dashboard.test_cli import FROZEN, run_cli


def _json(*argv: str) -> tuple[int, Any]:
    code, out, _ = run_cli("ask", *argv, "--json")
    return code, json.loads(out)


def test_ask_json_has_the_documented_keys_and_the_limits_tool_result() -> None:
    code, payload = _json("are we within limits?")
    assert code == 0
    assert set(payload) == {"answer", "tools_used", "results", "as_of", "understood"}
    assert payload["tools_used"] == ["check_risk_limits"]
    assert payload["as_of"] == FROZEN.isoformat()
    assert payload["understood"] is True
    limits = payload["results"]["check_risk_limits"]
    # demo_book.yaml header: vega breaches the -1,200 $/vol pt floor of the neutral regime.
    assert limits["breached"] == ["max_negative_vega"]
    assert "max_negative_vega" in payload["answer"]


def test_ask_text_prints_the_markdown_answer_naming_its_tools() -> None:
    code, out, _ = run_cli("ask", "what is the regime and why")
    assert code == 0
    assert "neutral_volatility" in out
    assert "`get_market_regime`" in out


def test_ask_words_without_quotes_are_one_question() -> None:
    code, payload = _json("IV", "vs", "HV", "for", "TSLA")
    assert code == 0
    assert payload["results"]["get_iv_analysis"]["underlyings"][0]["underlying"] == "TSLA"


def test_ask_an_unanswerable_question_exits_1_with_no_numbers() -> None:
    code, payload = _json("what is the capital of France")
    assert code == 1
    assert payload["understood"] is False
    assert payload["results"] == {}
    assert not any(ch.isdigit() for ch in payload["answer"])
