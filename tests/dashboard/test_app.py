"""The Streamlit page under AppTest: demo book, a breaching upload, a failing source, the assistant, the replay."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from adapters.market_data import MARKET_DATA_SOURCE
from adapters.snapshot_store import STORE_FILE_NAME, SnapshotStore
from config.risk_matrix import Limits, load_risk_matrix
from dashboard.positions_view import SUBTOTAL
from models.market import Beta, BetaSource, MarketSnapshot, Quote, UnderlyingMarket
from tests.conftest import fixture_path

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
BREACH_FILE = Path(__file__).parent / "fixtures" / "flex_spy_4000_shares_constructed.xml"
LIMIT_NAMES = [name for name in Limits.model_fields if name != "allowed_strategies"]


def _app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=60)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty snapshot store and no market data, LLM or broker settings: the page's Settings are reloaded."""
    monkeypatch.setenv("RISKDASH_DATA_DIR", str(tmp_path))
    for name in ("MARKET_DATA_ENABLED", "POLYMARKET_ENABLED", "LLM_BASE_URL", "LLM_MODEL", "IBKR_PORT"):
        monkeypatch.delenv(name, raising=False)
    st.cache_resource.clear()  # _settings() and _store() are cached per process
    yield tmp_path
    st.cache_resource.clear()


def _store_live_snapshot(folder: Path) -> None:
    """A live market snapshot as a refresh would have saved it: VIX 18.4 / VIX3M 20.3, SPX 5900, SPY 588.6, β 1."""
    at = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)

    def quote(value: float) -> Quote:
        return Quote(value=value, source=MARKET_DATA_SOURCE, as_of=at)

    snapshot = MarketSnapshot(
        vix=quote(18.4),
        vix3m=quote(20.3),
        vvix=quote(95.0),
        spx=quote(5900.0),
        risk_free_rate=quote(0.04),
        underlyings={
            "SPY": UnderlyingMarket(spot=quote(588.6), beta=Beta(value=1.0, source=BetaSource.CONFIG, as_of=at))
        },
        as_of=at,
    )
    with SnapshotStore(folder / STORE_FILE_NAME) as store:
        store.save_market(snapshot, MARKET_DATA_SOURCE)


@pytest.fixture(scope="module")
def app() -> AppTest:
    at = _app()
    at.run()
    return at


_COLUMN_OF = {"compliance": "utilization %", "positions": "divergence", "rejected": "field", "iv_hv": "edge"}


def _table(at: AppTest, name: str) -> pd.DataFrame:
    """The page's table `name`, found by a column only it has (AppTest does not expose dataframe keys)."""
    return next(frame.value for frame in at.dataframe if _COLUMN_OF[name] in frame.value.columns)


def _charts(at: AppTest) -> dict[str, Any]:
    return {str(chart.key): json.loads(chart.proto.spec) for chart in at.get("plotly_chart")}


def _upload(at: AppTest, *files: tuple[str, bytes]) -> AppTest:
    at.run()
    at.selectbox(key="source").set_value("Imported file").run()
    at.file_uploader(key="upload").set_value([(name, data, "application/octet-stream") for name, data in files])
    return at.run()


def test_page_renders_without_exception(app: AppTest) -> None:
    assert not app.exception
    assert not app.error


def test_page_is_labelled_demo(app: AppTest) -> None:
    assert any("DEMO BOOK" in w.value for w in app.warning)


def test_banner_names_the_regime_its_clause_and_inputs_with_as_of(app: AppTest) -> None:
    banner = next(m.value for m in app.markdown if "Regime:" in m.value)
    # demo_market.yaml: VIX 18.4, VIX3M 20.3 — 15 <= VIX <= 22 and no higher clause holds.
    assert "Neutral Volatility" in banner
    assert "Decided by" in banner
    assert "VIX 18.40 pts" in banner
    assert "contango" in banner
    assert banner.count("as of ") == 4


def test_five_summary_cards_with_units(app: AppTest) -> None:
    labels = [m.label for m in app.metric]
    assert labels == [
        "Beta-weighted delta · SPX Δ",
        "Beta-weighted gamma · SPX Δ/pt",
        "Theta · $/day",
        "Vega · $/vol pt",
        "Theta / vega · |θ|/|ν|",
    ]
    for metric in app.metric:
        float(metric.value.replace(",", ""))  # a number, not n/a, for the demo book


def test_compliance_table_lists_every_limit_and_shows_the_demo_vega_breach(app: AppTest) -> None:
    table = _table(app, "compliance")
    assert table["limit"].tolist() == LIMIT_NAMES
    # demo_book.yaml documents vega −1465…−1876 $/vol pt against the neutral floor of −1200: a breach.
    status = dict(zip(table["limit"], table["status"], strict=True))
    assert status["max_negative_vega"] == "BREACH"


def test_gamma_and_theta_vega_charts_are_drawn(app: AppTest) -> None:
    charts = _charts(app)
    assert set(charts) == {"gamma_by_dte", "theta_vega"}  # the closed tab's chart is not drawn
    buckets = [b.label for b in load_risk_matrix().dte_buckets]
    gamma_x = {x for trace in charts["gamma_by_dte"]["data"] for x in trace["x"]}
    assert set(buckets) <= gamma_x
    names = [trace["name"] for trace in charts["theta_vega"]["data"]]
    assert "book" in names
    assert "underlyings" in names
    assert [t.label for t in app.tabs] == ["Gamma by DTE", "Theta & vega by DTE"]


def test_theta_and_vega_by_dte_are_drawn_when_their_tab_is_opened(app: AppTest) -> None:
    app.session_state["charts.dte_tab"] = "Theta & vega by DTE"
    charts = _charts(app.run())
    assert set(charts) == {"greeks_by_dte", "theta_vega"}
    buckets = [b.label for b in load_risk_matrix().dte_buckets]
    assert [trace["name"] for trace in charts["greeks_by_dte"]["data"]] == ["theta $/day", "vega $/vol pt"]
    assert set(buckets) <= {x for trace in charts["greeks_by_dte"]["data"] for x in trace["x"]}


def test_sidebar_shows_every_source_with_its_as_of(app: AppTest) -> None:
    lines = [m.value for m in app.sidebar.markdown if "✓" in m.value]
    assert len(lines) == 2
    assert all("as of" in line for line in lines)


def test_chat_answer_carries_the_books_numbers() -> None:
    at = _app()
    at.run()
    vega_card = next(m.value for m in at.metric if m.label.startswith("Vega"))
    at.chat_input(key="chat").set_value("What is my vega?").run()
    assert not at.exception
    roles = [message.name for message in at.chat_message]
    assert roles == ["user", "assistant"]
    answer = at.chat_message[1].markdown[0].value
    assert vega_card in answer
    assert "as of" in answer


def test_breaching_upload_shows_breach(data_dir: Path) -> None:
    _store_live_snapshot(data_dir)
    at = _upload(_app(), (BREACH_FILE.name, BREACH_FILE.read_bytes()))
    assert not at.exception
    assert not any("DEMO BOOK" in w.value for w in at.warning)
    table = _table(at, "compliance")
    status = dict(zip(table["limit"], table["status"], strict=True))
    # 4,000 SPY × 588.6 / 5,900 ≈ 399 SPX deltas against the neutral limit of 300.
    assert status["max_beta_delta"] == "BREACH"
    delta_card_text = next(m.value for m in at.markdown if "SPX deltas" in m.value and "breach" in m.value)
    assert "breach" in delta_card_text


def test_breaching_upload_is_priced_on_the_stored_live_snapshot_marked_stale(data_dir: Path) -> None:
    _store_live_snapshot(data_dir)
    at = _upload(_app(), (BREACH_FILE.name, BREACH_FILE.read_bytes()))
    stale = [m.value for m in at.sidebar.markdown if MARKET_DATA_SOURCE in m.value]
    assert any("stale since 2026-11-20 21:00:00 UTC" in line for line in stale)
    assert any("Neutral Volatility" in m.value for m in at.markdown if "Regime:" in m.value)


def test_imported_book_without_market_data_is_never_priced_on_the_demo_market(data_dir: Path) -> None:
    at = _upload(_app(), (BREACH_FILE.name, BREACH_FILE.read_bytes()))
    assert not at.exception
    assert not any("DEMO BOOK" in w.value for w in at.warning)
    assert any("market data is off" in w.value for w in at.warning)
    banner = next(m.value for m in at.markdown if "Regime:" in m.value)
    assert "Unknown" in banner
    assert "18.40" not in banner  # the demo snapshot's VIX
    # No SPX level without market data: beta-weighted delta cannot be computed, so the limit is unknown.
    table = _table(at, "compliance")
    status = dict(zip(table["limit"], table["status"], strict=True))
    assert status["max_beta_delta"] == "UNKNOWN"
    # The shares are priced at their own Flex mark; only what needs the market (β, SPX) is unknown or assumed.
    excluded = next(frame.value for frame in at.dataframe if "effect" in frame.value.columns)
    effects = dict(zip(excluded["why"], excluded["effect"], strict=True))
    assert "no price for underlying SPY" not in effects
    assert any(why.startswith("beta of SPY unknown") for why in effects)


def test_failing_source_is_named_and_the_rest_renders(data_dir: Path) -> None:
    good = fixture_path("ibkr", "flex_options_future_open_positions.xml")
    at = _upload(_app(), (good.name, good.read_bytes()), ("broken.csv", b"not a book\n1,2,3\n"))
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("broken.csv" in text for text in errors)
    assert not any(good.name in text for text in errors)
    assert len(at.metric) == 5
    positions = _table(at, "positions")
    assert (positions["row"] == "position").sum() == 11  # the good file's 11 open positions


def test_rejected_rows_are_listed_with_their_reason(data_dir: Path) -> None:
    bad_rows = fixture_path("ibkr", "flex_malformed_rows.xml")
    at = _upload(_app(), (bad_rows.name, bad_rows.read_bytes()))
    assert not at.exception
    rejected = _table(at, "rejected")
    assert len(rejected) == 2
    assert all(reason for reason in rejected["reason"])


def test_accounts_filter_narrows_the_positions_table() -> None:
    at = _app()
    at.run()
    accounts = at.multiselect(key="accounts.Demo")
    every = (_table(at, "positions")["row"] == "position").sum()
    first = accounts.options[0]
    accounts.set_value([first]).run()
    table = _table(at, "positions")
    shown = table[table["row"] == "position"]
    assert 0 < len(shown) < every
    assert set(shown["account"].str.endswith(first)) == {True}


def test_positions_are_grouped_with_a_subtotal_after_each_underlying_and_expiry(app: AppTest) -> None:
    table = _table(app, "positions")
    subtotals = table[table["row"] == SUBTOTAL]
    groups = table[table["row"] == "position"][["underlying", "expiry"]].drop_duplicates()
    assert len(subtotals) == len(groups)
    # Each group's rows come right before its subtotal, which carries the same underlying and expiry.
    for index in subtotals.index:
        above = table.loc[: index - 1]
        last = above[above["row"] == "position"].iloc[-1]
        assert (last["underlying"], last["expiry"]) == (table.loc[index, "underlying"], table.loc[index, "expiry"])


def test_regime_replay_of_a_past_crisis_day() -> None:
    import datetime

    at = _app()
    at.session_state["replay.open"] = True  # lazy expander: the replay runs only while open
    at.run()
    # CBOE VIX closed at 82.69 on 2020-03-16, past the crisis clause VIX > 35.
    at.date_input(key="replay_day").set_value(datetime.date(2020, 3, 16)).run()
    assert any("2020-03-16: Crisis Mode" in m.value for m in at.sidebar.markdown)


def test_regime_replay_of_a_weekend_names_the_nearest_trading_days() -> None:
    import datetime

    at = _app()
    at.session_state["replay.open"] = True
    at.run()
    assert not [e for e in _app().run().sidebar.date_input if e.key == "replay_day"]  # closed: nothing computed
    at.date_input(key="replay_day").set_value(datetime.date(2020, 3, 14)).run()
    warning = next(w.value for w in at.sidebar.warning)
    assert "Saturday" in warning
    assert "2020-03-13" in warning
    assert "2020-03-16" in warning


def test_unconfigured_broker_is_an_error_naming_it() -> None:
    at = _app()
    at.run()
    at.selectbox(key="source").set_value("IBKR").run()
    assert not at.exception
    assert any("IBKR" in e.value for e in at.error)
    assert any("Regime:" in m.value for m in at.markdown)  # the market part still renders
