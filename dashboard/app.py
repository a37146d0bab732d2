"""riskdash — the Streamlit page: a thin view over the tested report (run: streamlit run dashboard/app.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from config.risk_matrix import RiskMatrix, load_risk_matrix
from dashboard.book import demo_inputs, report_for
from dashboard.format import format_age, format_number
from dashboard.tables import STATUS_COLOURS, banner_for, compliance_rows, excluded_rows, summary_cards
from risk_engine.report import RiskReport


@st.cache_resource
def _matrix() -> RiskMatrix:
    return load_risk_matrix()


@st.cache_data(ttl=60, show_spinner=False)
def _refresh(minute: str) -> tuple[RiskReport, list[dict[str, str]]]:
    now = datetime.fromisoformat(minute)
    inputs = demo_inputs(now)
    rejected = [row.model_dump() for row in inputs.rejected]
    return report_for(inputs, _matrix(), now), rejected


now = datetime.now(UTC).replace(second=0, microsecond=0)
report, rejected = _refresh(now.isoformat())
banner = banner_for(report)
st.set_page_config(page_title=f"riskdash — {banner.title.removeprefix('Regime: ')}", layout="wide")

if banner.demo:
    st.warning("DEMO BOOK — bundled sample positions and market snapshot, not a real account.", icon="🧪")

st.markdown(
    f"<div style='background:{banner.colour};color:white;padding:0.8rem 1rem;border-radius:0.5rem'>"
    f"<h2 style='color:white;margin:0'>{banner.title}</h2>"
    f"<div>{banner.description} Decided by: <b>{banner.decided_by}</b></div>"
    f"<div>Allowed strategies: {banner.allowed_strategies}</div></div>",
    unsafe_allow_html=True,
)
st.caption(
    " · ".join(
        f"{q.name} {format_number(q.value, decimals=2)} ({q.source or 'missing'}, {format_age(q.as_of, now)})"
        for q in report.regime_quotes
    )
)

for column, card in zip(st.columns(5), summary_cards(report), strict=True):
    column.metric(card.label, card.value)
    colour = STATUS_COLOURS[card.status] if card.status else "#616161"
    column.markdown(f"<span style='color:{colour}'>{card.limit_text}</span>", unsafe_allow_html=True)

st.subheader(f"Limit compliance — {report.regime.limits_regime}")
st.dataframe(
    pd.DataFrame(compliance_rows(report)),
    hide_index=True,
    column_config={
        "utilization %": st.column_config.ProgressColumn("utilization %", min_value=0, max_value=120, format="%.0f%%")
    },
    key="compliance",
)
st.caption(f"Valued at {report.as_of.isoformat()} · {report.totals.positions} positions")

excluded = excluded_rows(report)
if excluded:
    with st.expander(f"Positions excluded or priced on an assumption ({len(excluded)})"):
        st.dataframe(pd.DataFrame(excluded), hide_index=True, key="excluded")
if rejected:
    with st.expander(f"Rejected rows ({len(rejected)}) — not in the book", expanded=True):
        st.dataframe(pd.DataFrame(rejected), hide_index=True, key="rejected")
