"""`riskdash mcp [--source …] [--file PATH] [--now ISO]`: the assistant's tools as an MCP server on stdio.

Wires the book (the dashboard's own refresh, dashboard.sources.gather; demo by default) to
agent_tools.mcp_server. Stdout carries the protocol only; diagnostics go to stderr.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from config.risk_matrix import RiskMatrix, load_risk_matrix
from config.settings import load_settings
from dashboard.sources import SOURCE_CHOICES, SourceChoice, Upload, gather

if TYPE_CHECKING:
    from agent_tools.mcp_server import BookSnapshot

__all__ = ["BookRefresh", "register"]


def register(sub: Any) -> None:
    """Add the `mcp` subcommand to the `riskdash` parser."""
    parser = sub.add_parser("mcp", help="serve the assistant's read-only tools to MCP clients over stdio")
    parser.add_argument(
        "--source",
        choices=SOURCE_CHOICES,
        default=SourceChoice.DEMO.value,
        help="which book the tools compute on, as the dashboard's source switch (default: Demo)",
    )
    parser.add_argument(
        "--file",
        action="append",
        default=[],
        type=Path,
        help="a book file (with --source 'Imported file'): IBKR Flex XML or thinkorswim CSV; repeat for more",
    )
    parser.add_argument(
        "--now", type=datetime.fromisoformat, help="value the book at this ISO instant (default: the clock per call)"
    )
    parser.set_defaults(run=run)


class BookRefresh:
    """The current book for MCP tool calls: the dashboard's refresh, recomputed at most once a minute.

    With `fixed_now` every call computes on the book at that instant (reproducible answers, tests).
    """

    def __init__(
        self,
        source: str,
        matrix: RiskMatrix,
        *,
        uploads: Sequence[Upload] = (),
        fixed_now: datetime | None = None,
    ) -> None:
        self._source = source
        self._matrix = matrix
        self._uploads = tuple(uploads)
        self._fixed_now = fixed_now
        self._lock = threading.Lock()
        self._cached: tuple[datetime, BookSnapshot] | None = None

    def __call__(self) -> BookSnapshot:
        """The snapshot for this minute (the dashboard caches its refresh for 60 s too)."""
        now = self._fixed_now or datetime.now(UTC).replace(second=0, microsecond=0)
        with self._lock:
            if self._cached is None or self._cached[0] != now:
                self._cached = (now, self._compute(now))
            return self._cached[1]

    def _compute(self, now: datetime) -> BookSnapshot:
        # The mcp SDK and the tool catalog take about a second to import: only `riskdash mcp` pays for them.
        from agent_tools.catalog import build_context
        from agent_tools.mcp_server import BookSnapshot, SnapshotUnavailable

        gathered = gather(self._source, load_settings(), now, uploads=self._uploads)
        warnings = tuple(f"{s.name}: {s.error or s.health.value}" for s in gathered.failures)
        if not gathered.has_book:
            # Never an empty book that reads as flat: a call fails, naming the sources.
            raise SnapshotUnavailable("; ".join(warnings) or f"source {self._source!r} delivered no book")
        inputs = gathered.inputs
        ctx = build_context(
            inputs.positions, inputs.market, self._matrix, now, inputs.rejected, gathered.accounts, demo=inputs.demo
        )
        return BookSnapshot(ctx, warnings)


def run(args: argparse.Namespace, out: TextIO, err: TextIO, now: datetime) -> int:
    """Serve until the client disconnects; 0 on a clean close, 1 when a book file cannot be read."""
    import anyio

    from agent_tools.agent_config import SYSTEM_PROMPT
    from agent_tools.catalog import all_tools
    from agent_tools.mcp_server import build_server, serve_stdio

    uploads: list[Upload] = []
    for path in args.file:
        try:
            uploads.append((path.name, path.read_bytes()))
        except OSError as exc:
            err.write(f"riskdash mcp: cannot read {path}: {exc.strerror}\n")
            return 1
    fixed_now = args.now if args.now is None or args.now.tzinfo else args.now.replace(tzinfo=UTC)
    refresh = BookRefresh(args.source, load_risk_matrix(), uploads=uploads, fixed_now=fixed_now)
    server = build_server(all_tools(), refresh, instructions=SYSTEM_PROMPT)
    anyio.run(serve_stdio, server)
    return 0
