"""`riskdash ask "question" [--json]`: the offline analyst's answer about the current (demo) book."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any, TextIO

from agent_tools.analyst import answer
from agent_tools.catalog import build_context
from config.risk_matrix import load_risk_matrix
from dashboard.book import demo_inputs, report_for

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    """Add the `ask` subcommand to the `riskdash` parser."""
    parser = sub.add_parser("ask", help="ask the offline risk analyst a question about the book (no network)")
    parser.add_argument("question", nargs="+", help='the question, e.g. "are we within limits?"')
    parser.add_argument(
        "--json", action="store_true", help='print {"answer", "tools_used", "results", "as_of", "understood"}'
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO, err: TextIO, now: datetime) -> int:
    """Answer the question on the demo book; 0 when understood, 1 when the analyst did not understand it."""
    inputs = demo_inputs(now)
    matrix = load_risk_matrix()
    report = report_for(inputs, matrix, now)
    ctx = build_context(inputs.positions, inputs.market, matrix, now, inputs.rejected, demo=report.demo)
    reply = answer(" ".join(args.question), ctx)
    if args.json:
        out.write(json.dumps(reply.to_json(), indent=2, allow_nan=False) + "\n")
    else:
        out.write(reply.text + "\n")
    return 0 if reply.understood else 1
