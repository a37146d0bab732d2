"""Loading and validating config/risk_matrix.yaml: the shipped numbers, and errors that name the key path."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

from config.risk_matrix import (
    DteBucket,
    RiskMatrix,
    RiskMatrixError,
    default_risk_matrix_path,
    load_risk_matrix,
)

# The user's specification, typed in from the brief (not read back from the YAML).
SPEC_REGIMES: dict[str, dict[str, Any]] = {
    "low_volatility": {
        "condition": "VIX < 15 and TermStructure > 1.10",
        "description": "Complacency. Market grinds up. Cheap hedges available.",
        "limits": (600, -500, 100, 50, ("Long Calendars", "Debit Spreads", "Reverse Iron Condors")),
    },
    "neutral_volatility": {
        "condition": "15 <= VIX <= 22",
        "description": "Standard operating environment.",
        "limits": (300, -1200, 300, 35, ("Iron Condors", "Strangles", "Credit Spreads")),
    },
    "high_volatility": {
        "condition": "VIX > 22 or Polymarket_Recession_Prob > 40%",
        "description": "Fear. Elevated premiums. Fast moves.",
        "limits": (100, -2500, 600, 20, ("Ratio Backspreads", "Short Strangles (Managed)", "Jade Lizards")),
    },
    "crisis_mode": {
        "condition": "VIX > 35 or VVIX > 150",
        "description": "Panic. Liquidity drying up.",
        "limits": (0, 0, 0, 10, ("Long Puts", "Cash", "Long Volatility")),
    },
}


@pytest.fixture(scope="module")
def shipped() -> RiskMatrix:
    return load_risk_matrix()


@pytest.fixture
def raw() -> dict[str, Any]:
    """The shipped YAML as plain data, to be broken one key at a time."""
    data: dict[str, Any] = yaml.safe_load(default_risk_matrix_path().read_text(encoding="utf-8"))
    return copy.deepcopy(data)


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "broken_matrix.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------------------
# The shipped file


def test_shipped_matrix_has_exactly_the_four_regimes(shipped: RiskMatrix) -> None:
    assert set(shipped.regimes) == set(SPEC_REGIMES)


@pytest.mark.parametrize("name", list(SPEC_REGIMES))
def test_shipped_regime_matches_the_specification(shipped: RiskMatrix, name: str) -> None:
    spec = SPEC_REGIMES[name]
    regime = shipped.regimes[name]
    limits = regime.limits
    assert regime.condition.text == spec["condition"]
    assert regime.description == spec["description"]
    assert (
        limits.max_beta_delta,
        limits.max_negative_vega,
        limits.min_daily_theta,
        limits.max_gamma,
        limits.allowed_strategies,
    ) == spec["limits"]


def test_shipped_order_fallback_and_unknown_vix_regime(shipped: RiskMatrix) -> None:
    assert shipped.evaluation_order == ("crisis_mode", "high_volatility", "low_volatility")
    assert shipped.fallback_regime == "neutral_volatility"
    assert shipped.unknown_vix_regime == "high_volatility"


def test_shipped_thresholds_zones_and_scalars(shipped: RiskMatrix) -> None:
    assert (shipped.status_thresholds.warn, shipped.status_thresholds.alert, shipped.status_thresholds.breach) == (
        0.80,
        0.90,
        1.00,
    )
    zone = shipped.theta_vega_zone
    assert (zone.green_low, zone.green_high, zone.red_below, zone.red_above, zone.target) == (
        0.25,
        0.40,
        0.20,
        0.50,
        0.33,
    )
    assert (shipped.near_expiry_gamma.bucket, shipped.near_expiry_gamma.max_abs_gamma) == ("0-7", 5)
    assert shipped.beta_reference == "SPX"
    assert (shipped.natenberg_edge_vol_points.moderate, shipped.natenberg_edge_vol_points.strong) == (10, 15)
    assert shipped.staleness_minutes == 10


def test_shipped_dte_buckets(shipped: RiskMatrix) -> None:
    assert [(b.label, b.min_days, b.max_days) for b in shipped.dte_buckets] == [
        ("0-7", 0, 7),
        ("8-30", 8, 30),
        ("31-60", 31, 60),
        ("60+", 61, None),
    ]


def test_every_whole_day_falls_in_exactly_one_bucket(shipped: RiskMatrix) -> None:
    for dte in range(0, 1000):
        assert sum(bucket.contains(dte) for bucket in shipped.dte_buckets) == 1, dte


@pytest.mark.parametrize(
    ("dte", "label"), [(0, "0-7"), (7, "0-7"), (8, "8-30"), (30, "8-30"), (31, "31-60"), (60, "31-60"), (61, "60+")]
)
def test_bucket_edges(shipped: RiskMatrix, dte: int, label: str) -> None:
    assert shipped.dte_bucket(label).contains(dte)


def test_negative_dte_is_in_no_bucket(shipped: RiskMatrix) -> None:
    assert not any(bucket.contains(-1) for bucket in shipped.dte_buckets)


def test_explicit_path_loads_the_same_matrix(shipped: RiskMatrix) -> None:
    assert load_risk_matrix(default_risk_matrix_path()) == shipped


def test_matrix_is_frozen(shipped: RiskMatrix) -> None:
    with pytest.raises(pydantic.ValidationError):
        shipped.staleness_minutes = 5  # type: ignore[misc]


def test_unknown_regime_lookup_names_the_known_ones(shipped: RiskMatrix) -> None:
    with pytest.raises(KeyError, match="crisis_mode"):
        shipped.regime("panic")


def test_unknown_bucket_lookup_names_the_labels(shipped: RiskMatrix) -> None:
    with pytest.raises(KeyError, match="0-7"):
        shipped.dte_bucket("90+")


# ---------------------------------------------------------------------------------------------------------
# Errors: one RiskMatrixError naming the file, the key path and the reason


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


def _add_regime(name: str) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        data["regimes"][name] = copy.deepcopy(data["regimes"]["crisis_mode"])

    return mutate


BROKEN: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    (
        "unknown_limit_key",
        _set(("regimes", "low_volatility", "limits", "max_vega"), 3),
        "regimes.low_volatility.limits.max_vega",
        "unknown key; allowed keys: max_beta_delta",
    ),
    ("unknown_top_level_key", _set(("max_delta",), 3), "max_delta", "unknown key"),
    (
        "missing_limit",
        _delete(("regimes", "high_volatility", "limits", "max_gamma")),
        "regimes.high_volatility.limits.max_gamma",
        "missing required key",
    ),
    (
        "unknown_input_name",
        _set(("regimes", "high_volatility", "condition"), "VIX > 22 or SKEW > 150"),
        "regimes.high_volatility.condition",
        "unknown input name 'SKEW'",
    ),
    (
        "malformed_condition",
        _set(("regimes", "crisis_mode", "condition"), "VIX > > 35"),
        "regimes.crisis_mode.condition",
        "at position 6",
    ),
    (
        "condition_not_text",
        _set(("regimes", "crisis_mode", "condition"), 35),
        "regimes.crisis_mode.condition",
        "must be a quoted string",
    ),
    (
        "unknown_regime_in_order",
        _set(("evaluation_order",), ["crisis_mode", "hi_vol", "low_volatility"]),
        "evaluation_order[1]",
        "'hi_vol' is not a regime",
    ),
    (
        "regime_twice_in_order",
        _set(("evaluation_order",), ["crisis_mode", "high_volatility", "crisis_mode", "low_volatility"]),
        "evaluation_order[2]",
        "listed twice",
    ),
    (
        "fallback_in_order",
        _set(("evaluation_order",), ["crisis_mode", "high_volatility", "low_volatility", "neutral_volatility"]),
        "evaluation_order[3]",
        "is the fallback_regime",
    ),
    ("unknown_fallback", _set(("fallback_regime",), "calm"), "fallback_regime", "'calm' is not a regime"),
    ("unknown_vix_regime", _set(("unknown_vix_regime",), "panic"), "unknown_vix_regime", "'panic' is not a regime"),
    ("regime_never_chosen", _add_regime("euphoria"), "regimes.euphoria", "never chosen"),
    ("reserved_regime_name", _add_regime("unknown"), "regimes.unknown", "reserved"),
    (
        "positive_vega_floor",
        _set(("regimes", "crisis_mode", "limits", "max_negative_vega"), 100),
        "regimes.crisis_mode.limits.max_negative_vega",
        "less than or equal to 0",
    ),
    (
        "negative_delta_bound",
        _set(("regimes", "crisis_mode", "limits", "max_beta_delta"), -1),
        "regimes.crisis_mode.limits.max_beta_delta",
        "greater than or equal to 0",
    ),
    (
        "limit_as_string",
        _set(("regimes", "crisis_mode", "limits", "max_gamma"), "10"),
        "regimes.crisis_mode.limits.max_gamma",
        "valid number",
    ),
    (
        "limit_as_boolean",
        _set(("regimes", "crisis_mode", "limits", "max_gamma"), True),
        "regimes.crisis_mode.limits.max_gamma",
        "valid number",
    ),
    (
        "limit_nan",
        _set(("regimes", "crisis_mode", "limits", "max_gamma"), float("nan")),
        "regimes.crisis_mode.limits.max_gamma",
        "finite number",
    ),
    (
        "strategy_not_text",
        _set(("regimes", "crisis_mode", "limits", "allowed_strategies"), ["Cash", 1]),
        "regimes.crisis_mode.limits.allowed_strategies[1]",
        "valid string",
    ),
    ("thresholds_out_of_order", _set(("status_thresholds", "warn"), 0.95), "status_thresholds", "warn < alert"),
    ("bucket_gap", _set(("dte_buckets", 1, "min_days"), 9), "dte_buckets[1].min_days", "gap"),
    ("bucket_overlap", _set(("dte_buckets", 3, "min_days"), 60), "dte_buckets[3].min_days", "overlap"),
    ("bucket_not_from_zero", _set(("dte_buckets", 0, "min_days"), 1), "dte_buckets[0].min_days", "start at 0"),
    (
        "open_bucket_not_last",
        _set(("dte_buckets", 2, "max_days"), None),
        "dte_buckets[2].max_days",
        "only the last bucket",
    ),
    ("bucket_max_below_min", _set(("dte_buckets", 0, "max_days"), -1), "dte_buckets[0].max_days", "below min_days"),
    ("bucket_label_twice", _set(("dte_buckets", 1, "label"), "0-7"), "dte_buckets[1].label", "used twice"),
    ("fractional_bucket_day", _set(("dte_buckets", 1, "max_days"), 30.5), "dte_buckets[1].max_days", "valid integer"),
    (
        "near_expiry_unknown_bucket",
        _set(("near_expiry_gamma", "bucket"), "0-6"),
        "near_expiry_gamma.bucket",
        "not a dte_buckets label",
    ),
    ("zone_out_of_order", _set(("theta_vega_zone", "target"), 0.45), "theta_vega_zone", "target <= green_high"),
    (
        "edge_out_of_order",
        _set(("natenberg_edge_vol_points", "strong"), 5),
        "natenberg_edge_vol_points",
        "moderate < strong",
    ),
    ("other_beta_reference", _set(("beta_reference",), "NDX"), "beta_reference", "'SPX'"),
    ("zero_staleness", _set(("staleness_minutes",), 0), "staleness_minutes", "greater than 0"),
]


@pytest.mark.parametrize(("mutate", "key_path", "reason"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_invalid_matrix_fails_at_load_naming_file_key_path_and_reason(
    tmp_path: Path, raw: dict[str, Any], mutate: Callable[[dict[str, Any]], None], key_path: str, reason: str
) -> None:
    mutate(raw)
    path = _write(tmp_path, raw)
    with pytest.raises(RiskMatrixError) as info:
        load_risk_matrix(path)
    message = str(info.value)
    assert f"{path}: {key_path}: " in message
    assert reason in message


HOSTILE_CONDITIONS = [
    ("import_call", "__import__('os').system('rm -rf /')"),
    ("attribute", "VIX.real > 1"),
    ("dunder_chain", "().__class__.__bases__[0]"),
    ("call", "abs(VIX) > 22"),
    ("subscript", "VIX[0] > 22"),
    ("lambda", "lambda: True"),
    ("string", "VIX == 'high'"),
    ("unknown_name", "open > 1"),
    ("trailing_garbage", "VIX > 22 VVIX"),
    ("empty", ""),
    ("unbalanced", "(VIX > 22"),
    ("double_operator", "1 < < 2"),
]


@pytest.mark.parametrize("condition", [h[1] for h in HOSTILE_CONDITIONS], ids=[h[0] for h in HOSTILE_CONDITIONS])
def test_hostile_condition_is_rejected_at_load(tmp_path: Path, raw: dict[str, Any], condition: str) -> None:
    raw["regimes"]["high_volatility"]["condition"] = condition
    with pytest.raises(RiskMatrixError, match=r"regimes\.high_volatility\.condition: .*position \d+"):
        load_risk_matrix(_write(tmp_path, raw))


def test_every_problem_is_listed_in_the_one_error(tmp_path: Path, raw: dict[str, Any]) -> None:
    del raw["regimes"]["low_volatility"]["limits"]["max_gamma"]
    raw["regimes"]["crisis_mode"]["condition"] = "VIX >"
    with pytest.raises(RiskMatrixError) as info:
        load_risk_matrix(_write(tmp_path, raw))
    paths = [path for path, _ in info.value.problems]
    assert paths == ["regimes.low_volatility.limits.max_gamma", "regimes.crisis_mode.condition"]


def test_duplicate_yaml_key_is_rejected_with_its_line(tmp_path: Path) -> None:
    text = default_risk_matrix_path().read_text(encoding="utf-8")
    path = tmp_path / "duplicate.yaml"
    # PyYAML would silently keep the second value; the matrix must refuse instead.
    path.write_text(text + "staleness_minutes: 60\n", encoding="utf-8")
    last_line = len(text.splitlines()) + 1
    with pytest.raises(
        RiskMatrixError, match=rf"{re.escape(str(path))}: line {last_line}, .*duplicate key 'staleness_minutes'"
    ):
        load_risk_matrix(path)


def test_duplicate_limit_key_inside_a_regime_is_rejected(tmp_path: Path) -> None:
    text = default_risk_matrix_path().read_text(encoding="utf-8")
    doubled = text.replace("      max_gamma: 10\n", "      max_gamma: 10\n      max_gamma: 99\n", 1)
    assert doubled != text
    path = tmp_path / "duplicate_limit.yaml"
    path.write_text(doubled, encoding="utf-8")
    with pytest.raises(RiskMatrixError, match="duplicate key 'max_gamma'"):
        load_risk_matrix(path)


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("regimes:\n  crisis_mode: [unclosed\n", encoding="utf-8")
    with pytest.raises(RiskMatrixError, match=rf"{re.escape(str(path))}: line \d+, column \d+: invalid YAML"):
        load_risk_matrix(path)


def test_python_object_tags_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "tagged.yaml"
    path.write_text("!!python/object/apply:os.system ['echo pwned']\n", encoding="utf-8")
    with pytest.raises(RiskMatrixError, match="could not determine a constructor"):
        load_risk_matrix(path)


@pytest.mark.parametrize(("text", "kind"), [("- 1\n", "list"), ("", "NoneType")], ids=["list", "empty_file"])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    path = tmp_path / "top.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RiskMatrixError, match=f"top level must be a mapping, not {kind}"):
        load_risk_matrix(path)


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(RiskMatrixError, match=rf"{re.escape(str(path))}: cannot read"):
        load_risk_matrix(path)


def test_dte_bucket_rejects_max_below_min_on_its_own() -> None:
    with pytest.raises(pydantic.ValidationError, match="below min_days"):
        DteBucket(label="x", min_days=5, max_days=4)
