"""The offline analyst: answers a question from the tools' results, in markdown, with no network and no model.

Every figure in an answer is a value of a tool result (rounded for display, with its unit); the tools used and
the data's as-of are named. A question it cannot route gets a plain "not understood" and no numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agent_tools.analyst_intents import INTENT_HELP, Intent, route
from agent_tools.analyst_render import RENDERERS, Run
from agent_tools.registry import ToolContext

__all__ = ["Answer", "answer", "capabilities"]


@dataclass(frozen=True)
class Answer:
    """An answer: markdown text, the tools it called, their results (what the text quotes), as-of, understood."""

    text: str
    tools_used: tuple[str, ...]
    results: dict[str, dict[str, Any]] = field(hash=False)
    as_of: datetime | None
    understood: bool

    def to_json(self) -> dict[str, Any]:
        """`{"answer", "tools_used", "results", "as_of", "understood"}` (the `riskdash ask --json` contract)."""
        return {
            "answer": self.text,
            "tools_used": list(self.tools_used),
            "results": self.results,
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "understood": self.understood,
        }


def capabilities() -> str:
    """The markdown list of questions the analyst answers (contains no figures)."""
    return "\n".join(f"- {text}" for _, text in INTENT_HELP)


_READ_ONLY = (
    "riskdash is read-only: I do not place, stage or send orders, and I never will. I can show what a change "
    "would do to the limits: ask how to cure a breach for candidate adjustments checked against every limit."
)


def _help(understood: bool) -> str:
    head = (
        "I am riskdash's offline risk analyst. I answer from the current book's own numbers, computed by the "
        "risk engine; I never invent a figure and I never place orders. I can answer:"
        if understood
        else "I did not understand that question, so I have no figures to give for it. I can answer:"
    )
    return f"{head}\n\n{capabilities()}"


def answer(question: str, ctx: ToolContext) -> Answer:
    """The analyst's answer to `question` about the book in `ctx`.

    Args:
        question: The trader's question, free text.
        ctx: The current book, market snapshot and report (agent_tools.catalog.build_context).
    """
    underlyings = list(dict.fromkeys(ctx.report.arrays.underlying.tolist()))
    intent = route(question, underlyings)
    if intent.name == "order":
        return Answer(_READ_ONLY, (), {}, ctx.report.as_of, True)
    if intent.name in ("help", "unknown"):
        understood = intent.name == "help"
        return Answer(_help(understood), (), {}, ctx.report.as_of, understood)
    run = Run(ctx)
    render: Callable[[Run, Intent], str] = RENDERERS[intent.name]
    body = render(run, intent)
    tools = ", ".join(f"`{name}`" for name in run.used)
    demo = " Demo book: sample data, not a real account." if ctx.report.demo else ""
    footer = f"\n\n_Tools used: {tools}. Data as of `{ctx.report.as_of.isoformat()}`.{demo}_"
    return Answer(body + footer, tuple(run.used), dict(run.results), ctx.report.as_of, True)
