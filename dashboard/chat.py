"""The assistant box's answers: the agent_tools analyst, backed by a direct reading of the report's figures.

Owns the routing of one question to an answer and the chat history kept in session state; every number in an
answer is a report figure formatted with its unit, and every answer says its as-of.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from adapters.results import RejectedRow
from config.risk_matrix import RiskMatrix
from dashboard.format import format_instant, format_limit_row, format_number, regime_label
from dashboard.tables import summary_cards
from models.account import AccountValues
from models.market import MarketSnapshot
from models.positions import UnifiedPosition
from risk_engine.report import RiskReport

if TYPE_CHECKING:
    from agent_tools.llm_loop import AssistantRun, ToolCallRecord
    from agent_tools.registry import ToolContext
    from config.settings import Settings

__all__ = [
    "HISTORY_KEY",
    "ChatReply",
    "answer_question",
    "append_turn",
    "history",
    "llm_history",
    "llm_run",
    "report_answer",
    "tool_call_rows",
    "tool_context",
]

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
    # The analyst and its tool catalog load on the first question, not on the page's first (cold) run.
    from agent_tools.analyst import answer

    ctx = tool_context(report, matrix=matrix, market=market, positions=positions, now=now, rejected=rejected,
                       accounts=accounts)  # fmt: skip
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


def tool_context(
    report: RiskReport,
    *,
    matrix: RiskMatrix,
    market: MarketSnapshot,
    positions: Sequence[UnifiedPosition],
    now: datetime,
    rejected: Sequence[RejectedRow] = (),
    accounts: Sequence[AccountValues] = (),
) -> ToolContext:
    """The agent_tools context of the page's book (what the offline analyst and LLM mode's tools read)."""
    from agent_tools.catalog import build_context

    return build_context(
        tuple(positions), market, matrix, now, rejected=tuple(rejected), accounts=tuple(accounts), demo=report.demo
    )


def llm_history(state: MutableMapping[Any, Any]) -> list[dict[str, str]]:
    """The session's earlier turns as chat-completions messages: `{"role": …, "content": …}`, oldest first."""
    return [{"role": turn["role"], "content": turn["text"]} for turn in history(state)]


def llm_run(question: str, ctx: ToolContext, settings: Settings, state: MutableMapping[Any, Any]) -> AssistantRun:
    """LLM mode's streaming answer (agent_tools.llm_loop.assistant_run) with this session's earlier turns.

    Iterate it (st.write_stream) for the text; afterwards it holds the tool calls and whether it fell back.
    """
    from agent_tools.llm_loop import assistant_run

    return assistant_run(question, ctx, settings, history=llm_history(state))


_ARGUMENTS_SHOWN: Final = 300
_RESULT_SHOWN: Final = 600


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tool_call_rows(records: Iterable[ToolCallRecord]) -> list[dict[str, object]]:
    """One row per tool call the model made: step, tool, arguments, and the result (JSON, clipped) or the error."""
    return [
        {
            "step": r.step,
            "tool": r.name,
            "arguments": _clip(r.arguments or "{}", _ARGUMENTS_SHOWN),
            "outcome": "error" if r.error is not None else "ok",
            "result or error": r.error
            if r.error is not None
            else _clip(json.dumps(r.result, allow_nan=False), _RESULT_SHOWN),
        }
        for r in records
    ]
