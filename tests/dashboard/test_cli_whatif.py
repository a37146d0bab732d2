"""`riskdash whatif`: text and JSON, exit codes by verdict, unreadable legs reported."""

from __future__ import annotations

import json
from datetime import datetime

from dashboard.cli_whatif import EXIT_FAIL
from models.conventions import NEW_YORK
from tests.dashboard.test_cli import run_cli

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=NEW_YORK)


def _run(*argv: str) -> tuple[int, str, str]:
    return run_cli("whatif", *argv, now=NOW)


def test_json_has_every_limit_before_and_after() -> None:
    code, out, _ = _run("--leg", "SPY 2027-01-15 560 P -3", "--json")
    payload = json.loads(out)
    assert payload["demo"] is True
    assert [row["name"] for row in payload["limits"]] == [
        "max_beta_delta",
        "max_negative_vega",
        "min_daily_theta",
        "max_gamma",
    ]
    assert payload["legs"][0]["symbol"] == "SPY   270115P00560000"
    assert code == (EXIT_FAIL if payload["verdict"] == "fail" else 0)


def test_a_trade_that_breaches_exits_with_the_fail_code() -> None:
    code, out, _ = _run("--leg", "SPY 2027-01-15 600 P -40")
    assert code == EXIT_FAIL
    assert "FAIL" in out
    assert "max_beta_delta: would breach" in out


def test_unreadable_leg_is_a_usage_error_naming_it() -> None:
    code, out, err = _run("--leg", "SPY 2027-01-15 560 Q -3")
    assert code == 2
    assert out == ""
    assert "'SPY 2027-01-15 560 Q -3'" in err
    assert "right" in err
