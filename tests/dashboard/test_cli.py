"""The `riskdash` command: regime from inputs, from a real CBOE day, the history CSV, and the summary JSON contract."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from dashboard.cli import main

FROZEN = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # a Monday, 10:00 New York


def run_cli(*argv: str, now: datetime = FROZEN) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `riskdash ARGV` at `now`; the other test_cli_*.py files use it too."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err, now=now)
    return code, out.getvalue(), err.getvalue()


def cli_json(*argv: str) -> Any:
    """The parsed stdout of `riskdash ARGV --json`, which must exit 0."""
    code, out, err = run_cli(*argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_regime_from_explicit_inputs_names_the_deciding_clause() -> None:
    payload = cli_json("regime", "--vix", "24.1", "--vix3m", "23.0", "--vvix", "120", "--recession-prob", "0.18")
    assert payload["regime"] == "high_volatility"
    assert payload["decided_by"] == "VIX > 22"
    assert payload["missing_inputs"] == []
    assert set(payload["inputs"]) == {"vix", "vix3m", "vvix", "term_structure", "recession_prob"}
    assert payload["inputs"]["term_structure"] == pytest.approx(23.0 / 24.1, abs=1e-9)


def test_regime_without_optional_inputs_lists_them_missing() -> None:
    payload = cli_json("regime", "--vix", "18", "--vix3m", "19")
    assert payload["regime"] == "neutral_volatility"
    assert payload["inputs"]["vvix"] is None
    assert payload["inputs"]["recession_prob"] is None


def test_regime_on_a_real_day_uses_the_shipped_cboe_closes() -> None:
    payload = cli_json("regime", "--date", "2020-03-16")
    # CBOE closes on 2020-03-16: VIX 82.69 (record), VIX3M 67.70, VVIX 207.59 (shared/realdata/NOTES.md).
    assert (payload["inputs"]["vix"], payload["inputs"]["vix3m"], payload["inputs"]["vvix"]) == (82.69, 67.70, 207.59)
    assert payload["regime"] == "crisis_mode"
    assert payload["date"] == "2020-03-16"


def test_regime_on_a_weekend_fails_naming_the_nearest_trading_days() -> None:
    code, _, err = run_cli("regime", "--date", "2020-03-14")
    assert code == 1
    assert "2020-03-13" in err
    assert "2020-03-16" in err


def test_regime_history_csv_has_one_row_per_trading_day() -> None:
    code, out, _ = run_cli("regime", "--history", "--from", "2020-03-09", "--to", "2020-03-20", "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["date", "vix", "vix3m", "vvix", "term_structure", "regime"]
    assert [r["date"] for r in rows] == [f"2020-03-{d:02d}" for d in (9, 10, 11, 12, 13, 16, 17, 18, 19, 20)]
    march_16 = next(r for r in rows if r["date"] == "2020-03-16")
    assert (march_16["vix"], march_16["regime"]) == ("82.69", "crisis_mode")
    assert float(march_16["term_structure"]) == pytest.approx(67.70 / 82.69, abs=1e-4)


def test_history_without_csv_is_a_usage_error() -> None:
    code, _, err = run_cli("regime", "--history")
    assert code == 2
    assert "--csv" in err


def test_summary_json_follows_the_documented_contract() -> None:
    payload = cli_json("summary")
    assert payload["demo"] is True
    assert datetime.fromisoformat(payload["as_of"]) == FROZEN
    assert {"regime", "inputs", "decided_by", "missing_inputs"} <= set(payload["regime"])
    assert set(payload["totals"]) == {
        "beta_weighted_delta",
        "beta_weighted_gamma",
        "theta_per_day",
        "vega_per_vol_point",
        "theta_vega_ratio",
    }
    assert [limit["name"] for limit in payload["limits"]] == [
        "max_beta_delta",
        "max_negative_vega",
        "min_daily_theta",
        "max_gamma",
    ]
    for limit in payload["limits"]:
        assert {"name", "value", "limit", "utilization", "status"} <= set(limit)
        assert limit["status"] in {"ok", "warn", "alert", "breach"}
    assert 40 <= payload["positions"] <= 60


def test_summary_text_is_labelled_demo_and_carries_units() -> None:
    code, out, _ = run_cli("summary")
    assert code == 0
    assert out.startswith("DEMO BOOK")
    for unit in ("SPX deltas", "$/day", "$/vol pt"):
        assert unit in out
