"""The `riskdash` command: summary and regime in text, JSON or CSV (the JSON is the README's contract)."""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import pkgutil
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from adapters.errors import AdapterError
from adapters.file_import import expired_by, import_file
from adapters.market_history import HistoryError, load_regime_history, regime_day
from adapters.results import FetchResult
from agent_tools.serialize import regime_json, summary_json
from config.risk_matrix import RiskMatrixError, load_risk_matrix
from dashboard.book import demo_inputs, report_for
from dashboard.format import format_regime_text, format_summary_text
from models.conventions import NEW_YORK
from risk_engine.regime import RegimeInputs, classify_regime, classify_regime_history

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="riskdash", description="Regime-aware options risk (read-only).")
    sub = parser.add_subparsers(dest="command", required=True)

    summary = sub.add_parser("summary", help="regime, book Greeks and every limit for the current book")
    summary.add_argument("--json", action="store_true", help="print the JSON contract documented in README")

    regime = sub.add_parser("regime", help="the regime config/risk_matrix.yaml picks, and which clause decided it")
    regime.add_argument("--vix", type=float)
    regime.add_argument("--vix3m", type=float)
    regime.add_argument("--vvix", type=float)
    regime.add_argument("--recession-prob", type=float, help="probability 0..1 (0.18 = 18 %%)")
    regime.add_argument("--date", type=date.fromisoformat, help="use the real CBOE closes of this trading day")
    regime.add_argument("--history", action="store_true", help="every trading day in range (with --csv)")
    regime.add_argument("--from", dest="start", type=date.fromisoformat, help="history start (default: first day)")
    regime.add_argument("--to", dest="end", type=date.fromisoformat, help="history end (default: last day)")
    regime.add_argument("--json", action="store_true")
    regime.add_argument("--csv", action="store_true", help="CSV: date,vix,vix3m,vvix,term_structure,regime")

    book_file = sub.add_parser("import", help="read a book from an IBKR Flex XML or thinkorswim Position Statement CSV")
    book_file.add_argument("path", type=Path, help="the file; its format is detected from the content")
    book_file.add_argument("--json", action="store_true", help='print {"positions": [...], "rejected": [...], ...}')
    for module in _command_modules():
        module.register(sub)
    return parser


def _command_modules() -> list[Any]:
    """The `dashboard/cli_*.py` modules; each adds its subcommands and sets `run(args, out, err, now) -> int`."""
    import dashboard

    names = sorted(info.name for info in pkgutil.iter_modules(dashboard.__path__) if info.name.startswith("cli_"))
    return [importlib.import_module(f"dashboard.{name}") for name in names]


def _emit_json(payload: dict[str, Any], out: TextIO) -> None:
    out.write(json.dumps(payload, indent=2, allow_nan=False) + "\n")


def _summary(args: argparse.Namespace, out: TextIO, now: datetime) -> int:
    report = report_for(demo_inputs(now), load_risk_matrix(), now)
    if args.json:
        _emit_json(summary_json(report), out)
    else:
        out.write(format_summary_text(report) + "\n")
    return 0


def _history_csv(args: argparse.Namespace, out: TextIO) -> int:
    matrix = load_risk_matrix()
    history = load_regime_history()
    days = history.dates.astype("datetime64[D]")
    keep = np.ones(days.shape, dtype=bool)
    if args.start is not None:
        keep &= days >= np.datetime64(args.start, "D")
    if args.end is not None:
        keep &= days <= np.datetime64(args.end, "D")
    vix, vix3m, vvix = history.vix[keep], history.vix3m[keep], history.vvix[keep]
    regimes = classify_regime_history(matrix, vix, vix3m, vvix, np.full(vix.shape, np.nan))
    with np.errstate(invalid="ignore", divide="ignore"):
        term = np.round(vix3m / vix, 4)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", "vix", "vix3m", "vvix", "term_structure", "regime"])
    for row in zip(days[keep].astype(str), vix, vix3m, vvix, term, regimes, strict=True):
        writer.writerow([row[0], *("" if np.isnan(x) else f"{x:.2f}" for x in row[1:4]), _csv_num(row[4]), row[5]])
    return 0


def _csv_num(value: float) -> str:
    return "" if np.isnan(value) else f"{value:.4f}"


def _regime(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.history:
        if not args.csv:
            err.write("riskdash regime --history prints CSV: add --csv\n")
            return 2
        return _history_csv(args, out)
    sourced: dict[str, Any] = {}
    if args.date is not None:
        if args.vix is not None or args.vix3m is not None or args.vvix is not None:
            err.write("riskdash regime: give either --date or explicit --vix/--vix3m/--vvix, not both\n")
            return 2
        day = regime_day(args.date)
        inputs = RegimeInputs(vix=day.vix, vix3m=day.vix3m, vvix=day.vvix, recession_prob=args.recession_prob)
        sourced = {"date": day.date.isoformat(), "sources": day.sources}
    else:
        if args.vix is None:
            err.write("riskdash regime: give --vix (and --vix3m), or --date, or --history --csv\n")
            return 2
        inputs = RegimeInputs(vix=args.vix, vix3m=args.vix3m, vvix=args.vvix, recession_prob=args.recession_prob)
    result = classify_regime(load_risk_matrix(), inputs)
    if args.json:
        _emit_json(regime_json(result) | sourced, out)
    else:
        out.write(format_regime_text(result, sourced.get("date"), sourced.get("sources")) + "\n")
    return 0


def _import_book(args: argparse.Namespace, out: TextIO, err: TextIO, now: datetime) -> int:
    """`riskdash import PATH`: 0 when the file was read (even with rejected rows), 1 when it cannot be read."""
    try:
        result = import_file(args.path, now)
    except AdapterError as exc:
        err.write(f"riskdash import: {exc}\n")
        return 1
    if args.json:
        positions = [p.model_dump(mode="json") | {"expired": expired_by(p, now)} for p in result.positions]
        rejected = [r.model_dump(mode="json") for r in result.rejected]
        payload = {"positions": positions, "rejected": rejected, "source": result.source, "notes": list(result.notes)}
        _emit_json(payload | {"fetched_at": result.fetched_at.isoformat()}, out)
    else:
        out.write(_import_text(args.path, result, now) + "\n")
    return 0


def _import_text(path: Path, result: FetchResult, now: datetime) -> str:
    """The imported book as a plain-text table, then the rejected rows and the notes."""
    expired = sum(expired_by(p, now) for p in result.positions)
    lines = [
        f"{path} ({result.source}): {len(result.positions)} positions, {len(result.rejected)} rejected, "
        f"{expired} expired by {now.isoformat()}",
        f"{'account':<20} {'symbol':<22} {'kind':<13} {'qty':>8} {'mult':>8} {'expiry (New York)':<17} "
        f"{'mark':>10} {'ccy':<4} expired",
    ]
    for p in result.positions:
        expiry = "-" if p.expiry is None else p.expiry.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M")
        mark = "n/a" if p.mark is None else f"{p.mark:.10g}"
        lines.append(
            f"{p.account:<20} {p.symbol:<22} {p.kind.value:<13} {p.quantity:>8g} {p.multiplier:>8g} {expiry:<17} "
            f"{mark:>10} {p.currency:<4} {'yes' if expired_by(p, now) else 'no'}"
        )
    if result.rejected:
        lines.append(f"Rejected rows ({len(result.rejected)}):")
        lines.extend(f"  {r.row} [{r.field}]: {r.reason}" for r in result.rejected)
    lines.extend(["Notes:", *(f"  - {note}" for note in result.notes)])
    return "\n".join(lines)


def main(
    argv: Sequence[str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    now: datetime | None = None,
) -> int:
    """Run the `riskdash` command; returns the process exit code (0 ok, 1 failed input, 2 usage).

    Args:
        argv: Arguments (default: the process's).
        out: Where results go (default stdout).
        err: Where errors go (default stderr).
        now: Valuation instant (default: the clock); tests freeze it here.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    args = _parser().parse_args(argv)
    try:
        if hasattr(args, "run"):
            code: int = args.run(args, out, err, now or datetime.now(UTC))
            return code
        if args.command == "summary":
            return _summary(args, out, now or datetime.now(UTC))
        if args.command == "import":
            return _import_book(args, out, err, now or datetime.now(UTC))
        return _regime(args, out, err)
    except (HistoryError, RiskMatrixError) as exc:
        err.write(f"riskdash: {exc}\n")
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
