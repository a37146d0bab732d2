"""The assistant's tool contract: one function plus one pydantic argument model per tool.

The OpenAI function schema of a tool is generated from its argument model, never written by hand, so the
schema an LLM (or an MCP client) sees and the validation a call goes through cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from adapters.results import RejectedRow
from config.risk_matrix import RiskMatrix
from models.account import AccountValues
from models.market import MarketSnapshot
from models.positions import UnifiedPosition
from risk_engine.report import RiskReport

__all__ = ["ToolArgs", "ToolArgumentError", "ToolContext", "ToolSpec", "openai_schema"]


class ToolArgs(BaseModel):
    """Base of every tool's argument model: unknown keys are an error, so a typo is never silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


ArgsT = TypeVar("ArgsT", bound=ToolArgs)


class ToolArgumentError(ValueError):
    """A tool was called with arguments its model rejects; the message names the tool and the fields."""


@dataclass(frozen=True)
class ToolContext:
    """What every tool reads: the current report and the inputs it was computed from. Read-only."""

    report: RiskReport
    matrix: RiskMatrix
    market: MarketSnapshot
    positions: tuple[UnifiedPosition, ...]
    rejected: tuple[RejectedRow, ...]
    now: datetime
    accounts: tuple[AccountValues, ...] = ()


@dataclass(frozen=True)
class ToolSpec(Generic[ArgsT]):
    """One tool: its name, what it answers, its argument model and the function that computes the result."""

    name: str
    description: str
    args_model: type[ArgsT]
    run: Callable[[ToolContext, ArgsT], dict[str, Any]]

    def parse(self, raw: Mapping[str, Any] | str | None) -> ArgsT:
        """The validated arguments of a call given as a mapping or a JSON string (None or "" = no arguments).

        Raises:
            ToolArgumentError: The JSON is malformed or a field is missing, unknown or of the wrong type.
        """
        try:
            data: Any = json.loads(raw) if isinstance(raw, str) and raw.strip() else (raw or {})
        except json.JSONDecodeError as exc:
            raise ToolArgumentError(f"{self.name}: arguments are not valid JSON ({exc.msg})") from exc
        if not isinstance(data, Mapping):
            raise ToolArgumentError(f"{self.name}: arguments must be a JSON object")
        try:
            return self.args_model.model_validate(dict(data))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors())
            raise ToolArgumentError(f"{self.name}: {problems}") from exc

    def call(self, context: ToolContext, raw: Mapping[str, Any] | str | None) -> dict[str, Any]:
        """The tool's JSON-ready result for raw arguments (validated first)."""
        return self.run(context, self.parse(raw))


def openai_schema(tool: ToolSpec[Any]) -> dict[str, Any]:
    """The OpenAI chat-completions `tools[]` entry of `tool`, generated from its argument model."""
    parameters = tool.args_model.model_json_schema()
    parameters.pop("title", None)
    parameters.setdefault("properties", {})
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": parameters},
    }
