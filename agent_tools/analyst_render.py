"""The analyst's answers per intent: which tools to call and how to say their results in markdown.

Figures are formatted from tool results only (rounded, with units); strings that contain digits (symbols,
dates, bucket labels, clauses) are quoted in backticks exactly as the tool returned them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from agent_tools.analyst_intents import Intent
from agent_tools.catalog import tool_named
from agent_tools.registry import ToolContext

__all__ = ["RENDERERS", "Run", "fmt"]

_STATUS_MARK: Final = {"breach": "**BREACH**", "alert": "**ALERT**", "warn": "WARN", "ok": "ok", "unknown": "unknown"}


class Run:
    """The tool calls of one answer, in order, with their results (repeated calls keyed `name #2`, …)."""

    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx
        self.used: list[str] = []
        self.results: dict[str, dict[str, Any]] = {}

    def call(self, name: str, args: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The result of tool `name` on this answer's context, recorded under its name."""
        result = tool_named(name).call(self.ctx, dict(args or {}))
        key, n = name, 1
        while key in self.results:
            n += 1
            key = f"{name} #{n}"
        self.results[key] = result
        if name not in self.used:
            self.used.append(name)
        return result


def fmt(value: Any, unit: str = "", decimals: int = 2) -> str:
    """`1,234.56 unit`, or `n/a` when the value is missing."""
    if value is None:
        return "n/a"
    text = f"{float(value):,.{decimals}f}"
    return f"{text} {unit}".rstrip()


def _q(text: Any) -> str:
    return f"`{text}`"


def _limit_line(row: Mapping[str, Any]) -> str:
    used = "undefined" if row["utilization_pct"] is None else f"{fmt(row['utilization_pct'], '%', 1)} used"
    return (
        f"- {_q(row['name'])}: {fmt(row['value'], row['unit'])} against {fmt(row['limit'], row['unit'], 0)} "
        f"({used}) → {_STATUS_MARK[row['status']]}"
    )


def _limits(run: Run, intent: Intent) -> str:
    r = run.call("check_risk_limits")
    lines = [f"**Limits of the {r['limits_regime']} regime** (current regime: {r['regime']}):", ""]
    lines += [_limit_line(row) for row in r["limits"]]
    if r["breached"]:
        lines.append(f"\nBreached: {', '.join(_q(n) for n in r['breached'])}. Ask how to cure it for adjustments.")
    if r["near_breach"]:
        lines.append(f"Close to the limit: {', '.join(_q(n) for n in r['near_breach'])}.")
    if not r["breached"] and not r["near_breach"]:
        lines.append("\nEvery limit is within its warn threshold.")
    lines.append(_near_expiry(r["near_expiry_gamma"]))
    return "\n".join(lines)


def _near_expiry(near: Mapping[str, Any]) -> str:
    flag = "**warning: above the threshold**" if near["warning"] else "within the threshold"
    return (
        f"Near-expiry gamma (bucket {_q(near['dte_bucket'])}): "
        f"{fmt(near['beta_weighted_gamma_spx_deltas_per_point'], 'SPX deltas/pt')} against "
        f"±{fmt(near['max_abs_gamma_spx_deltas_per_point'], 'SPX deltas/pt')}, {flag}."
    )


def _last_change(change: Mapping[str, Any]) -> str:
    if "history_last_day" not in change:
        return f"Time since the last regime change: not determined ({change['method']})."
    head = f"The shipped CBOE history runs to {_q(change['history_last_day'])}"
    since = (
        f"it shows {change['history_regime_on_day']} since {_q(change['changed_on'])} "
        f"(before that: {change['previous_regime']})"
        if change.get("changed_on")
        else f"it shows {change['history_regime_on_day']} throughout"
    )
    if "days_since_change" in change:
        tail = f"{fmt(change['days_since_change'], 'calendar days', 0)} ago, read from the history directly."
    elif "days_since_change_at_least" in change:
        tail = (
            f"so the regime has held at least {fmt(change['days_since_change_at_least'], 'days', 0)} if nothing "
            f"changed in the {fmt(change['unobserved_days'], 'days', 0)} after the history ends (not observed)."
        )
    else:
        tail = (
            f"the snapshot's regime differs, so it changed within the last "
            f"{fmt(change['days_since_change_at_most'], 'days', 0)}, on a day the history does not cover."
        )
    return f"{head}; {since}; {tail} The history has no Polymarket odds, so recession clauses never hold in it."


def _regime(run: Run, intent: Intent) -> str:
    r = run.call("get_market_regime")
    g = r["regime"]
    lines = [
        f"**Regime: {g['regime']}** ({g['description']}). Limits applied: {g['limits_regime']}.",
        f"Decided by: {_q(g['decided_by'])}.",
        f"Inputs: VIX {fmt(r['vix_points'], 'pts')}, VIX3M {fmt(r['vix3m_points'], 'pts')}, term structure "
        f"VIX3M/VIX {fmt(r['term_structure_ratio'], '', 4)} ({r['term_structure_state'] or 'unknown'}), "
        f"VVIX {fmt(r['vvix_points'], 'pts')}, recession probability {fmt(g['inputs']['recession_prob'])} "
        "(fraction).",
    ]
    if g["missing_inputs"]:
        lines.append(f"Missing inputs: {', '.join(g['missing_inputs'])}.")
    if r["stale_inputs"]:
        lines.append(f"Stale inputs: {', '.join(r['stale_inputs'])}.")
    lines.append(f"Allowed strategies: {', '.join(g['allowed_strategies'])}.")
    lines.append(_last_change(r["last_change"]))
    return "\n".join(lines)


def _gamma(run: Run, intent: Intent) -> str:
    r = run.call("get_gamma_risk_by_dte")
    lines = [
        f"**Gamma by expiry**: book {fmt(r['book_beta_weighted_gamma_spx_deltas_per_point'], 'SPX deltas/pt')}.",
        "",
    ]
    for b in r["buckets"]:
        share = (
            "" if b["share_of_abs_gamma_pct"] is None else f", {fmt(b['share_of_abs_gamma_pct'], '%', 1)} of |gamma|"
        )
        lines.append(
            f"- {_q(b['dte_bucket'])}: {fmt(b['beta_weighted_gamma_spx_deltas_per_point'], 'SPX deltas/pt')} "
            f"({fmt(b['positions_count'], 'positions', 0)}{share})"
        )
    lines.append(_near_expiry(r["near_expiry"]))
    if r["largest_gamma_positions"]:
        lines.append("\nLargest gamma positions:")
        lines += [_position_line(p) for p in r["largest_gamma_positions"][:3]]
    return "\n".join(lines)


def _greeks(row: Mapping[str, Any], gamma_decimals: int = 3) -> str:
    """`delta …, gamma …, theta …, vega …` of a position row or a totals row, each with its unit."""
    return (
        f"delta {fmt(row['beta_weighted_delta_spx_shares'], 'SPX sh')}, gamma "
        f"{fmt(row['beta_weighted_gamma_spx_deltas_per_point'], 'SPX deltas/pt', gamma_decimals)}, theta "
        f"{fmt(row['theta_usd_per_day'], '$/day')}, vega {fmt(row['vega_usd_per_vol_point'], '$/vol pt')}"
    )


def _position_line(p: Mapping[str, Any]) -> str:
    expiry = "" if p["expiry"] is None else f", expires {_q(p['expiry'][:10])}"
    dte = "" if p["dte_days"] is None else f" ({fmt(p['dte_days'], 'DTE', 0)})"
    return f"- {_q(p['symbol'])} in {_q(p['account'])}: quantity {fmt(p['quantity'], '', 0)}{expiry}{dte}; {_greeks(p)}"


def _theta_vega(run: Run, intent: Intent) -> str:
    r = run.call("get_theta_vega_profile")
    z = r["zone_edges"]
    lines = [
        f"**Theta/vega**: theta {fmt(r['theta_usd_per_day'], '$/day')}, "
        f"vega {fmt(r['vega_usd_per_vol_point'], '$/vol pt')}, "
        f"|theta|/|vega| {fmt(r['theta_vega_ratio'])} → zone **{r['zone']}** (green {fmt(z['green_low'])} to "
        f"{fmt(z['green_high'])}, red below {fmt(z['red_below'])} or above {fmt(z['red_above'])}, target "
        f"{fmt(z['target'])}).",
    ]
    for row in (r["theta_limit"], r["vega_limit"]):
        if row is not None:
            lines.append(f"- {_q(row['name'])}: {_STATUS_MARK[row['status']]} ({_q(row['reason'])})")
    worst = sorted(r["by_dte_bucket"], key=lambda b: b["vega_usd_per_vol_point"] or 0.0)[0]
    lines.append(
        f"Most short vega sits in bucket {_q(worst['dte_bucket'])}: "
        f"{fmt(worst['vega_usd_per_vol_point'], '$/vol pt')}, "
        f"theta {fmt(worst['theta_usd_per_day'], '$/day')}."
    )
    return "\n".join(lines)


def _biggest(run: Run, intent: Intent) -> str:
    limits = run.call("check_risk_limits")
    summary = run.call("get_portfolio_summary")
    lines = ["**Biggest risks now:**", ""]
    bad = [row for row in limits["limits"] if row["status"] in ("breach", "alert", "warn")]
    lines += [_limit_line(row) for row in bad] or ["- No limit is at or past its warn threshold."]
    lines.append("- " + _near_expiry(limits["near_expiry_gamma"]))
    rows = summary["by_underlying"]
    vega = min(rows, key=lambda u: u["vega_usd_per_vol_point"] or 0.0)
    delta = max(rows, key=lambda u: abs(u["beta_weighted_delta_spx_shares"] or 0.0))
    lines.append(
        f"- Largest short vega: {_q(vega['underlying'])} at {fmt(vega['vega_usd_per_vol_point'], '$/vol pt')} "
        f"of a book total {fmt(summary['totals']['vega_usd_per_vol_point'], '$/vol pt')}."
    )
    lines.append(
        f"- Largest directional exposure: {_q(delta['underlying'])} at "
        f"{fmt(delta['beta_weighted_delta_spx_shares'], 'SPX sh')} of a book total "
        f"{fmt(summary['totals']['beta_weighted_delta_spx_shares'], 'SPX sh')}."
    )
    return "\n".join(lines)


def _expiring(run: Run, intent: Intent) -> str:
    days = intent.days if intent.days is not None else 7
    r = run.call("get_positions", {"expiring_within_days": days, "limit": 20})
    head = (
        f"**Positions expiring within {fmt(r['filters']['expiring_within_days'], 'days', 0)}**: "
        f"{fmt(r['matching_count'], '', 0)} matching; together {_greeks(r['totals'], gamma_decimals=2)}."
    )
    return "\n".join([head, "", *(_position_line(p) for p in r["positions"][:10])])


def _underlying(run: Run, intent: Intent) -> str:
    assert intent.underlying is not None
    r = run.call("get_positions", {"underlying": intent.underlying, "limit": 20})
    iv = run.call("get_iv_analysis", {"underlying": intent.underlying})
    lines = [
        f"**{_q(intent.underlying)} exposure**: {fmt(r['matching_count'], 'positions', 0)}; {_greeks(r['totals'])}.",
        "",
        *(_position_line(p) for p in r["positions"][:10]),
    ]
    lines += ["", *(_iv_line(u) for u in iv["underlyings"])]
    return "\n".join(lines)


def _iv_line(u: Mapping[str, Any]) -> str:
    return (
        f"- {_q(u['underlying'])}: IV {fmt(u['iv_vol_points'], 'vol pts', 1)} ({u['iv_source'] or 'none'}) vs HV20 "
        f"{fmt(u['hv20_vol_points'], 'vol pts', 1)} and HV30 {fmt(u['hv30_vol_points'], 'vol pts', 1)}: edge "
        f"{fmt(u['edge_vs_hv20_vol_points'], 'vol pts', 1)} → {u['natenberg_grade'] or 'not graded'}; book "
        f"{u['book_side']} ({fmt(u['book_vega_usd_per_vol_point'], '$/vol pt')})"
    )


def _iv(run: Run, intent: Intent) -> str:
    args = {} if intent.underlying is None else {"underlying": intent.underlying}
    r = run.call("get_iv_analysis", args)
    th = r["edge_thresholds_vol_points"]
    head = (
        "**Implied vs realised volatility** (edge = IV minus HV20; moderate from "
        f"{fmt(th['moderate'], 'vol pts', 0)}, strong from {fmt(th['strong'], 'vol pts', 0)}):"
    )
    return "\n".join([head, "", *(_iv_line(u) for u in r["underlyings"])])


def _stress(run: Run, pct: float) -> dict[str, Any] | None:
    """The full-revaluation scenario of run_stress_test for an SPX move, or None when that tool is absent or fails."""
    try:
        tool_named("run_stress_test")
    except KeyError:
        return None
    try:
        result = run.call("run_stress_test", {"index_move_pct": pct})
    except Exception:  # a scenario tool of another shape: fall back to delta-gamma, and the answer says so
        return None
    scenario = result.get("scenario")
    return scenario if isinstance(scenario, dict) and scenario.get("pnl_usd") is not None else None


def _full_line(s: Mapping[str, Any]) -> str:
    by = sorted(s.get("by_underlying", []), key=lambda u: abs(u["pnl_usd"] or 0.0), reverse=True)[:3]
    parts = ", ".join(f"{_q(u['underlying'])} {fmt(u['pnl_usd'], 'USD')}" for u in by)
    share = "" if s.get("pnl_pct_net_liq") is None else f" ({fmt(s['pnl_pct_net_liq'], '% of net liquidation', 2)})"
    return (
        f"- SPX {fmt(s['index_move_pct'], '%', 1)}: {fmt(s['pnl_usd'], 'USD')}{share} by full revaluation; "
        f"largest contributions: {parts}."
    )


def _move(run: Run, intent: Intent) -> str:
    lines = []
    for pct in intent.move_pct:
        full = _stress(run, pct)
        if full is not None:
            lines.append(_full_line(full))
            continue
        r = run.call("estimate_index_move", {"move_pct": pct})
        lines.append(
            f"- SPX {fmt(r['move_pct'], '%', 1)} ({fmt(r['spx_move_points'], 'SPX points')} from "
            f"{fmt(r['spx_points'], 'points')}): about {fmt(r['total_pnl_usd'], 'USD')} = delta "
            f"{fmt(r['delta_pnl_usd'], 'USD')} + gamma {fmt(r['gamma_pnl_usd'], 'USD')} (delta-gamma estimate)."
        )
    notes = []
    if "run_stress_test" in run.results or any(k.startswith("run_stress_test") for k in run.results):
        notes.append(
            "Full revaluation: every option repriced by the scenario engine (run_stress_test) with each "
            "underlying moved by its beta times the SPX move, implied vols unchanged, no time passing."
        )
    if "estimate_index_move" in run.used:
        notes.append(
            "Delta-gamma estimate (estimate_index_move; the full-revaluation scenario engine was not available): "
            "a Taylor estimate from SPX-beta-weighted delta and gamma with vols, time and rates held; it "
            "misstates large moves on short-gamma books."
        )
    return "\n".join(["**What an index move does to the book:**", "", *lines, "", *notes])


def _cure(run: Run, intent: Intent) -> str:
    args: dict[str, Any] = {"max_candidates": 3}
    if intent.limit is not None:
        args["limit"] = intent.limit
    r = run.call("suggest_adjustment", args)
    if not r["adjustments"]:
        return "**No limit is breached or near its limit**, so there is nothing to cure. Suggestions only, no orders."
    lines = ["**Candidate adjustments** (suggestions only; riskdash places no orders):"]
    for block in r["adjustments"]:
        lim = block["limit"]
        lines += [
            "",
            f"{_q(lim['name'])} is {_STATUS_MARK[lim['status']]}: {fmt(lim['value'], lim['unit'])} against "
            f"{fmt(lim['limit'], lim['unit'], 0)}; {fmt(lim['excess'], lim['unit'])} past the target of "
            f"{fmt(lim['target_utilization_pct'], '%', 0)} of the limit.",
        ]
        for c in block["candidates"]:
            flags = []
            if c["breaks_other_limits"]:
                flags.append("breaks " + ", ".join(_q(n) for n in c["breaks_other_limits"]))
            elif c["worsens_other_limits"]:
                flags.append("worsens " + ", ".join(_q(n) for n in c["worsens_other_limits"]))
            if c["regime_allowed"] is False:
                flags.append("outside the regime's allowed strategies")
            flag = f" ⚠ {'; '.join(flags)}." if flags else ""
            lines.append(
                f"{fmt(c['rank'], '', 0)}. {_q(c['description'])}: cures {fmt(c['cured_pct'], '%', 0)} of the excess "
                f"(status after: {c['target_status_after']}), theta given up "
                f"{fmt(c['theta_given_up_usd_per_day'], '$/day')}; "
                f"delta change {fmt(c['greek_change']['beta_weighted_delta_spx_shares'], 'SPX sh')}, vega change "
                f"{fmt(c['greek_change']['vega_usd_per_vol_point'], '$/vol pt')}.{flag}"
            )
        if not block["candidates"]:
            lines.append("No candidate found that reduces it.")
    lines.append(
        "\nRanked by the share of the excess cured per $/day of theta given up; each checked by rebuilding the report."
    )
    return "\n".join(lines)


def _explain(run: Run, intent: Intent) -> str:
    assert intent.limit is not None
    r = run.call("explain_limit", {"limit": intent.limit})
    others = "; ".join(f"{row['regime']} {fmt(row['limit'], '', 0)}" for row in r["across_regimes"])
    lines = [
        f"**{_q(r['limit'])} in {r['regime']}: {fmt(r['value'], r['unit'] or '', 0)}.**",
        f"Meaning (config/risk_matrix.yaml): {_q(r['semantics'])}." if r["semantics"] else "",
        f"Note in the file: {_q(r['yaml_note'])}." if r["yaml_note"] else "",
        f"Why: {r['rationale']}",
        f"This regime ({_q(r['regime_condition'])}): {r['regime_description']} Allowed strategies: "
        f"{', '.join(r['allowed_strategies'])}.",
        f"Across regimes: {others}.",
    ]
    status = r["status_now"]
    if status is not None:
        lines.append(f"Now: {fmt(status['value'], status['unit'])} → {_STATUS_MARK[status['status']]}.")
    return "\n".join(line for line in lines if line)


def _market(run: Run, intent: Intent) -> str:
    r = run.call("get_market_regime")
    macro = run.call("get_macro_indicators")
    lines = [f"**Market inputs** (regime {r['regime']['regime']}):", ""]
    for q in r["quotes"]:
        when = "missing" if q["as_of"] is None else f"from {_q(q['source'])} as of {_q(q['as_of'])}"
        stale = " (**stale**)" if q["stale"] else ""
        lines.append(f"- {q['name']}: {fmt(q['value'], '', 4)} {when}{stale}")
    lines.append(
        f"- term structure VIX3M/VIX: {fmt(r['term_structure_ratio'], '', 4)} "
        f"({r['term_structure_state'] or 'unknown'})"
    )
    lines.append("")
    lines.append(_macro_text(macro))
    return "\n".join(lines)


def _macro_text(m: Mapping[str, Any]) -> str:
    if not m["available"]:
        return "Polymarket recession odds: not in this snapshot."
    uses = "; ".join(f"{c['regime']}: {_q(c['condition'])}" for c in m["regime_conditions_using_it"]) or "none"
    stale = " (**stale**)" if m["stale"] else ""
    return (
        f"Polymarket US-recession probability: {fmt(m['recession_probability_pct'], '%', 1)} from {_q(m['source'])} "
        f"as of {_q(m['quote_as_of'])}{stale}. Regime conditions that use it: {uses}."
    )


def _macro(run: Run, intent: Intent) -> str:
    return "**Macro indicators:**\n\n" + _macro_text(run.call("get_macro_indicators"))


def _summary(run: Run, intent: Intent) -> str:
    r = run.call("get_portfolio_summary")
    t = r["totals"]
    worst = r["worst_limit"]
    lines = [
        f"**Book summary** (regime {r['regime']}):",
        "",
        f"- Beta-weighted delta {fmt(t['beta_weighted_delta_spx_shares'], 'SPX sh')}, gamma "
        f"{fmt(t['beta_weighted_gamma_spx_deltas_per_point'], 'SPX deltas/pt')}, "
        f"theta {fmt(t['theta_usd_per_day'], '$/day')}, "
        f"vega {fmt(t['vega_usd_per_vol_point'], '$/vol pt')}, |theta|/|vega| {fmt(t['theta_vega_ratio'])} "
        f"(zone {r['theta_vega_zone']}).",
        f"- Positions: {fmt(r['positions_count'], '', 0)}, of which priced {fmt(r['priced_positions_count'], '', 0)}; "
        f"rejected rows {fmt(r['rejected_rows_count'], '', 0)}.",
    ]
    if worst is not None:
        lines.append(f"- Worst limit: {_q(worst['name'])} → {_STATUS_MARK[worst['status']]} ({_q(worst['reason'])}).")
    return "\n".join(lines)


RENDERERS: Final[dict[str, Callable[[Run, Intent], str]]] = {
    "limits": _limits,
    "regime": _regime,
    "gamma": _gamma,
    "theta_vega": _theta_vega,
    "biggest_risks": _biggest,
    "expiring": _expiring,
    "underlying": _underlying,
    "iv": _iv,
    "move": _move,
    "cure": _cure,
    "explain_limit": _explain,
    "market": _market,
    "macro": _macro,
    "summary": _summary,
}
