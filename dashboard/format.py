"""Formatting of figures for people: every number with its unit, missing values said as such."""

from __future__ import annotations

from datetime import UTC, datetime

from models.conventions import vol_points_from_decimal
from risk_engine.limits import LimitCheck
from risk_engine.regime import RegimeResult
from risk_engine.report import RiskReport

__all__ = [
    "MISSING",
    "format_age",
    "format_instant",
    "format_limit_row",
    "format_number",
    "format_regime_text",
    "format_stale_since",
    "format_summary_text",
    "format_term_structure",
    "format_utilization",
    "format_vol_points",
    "markdown_safe",
    "regime_label",
]

MISSING = "n/a"


def format_number(value: float | None, unit: str = "", decimals: int = 2) -> str:
    """`1,234.50 $/day`-style text; `n/a` for a missing value (never a made-up zero)."""
    if value is None or value != value:  # NaN is missing
        return MISSING
    text = f"{value:,.{decimals}f}"
    return f"{text} {unit}".rstrip()


def format_utilization(check: LimitCheck) -> str:
    """Utilization as a percentage, or the reason it is undefined."""
    if check.utilization is None:
        return check.utilization_note or MISSING
    return f"{check.utilization:.0%}"


def format_age(as_of: datetime | None, now: datetime) -> str:
    """How old an input is, e.g. `as of 14:02:11 UTC (3 min ago)`."""
    if as_of is None:
        return "as of: unknown"
    seconds = max((now.astimezone(UTC) - as_of.astimezone(UTC)).total_seconds(), 0.0)
    ago = f"{seconds:.0f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"
    if seconds >= 7200:
        ago = f"{seconds / 3600:.1f} h ago"
    return f"as of {as_of.strftime('%Y-%m-%d %H:%M:%S %Z')} ({ago})"


def format_instant(as_of: datetime | None) -> str:
    """`2026-11-23 15:00:00 UTC`; `unknown` when there is no instant."""
    return "unknown" if as_of is None else as_of.strftime("%Y-%m-%d %H:%M:%S %Z")


def format_stale_since(since: datetime | None, now: datetime) -> str:
    """`stale since 2026-11-23 14:40:00 UTC (20 min ago)`: when an input stopped being fresh."""
    if since is None:
        return "stale since: unknown"
    return "stale since " + format_age(since, now).removeprefix("as of ")


def format_term_structure(ratio: float | None) -> str:
    """VIX3M/VIX as `1.1033 (contango)`, `0.9500 (backwardation)` or `1.0000 (flat)`; `n/a` when missing."""
    if ratio is None or ratio != ratio:
        return MISSING
    shape = "contango" if ratio > 1.0 else "backwardation" if ratio < 1.0 else "flat"
    return f"{ratio:.4f} ({shape})"


def format_vol_points(vol: float | None, decimals: int = 1) -> str:
    """A decimal volatility (0.184) as `18.4 vol pts`; `n/a` when missing."""
    if vol is None or vol != vol:
        return MISSING
    return format_number(vol_points_from_decimal(vol), "vol pts", decimals)


def markdown_safe(text: str) -> str:
    """Text for st.markdown: `$` escaped outside code spans (two would start LaTeX), line breaks kept.

    Inside a `code span` the backslash would show, and LaTeX is not parsed there anyway.
    """
    parts = text.split("`")
    escaped = [part if i % 2 else part.replace("$", "\\$") for i, part in enumerate(parts)]
    return "`".join(escaped).replace("\n", "  \n")


def regime_label(name: str) -> str:
    """`high_volatility` → `High Volatility`."""
    return name.replace("_", " ").title()


def format_regime_text(result: RegimeResult, day: str | None = None, sources: str | None = None) -> str:
    """Regime, deciding clause, inputs and missing inputs as plain text lines."""
    inputs = result.inputs
    same = result.regime == result.limits_regime
    lines = [
        f"Regime: {result.regime}" + ("" if same else f" (limits of {result.limits_regime})"),
        f"Decided by: {result.decided_by}",
        f"Why: {result.reason}",
        "Inputs: "
        + ", ".join(
            [
                f"VIX {format_number(inputs.get('vix'))}",
                f"VIX3M {format_number(inputs.get('vix3m'))}",
                f"VIX3M/VIX {format_number(inputs.get('term_structure'), decimals=4)}",
                f"VVIX {format_number(inputs.get('vvix'))}",
                f"recession probability {format_number(inputs.get('recession_prob'), decimals=2)}",
            ]
        ),
    ]
    if day:
        lines.insert(0, f"Date: {day} ({sources})")
    if result.missing_inputs:
        lines.append("Missing inputs (clauses needing them count as not holding): " + ", ".join(result.missing_inputs))
    lines.append(f"Allowed strategies: {', '.join(result.allowed_strategies)}")
    return "\n".join(lines)


def format_limit_row(check: LimitCheck) -> str:
    """One compliance line: name, value, limit, utilization, status."""
    return (
        f"{check.name:<18} {format_number(check.value, check.unit):>24}"
        f"  limit {format_number(check.limit, check.unit, 0):>18}"
        f"  {format_utilization(check):>8}  {check.status.value.upper()}"
    )


def format_summary_text(report: RiskReport) -> str:
    """The `riskdash summary` text: demo label, regime with input as-ofs, totals with units, limits."""
    t = report.totals
    header = "DEMO BOOK — bundled sample data, not a real account" if report.demo else "Live book"
    lines = [header, f"As of {report.as_of.isoformat()}", "", format_regime_text(report.regime), ""]
    for quote in report.regime_quotes:
        value, age = format_number(quote.value, decimals=4), format_age(quote.as_of, report.as_of)
        lines.append(f"  {quote.name:<15} {value:>12}  {quote.source or 'missing'}  {age}")
    lines += [
        "",
        f"Beta-weighted delta  {format_number(t.beta_weighted_delta, 'SPX deltas')}",
        f"Beta-weighted gamma  {format_number(t.beta_weighted_gamma, 'SPX deltas per SPX point')}",
        f"Theta                {format_number(t.theta_per_day, '$/day')}",
        f"Vega                 {format_number(t.vega_per_vol_point, '$/vol pt')}",
        f"Theta/vega           {format_number(t.theta_vega_ratio, '(|θ|/|ν|)')}  zone: {report.theta_vega_zone.value}",
        f"Positions            {t.positions} ({t.priced_positions} priced)",
        "",
        f"Limits ({report.regime.limits_regime}):",
        *(format_limit_row(check) for check in report.limits),
    ]
    return "\n".join(lines)
