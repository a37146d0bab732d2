"""Gathering the book and market inputs for one refresh (demo by default) and computing its report."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from adapters.demo import load_demo_book, load_demo_snapshot
from adapters.results import FetchResult, RejectedRow
from config.risk_matrix import RiskMatrix
from models.market import MarketSnapshot
from models.positions import UnifiedPosition
from risk_engine.report import RiskReport, build_risk_report

__all__ = ["BookInputs", "demo_inputs", "report_for"]


@dataclass(frozen=True)
class BookInputs:
    """The positions of every source, the rows that were rejected, and the market snapshot of one refresh."""

    fetches: tuple[FetchResult, ...]
    market: MarketSnapshot

    @property
    def positions(self) -> tuple[UnifiedPosition, ...]:
        """All positions of all sources."""
        return tuple(p for fetch in self.fetches for p in fetch.positions)

    @property
    def rejected(self) -> tuple[RejectedRow, ...]:
        """All rejected rows of all sources."""
        return tuple(r for fetch in self.fetches for r in fetch.rejected)

    @property
    def demo(self) -> bool:
        """True when any input is the bundled demo data."""
        return self.market.demo or any(fetch.demo for fetch in self.fetches)


def demo_inputs(now: datetime) -> BookInputs:
    """The bundled demo book and demo market snapshot, with expiries resolved from `now`."""
    return BookInputs(fetches=(load_demo_book(now),), market=load_demo_snapshot(now))


def report_for(inputs: BookInputs, matrix: RiskMatrix, now: datetime) -> RiskReport:
    """The risk report of one refresh's inputs."""
    return replace(build_risk_report(inputs.positions, inputs.market, matrix, now), demo=inputs.demo)
