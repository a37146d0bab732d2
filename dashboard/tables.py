"""Page-ready rows built from the risk report: cards, compliance table, regime banner (tested, no Streamlit)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime

from dashboard.format import (
    format_age,
    format_number,
    format_term_structure,
    format_utilization,
    regime_label,
)
from risk_engine.limits import LimitCheck, LimitStatus
from risk_engine.report import RiskReport

__all__ = [
    "REGIME_COLOURS",
    "STATUS_COLOURS",
    "Banner",
    "Card",
    "banner_for",
    "banner_html",
    "compliance_rows",
    "excluded_rows",
    "summary_cards",
]

REGIME_COLOURS = {
    "low_volatility": "#2e7d32",
    "neutral_volatility": "#1565c0",
    "high_volatility": "#ef6c00",
    "crisis_mode": "#c62828",
    "unknown": "#616161",
}
STATUS_COLOURS = {
    LimitStatus.OK: "#2e7d32",
    LimitStatus.WARN: "#f9a825",
    LimitStatus.ALERT: "#ef6c00",
    LimitStatus.BREACH: "#c62828",
    LimitStatus.UNKNOWN: "#616161",
}


@dataclass(frozen=True)
class Banner:
    """The regime banner: title, colour, deciding clause, description, and each input with its as-of."""

    title: str
    colour: str
    decided_by: str
    description: str
    allowed_strategies: str
    demo: bool
    regime: str = "unknown"
    inputs: tuple[str, ...] = ()

    @property
    def page_title(self) -> str:
        """Browser tab title: `riskdash — Neutral Volatility`."""
        return f"riskdash — {regime_label(self.regime)}"


@dataclass(frozen=True)
class Card:
    """A summary card: label with the unit, value, and the limit it is checked against (if any)."""

    label: str
    value: str
    limit_text: str
    status: LimitStatus | None


_INPUT_LABELS = {"vix": "VIX", "vix3m": "VIX3M", "vvix": "VVIX", "recession_prob": "Recession odds"}


def _input_texts(report: RiskReport, now: datetime) -> tuple[str, ...]:
    texts: list[str] = []
    for quote in report.regime_quotes:
        label = _INPUT_LABELS.get(quote.name)
        if label is None:
            continue
        if quote.name == "recession_prob":
            value = "n/a" if quote.value is None else f"{quote.value:.0%} (Polymarket probability)"
        else:
            value = format_number(quote.value, "pts")
        if quote.name == "vix3m":
            value += f" · VIX3M/VIX {format_term_structure(report.regime.inputs.get('term_structure'))}"
        source = quote.source or "missing"
        texts.append(f"{label} {value} · {source} · {format_age(quote.as_of, now)}")
    return tuple(texts)


def banner_for(report: RiskReport, now: datetime | None = None) -> Banner:
    """Banner of the report's regime; an unknown regime says whose limits are applied instead.

    Args:
        report: The refresh's report.
        now: Instant the page is drawn, for the inputs' ages (default: the report's valuation instant).
    """
    regime = report.regime
    title = f"Regime: {regime_label(regime.regime)}"
    if regime.regime != regime.limits_regime:
        title += f" — limits of {regime_label(regime.limits_regime)} applied"
    return Banner(
        title=title,
        colour=REGIME_COLOURS.get(regime.regime, REGIME_COLOURS["unknown"]),
        decided_by=regime.decided_by,
        description=regime.description,
        allowed_strategies=", ".join(regime.allowed_strategies),
        demo=report.demo,
        regime=regime.regime,
        inputs=_input_texts(report, report.as_of if now is None else now),
    )


def banner_html(banner: Banner) -> str:
    """The banner as an HTML block: white text on the regime colour (readable in light and dark themes)."""
    e = html.escape
    inputs = "".join(f"<li>{e(text)}</li>" for text in banner.inputs)
    return (
        f"<div style='background:{banner.colour};color:#ffffff;padding:0.8rem 1rem;border-radius:0.5rem'>"
        f"<h2 style='color:#ffffff;margin:0'>{e(banner.title)}</h2>"
        f"<div>{e(banner.description)} Decided by: <b>{e(banner.decided_by)}</b></div>"
        f"<div>Allowed strategies: {e(banner.allowed_strategies)}</div>"
        f"<ul style='margin:0.3rem 0 0 1rem;font-size:0.9rem'>{inputs}</ul></div>"
    )


def _limit(report: RiskReport, name: str) -> LimitCheck:
    return next(check for check in report.limits if check.name == name)


def _card(label: str, value: str, check: LimitCheck | None) -> Card:
    if check is None:
        return Card(label, value, "no limit", None)
    text = f"limit {format_number(check.limit, check.unit, 0)} · {format_utilization(check)} · {check.status.value}"
    return Card(label, value, text, check.status)


def summary_cards(report: RiskReport) -> tuple[Card, ...]:
    """The five headline cards: beta-weighted delta, gamma, theta, vega, theta/vega."""
    t = report.totals
    return (
        _card("Beta-weighted delta · SPX Δ", format_number(t.beta_weighted_delta), _limit(report, "max_beta_delta")),
        _card("Beta-weighted gamma · SPX Δ/pt", format_number(t.beta_weighted_gamma), _limit(report, "max_gamma")),
        _card("Theta · $/day", format_number(t.theta_per_day), _limit(report, "min_daily_theta")),
        _card("Vega · $/vol pt", format_number(t.vega_per_vol_point), _limit(report, "max_negative_vega")),
        Card(
            "Theta / vega · |θ|/|ν|",
            format_number(t.theta_vega_ratio),
            f"zone {report.theta_vega_zone.value}",
            None,
        ),
    )


def compliance_rows(report: RiskReport) -> list[dict[str, object]]:
    """One row per limit: limit name, value, limit, utilization (%), status, reason."""
    return [
        {
            "limit": check.name,
            "value": format_number(check.value, check.unit),
            "limit value": format_number(check.limit, check.unit, 0),
            "utilization %": None if check.utilization is None else round(check.utilization * 100.0, 1),
            "status": check.status.value.upper(),
            "reason": check.reason,
        }
        for check in report.limits
    ]


def excluded_rows(report: RiskReport) -> list[dict[str, str]]:
    """Positions left out of the totals (missing inputs) and positions included on an assumption, with why."""
    rows: list[dict[str, str]] = []
    arrays = report.arrays
    for key, issues, assumed in zip(arrays.keys, arrays.issues, arrays.assumptions, strict=True):
        rows += [{"position": key, "effect": "excluded from totals", "why": text} for text in issues]
        rows += [{"position": key, "effect": "included, assumed", "why": text} for text in assumed]
    return rows
