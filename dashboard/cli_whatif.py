"""`riskdash whatif --leg "…" [--leg "…"] [--json]`: the pre-trade check on the current (demo) book."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any, TextIO

from adapters.errors import PayloadInvalid
from adapters.trade_legs import parse_leg
from agent_tools.whatif_tool import whatif_json
from config.risk_matrix import load_risk_matrix
from dashboard.book import demo_inputs
from risk_engine.whatif import Verdict, what_if

__all__ = ["EXIT_FAIL", "register"]

EXIT_FAIL = 3
"""Exit code of a trade the check fails, so scripts can gate on it (0 = pass or improves)."""


def register(sub: Any) -> None:
    """Add the `whatif` subcommand to the `riskdash` parser."""
    parser = sub.add_parser("whatif", help="pre-trade check: every limit before and after hypothetical legs")
    parser.add_argument(
        "--leg",
        action="append",
        default=[],
        metavar="LEG",
        help="'SPY 2027-01-15 560 P -3', an OCC symbol and quantity ('SPXW  270115P05600000 -1'), or 'QQQ 50'; "
        "optional iv=0.21 root=SPXW account=NAME; repeat for more legs",
    )
    parser.add_argument("--json", action="store_true", help="print the JSON documented in README")
    parser.set_defaults(run=run)


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def _text(payload: dict[str, Any]) -> str:
    lines = [
        f"What-if on the {'DEMO ' if payload['demo'] else ''}book ({payload['regime']} limits) "
        f"as of {payload['as_of']}: {payload['verdict'].upper()}"
    ]
    lines += [
        f"  leg {leg['symbol'].strip()} {leg['quantity']:+g}" + ("" if leg["iv"] is None else f" (IV {leg['iv']:.4f})")
        for leg in payload["legs"]
    ]
    lines.append(f"{'limit':<20} {'before':>12} {'after':>12} {'limit':>10} {'status':>18}  unit")
    for row in payload["limits"]:
        before, after = row["before"], row["after"]
        lines.append(
            f"{row['name']:<20} {_shown(before['value']):>12} {_shown(after['value']):>12} {after['limit']:>10g} "
            f"{before['status'] + ' → ' + after['status']:>18}  {row['unit']}"
        )
    lines += [f"- {reason}" for reason in payload["reasons"]]
    lines += [f"* {note}" for note in payload["assumptions"]]
    return "\n".join(lines)


def run(args: argparse.Namespace, out: TextIO, err: TextIO, now: datetime) -> int:
    """Exit 0 when the trade passes or improves the book, EXIT_FAIL when it fails, 2 for an unreadable leg."""
    try:
        legs = [parse_leg(text) for text in args.leg]
    except PayloadInvalid as exc:
        err.write(f"riskdash whatif: {exc}\n")
        return 2
    inputs = demo_inputs(now)
    result = what_if(inputs.positions, legs, inputs.market, load_risk_matrix(), now)
    payload = whatif_json(result)
    payload["demo"] = inputs.demo
    if args.json:
        out.write(json.dumps(payload, indent=2, allow_nan=False) + "\n")
    else:
        out.write(_text(payload) + "\n")
    return EXIT_FAIL if result.verdict is Verdict.FAIL else 0
