"""`riskdash stress` and `riskdash var`: the JSON contract of the issue, text output, bad dates."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.dashboard.test_cli import FROZEN, cli_json, run_cli


@pytest.fixture(scope="module")
def stress() -> Any:
    return cli_json("stress", "--date", "2025-04-04")


def test_stress_json_has_the_documented_shapes(stress: Any) -> None:
    assert len(stress["spot_shocks"]) == 41
    assert len(stress["vol_shocks"]) == 11
    assert stress["horizons_days"] == [0.0, 1.0, 7.0]
    assert np.array(stress["pnl"]).shape == (3, 41, 11)
    assert np.array(stress["approximation_error"]).shape == (3, 41, 11)
    assert set(stress["worst"]) >= {"horizon_days", "spot_shock", "vol_shock", "pnl"}
    assert stress["worst"]["pnl"] == pytest.approx(np.array(stress["pnl"]).min())
    assert stress["as_of"] == FROZEN.isoformat()
    assert stress["demo"] is True
    assert stress["pnl_pct_net_liq"] is None  # the demo book has no account values


def test_stress_json_zero_cell_is_zero(stress: Any) -> None:
    spot, vol = stress["spot_shocks"].index(0.0), stress["vol_shocks"].index(0.0)
    assert stress["pnl"][0][spot][vol] == 0.0


def test_stress_json_replays_are_the_crash_days_plus_the_users(stress: Any) -> None:
    replays = stress["replays"]
    assert replays[0]["date"] == "1987-10-19"
    assert replays[-1]["date"] == "2025-04-04"
    assert len(replays) == 12
    for row in replays:
        assert set(row) >= {"date", "index_move", "vix_change", "pnl", "assumed"}
    assert [r["assumed"] for r in replays].count(True) == 1
    assert replays[0]["index_move"] == pytest.approx(224.84 / 282.70 - 1.0)


def test_stress_text_shows_the_worst_cell_and_the_replays() -> None:
    code, out, _ = run_cli("stress")
    assert code == 0
    assert "Worst cell" in out
    assert "1987-10-19" in out
    assert "(IV shock assumed)" in out


def test_stress_on_a_weekend_fails_naming_the_nearest_days() -> None:
    code, _, err = run_cli("stress", "--date", "2024-08-04")
    assert code == 1
    assert "2024-08-02" in err
    assert "2024-08-05" in err


def test_var_json_has_three_methods_with_window_or_paths() -> None:
    payload = cli_json("var", "--window", "250", "--paths", "500", "--seed", "9")
    for method in ("historical", "parametric", "monte_carlo"):
        e = payload[method]
        assert set(e) >= {"var95", "var99", "es95", "es99", "window", "as_of"}
        assert e["var99"] >= e["var95"]
        assert e["es95"] >= e["var95"]
        assert e["es99"] >= e["var99"]
        assert e["window"] == 250
    assert payload["monte_carlo"]["paths"] == 500
    assert "paths" not in payload["historical"]
    assert payload["as_of"] == FROZEN.isoformat()


def test_var_text_lists_the_methods() -> None:
    code, out, _ = run_cli("var", "--window", "120", "--paths", "200")
    assert code == 0
    for method in ("historical", "parametric", "monte_carlo"):
        assert method in out


def test_var_with_too_short_a_window_fails() -> None:
    code, _, err = run_cli("var", "--window", "10")
    assert code == 1
    assert "window_days" in err
