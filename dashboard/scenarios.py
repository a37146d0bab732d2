"""The scenario section's inputs and runs: stress grid, crash replays, VaR/ES and risk graphs of one page's book.

Owns wiring the page's position arrays and the shipped S&P 500/VIX closes into risk_engine; every number is the
engine's. Runs are slow on American rows (seconds), so app.py calls them only when asked, and caches them.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from adapters.market_history import load_spx_vix_closes
from agent_tools.scenario_tools import book_net_liquidation_usd
from dashboard.book import BookInputs
from models.account import AccountValues
from models.conventions import VOL_POINT
from risk_engine.arrays import PositionArrays
from risk_engine.replays import ASSUMED_IV_SHOCK_1987, REPLAY_DATES, Replay, market_move, replay_book
from risk_engine.report import RiskReport
from risk_engine.risk_graph import RiskGraph, risk_graphs
from risk_engine.stress import StressGrid, stress_grid
from risk_engine.var import (
    DEFAULT_MC_PATHS,
    DEFAULT_MC_SEED,
    DEFAULT_WINDOW_DAYS,
    VarEstimate,
    historical_var,
    monte_carlo_var,
    parametric_var,
)

__all__ = [
    "SCENARIO_VIEWS",
    "ReplayRun",
    "ScenarioBook",
    "replay_date_range",
    "run_replays",
    "run_risk_graphs",
    "run_stress",
    "run_var",
    "scenario_book",
]

SCENARIO_VIEWS: Final = ("Closed", "Stress grid", "Crash replays", "VaR / ES", "Risk graph")
"""The scenario section's switch; only the view chosen is computed ("Closed" computes nothing)."""


@dataclass(frozen=True)
class ScenarioBook:
    """What every scenario run reads: the book's position arrays at the valuation instant and its context.

    net_liquidation_usd is None unless every account holding the book reports one in USD; index_iv is the
    snapshot's VIX as a decimal (the book risk graph's σ bands), None when the snapshot has no VIX.
    """

    arrays: PositionArrays
    net_liquidation_usd: float | None
    index_iv: float | None
    as_of: datetime.datetime
    demo: bool


def scenario_book(report: RiskReport, inputs: BookInputs, accounts: Sequence[AccountValues]) -> ScenarioBook:
    """The scenario inputs of a page: the report's arrays, the book's net liquidation and the snapshot's VIX.

    Args:
        report: The page's report (its arrays are the book at the valuation instant).
        inputs: The inputs the report was computed from (positions and market snapshot).
        accounts: Account values of the refresh (net liquidation per account, when known).
    """
    vix = inputs.market.vix
    return ScenarioBook(
        arrays=report.arrays,
        net_liquidation_usd=book_net_liquidation_usd(inputs.positions, accounts),
        index_iv=None if vix is None or vix.value is None else vix.value * VOL_POINT,
        as_of=report.as_of,
        demo=report.demo,
    )


def run_stress(book: ScenarioBook) -> StressGrid:
    """The default stress grid (index −20…+20 % × IV −50…+100 % × now/+1/+7 days), full revaluation, USD."""
    return stress_grid(book.arrays, net_liquidation_usd=book.net_liquidation_usd)


@dataclass(frozen=True)
class ReplayRun:
    """The replays in date order (the standard crash days, then the picked days) and each picked day that failed."""

    replays: tuple[Replay, ...]
    problems: tuple[str, ...]


def run_replays(
    book: ScenarioBook, picked: Sequence[datetime.date] = (), *, assumed_iv_shock: float = ASSUMED_IV_SHOCK_1987
) -> ReplayRun:
    """The book under each crash day of REPLAY_DATES and each picked day, from the shipped SPX/VIX closes.

    Args:
        book: The scenario inputs.
        picked: Extra days the user chose; a day without an S&P 500 close becomes a problem naming the nearest.
        assumed_iv_shock: Relative IV shock (fraction) for days without a VIX close (1987), flagged as assumed.
    """
    history = load_spx_vix_closes()
    moves = [market_move(history, day, assumed_iv_shock=assumed_iv_shock) for day in REPLAY_DATES]
    problems: list[str] = []
    for day in dict.fromkeys(picked):
        if day in REPLAY_DATES:
            continue
        try:
            moves.append(market_move(history, day, assumed_iv_shock=assumed_iv_shock))
        except ValueError as exc:
            problems.append(str(exc))
    return ReplayRun(replay_book(book.arrays, moves, net_liquidation_usd=book.net_liquidation_usd), tuple(problems))


def replay_date_range() -> tuple[datetime.date, datetime.date]:
    """First and last day a replay can be picked for: the shipped S&P 500 closes with a previous close."""
    dates = load_spx_vix_closes().dates
    first, last = dates[0].astype("datetime64[D]").astype(object), dates[-1].astype("datetime64[D]").astype(object)
    assert isinstance(first, datetime.date)
    assert isinstance(last, datetime.date)
    return first, last


def run_var(
    book: ScenarioBook,
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
    paths: int = DEFAULT_MC_PATHS,
    seed: int = DEFAULT_MC_SEED,
) -> tuple[VarEstimate, VarEstimate, VarEstimate]:
    """1-day VaR and ES in USD: historical simulation, parametric (Cornish–Fisher), Monte Carlo (seeded).

    Args:
        book: The scenario inputs.
        window_days: Trading days of SPX/VIX history (all three methods).
        paths: Monte Carlo paths.
        seed: Monte Carlo seed (same seed, same result).
    """
    history = load_spx_vix_closes()
    return (
        historical_var(book.arrays, history, window_days=window_days),
        parametric_var(book.arrays, history, window_days=window_days),
        monte_carlo_var(book.arrays, history, paths=paths, seed=seed, window_days=window_days),
    )


def run_risk_graphs(book: ScenarioBook, *, k_days: float = 7.0) -> tuple[RiskGraph, ...]:
    """The beta-weighted book's risk graph (bands from VIX) then one per underlying with a known price."""
    return risk_graphs(book.arrays, k_days=k_days, index_iv=book.index_iv)
