"""riskdash — the Streamlit page: a thin view over tested modules (run: streamlit run dashboard/app.py).

Reads top to bottom: settings → sidebar → cached gather and page → banner, cards, compliance, charts, IV/HV,
positions, scenarios (computed only when opened), what-if, assistant. No formulas here; every number comes from
risk_engine through dashboard/page.py, dashboard/scenarios.py and dashboard/whatif_view.py.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, date, datetime

import streamlit as st

from dashboard.chart_warmup import ChartWarmup

# Before the heavy imports below, so the browser fetches the chart library while they run (dashboard/chart_warmup.py).
st.set_page_config(page_title="riskdash", layout="wide")
warmup = ChartWarmup(st.session_state, server_cold="dashboard.page" not in sys.modules)

import pandas as pd

from adapters.market_history import HistoryError
from adapters.snapshot_store import SnapshotStore
from config.risk_matrix import RiskMatrix, load_risk_matrix
from config.settings import Settings, load_settings
from dashboard.chat import ChatReply, answer_question, append_turn, history, llm_run, tool_call_rows, tool_context
from dashboard.format import markdown_safe
from dashboard.page import Page, build_page
from dashboard.regime_alert import acknowledge, observe_regime
from dashboard.replay import replay_bounds, replay_regime
from dashboard.scenario_figures import (
    approximation_error_figure,
    horizon_label,
    replay_rows,
    risk_graph_figure,
    stress_heatmap,
    var_rows,
    worst_cell_text,
)
from dashboard.scenarios import (
    SCENARIO_VIEWS,
    ReplayRun,
    ScenarioBook,
    replay_date_range,
    run_replays,
    run_risk_graphs,
    run_stress,
    run_var,
    scenario_book,
)
from dashboard.session import (
    AUTO_REFRESH_CHOICES,
    auto_refresh_due,
    format_interval,
    mark_page_run,
    nonce,
    request_refresh,
)
from dashboard.sources import LIVE_CHOICES, SOURCE_CHOICES, Gathered, SourceChoice, SourceHealth, Upload, gather
from dashboard.tables import REGIME_COLOURS, STATUS_COLOURS, banner_html
from dashboard.whatif_view import (
    READ_ONLY_NOTICE,
    form_leg_line,
    greeks_rows,
    leg_rows,
    limit_rows,
    parse_leg_lines,
    problem_rows,
    verdict_html,
)
from risk_engine.risk_graph import RiskGraph
from risk_engine.stress import StressGrid
from risk_engine.var import VarEstimate
from risk_engine.whatif import WhatIfResult, what_if


@st.cache_resource
def _matrix() -> RiskMatrix:
    return load_risk_matrix()


@st.cache_resource
def _settings() -> Settings:
    return load_settings()


@st.cache_resource
def _store() -> SnapshotStore:
    return SnapshotStore.from_settings(_settings())


# Gathered and Page are frozen and never mutated: cache_resource hands out the object itself, where cache_data
# would unpickle a copy of every position, figure and table on each rerun (most of a 2,000-position interaction).
@st.cache_resource(ttl=60, show_spinner=False, max_entries=4)
def _gathered(choice: str, uploads: tuple[Upload, ...], minute: str, refresh: int) -> Gathered:
    store = _store() if choice in (*LIVE_CHOICES, SourceChoice.FILE) else None
    return gather(choice, _settings(), datetime.fromisoformat(minute), uploads=uploads, store=store)


@st.cache_resource(ttl=60, show_spinner=False, max_entries=8)
def _page(choice: str, uploads: tuple[Upload, ...], minute: str, refresh: int, accounts: tuple[str, ...]) -> Page:
    gathered = _gathered(choice, uploads, minute, refresh)
    return build_page(gathered, accounts, _matrix(), datetime.fromisoformat(minute))


BookKey = tuple[str, tuple[Upload, ...], str, int, tuple[str, ...]]
"""The book's identity: source choice, uploads, valuation minute, refresh nonce, chosen accounts (_page's args)."""


def _book(key: BookKey) -> ScenarioBook:
    page = _page(*key)
    return scenario_book(page.report, page.inputs, page.gathered.accounts)


@st.cache_data(ttl=600, show_spinner="Revaluing the book over 41 × 11 × 3 scenarios …", max_entries=4)
def _stress(key: BookKey) -> StressGrid:
    return run_stress(_book(key))


@st.cache_data(ttl=600, show_spinner="Replaying crash days on today's book …", max_entries=8)
def _replays(key: BookKey, picked: tuple[date, ...]) -> ReplayRun:
    return run_replays(_book(key), picked)


@st.cache_data(ttl=600, show_spinner="Historical, parametric and Monte Carlo VaR …", max_entries=4)
def _var(key: BookKey) -> tuple[VarEstimate, ...]:
    return run_var(_book(key))


@st.cache_data(ttl=600, show_spinner="Risk graphs …", max_entries=4)
def _graphs(key: BookKey) -> tuple[RiskGraph, ...]:
    return run_risk_graphs(_book(key))


@st.cache_data(ttl=600, show_spinner="Checking the trade …", max_entries=16)
def _what_if(key: BookKey, lines: tuple[str, ...]) -> WhatIfResult:
    page = _page(*key)
    legs = parse_leg_lines("\n".join(lines)).legs
    return what_if(page.inputs.positions, legs, page.inputs.market, _matrix(), datetime.fromisoformat(key[2]))


def _submit_what_if() -> None:
    """Form callback: the typed lines plus the small form's leg become the request the page checks."""
    state = st.session_state
    lines = [state.get("whatif.lines", "")]
    if state.get("whatif.underlying", "").strip():
        lines.append(
            form_leg_line(
                state["whatif.underlying"],
                state.get("whatif.quantity") or 0.0,
                expiry=state.get("whatif.expiry"),
                strike=state.get("whatif.strike"),
                right=state.get("whatif.right") or None,
                iv_vol_points=state.get("whatif.iv"),
            )
        )
    state["whatif.request"] = "\n".join(lines)


mark_page_run(st.session_state, time.monotonic())
now = datetime.now(UTC).replace(second=0, microsecond=0)

# ---- sidebar: sources, accounts, refresh, status, replay --------------------------------------------------------
with st.sidebar:
    st.header("riskdash")
    choice = st.selectbox("Data source", SOURCE_CHOICES, key="source")
    uploads: tuple[Upload, ...] = ()
    if choice == SourceChoice.FILE:
        files = st.file_uploader(
            "Book files: IBKR Flex XML or thinkorswim CSV",
            type=["xml", "csv"],
            accept_multiple_files=True,
            key="upload",
        )
        uploads = tuple((f.name, f.getvalue()) for f in files or [])
    st.button("Refresh now", key="refresh", on_click=request_refresh, args=(st.session_state,))
    interval = st.selectbox("Auto-refresh", AUTO_REFRESH_CHOICES, format_func=format_interval, key="auto_refresh")

gathered = _gathered(choice, uploads, now.isoformat(), nonce(st.session_state))
with st.sidebar:
    every_account = sorted({p.account for p in gathered.inputs.positions})
    chosen = st.multiselect("Accounts", every_account, default=every_account, key=f"accounts.{choice}")
book_key: BookKey = (choice, uploads, now.isoformat(), nonce(st.session_state), tuple(sorted(chosen)))
page = _page(*book_key)
report, banner = page.report, page.banner
warmup.done()

with st.sidebar:
    st.subheader("Sources")
    for line in page.statuses:
        st.markdown(f"<span style='color:{line.colour}'>{markdown_safe(line.text)}</span>", unsafe_allow_html=True)
    # Lazy: the replay (its date picker and CBOE lookup) runs only while the expander is open.
    replay_box = st.expander("Regime replay (CBOE history)", key="replay.open", on_change="rerun")
    with replay_box:
        if replay_box.open:
            first, last = replay_bounds()
            day: date = st.date_input("Trading day", value=last, min_value=first, max_value=last, key="replay_day")
            try:
                replay = replay_regime(day, _matrix())
                colour = REGIME_COLOURS.get(replay.result.regime, REGIME_COLOURS["unknown"])
                st.markdown(f"<b style='color:{colour}'>{replay.title}</b>", unsafe_allow_html=True)
                st.caption(f"{replay.inputs_text}. {replay.result.decided_by}. Recession odds: none for past days.")
            except HistoryError as exc:
                st.warning(str(exc))

if interval:

    @st.fragment(run_every=interval)
    def _auto_refresh() -> None:
        if auto_refresh_due(st.session_state, time.monotonic(), interval):
            st.rerun()

    _auto_refresh()

# ---- header: failures, demo label, regime alert, banner ---------------------------------------------------------
st.set_page_config(page_title=banner.page_title, layout="wide")
for failure in gathered.failures:
    verb = "is stale" if failure.health is SourceHealth.STALE else "failed"
    st.error(f"Source {failure.name} {verb}: {failure.error}", icon="🚫")
for notice in gathered.notices:
    st.warning(notice, icon="📴")
if banner.demo:
    st.warning("DEMO BOOK — bundled sample positions and market snapshot, not a real account.", icon="🧪")
alert = observe_regime(st.session_state, report.regime.regime, now)
if alert is not None:
    st.error(alert.text, icon="🚨")
    st.button("Acknowledge regime change", key="ack_regime", on_click=acknowledge, args=(st.session_state,))
st.markdown(banner_html(banner), unsafe_allow_html=True)

if not gathered.has_book:
    st.info("No positions: every positions source failed or none was chosen; the book figures are not shown.")
    st.stop()

# ---- summary cards and compliance -------------------------------------------------------------------------------
for column, card in zip(st.columns(5), page.cards, strict=True):
    column.metric(card.label, card.value)
    colour = STATUS_COLOURS[card.status] if card.status else "#616161"
    column.markdown(f"<span style='color:{colour}'>{markdown_safe(card.limit_text)}</span>", unsafe_allow_html=True)
st.caption(f"Valued at {report.as_of.isoformat()} · {report.totals.positions} positions · accounts: {len(chosen)}")

st.subheader(f"Limit compliance — limits of {report.regime.limits_regime}")
st.dataframe(
    pd.DataFrame(page.compliance),
    hide_index=True,
    column_config={
        "utilization %": st.column_config.ProgressColumn("utilization %", min_value=0, max_value=120, format="%.0f%%")
    },
    key="compliance",
)

# ---- charts -----------------------------------------------------------------------------------------------------
left, right = st.columns(2)
with left:
    # Lazy tabs: only the open tab's chart is drawn, a chart fewer for the browser on every load and rerun.
    gamma_tab, greeks_tab = st.tabs(["Gamma by DTE", "Theta & vega by DTE"], key="charts.dte_tab", on_change="rerun")
    with gamma_tab:
        if page.near_expiry_warning:
            st.error(page.near_expiry_warning, icon="⚠️")
        if gamma_tab.open:
            st.plotly_chart(page.gamma_figure, key="gamma_by_dte")
    with greeks_tab:
        if greeks_tab.open:
            st.plotly_chart(page.greeks_figure, key="greeks_by_dte")
with right:
    st.plotly_chart(page.theta_vega_figure, key="theta_vega")

# ---- IV vs HV, positions ----------------------------------------------------------------------------------------
st.subheader("IV vs HV (Natenberg edge)")
iv_frame = pd.DataFrame(page.iv_hv)
if not iv_frame.empty:
    edge_colour = dict(zip(iv_frame["edge"], page.iv_hv_colours, strict=False))
    st.dataframe(
        iv_frame.style.map(lambda edge: f"color:{edge_colour.get(edge, '')};font-weight:600", subset=["edge"]),
        hide_index=True,
        key="iv_hv",
    )

st.subheader(f"Positions ({report.totals.positions}) — by underlying and expiry, with subtotals")
# Subtotal rows are marked in the first column rather than styled: a pandas Styler over 2,000 rows costs ~0.2 s.
st.dataframe(pd.DataFrame(page.positions), hide_index=True, key="positions")
if page.excluded:
    with st.expander(f"Positions excluded or priced on an assumption ({len(page.excluded)})"):
        st.dataframe(pd.DataFrame(page.excluded), hide_index=True, key="excluded")
if page.rejected:
    with st.expander(f"Rejected rows ({len(page.rejected)}) — not in the book", expanded=True):
        st.dataframe(pd.DataFrame(page.rejected), hide_index=True, key="rejected")

# ---- scenarios: computed only for the view opened, cached per book ----------------------------------------------
st.subheader("Scenario analysis — full revaluation")
view = st.radio(
    "Scenario view (computed when opened; up to a second on American options)", SCENARIO_VIEWS, horizontal=True,
    key="scenario.view",
)  # fmt: skip
if view == "Stress grid":
    grid = _stress(book_key)
    horizons = [horizon_label(float(days)) for days in grid.horizons_days]
    left, right = st.columns(2)
    horizon = left.radio("Horizon", horizons, horizontal=True, key="scenario.horizon")
    percent_known = grid.pnl_pct_net_liq is not None
    unit = right.radio("Colour by", ["USD", "% of net liq"], horizontal=True, key="scenario.unit",
                       disabled=not percent_known)  # fmt: skip
    if not percent_known:
        right.caption("Net liquidation unknown (no account values for every account): P&L in USD only.")
    at = horizons.index(horizon)
    st.caption(worst_cell_text(grid))
    left, right = st.columns(2)
    with left:
        percent = unit == "% of net liq" and percent_known
        st.plotly_chart(stress_heatmap(grid, at, percent=percent, as_of=report.as_of), key="stress_heatmap")
    with right:
        st.plotly_chart(approximation_error_figure(grid, at, as_of=report.as_of), key="stress_error")
    if grid.excluded:
        st.caption(f"Excluded (missing inputs): {', '.join(grid.excluded)}")
elif view == "Crash replays":
    first_day, last_day = replay_date_range()
    picked = st.date_input("Also replay a day", value=None, min_value=first_day, max_value=last_day,
                           key="scenario.replay_day")  # fmt: skip
    replayed = _replays(book_key, () if picked is None else (picked,))
    for problem in replayed.problems:
        st.warning(problem)
    st.dataframe(pd.DataFrame(replay_rows(replayed.replays)), hide_index=True, key="scenario.replays")
    st.caption(f"Today's book (as of {report.as_of:%Y-%m-%d %H:%M %Z}) under each day's real S&P 500 close-to-close "
               "move (each underlying × its β) and VIX change as the IV shock; 1987 has no VIX: its IV shock is an "
               "assumption, flagged.")  # fmt: skip
elif view == "VaR / ES":
    st.dataframe(pd.DataFrame(var_rows(_var(book_key))), hide_index=True, key="scenario.var")
    st.caption("1-day VaR and expected shortfall in USD (losses positive), full revaluation for historical and "
               "Monte Carlo, Cornish–Fisher delta-gamma-vega for parametric.")  # fmt: skip
elif view == "Risk graph":
    graphs = _graphs(book_key)
    if graphs:
        names = [g.underlying for g in graphs]
        shown = st.selectbox("Underlying", names, key="scenario.graph")
        graph = graphs[names.index(shown)]
        st.plotly_chart(risk_graph_figure(graph, as_of=report.as_of), key="risk_graph")
        st.caption(" · ".join(f"{c.label} breakevens: {', '.join(f'{b:,.2f}' for b in c.breakevens) or 'none'}"
                              for c in graph.curves))  # fmt: skip
    else:
        st.info("No risk graph: no underlying has a known price.")

# ---- what-if: read-only pre-trade check --------------------------------------------------------------------------
# Lazy: the form and its check are drawn only while the expander is open (~0.15 s of browser work on every load).
whatif_box = st.expander(
    "What-if trade — pre-trade check (read-only: nothing is sent)", key="whatif.open", on_change="rerun"
)
with whatif_box:
    if whatif_box.open:
        st.caption(READ_ONLY_NOTICE)
        with st.form("whatif"):
            st.text_area(
                "Legs, one per line: `SPY 2027-01-15 560 P -3`, an OCC symbol and quantity, or `QQQ 50` for shares "
                "(optional iv=0.21, root=SPXW)", key="whatif.lines",
            )  # fmt: skip
            cols = st.columns(6)
            cols[0].text_input("Underlying", key="whatif.underlying")
            cols[1].date_input("Expiry", value=None, key="whatif.expiry")
            cols[2].number_input("Strike", value=None, min_value=0.0, key="whatif.strike")
            cols[3].selectbox("Right", ["", "C", "P"], format_func=lambda r: r or "— (shares)", key="whatif.right")
            cols[4].number_input("Quantity (+ buy, − sell)", value=0.0, step=1.0, key="whatif.quantity")
            cols[5].number_input("IV vol pts (optional)", value=None, min_value=0.0, key="whatif.iv")
            st.form_submit_button("Check trade (nothing is sent)", on_click=_submit_what_if, key="whatif.submit")
        request = st.session_state.get("whatif.request")
        if request is not None:
            parsed = parse_leg_lines(request)
            if parsed.problems:
                st.error("Some lines are not legs; the check runs on the whole trade only. Fix them and check again.")
                st.dataframe(pd.DataFrame(problem_rows(parsed, None)), hide_index=True, key="whatif.problems")
            else:
                result = _what_if(book_key, parsed.lines)
                st.markdown(verdict_html(result), unsafe_allow_html=True)
                if result.problems:
                    st.dataframe(pd.DataFrame(problem_rows(parsed, result)), hide_index=True, key="whatif.problems")
                if result.legs:
                    st.dataframe(pd.DataFrame(leg_rows(result)), hide_index=True, key="whatif.legs")
                left, right = st.columns([2, 3])
                left.dataframe(pd.DataFrame(greeks_rows(result)), hide_index=True, key="whatif.greeks")
                right.dataframe(pd.DataFrame(limit_rows(result)), hide_index=True, key="whatif.limits")
                for note in result.assumptions:
                    st.caption(f"Assumed: {note}")
                st.caption(
                    f"Limits of {result.after.regime.limits_regime}, as of {result.before.as_of:%Y-%m-%d %H:%M %Z}."
                )

# ---- assistant --------------------------------------------------------------------------------------------------
st.subheader("Assistant")
for turn in history(st.session_state):
    with st.chat_message(turn["role"]):
        st.markdown(markdown_safe(turn["text"]))
question = st.chat_input("Ask about the book: delta, vega, limits, regime …", key="chat")
if question and _settings().llm_configured:
    ctx = tool_context(
        report, matrix=_matrix(), market=page.inputs.market, positions=page.inputs.positions, now=now,
        rejected=page.inputs.rejected, accounts=gathered.accounts,
    )  # fmt: skip
    llm = llm_run(question, ctx, _settings(), st.session_state)
    with st.chat_message("user"):
        st.markdown(markdown_safe(question))
    with st.chat_message("assistant"):
        st.write_stream(markdown_safe(piece) for piece in llm)
        if llm.fell_back:
            st.warning(f"Offline analyst answer: the language model {llm.reason}.", icon="📴")
        with st.expander(f"Tool calls ({len(llm.tool_calls)})"):
            st.dataframe(pd.DataFrame(tool_call_rows(llm.tool_calls)), hide_index=True, key="tool_calls")
    used = tuple(record.name for record in llm.tool_calls)
    append_turn(st.session_state, question, ChatReply(text=llm.text, used=used, as_of=report.as_of))
elif question:
    reply = answer_question(
        question,
        report,
        matrix=_matrix(),
        market=page.inputs.market,
        positions=page.inputs.positions,
        now=now,
        rejected=page.inputs.rejected,
        accounts=gathered.accounts,
    )
    append_turn(st.session_state, question, reply)
    with st.chat_message("user"):
        st.markdown(markdown_safe(question))
    with st.chat_message("assistant"):
        st.markdown(markdown_safe(reply.text))
