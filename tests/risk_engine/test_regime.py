"""Regime classification: boundaries of the user's table, missing inputs, real CBOE days, history = one day."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from config.risk_matrix import RiskMatrix, load_risk_matrix
from risk_engine.regime import (
    UNKNOWN_REGIME,
    RegimeInputs,
    classify_regime,
    classify_regime_history,
    term_structure,
)

NAN = math.nan
MARKET_DATA = Path(__file__).resolve().parents[2] / "adapters" / "data" / "market"


@pytest.fixture(scope="module")
def matrix() -> RiskMatrix:
    return load_risk_matrix()


def _history_of_one(matrix: RiskMatrix, inputs: RegimeInputs) -> str:
    def day(value: float | None) -> list[float]:
        return [NAN if value is None else value]

    names = classify_regime_history(
        matrix, day(inputs.vix), day(inputs.vix3m), day(inputs.vvix), day(inputs.recession_prob)
    )
    return str(names[0])


# ---------------------------------------------------------------------------------------------------------
# Boundaries of the table: (VIX, VIX3M, VVIX, recession probability) → regime

BOUNDARIES = [
    ("vix_15_is_neutral", (15.0, 16.5, 100.0, 0.10), "neutral_volatility"),
    ("vix_14_99_contango_is_low", (14.99, 17.99, 100.0, 0.10), "low_volatility"),
    ("vix_22_is_neutral", (22.0, 23.0, 100.0, 0.10), "neutral_volatility"),
    ("vix_22_01_is_high", (22.01, 23.0, 100.0, 0.10), "high_volatility"),
    ("vix_35_is_high", (35.0, 33.0, 100.0, 0.10), "high_volatility"),
    ("vix_35_01_is_crisis", (35.01, 33.0, 100.0, 0.10), "crisis_mode"),
    ("term_structure_exactly_1_10_is_not_low", (14.0, 15.4, 100.0, 0.10), "neutral_volatility"),
    ("term_structure_1_1001_is_low", (14.0, 15.4014, 100.0, 0.10), "low_volatility"),
    ("quoted_ratio_1_10_in_binary_below_is_not_low", (12.0, 13.2, 100.0, 0.10), "neutral_volatility"),
    ("vvix_150_is_not_crisis", (18.0, 19.0, 150.0, 0.10), "neutral_volatility"),
    ("vvix_150_01_is_crisis", (18.0, 19.0, 150.01, 0.10), "crisis_mode"),
    ("recession_40pct_is_not_high", (18.0, 19.0, 100.0, 0.40), "neutral_volatility"),
    ("recession_41pct_is_high", (18.0, 19.0, 100.0, 0.41), "high_volatility"),
    ("low_vix_but_recession_is_high", (12.0, 15.0, 100.0, 0.41), "high_volatility"),
    ("low_vix_but_vvix_spike_is_crisis", (12.0, 15.0, 151.0, 0.10), "crisis_mode"),
]


@pytest.mark.parametrize(("values", "expected"), [b[1:] for b in BOUNDARIES], ids=[b[0] for b in BOUNDARIES])
def test_regime_at_the_boundaries_of_the_table(
    matrix: RiskMatrix, values: tuple[float, float, float, float], expected: str
) -> None:
    inputs = RegimeInputs(*values)
    assert classify_regime(matrix, inputs).regime == expected
    assert _history_of_one(matrix, inputs) == expected


def test_term_structure_of_a_quoted_1_10_ratio_is_exactly_1_10() -> None:
    assert 13.2 / 12.0 != 1.10  # the premise: plain division lands one ulp below
    assert float(term_structure(13.2, 12.0)) == 1.10
    assert RegimeInputs(12.0, 13.2, None, None).term_structure == 1.10


def test_term_structure_is_missing_when_either_level_is() -> None:
    assert np.isnan(term_structure(NAN, 20.0))
    assert RegimeInputs(20.0, None, None, None).term_structure is None


# ---------------------------------------------------------------------------------------------------------
# The issue's example and what a result carries


def test_issue_example_is_high_volatility_decided_by_vix_above_22(matrix: RiskMatrix) -> None:
    result = classify_regime(matrix, RegimeInputs(vix=24.1, vix3m=23.0, vvix=120.0, recession_prob=0.18))
    assert (result.regime, result.limits_regime, result.decided_by) == (
        "high_volatility",
        "high_volatility",
        "VIX > 22",
    )
    assert result.missing_inputs == ()
    assert result.description == "Fear. Elevated premiums. Fast moves."
    assert result.allowed_strategies == ("Ratio Backspreads", "Short Strangles (Managed)", "Jade Lizards")
    assert (result.limits.max_beta_delta, result.limits.max_negative_vega) == (100, -2500)
    assert result.inputs == {
        "vix": 24.1,
        "vix3m": 23.0,
        "vvix": 120.0,
        "term_structure": pytest.approx(23.0 / 24.1, abs=1e-10),
        "recession_prob": 0.18,
    }
    assert result.reason.startswith("high_volatility because VIX > 22")
    assert "VIX 24.10" in result.reason


def test_crisis_with_both_disjuncts_true_is_decided_by_the_first(matrix: RiskMatrix) -> None:
    result = classify_regime(matrix, RegimeInputs(40.0, 30.0, 160.0, 0.10))
    assert (result.regime, result.decided_by) == ("crisis_mode", "VIX > 35")


def test_low_volatility_is_decided_by_the_whole_conjunction(matrix: RiskMatrix) -> None:
    result = classify_regime(matrix, RegimeInputs(12.0, 14.0, 90.0, 0.05))
    assert (result.regime, result.decided_by) == ("low_volatility", "VIX < 15 and TermStructure > 1.10")


def test_fallback_says_no_condition_held(matrix: RiskMatrix) -> None:
    result = classify_regime(matrix, RegimeInputs(18.0, 19.0, 100.0, 0.10))
    assert result.regime == "neutral_volatility"
    assert result.decided_by == "no condition of crisis_mode/high_volatility/low_volatility held"
    assert result.limits.max_gamma == 35


# ---------------------------------------------------------------------------------------------------------
# Missing inputs


def test_missing_vvix_and_polymarket_are_listed_and_count_as_not_holding(matrix: RiskMatrix) -> None:
    result = classify_regime(matrix, RegimeInputs(vix=18.0, vix3m=19.0, vvix=None, recession_prob=None))
    assert result.regime == "neutral_volatility"
    assert result.missing_inputs == ("Polymarket_Recession_Prob", "VVIX")
    assert (result.inputs["vvix"], result.inputs["recession_prob"]) == (None, None)
    assert "missing Polymarket_Recession_Prob, VVIX" in result.reason


def test_missing_input_not_needed_for_the_decision_is_not_listed(matrix: RiskMatrix) -> None:
    result = classify_regime(matrix, RegimeInputs(vix=40.0, vix3m=30.0, vvix=None, recession_prob=None))
    assert (result.regime, result.missing_inputs) == ("crisis_mode", ())


def test_missing_vix3m_matters_only_when_vix_is_low(matrix: RiskMatrix) -> None:
    low_vix = classify_regime(matrix, RegimeInputs(12.0, None, 90.0, 0.05))
    mid_vix = classify_regime(matrix, RegimeInputs(18.0, None, 90.0, 0.05))
    assert (low_vix.regime, low_vix.missing_inputs) == ("neutral_volatility", ("VIX3M",))
    assert (mid_vix.regime, mid_vix.missing_inputs) == ("neutral_volatility", ())


def test_nan_counts_as_missing(matrix: RiskMatrix) -> None:
    result = classify_regime(matrix, RegimeInputs(18.0, 19.0, NAN, NAN))
    assert result.missing_inputs == ("Polymarket_Recession_Prob", "VVIX")
    assert result.inputs["vvix"] is None


def test_no_vix_is_unknown_with_high_volatility_limits(matrix: RiskMatrix) -> None:
    result = classify_regime(matrix, RegimeInputs(vix=None, vix3m=23.0, vvix=120.0, recession_prob=0.18))
    assert (result.regime, result.limits_regime) == (UNKNOWN_REGIME, "high_volatility")
    assert result.limits == matrix.regimes["high_volatility"].limits
    assert result.allowed_strategies == matrix.regimes["high_volatility"].limits.allowed_strategies
    assert result.missing_inputs == ("VIX",)
    assert "VIX is missing" in result.decided_by
    assert result.inputs["term_structure"] is None
    assert _history_of_one(matrix, RegimeInputs(None, 23.0, 120.0, 0.18)) == UNKNOWN_REGIME


def test_no_vix_but_vvix_above_150_is_still_crisis(matrix: RiskMatrix) -> None:
    # "VIX > 35 or VVIX > 150" holds whatever VIX is; crisis limits are stricter than the unknown-VIX ones.
    inputs = RegimeInputs(vix=None, vix3m=None, vvix=160.0, recession_prob=None)
    result = classify_regime(matrix, inputs)
    assert (result.regime, result.decided_by, result.missing_inputs) == ("crisis_mode", "VVIX > 150", ("VIX",))
    assert _history_of_one(matrix, inputs) == "crisis_mode"


def test_no_vix_but_recession_above_40pct_is_high(matrix: RiskMatrix) -> None:
    result = classify_regime(matrix, RegimeInputs(None, None, 120.0, 0.55))
    assert (result.regime, result.decided_by) == ("high_volatility", "Polymarket_Recession_Prob > 40%")


@pytest.mark.parametrize(
    ("field", "values", "message"),
    [
        ("vix", (0.0, 20.0, 100.0, 0.1), "vix must be a positive, finite index level"),
        ("vix3m", (20.0, -1.0, 100.0, 0.1), "vix3m must be a positive, finite index level"),
        ("vvix", (20.0, 21.0, math.inf, 0.1), "vvix must be a positive, finite index level"),
        ("recession_prob", (20.0, 21.0, 100.0, 40.0), "recession_prob must be a probability in 0..1"),
    ],
    ids=["zero_vix", "negative_vix3m", "infinite_vvix", "recession_in_percent"],
)
def test_impossible_input_is_refused_naming_it(field: str, values: tuple[float, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RegimeInputs(*values)


# ---------------------------------------------------------------------------------------------------------
# Real CBOE closes (adapters/data/market, byte copies of CBOE's daily_prices CSVs); expected regimes read
# off the user's table by hand.

REAL_DAYS = [
    ("2017-11-03_record_low_vix", (9.14, 12.42, 89.68), "low_volatility", "VIX < 15 and TermStructure > 1.10"),
    ("2014-03-21_vix_exactly_15", (15.00, 16.18, 78.64), "neutral_volatility", None),
    ("2018-02-02_before_volmageddon", (17.31, 17.03, 125.51), "neutral_volatility", None),
    ("2018-02-05_volmageddon", (37.32, 28.13, 177.34), "crisis_mode", "VIX > 35"),
    ("2018-02-06_vvix_only_crisis", (29.98, 23.75, 161.12), "crisis_mode", "VVIX > 150"),
    ("2020-03-16_record_vix", (82.69, 67.70, 207.59), "crisis_mode", "VIX > 35"),
    ("2022-03-07_2022_high", (36.45, 35.74, 133.66), "crisis_mode", "VIX > 35"),
    ("2024-08-05_yen_carry", (38.57, 33.71, 173.32), "crisis_mode", "VIX > 35"),
]


@pytest.mark.parametrize(("levels", "regime", "decided_by"), [d[1:] for d in REAL_DAYS], ids=[d[0] for d in REAL_DAYS])
def test_real_cboe_day(
    matrix: RiskMatrix, levels: tuple[float, float, float], regime: str, decided_by: str | None
) -> None:
    result = classify_regime(matrix, RegimeInputs(*levels, recession_prob=None))
    assert result.regime == regime
    if decided_by is not None:
        assert result.decided_by == decided_by


def test_real_day_without_vvix_lists_it(matrix: RiskMatrix) -> None:
    # 2013-05-13: CBOE published VIX 12.55 and VIX3M 15.05 but no VVIX close (NOTES.md, market quirks).
    result = classify_regime(matrix, RegimeInputs(12.55, 15.05, None, None))
    assert result.regime == "low_volatility"
    assert result.missing_inputs == ("Polymarket_Recession_Prob", "VVIX")


def _closes(file_name: str, column: str) -> dict[str, int]:
    """Close per ISO day in hundredths of an index point (the CBOE files carry 2 significant decimals)."""
    with (MARKET_DATA / file_name).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    closes = {}
    for row in rows:
        month, day, year = row["DATE"].split("/")
        closes[f"{year}-{month}-{day}"] = round(float(row[column]) * 100)
    return closes


def test_history_matches_an_integer_reference_on_real_cboe_data_2007_2024(matrix: RiskMatrix) -> None:
    vix_c = _closes("cboe_VIX_History.csv", "CLOSE")
    vix3m_c = _closes("cboe_VIX3M_History.csv", "CLOSE")
    vvix_c = _closes("cboe_VVIX_History.csv", "VVIX")
    days = [d for d in sorted(vix_c) if "2007-01-01" <= d <= "2024-12-31"]

    def cents(source: dict[str, int]) -> npt.NDArray[np.float64]:
        return np.array([source.get(d, -1) for d in days], dtype=np.float64)

    v, v3, vv = cents(vix_c), cents(vix3m_c), cents(vvix_c)
    has_v3, has_vv = v3 >= 0, vv >= 0
    # Reference in exact integer hundredths: 35.00 = 3500, and VIX3M / VIX > 1.10 ⇔ 10·VIX3M > 11·VIX.
    crisis = (v > 3500) | (has_vv & (vv > 15000))
    high = v > 2200
    low = (v < 1500) & has_v3 & (10 * v3 > 11 * v)
    expected = np.where(
        crisis, "crisis_mode", np.where(high, "high_volatility", np.where(low, "low_volatility", "neutral_volatility"))
    )
    got = classify_regime_history(
        matrix,
        v / 100,
        np.where(has_v3, v3 / 100, NAN),
        np.where(has_vv, vv / 100, NAN),
        np.full(len(days), NAN),
    )
    assert len(days) == 4_549  # VIX rows in 2007–2024 (NOTES.md §1)
    mismatches = [(days[i], got[i], expected[i]) for i in np.flatnonzero(got != expected)]
    assert mismatches == []
    assert got[days.index("2020-03-16")] == "crisis_mode"
    assert got[days.index("2017-11-03")] == "low_volatility"
    assert {"crisis_mode", "high_volatility", "low_volatility", "neutral_volatility"} == set(got.tolist())


# ---------------------------------------------------------------------------------------------------------
# History equals one-day classification


def _random_days(rng: np.random.Generator, n: int) -> tuple[npt.NDArray[np.float64], ...]:
    """Two-decimal quotes clustered on the table's edges, with NaN gaps in every series."""

    def pick(edges: list[float], low: float, high: float, nan_share: float) -> npt.NDArray[np.float64]:
        values = np.round(rng.uniform(low, high, n), 2)
        on_edge = rng.random(n) < 0.3
        values[on_edge] = rng.choice(edges, on_edge.sum())
        values[rng.random(n) < nan_share] = NAN
        return values

    vix = pick([14.99, 15.0, 15.01, 22.0, 22.01, 35.0, 35.01], 9.0, 60.0, 0.05)
    ratio = rng.choice([1.1, 1.1001, 1.0999, 0.9, 1.2], n)
    vix3m = np.round(vix * np.where(rng.random(n) < 0.5, ratio, rng.uniform(0.8, 1.3, n)), 2)
    vix3m[rng.random(n) < 0.1] = NAN
    vvix = pick([149.99, 150.0, 150.01], 70.0, 220.0, 0.1)
    recession = pick([0.39, 0.40, 0.41], 0.0, 1.0, 0.3)
    return vix, vix3m, vvix, recession


def test_history_equals_classify_regime_day_by_day(matrix: RiskMatrix) -> None:
    rng = np.random.default_rng(20240805)
    vix, vix3m, vvix, recession = _random_days(rng, 4_000)
    history = classify_regime_history(matrix, vix, vix3m, vvix, recession)

    def opt(value: float) -> float | None:
        return None if math.isnan(value) else float(value)

    one_by_one = [
        classify_regime(matrix, RegimeInputs(opt(a), opt(b), opt(c), opt(d))).regime
        for a, b, c, d in zip(vix, vix3m, vvix, recession, strict=True)
    ]
    assert history.tolist() == one_by_one
    # The sample must reach every outcome, or the comparison proves little.
    assert set(one_by_one) == {*matrix.regimes, UNKNOWN_REGIME}


def test_history_rejects_arrays_of_different_lengths(matrix: RiskMatrix) -> None:
    with pytest.raises(ValueError, match="vvix has 2 days but vix has 3"):
        classify_regime_history(matrix, [20.0, 21.0, 22.0], [21.0] * 3, [100.0] * 2, [NAN] * 3)


def test_history_rejects_an_impossible_value_naming_the_day(matrix: RiskMatrix) -> None:
    with pytest.raises(ValueError, match=r"recession_prob must be a probability in 0\.\.1.*day index 1"):
        classify_regime_history(matrix, [20.0, 21.0], [21.0] * 2, [100.0] * 2, [0.1, 41.0])


def test_history_of_no_days_is_empty(matrix: RiskMatrix) -> None:
    assert classify_regime_history(matrix, [], [], [], []).shape == (0,)


def test_history_rejects_a_table_instead_of_one_value_per_day(matrix: RiskMatrix) -> None:
    with pytest.raises(ValueError, match=r"vix must be a 1-D array .* shape \(2, 2\)"):
        classify_regime_history(matrix, [[20.0, 21.0]] * 2, [21.0] * 2, [100.0] * 2, [NAN] * 2)
