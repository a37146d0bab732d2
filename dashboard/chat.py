"""The assistant box's answers: the agent_tools analyst, backed by a direct reading of the report's figures.

Owns the routing of one question to an answer and the chat history kept in session state; every number in an
answer is a report figure formatted with its unit, and every answer says its as-of.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from adapters.results import RejectedRow
from agent_tools.analyst import answer
from agent_tools.catalog import build_context
from config.risk_matrix import RiskMatrix
from dashboard.format import format_instant, format_limit_row, format_number, regime_label
from dashboard.tables import summary_cards
from models.account import AccountValues
from models.market import MarketSnapshot
from models.positions import UnifiedPosition
from risk_engine.report import RiskReport

__all__ = ["HISTORY_KEY", "ChatReply", "answer_question", "append_turn", "history", "report_answer"]

HISTORY_KEY: Final = "chat.history"


@dataclass(frozen=True)
class ChatReply:
    """An answer: its text (numbers with units), the tools or report sections it read, and its as-of."""

    text: str
    used: tuple[str, ...]
    as_of: datetime


_TOPICS: Final = (
    ("delta", ("delta", "direction", "exposure")),
    ("gamma", ("gamma", "taleb", "0dte", "expiry")),
    ("theta", ("theta", "decay", "income")),
    ("vega", ("vega", "volatility", "vol ")),
    ("ratio", ("ratio", "theta/vega", "sebastian")),
    ("regime", ("regime", "vix", "market")),
    ("limits", ("limit", "breach", "compliance", "risk", "warn")),
)


def report_answer(question: str, report: RiskReport) -> ChatReply:
    """An answer read straight from the report, chosen by the question's keywords (all headline figures if none)."""
    text = question.lower()
    topics = [name for name, words in _TOPICS if any(word in text for word in words)] or ["all"]
    cards = {card.label.split(" · ")[0]: card for card in summary_cards(report)}
    lines: list[str] = []

    def card_line(name: str) -> None:
        card = cards[name]
        unit = card.label.split(" · ", 1)[1]
        lines.append(f"{name}: {card.value} {unit} ({card.limit_text})")

    t = report.totals
    for topic in topics:
        if topic in {"delta", "all"}:
            card_line("Beta-weighted delta")
        if topic in {"gamma", "all"}:
            card_line("Beta-weighted gamma")
            lines.append(
                f"Gamma in the {report.near_expiry_bucket} DTE bucket: "
                f"{format_number(report.near_expiry_gamma, 'SPX Δ/pt')} "
                f"(threshold {format_number(report.near_expiry_gamma_limit, 'SPX Δ/pt')})"
            )
        if topic in {"theta", "all"}:
            card_line("Theta")
        if topic in {"vega", "all"}:
            card_line("Vega")
        if topic in {"ratio", "all", "theta", "vega"}:
            lines.append(
                f"Theta/vega |θ|/|ν|: {format_number(t.theta_vega_ratio)} (zone {report.theta_vega_zone.value})"
            )
        if topic in {"regime", "all"}:
            r = report.regime
            lines.append(f"Regime: {regime_label(r.regime)} — {r.description} Decided by: {r.decided_by}.")
        if topic in {"limits", "all"}:
            lines += [format_limit_row(check).strip() for check in report.limits]
    unique = list(dict.fromkeys(lines))
    unique.append(f"(from the risk report of {t.positions} positions, as of {format_instant(report.as_of)})")
    return ChatReply(text="\n".join(unique), used=tuple(f"report.{topic}" for topic in topics), as_of=report.as_of)


def answer_question(
    question: str,
    report: RiskReport,
    *,
    matrix: RiskMatrix,
    market: MarketSnapshot,
    positions: Sequence[UnifiedPosition],
    now: datetime,
    rejected: Sequence[RejectedRow] = (),
    accounts: Sequence[AccountValues] = (),
) -> ChatReply:
    """The answer to one question about the current book: the analyst's, or the headline figures if it is lost.

    Args:
        question: The trader's question.
        report: The refresh's report (what the page shows).
        matrix: The risk matrix in force.
        market: The refresh's market snapshot.
        positions: The book the report was computed from.
        now: tz-aware instant of the refresh.
        rejected: Rows the adapters could not translate.
        accounts: Account values of the refresh.
    """
    ctx = build_context(
        tuple(positions), market, matrix, now, rejected=tuple(rejected), accounts=tuple(accounts), demo=report.demo
    )
    result = answer(question, ctx)
    if result.understood:
        return ChatReply(text=result.text, used=result.tools_used, as_of=result.as_of or report.as_of)
    # Not understood: say so with the analyst's help, and still give the book's headline figures.
    fallback = report_answer("", report)
    return ChatReply(text=f"{result.text}\n\n{fallback.text}", used=fallback.used, as_of=report.as_of)


def history(state: MutableMapping[Any, Any]) -> list[dict[str, str]]:
    """The chat turns of this session, oldest first: {"role": "user" | "assistant", "text": …}."""
    turns = state.setdefault(HISTORY_KEY, [])
    assert isinstance(turns, list)
    return turns


def append_turn(state: MutableMapping[Any, Any], question: str, reply: ChatReply) -> None:
    """Record a question and its answer in the session's history."""
    turns = history(state)
    turns.append({"role": "user", "text": question})
    turns.append({"role": "assistant", "text": reply.text})
