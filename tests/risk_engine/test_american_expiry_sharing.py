"""Shorter expiries on the exercise boundary of a longer one: the cut boundary is the same polynomial, the longest
option of a group is priced as without groups, and the shorter ones inherit no more than the source's own error."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import risk_engine.american_premium as american_premium
from risk_engine.american import american_price_many_spots
from risk_engine.american_boundary import SCHEMES, Scheme, chebyshev_interpolation, make_grid, restricted_boundary
from risk_engine.american_premium import solve_boundaries
from tests.conftest import golden_rows
from tests.risk_engine.test_american_many_spots import _random_options

_HORIZONS_DAYS = (0.0, 1.0, 7.0)
# Measured on the golden rows (spot x 0.6-1.4) at 0, 1 and 7 days against a 24-node, 16-sweep boundary: the worst
# error of a group's prices grows by at most 2.0e-7 K when its shorter expiries take the longest one's boundary.
_GOLDEN_EXCESS = 3e-7
# On the random options (vol to 120 %, rates to 15 %) by 1.1e-5 K, where the longest expiry's own fast solve is
# 2e-5 K off and the shorter ones' were closer; the engine's own error there reaches 4.6e-4 K.
_RANDOM_EXCESS = 1.5e-5


def _boundaries(seed: int, n: int) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed)
    r = rng.uniform(0.005, 0.12, (n, 1))
    q = rng.uniform(0.0, 0.1, (n, 1))
    v = rng.uniform(0.1, 1.0, (n, 1))
    scheme = SCHEMES[0]
    fp_a = (2.0 * (r - q) < 10.0 * v * v).ravel()
    r, q, v = r[fp_a], q[fp_a], v[fp_a]
    y, ln_lim = solve_boundaries(r, q, v, scheme)
    return y, ln_lim, scheme


def test_cut_at_ratio_one_is_the_boundary_itself() -> None:
    y, ln_lim, scheme = _boundaries(3, 400)
    cut = restricted_boundary(y, ln_lim, np.ones_like(ln_lim), scheme.grid)
    np.testing.assert_allclose(cut, y, rtol=0.0, atol=1e-13)


def test_cutting_twice_equals_cutting_once() -> None:
    # The cut is exact re-collocation of the same polynomial in sqrt(tau): cutting to a then to b is cutting to a b,
    # wherever that polynomial stays non-negative (elsewhere H is floored at 0, as the premium table floors it).
    y, ln_lim, scheme = _boundaries(5, 400)
    nodes_h = np.concatenate([np.zeros_like(ln_lim), (y - ln_lim) ** 2], axis=1)
    fine = chebyshev_interpolation(scheme.grid.cheb, np.linspace(-1.0, 1.0, 2001))
    clean = np.all(nodes_h @ fine.T >= 0.0, axis=1)
    assert clean.mean() > 0.75
    rng = np.random.default_rng(6)
    a, b = rng.uniform(0.5, 1.0, ln_lim.shape), rng.uniform(0.5, 1.0, ln_lim.shape)
    twice = restricted_boundary(restricted_boundary(y, ln_lim, a, scheme.grid), ln_lim, b, scheme.grid)
    once = restricted_boundary(y, ln_lim, a * b, scheme.grid)
    np.testing.assert_allclose(twice[clean], once[clean], rtol=0.0, atol=1e-12)
    # ... and it is not the identity: a cut boundary lies above the full one (the put boundary rises towards X).
    assert np.all(once[:, -1] > y[:, -1])


def _at_horizons(call: Any, spots: Any, k: Any, t: Any, r: Any, q: Any, v: Any) -> tuple[Any, ...]:
    """Each option at 0, 1 and 7 days on, next to each other, with one group per option."""
    n, h = call.size, len(_HORIZONS_DAYS)
    days = np.tile(np.array(_HORIZONS_DAYS), n)
    rows = np.repeat(np.arange(n), h)
    args = (call[rows], spots[rows], k[rows], t[rows] - days / 365.0, r[rows], (r - q)[rows], v[rows])
    return args, rows


def _golden_options() -> tuple[Any, ...]:
    rows = [row for row in golden_rows("greeks_public.csv") if row["style"] == "american"]
    g = {name: np.array([float(row[name]) for row in rows]) for name in ("S", "K", "T", "r", "q", "sigma")}
    call = np.array([row["type"] == "call" for row in rows])
    spots = g["S"][:, None] * np.random.default_rng(17).uniform(0.6, 1.4, (call.size, 41))
    return call, spots, g["K"], g["T"], g["r"], g["q"], g["sigma"]


@pytest.mark.parametrize("options", ["golden", "random"])
def test_the_longest_expiry_and_far_shorter_ones_are_priced_as_without_groups(options: str) -> None:
    args, group = _at_horizons(*(_golden_options() if options == "golden" else _random_options(4, 600)))
    alone = american_price_many_spots(*args)
    grouped = american_price_many_spots(*args, expiry_group=group)
    t = args[3]
    longest = np.maximum.reduceat(t, np.flatnonzero(np.r_[True, group[1:] != group[:-1]]))[group]
    own = (t == longest) | (t < 0.5 * longest)  # below half the longest expiry an option solves its own boundary
    assert own.sum() > group.max() + 1  # some options far shorter than their group's longest
    # Equal up to rounding: the solver's matrix products may round differently for another number of rows.
    diff = np.abs(grouped - alone) / args[2][:, None]
    assert np.nanmax(diff[own]) <= 1e-14
    assert np.nanmax(diff[~own]) > 1e-12


def _fine_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Boundaries on 24 collocation nodes with 16 sweeps and the premium on 256 nodes: a reference for both."""
    fine = tuple(
        Scheme(make_grid(24, quad, (256, 4, 3)), make_grid(24, quad, (256, 4, 3)), s.smooth_pasting, 16, 16)
        for s, quad in zip(SCHEMES, (32, 48), strict=True)
    )
    monkeypatch.setattr(american_premium, "SCHEMES", fine)


@pytest.mark.parametrize(("options", "bound"), [("golden", _GOLDEN_EXCESS), ("random", _RANDOM_EXCESS)])
def test_shorter_expiries_add_little_to_the_groups_own_error(
    options: str, bound: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    args, group = _at_horizons(*(_golden_options() if options == "golden" else _random_options(1, 800)))
    alone = american_price_many_spots(*args)
    grouped = american_price_many_spots(*args, expiry_group=group)
    _fine_boundaries(monkeypatch)
    reference = american_price_many_spots(*args)
    strike = args[2][:, None]
    worst = [
        np.nanmax((np.abs(prices - reference) / strike).reshape(-1, len(_HORIZONS_DAYS) * args[1].shape[1]), axis=1)
        for prices in (alone, grouped)
    ]
    assert np.max(worst[1] - worst[0]) <= bound
    assert np.max(worst[1]) == pytest.approx(np.max(worst[0]), rel=0.1)  # the engine's own worst error is unchanged


def test_an_expiry_group_of_the_wrong_length_is_rejected() -> None:
    with pytest.raises(ValueError, match="expiry_group"):
        american_price_many_spots(False, [[100.0], [100.0]], 100.0, 0.5, 0.05, 0.03, 0.25, expiry_group=[0, 0, 1])
