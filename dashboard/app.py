"""riskdash — the Streamlit page: a thin view over tested modules (run: streamlit run dashboard/app.py).

Reads top to bottom: settings → sidebar → cached gather and page → banner, cards, compliance, charts, IV/HV,
positions, assistant. No formulas here; every number comes from risk_engine through dashboard/page.py.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import pandas as pd
import streamlit as st

from adapters.market_history import HistoryError
from adapters.snapshot_store import SnapshotStore
from config.risk_matrix import RiskMatrix, load_risk_matrix
from config.settings import Settings, load_settings
from dashboard.chat import answer_question, append_turn, history
from dashboard.format import markdown_safe
from dashboard.page import Page, build_page
from dashboard.regime_alert import acknowledge, observe_regime
from dashboard.replay import replay_bounds, replay_regime
from dashboard.session import (
    AUTO_REFRESH_CHOICES,
    auto_refresh_due,
    format_interval,
    mark_page_run,
    nonce,
    request_refresh,
)
from dashboard.sources import LIVE_CHOICES, SOURCE_CHOICES, Gathered, SourceChoice, Upload, gather
from dashboard.tables import REGIME_COLOURS, STATUS_COLOURS, banner_html


@st.cache_resource
def _matrix() -> RiskMatrix:
    return load_risk_matrix()


@st.cache_resource
def _settings() -> Settings:
    return load_settings()


@st.cache_resource
def _store() -> SnapshotStore:
    return SnapshotStore.from_settings(_settings())


@st.cache_data(ttl=60, show_spinner=False)
def _gathered(choice: str, uploads: tuple[Upload, ...], minute: str, refresh: int) -> Gathered:
    store = _store() if choice in LIVE_CHOICES else None
    return gather(choice, _settings(), datetime.fromisoformat(minute), uploads=uploads, store=store)


@st.cache_data(ttl=60, show_spinner=False, max_entries=8)
def _page(choice: str, uploads: tuple[Upload, ...], minute: str, refresh: int, accounts: tuple[str, ...]) -> Page:
    gathered = _gathered(choice, uploads, minute, refresh)
    return build_page(gathered, accounts, _matrix(), datetime.fromisoformat(minute))


st.set_page_config(page_title="riskdash", layout="wide")
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
page = _page(choice, uploads, now.isoformat(), nonce(st.session_state), tuple(sorted(chosen)))
report, banner = page.report, page.banner

with st.sidebar:
    st.subheader("Sources")
    for line in page.statuses:
        st.markdown(f"<span style='color:{line.colour}'>{markdown_safe(line.text)}</span>", unsafe_allow_html=True)
    with st.expander("Regime replay (CBOE history)"):
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
    st.error(f"Source {failure.name} failed: {failure.error}", icon="🚫")
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
    gamma_tab, greeks_tab = st.tabs(["Gamma by DTE", "Theta & vega by DTE"])
    with gamma_tab:
        if page.near_expiry_warning:
            st.error(page.near_expiry_warning, icon="⚠️")
        st.plotly_chart(page.gamma_figure, key="gamma_by_dte")
    with greeks_tab:
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

st.subheader(f"Positions ({len(page.positions)}) — by underlying and expiry")
st.dataframe(pd.DataFrame(page.positions), hide_index=True, key="positions")
if page.excluded:
    with st.expander(f"Positions excluded or priced on an assumption ({len(page.excluded)})"):
        st.dataframe(pd.DataFrame(page.excluded), hide_index=True, key="excluded")
if page.rejected:
    with st.expander(f"Rejected rows ({len(page.rejected)}) — not in the book", expanded=True):
        st.dataframe(pd.DataFrame(page.rejected), hide_index=True, key="rejected")

# Scenario analysis (stress, VaR, risk graph) goes here, between the book and the assistant.

# ---- assistant --------------------------------------------------------------------------------------------------
st.subheader("Assistant")
for turn in history(st.session_state):
    with st.chat_message(turn["role"]):
        st.markdown(markdown_safe(turn["text"]))
question = st.chat_input("Ask about the book: delta, vega, limits, regime …", key="chat")
if question:
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
