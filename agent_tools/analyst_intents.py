"""Routing a trader's question to an intent (and its parameters) by keywords and patterns; no network, no model.

Owns only the reading of the question: which topic, which underlying, how many days, which index move.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

__all__ = ["INTENT_HELP", "Intent", "route"]

INTENT_HELP: Final[tuple[tuple[str, str], ...]] = (
    ("limits", "Are we within limits? Which limits are breached or close?"),
    ("regime", "What is the market regime, and why? How long has it held?"),
    ("gamma", "Where is my gamma risk by expiry (near-expiry / Taleb warning)?"),
    ("theta_vega", "How is my theta/vega balance (Sebastian's zones)?"),
    ("biggest_risks", "What are my biggest risks right now?"),
    ("expiring", "Which positions expire within N days?"),
    ("underlying", "What is my exposure to one underlying, e.g. TSLA or SPY?"),
    ("iv", "Is implied volatility rich or cheap against realised (IV vs HV, Natenberg edge)?"),
    ("move", "What does a ±X % SPX move do to the book?"),
    ("cure", "How do I cure a breach? (candidate adjustments, verified against the limits)"),
    ("explain_limit", "Why is a limit set where it is in this regime?"),
    ("market", "What are the market inputs (VIX, three-month VIX, VVIX, SPX, Polymarket odds)?"),
    ("summary", "Give me a summary of the book."),
    ("help", "What can you do?"),
)


@dataclass(frozen=True)
class Intent:
    """A routed question: the intent name and the parameters read from the question (None = not given)."""

    name: str
    underlying: str | None = None
    days: int | None = None
    move_pct: tuple[float, ...] = ()
    limit: str | None = None


_WORDS = re.compile(r"[a-z0-9/&%+\-−.]+")
_NOT_SYMBOLS: Final = frozenset(
    {"A", "I", "ALL", "IT", "ON", "ARE", "FOR", "BE", "SO", "AN", "OR", "AT", "AM", "NOW", "ANY"}
)

_LIMIT_WORDS: Final = (
    ("max_beta_delta", r"max_beta_delta|delta limit|beta[- ]?(weighted )?delta limit|limit on delta"),
    ("max_negative_vega", r"max_negative_vega|vega (limit|floor)|limit on vega|short vega limit"),
    ("min_daily_theta", r"min_daily_theta|theta (limit|floor|minimum)|limit on theta"),
    ("max_gamma", r"max_gamma|gamma limit|limit on gamma"),
)

_DOWN = (
    r"drop|drops|dropped|dumps|dump|fall|falls|fell|down|crash|crashes|decline|declines|sell[- ]?off|lower|loses|lose"
    r"|tank|tanks|plunge"
)
_UP = r"rally|rallies|up|rise|rises|gain|gains|higher|jump|jumps|rip|climb|climbs|pop"
_ORDER = (
    r"^(please )?(buy|sell|place|execute|send|submit|stage|close out|open)\b"
    r"|\b(place|send|submit|stage|execute) (an? |the |my )?(order|orders|trade|trades)\b"
)
_PCT = re.compile(r"(±|\+/-|\+-|[+\-−])?\s*(\d+(?:\.\d+)?)\s*(?:%|percent|pct|per ?cent)")


def _has(pattern: str, text: str) -> bool:
    return re.search(pattern, text) is not None


def _moves(text: str) -> tuple[float, ...]:
    found = _PCT.search(text)
    if found is None:
        return ()
    size = float(found.group(2))
    sign = found.group(1)
    if sign in ("±", "+/-", "+-"):
        return (-size, size)
    if sign in ("-", "−") or _has(rf"\b({_DOWN})\b", text):
        if _has(rf"\b({_UP})\b", text) and _has(rf"\b({_DOWN})\b", text):
            return (-size, size)
        return (-size,)
    if sign == "+" or _has(rf"\b({_UP})\b", text):
        return (size,)
    return (-size, size)


def _days(text: str) -> int | None:
    found = re.search(r"(\d+)\s*(?:calendar |trading )?(?:days?|d)\b", text)
    if found:
        return int(found.group(1))
    if _has(r"\b(today|0 ?dte|zero[- ]dte)\b", text):
        return 0
    if _has(r"\btomorrow\b", text):
        return 1
    if _has(r"\b(this|next|coming) week\b|\bweek\b", text):
        return 7
    if _has(r"\b(this|next|coming) month\b|\bmonth\b", text):
        return 30
    return None


def _underlying(question: str, known: Iterable[str]) -> str | None:
    tokens = {t.upper() for t in re.findall(r"/?[A-Za-z][A-Za-z0-9.]*", question)}
    for symbol in sorted(known, key=len, reverse=True):
        if symbol.upper() in _NOT_SYMBOLS:
            continue
        if symbol.upper() in tokens:
            return symbol
    return None


def route(question: str, underlyings: Iterable[str] = ()) -> Intent:
    """The intent of `question`; `underlyings` are the book's symbols (to recognise "my TSLA exposure").

    Example:
        >>> route("what happens if SPX drops 5%?").move_pct
        (-5.0,)
    """
    text = " ".join(_WORDS.findall(question.lower()))
    symbol = _underlying(question, underlyings)
    if not text.strip():
        return Intent("unknown")
    if _has(
        r"\bwhat can you (do|answer|tell)|\bhelp\b|\bcapabilit|\bwhat (questions|kind of questions)|\bwho are you", text
    ):
        return Intent("help")
    if _has(_ORDER, text):
        return Intent("order")
    if _has(
        r"\b(cure|fix|remedy|repair|resolve|adjust|adjustments?|get back (within|inside|under)"
        r"|bring .* (within|back|inside|under))\b",
        text,
    ) or _has(r"\b(what should i do|how (do|can|should) i (reduce|hedge|cut|lower))\b", text):
        return Intent("cure", limit=_limit_name(text, loose=True))
    limit = _limit_name(text)
    if limit is not None and _has(r"\b(why|explain|reason|rationale|where does|how come|set)\b", text):
        return Intent("explain_limit", limit=limit)
    moves = _moves(text)
    if moves and _has(rf"\b({_DOWN}|{_UP}|move|moves|shock|scenario|stress|spx|s&p|index|market|spy|what if)\b", text):
        return Intent("move", move_pct=moves)
    if _has(r"\bexpir|\bdte\b|\bexpiring\b|\brolls? off\b", text) and not _has(r"\bgamma\b", text):
        return Intent("expiring", days=_days(text) if _days(text) is not None else 7)
    if _has(
        r"\b(iv|hv|hv20|hv30|implied vol\w*|realized|realised|natenberg|vol edge|volatility edge|rich|cheap)\b", text
    ):
        return Intent("iv", underlying=symbol)
    if _has(r"\bgamma\b|\btaleb\b|\bconvexity\b", text):
        return Intent("gamma")
    if _has(r"\btheta\b|\bvega\b|\bdecay\b|\bsebastian\b|\bpremium income\b", text):
        return Intent("theta_vega")
    if _has(r"\bpolymarket\b|\brecession\b|\bmacro\b|\bodds\b|\bprediction market", text):
        return Intent("macro")
    if _has(r"\bregime\b|\bvvix\b|\bterm structure\b|\bcontango\b|\bbackwardation\b|\bvix3m\b", text) or (
        _has(r"\bvix\b", text) and not _has(r"\b(inputs?|quotes?|levels?|data)\b", text)
    ):
        return Intent("regime")
    if _has(
        r"\bmarket (inputs?|data|levels?|quotes?)\b|\binputs\b|\bquotes\b|\bspot levels?\b"
        r"|\bwhere is (the )?(vix|spx)\b",
        text,
    ):
        return Intent("market")
    if _has(
        r"\b(biggest|largest|main|top|key|greatest|major)\b.*\b(risks?|exposures?|dangers?|threats?)\b", text
    ) or _has(r"\bwhat (should i|to) worry|\bwhat (is|are) (the )?(risks?|dangers?)\b|\bworst\b", text):
        return Intent("biggest_risks")
    if _has(r"\blimits?\b|\bbreach\w*|\bcomplian\w*|\bwithin (the )?(limits|risk)|\bviolat\w*|\bwarn\w*\b", text):
        return Intent("limits")
    if symbol is not None:
        return Intent("underlying", underlying=symbol)
    if _has(
        r"\bsummary\b|\boverview\b|\bgreeks\b|\bhow (is|does) (my )?(book|portfolio)|\bportfolio\b|\bmy book\b"
        r"|\bdelta\b|\bexposure\b",
        text,
    ):
        return Intent("summary")
    return Intent("unknown")


_GREEK_LIMIT: Final = (
    ("max_beta_delta", "delta"),
    ("max_negative_vega", "vega"),
    ("min_daily_theta", "theta"),
    ("max_gamma", "gamma"),
)


def _limit_name(text: str, *, loose: bool = False) -> str | None:
    """The limit the text names; `loose` also reads a bare Greek ("the vega breach") as its limit."""
    for name, pattern in _LIMIT_WORDS:
        if _has(rf"\b({pattern})\b", text):
            return name
    if loose:
        named = [name for name, greek in _GREEK_LIMIT if _has(rf"\b{greek}\b", text)]
        if len(named) == 1:
            return named[0]
    return None
