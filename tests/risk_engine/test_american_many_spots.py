"""American prices at many spots per boundary: the table path equals `american_price` on the same premium rule, the
scenario price rule stays within its stated error of the converged integral, and `revalue` agrees with the scenario
paths within the stated 2e-6 K of the American scenario pricer."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

import risk_engine.american_premium as american_premium
from dashboard.book import demo_inputs
from risk_engine.american import american_price, american_price_many_spots
from risk_engine.american_boundary import SCHEMES, make_grid, premium_rule, product_in_chunks
from risk_engine.arrays import to_arrays
from risk_engine.scenarios import VolRule, revalue, revalue_paths
from tests.conftest import golden_rows
from tests.risk_engine.scenario_book import book

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
_SPOTS = 41
# Measured maxima (risk_engine.american_boundary): 4.7e-6 K on the random options, 2.5e-7 K on the golden scenarios.
_RANDOM_BOUND = 6e-6
_GOLDEN_BOUND = 4e-7


@pytest.fixture
def greeks_rule_for_prices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every scheme's price rule replaced by its Greeks rule, so that `american_price` and the table path integrate
    the premium on the same nodes."""
    same = tuple(dataclasses.replace(scheme, price_grid=scheme.grid) for scheme in SCHEMES)
    monkeypatch.setattr(american_premium, "SCHEMES", same)


def _converged(monkeypatch: pytest.MonkeyPatch) -> None:
    """The price rule replaced by 256 nodes: the premium integral converged to ~1e-9 of the strike."""
    fine = tuple(
        dataclasses.replace(s, price_grid=make_grid(s.grid.sqrt_tau.size, s.grid.z.shape[1], (256, 4, 3)))
        for s in SCHEMES
    )
    monkeypatch.setattr(american_premium, "SCHEMES", fine)


def _assert_equals_american_price(call: Any, spots: Any, k: Any, t: Any, r: Any, q: Any, v: Any) -> None:
    many = american_price_many_spots(call, spots, k, t, r, r - q, v)
    one = american_price(call[:, None], spots, k[:, None], t[:, None], r[:, None], (r - q)[:, None], v[:, None])
    assert many.shape == spots.shape
    np.testing.assert_array_equal(np.isnan(many), np.isnan(one))
    ok = np.isfinite(one)
    # rtol 1e-14, or 1e-14 of the strike for prices near 0: the table path's normal CDFs are tabulated (within
    # 4e-16 of scipy's, risk_engine.normal_cdf), `american_price`'s are scipy's; measured 7.6e-16.
    assert np.all(np.abs(many - one)[ok] <= (1e-14 * np.maximum(np.abs(one), k[:, None]))[ok])


def _random_options(seed: int, n: int) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed)
    call = rng.random(n) < 0.5
    k = rng.uniform(20.0, 500.0, n)
    t = np.where(rng.random(n) < 0.2, rng.uniform(1e-5, 0.02, n), rng.uniform(0.02, 3.0, n))
    r = np.where(rng.random(n) < 0.15, 0.0, rng.uniform(-0.01, 0.12, n))
    q = np.where(rng.random(n) < 0.15, 0.0, rng.uniform(-0.02, 0.15, n))
    v = rng.uniform(0.005, 1.2, n)
    # Spots from deep in to deep out of the money (and the exercise region) around each strike.
    spots = k[:, None] * np.exp(rng.normal(0.0, 0.6, (n, _SPOTS)))
    return call, spots, k, t, r, q, v


@pytest.mark.usefixtures("greeks_rule_for_prices")
@pytest.mark.parametrize("seed", [1, 2, 3], ids=["seed1", "seed2", "seed3"])
def test_random_puts_and_calls_equal_american_price_on_the_same_rule(seed: int) -> None:
    _assert_equals_american_price(*_random_options(seed, 800))


@pytest.mark.parametrize("seed", [1, 2, 3], ids=["seed1", "seed2", "seed3"])
def test_price_rule_within_bound_of_the_converged_integral(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    call, spots, k, t, r, q, v = _random_options(seed, 800)
    fast = american_price_many_spots(call, spots, k, t, r, r - q, v)
    exact = american_price(call[:, None], spots, k[:, None], t[:, None], r[:, None], (r - q)[:, None], v[:, None])
    _converged(monkeypatch)
    converged = american_price_many_spots(call, spots, k, t, r, r - q, v)
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(converged))
    assert np.nanmax(np.abs(fast - converged) / k[:, None]) <= _RANDOM_BOUND
    # american_price (the Greeks' 32-node rule) is itself within 1.1e-6 K of the converged integral here.
    assert np.nanmax(np.abs(fast - exact) / k[:, None]) <= 2.0 * _RANDOM_BOUND


def test_price_rule_on_golden_scenarios_within_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [row for row in golden_rows("greeks_public.csv") if row["style"] == "american"]
    g = {name: np.array([float(row[name]) for row in rows]) for name in ("S", "K", "T", "r", "q", "sigma")}
    call = np.array([row["type"] == "call" for row in rows])
    rng = np.random.default_rng(17)
    spots = g["S"][:, None] * rng.uniform(0.6, 1.4, (call.size, _SPOTS))
    vol = g["sigma"] * np.exp(rng.uniform(np.log(0.5), np.log(2.0), call.size))
    args = (call, spots, g["K"], g["T"], g["r"], g["r"] - g["q"], vol)
    fast = american_price_many_spots(*args)
    _converged(monkeypatch)
    converged = american_price_many_spots(*args)
    assert np.nanmax(np.abs(fast - converged) / g["K"][:, None]) <= _GOLDEN_BOUND


@pytest.mark.parametrize(
    ("call", "t", "r", "q", "v"),
    [
        (True, 0.5, 0.05, 0.08, 0.25),  # dividend call: early exercise pays
        (False, 0.5, 0.08, 0.0, 0.25),  # put: deep in the money exercised at once
        (False, 2.0 / 365.0, 0.05, 0.02, 0.2),  # near expiry
        (False, 1.0, 0.0, 0.02, 0.3),  # zero rate put: European
        (True, 1.0, 0.04, 0.0, 0.3),  # call without dividend: European
        (False, 1.0, 0.30, 0.0, 0.05),  # beta >= 10: the FP-B scheme
        (False, 0.5, 0.05, 0.03, 1e-7),  # below the minimum total vol: deterministic
        (False, 0.0, 0.05, 0.03, 0.25),  # expired: intrinsic
    ],
    ids=["dividend-call", "itm-put", "near-expiry", "zero-rate", "no-div-call", "fp-b", "zero-vol", "expired"],
)
@pytest.mark.usefixtures("greeks_rule_for_prices")
def test_special_cases_equal_american_price_on_the_same_rule(
    call: bool, t: float, r: float, q: float, v: float
) -> None:
    spots = np.array([np.linspace(0.0, 300.0, _SPOTS), np.geomspace(1.0, 1000.0, _SPOTS)])
    ones = np.ones(2)
    _assert_equals_american_price(ones.astype(bool) & call, spots, 100.0 * ones, t * ones, r * ones, q * ones, v * ones)


def test_golden_put_among_other_spots() -> None:
    # shared/golden G01998 (QuantLib QdFp; r 5 %, q 2 %, carry 3 %): 6.352863 at S = 100.
    prices = american_price_many_spots(False, [[80.0, 100.0, 120.0]], 100.0, 0.5, 0.05, 0.05 - 0.02, 0.25)
    assert prices[0, 1] == pytest.approx(6.352863, abs=5e-4)


def test_rejects_one_dimensional_spots() -> None:
    with pytest.raises(ValueError, match="spot: expected shape"):
        american_price_many_spots(False, [100.0, 110.0], 100.0, 0.5, 0.05, 0.02, 0.25)


def _demo_arrays() -> Any:
    inputs = demo_inputs(NOW)
    return to_arrays(inputs.positions, inputs.market, NOW)


def _mixed_book() -> Any:
    return book(
        {"is_call": True, "is_american": True, "div_yield": 0.03, "quantity": -2.0},
        {"is_call": False, "is_american": True, "strike": 110.0, "t_years": 0.6},
        {"is_call": False, "is_american": True, "strike": 105.0, "t_years": 0.5 / 365.0},  # expires in the grid
        {"is_black76": True, "is_american": True, "spot": 5000.0, "strike": 5100.0, "is_call": False, "beta": 1.0},
        {"is_call": False, "strike": 95.0},
        {"kind": "STOCK", "quantity": 300.0, "multiplier": 1.0, "beta": 1.3},
        {"priced": False, "iv": np.nan},
    )


@pytest.mark.parametrize("vol_rule", list(VolRule), ids=[rule.value for rule in VolRule])
@pytest.mark.parametrize("per_position", [False, True], ids=["book", "per-position"])
@pytest.mark.parametrize("which", ["demo", "mixed"])
def test_revalue_equals_the_flattened_scenario_paths(vol_rule: VolRule, per_position: bool, which: str) -> None:
    p = _demo_arrays() if which == "demo" else _mixed_book()
    assert np.any(p.is_american & p.is_option)
    spot = np.linspace(-0.3, 0.3, _SPOTS)
    vol = np.linspace(-0.5, 1.0, 11)
    days = np.array([0.0, 1.0, 7.0])
    grid = revalue(
        p, spot_shocks=spot, vol_shocks=vol, horizons_days=days, vol_rule=vol_rule, per_position=per_position
    )
    h, s, v = np.meshgrid(days, spot, vol, indexing="ij")
    paths = revalue_paths(
        p,
        spot_shocks=s.ravel(),
        vol_shocks=v.ravel(),
        horizons_days=h.ravel(),
        vol_rule=vol_rule,
        per_position=per_position,
    )
    assert grid.shape == (3, _SPOTS, 11, p.size) if per_position else (3, _SPOTS, 11)
    # The grid solves one boundary per (row, vol) and cuts the shorter horizons' from it (within the longest one's
    # own boundary error, tests/risk_engine/test_american_expiry_sharing.py); the paths share boundaries interpolated
    # in vol, within 2e-6 of the strike per unit (risk_engine.american_scenarios), on the same price rule. Other rows
    # agree to rounding (the sum adds in another order).
    scale = np.abs(paths).max()
    american = p.is_american & p.is_option & p.priced
    allowed = np.where(american, 2e-6 * np.nan_to_num(p.strike) * np.abs(p.quantity * p.multiplier), 0.0)
    diff = np.abs(grid - paths.reshape(grid.shape))
    assert np.all(diff <= (allowed if per_position else allowed.sum()) + 1e-12 * scale)


def test_revalue_rejects_a_vol_shock_of_minus_100_percent() -> None:
    with pytest.raises(ValueError, match="vol_shocks"):
        revalue(_mixed_book(), spot_shocks=[0.0], vol_shocks=[-1.0], horizons_days=[0.0])


@pytest.mark.parametrize("rule", [(20, 4, 3), (28, 6, 4), (48, 6, 4)], ids=["price", "greeks", "greeks-fp-b"])
def test_premium_rules_integrate_the_boundary_layer_near_expiry(rule: tuple[int, int, int]) -> None:
    # ln(X / B(u)) ~ u^(1/4) near u = 1 - s = 0: the graded rules integrate it to 5e-9, where a rule
    # graded at s = 0 alone (the former z = t^2 with 20 nodes) is off by 2.8e-4.
    s, w = premium_rule(*rule)
    assert w.sum() == pytest.approx(1.0, abs=1e-14)
    assert (w / np.sqrt(s)).sum() == pytest.approx(2.0, abs=1e-13)  # int_0^1 s^(-1/2) ds
    assert (w * (1.0 - s) ** 0.25).sum() == pytest.approx(0.8, abs=5e-9)


def test_prices_do_not_depend_on_whether_the_boundaries_are_solved_in_halves(monkeypatch: pytest.MonkeyPatch) -> None:
    call, spots, k, t, r, q, v = _random_options(4, 600)
    # Triples of one contract at three expiries: the shorter two take the longest one's boundary, cut.
    first = np.arange(600) // 3 * 3
    call, k, r, q, v = (a[first] for a in (call, k, r, q, v))
    spots = k[:, None] * spots / spots[:, :1]
    one_thread, halves = [], []
    for at_least, out in ((10**9, one_thread), (1, halves)):
        monkeypatch.setattr(american_premium, "_MIN_PARALLEL_SOLVES", at_least)
        out.append(american_price_many_spots(call, spots, k, t, r, r - q, v, expiry_group=first))
    np.testing.assert_allclose(halves[0], one_thread[0], rtol=0.0, atol=1e-13 * float(k.max()))


def test_product_in_chunks_equals_the_whole_product() -> None:
    rng = np.random.default_rng(11)
    a, b = rng.standard_normal((5_001, 7)), rng.standard_normal((7, 20))  # 1,638 rows per chunk: four chunks
    np.testing.assert_allclose(product_in_chunks(a, b), a @ b, rtol=1e-14, atol=1e-14)
