"""Polymarket recession odds: market selection, Yes-price reading, and the HTTP client against a replay server.

Fixtures are real Gamma market objects with only identifying fields changed (tests/fixtures/polymarket/README.md).
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from adapters.errors import AuthFailed, PayloadInvalid, SourceUnavailable
from adapters.polymarket import (
    POLYMARKET_SOURCE,
    SEARCH_PATH,
    OddsCache,
    RecessionOdds,
    fetch_recession_probability,
    select_recession_market,
    to_quote,
    to_recession_odds,
)
from config.settings import Settings
from tests.adapters.http_server import ReplayServer, Reply
from tests.conftest import fixture_path, load_fixture

NOW_2025 = datetime(2025, 6, 16, 14, 30, tzinfo=UTC)
NOW_2026 = datetime(2026, 1, 15, 14, 30, tzinfo=UTC)
RECESSION_2025_ID = "516710"  # NOTES.md §4
RECESSION_2025_YES = 0.165  # the Yes price written into the fixture (README.md)


def _search(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = load_fixture("polymarket", name)
    return payload


def _recession_market(name: str = "search_recession_2025.json") -> dict[str, Any]:
    market: dict[str, Any] = _search(name)["events"][0]["markets"][0]
    return market


def _envelope(*markets: dict[str, Any]) -> dict[str, Any]:
    return {"events": [{"id": "1", "markets": list(markets)}], "tags": [], "pagination": {"hasMore": False}}


def _settings(server: ReplayServer, *, timeout_s: float = 2.0, ttl_s: float = 900.0) -> Settings:
    return Settings(
        _env_file=None,
        polymarket_gamma_url=server.url,
        polymarket_timeout_s=timeout_s,
        polymarket_cache_ttl_s=ttl_s,
    )


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        yield replay


def _serve(server: ReplayServer, *replies: Reply) -> None:
    server.script("GET", SEARCH_PATH, *replies)


def _recorded(name: str, **kwargs: Any) -> Reply:
    return Reply.from_file(fixture_path("polymarket", name), **kwargs)


# --- reading one market ---------------------------------------------------------------------------------


def test_yes_price_is_the_probability() -> None:
    odds = to_recession_odds(_recession_market(), as_of=NOW_2025)
    assert (odds.probability, odds.market_id) == (RECESSION_2025_YES, RECESSION_2025_ID)
    assert odds.slug == "us-recession-in-2025"
    assert odds.question == "US recession in 2025?"
    assert (odds.source, odds.as_of, odds.stale) == (POLYMARKET_SOURCE, NOW_2025, False)


def test_yes_price_is_read_by_outcome_name_not_position() -> None:
    market = _recession_market("search_recession_no_first.json")
    assert market["outcomes"] == '["No", "Yes"]'
    assert to_recession_odds(market, as_of=NOW_2025).probability == RECESSION_2025_YES


def test_forty_digit_price_parses_to_the_nearest_double() -> None:
    odds = to_recession_odds(_recession_market("search_recession_high_precision.json"), as_of=NOW_2025)
    assert odds.probability == float(Decimal("0.0000007842500538718540444181103088163532"))
    assert odds.probability == pytest.approx(7.8425005387185e-7, rel=1e-12)


def test_volume_string_is_used_when_volume_num_is_missing() -> None:
    market = _recession_market()
    with_num = to_recession_odds(market, as_of=NOW_2025).volume_usd
    del market["volumeNum"]
    assert to_recession_odds(market, as_of=NOW_2025).volume_usd == with_num == 1204773.318245


@pytest.mark.parametrize(
    "name",
    [
        "search_recession_prices_not_json.json",
        "search_recession_prices_not_numbers.json",
        "search_recession_prices_zero_zero.json",
    ],
    ids=["truncated-json-string", "not-a-number", "zero-zero-stale"],
)
def test_unreadable_prices_are_payload_invalid_naming_the_market(name: str) -> None:
    with pytest.raises(PayloadInvalid, match=r"516710.*outcomePrices") as caught:
        to_recession_odds(_recession_market(name), as_of=NOW_2025)
    assert (caught.value.field, caught.value.row) == ("outcomePrices", RECESSION_2025_ID)


def test_price_count_must_match_outcome_count() -> None:
    market = _recession_market()
    market["outcomePrices"] = '["0.165"]'
    with pytest.raises(PayloadInvalid, match="1 outcomePrices for 2 outcomes"):
        to_recession_odds(market, as_of=NOW_2025)


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("id", None, "id"),
        ("question", "", "question"),
        ("volumeNum", -5.0, "volumeNum"),
        ("volumeNum", "NaN", "volumeNum"),
    ],
    ids=["no-id", "empty-question", "negative-volume", "nan-volume"],
)
def test_missing_identity_or_bad_volume_is_payload_invalid(key: str, value: Any, field: str) -> None:
    market = _recession_market()
    market[key] = value
    with pytest.raises(PayloadInvalid) as caught:
        to_recession_odds(market, as_of=NOW_2025)
    assert caught.value.field == field


def test_odds_need_a_tz_aware_as_of() -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        to_recession_odds(_recession_market(), as_of=datetime(2025, 6, 16, 14, 30))


def test_quote_carries_probability_source_and_as_of() -> None:
    quote = to_quote(to_recession_odds(_recession_market(), as_of=NOW_2025))
    assert (quote.value, quote.source, quote.as_of) == (RECESSION_2025_YES, "polymarket", NOW_2025)


# --- choosing the market --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "market_id"),
    [(2025, RECESSION_2025_ID), (2026, "900006")],
    ids=["2025-picks-us-recession-in-2025", "2026-picks-successor-despite-lower-volume"],
)
def test_highest_volume_open_us_market_for_the_year_wins(year: int, market_id: str) -> None:
    # Around it: a closed one, an Up/Down one, 2024, Germany and unrelated markets, all with more volume.
    assert select_recession_market(_search("search_candidates.json"), year)["id"] == market_id


def test_lower_volume_match_is_next_when_the_leader_is_gone() -> None:
    payload = _search("search_candidates.json")
    payload["events"] = [e for e in payload["events"] if e["markets"][0]["id"] != RECESSION_2025_ID]
    assert select_recession_market(payload, 2025)["id"] == "900002"


@pytest.mark.parametrize(
    ("question", "matches"),
    [
        ("US recession in 2025?", True),
        ("U.S. recession by end of 2025?", True),
        ("Will the United States enter a recession in 2025?", True),
        ("Will a recession hit us in 2025?", False),
        ("USD recession trade 2025?", False),
        ("US recession in 2024?", False),
        ("US recession in 20250?", False),
        ("Eurozone recession in 2025?", False),
        ("US GDP growth in 2025?", False),
    ],
)
def test_question_must_name_recession_the_us_and_the_year(question: str, matches: bool) -> None:
    market = _recession_market()
    market["question"] = question
    if matches:
        assert select_recession_market(_envelope(market), 2025)["id"] == RECESSION_2025_ID
    else:
        with pytest.raises(SourceUnavailable, match="no active, open Yes/No US-recession market for 2025"):
            select_recession_market(_envelope(market), 2025)


@pytest.mark.parametrize(("active", "closed"), [(True, True), (False, False)], ids=["closed", "inactive"])
def test_closed_or_inactive_market_is_never_chosen(active: bool, closed: bool) -> None:
    market = _recession_market()
    market.update(active=active, closed=closed)
    with pytest.raises(SourceUnavailable):
        select_recession_market(_envelope(market), 2025)


def test_same_market_in_two_events_counts_once() -> None:
    market = _recession_market()
    payload = {"events": [{"markets": [market]}, {"markets": [copy.deepcopy(market)]}]}
    assert select_recession_market(payload, 2025)["id"] == RECESSION_2025_ID


def test_no_matching_market_names_the_year_and_the_count() -> None:
    with pytest.raises(SourceUnavailable, match=r"for 2025 among 3 markets"):
        select_recession_market(_search("search_no_match.json"), 2025)


@pytest.mark.parametrize(
    "payload",
    [[], {"events": "none"}, {"events": ["x"]}, {"events": [{"markets": "x"}]}],
    ids=["list", "events-string", "event-string", "markets-string"],
)
def test_wrong_search_shape_is_payload_invalid(payload: Any) -> None:
    with pytest.raises(PayloadInvalid, match="polymarket /public-search"):
        select_recession_market(payload, 2025)


def test_null_events_is_no_match_not_a_crash() -> None:
    with pytest.raises(SourceUnavailable, match="among 0 markets"):
        select_recession_market({"events": None}, 2025)


# --- over HTTP ------------------------------------------------------------------------------------------


def test_fetch_reads_the_recorded_answer_and_asks_for_active_recession_events(server: ReplayServer) -> None:
    _serve(server, _recorded("search_recession_2025.json"))
    odds = fetch_recession_probability(_settings(server), NOW_2025, cache=OddsCache())
    assert (odds.probability, odds.market_id, odds.as_of, odds.stale, odds.error) == (
        RECESSION_2025_YES,
        RECESSION_2025_ID,
        NOW_2025,
        False,
        None,
    )
    [request] = server.requests
    assert (request.method, request.path) == ("GET", SEARCH_PATH)
    assert (request.query["q"], request.query["events_status"]) == ("recession", "active")


def test_fetch_picks_the_current_years_market(server: ReplayServer) -> None:
    _serve(server, _recorded("search_candidates.json"))
    odds = fetch_recession_probability(_settings(server), NOW_2026, cache=OddsCache())
    assert (odds.market_id, odds.slug, odds.probability) == ("900006", "us-recession-by-end-of-2026", 0.235)


def test_year_is_new_yorks_not_utcs(server: ReplayServer) -> None:
    _serve(server, _recorded("search_candidates.json"))
    new_years_eve_in_new_york = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)  # 22:00 on Dec 31 in New York
    odds = fetch_recession_probability(_settings(server), new_years_eve_in_new_york, cache=OddsCache())
    assert odds.market_id == RECESSION_2025_ID


@pytest.mark.parametrize(
    ("reply", "error", "message"),
    [
        (Reply.json({"error": "unauthorized"}, status=401), AuthFailed, "refused access: HTTP 401"),
        (Reply.json({"error": "forbidden"}, status=403), AuthFailed, "refused access: HTTP 403"),
        (
            Reply(status=429, body=b"slow down", headers={"Retry-After": "30"}),
            SourceUnavailable,
            r"rate limited: HTTP 429 \(Retry-After: 30\)",
        ),
        (Reply(status=500, body=b"internal error"), SourceUnavailable, "answered HTTP 500: internal error"),
        (Reply(status=502, body=b"<html>bad gateway</html>"), SourceUnavailable, "answered HTTP 502"),
    ],
    ids=["401", "403", "429", "500", "502"],
)
def test_http_errors_become_adapter_errors_naming_source_and_endpoint(
    server: ReplayServer, reply: Reply, error: type[Exception], message: str
) -> None:
    _serve(server, reply)
    with pytest.raises(error, match=message) as caught:
        fetch_recession_probability(_settings(server), NOW_2025, cache=OddsCache())
    assert f"polymarket GET {server.url}{SEARCH_PATH}" in str(caught.value)


def test_slow_answer_times_out_at_the_configured_timeout(server: ReplayServer) -> None:
    _serve(server, _recorded("search_recession_2025.json", delay_s=3.0))
    started = time.monotonic()
    with pytest.raises(SourceUnavailable, match=r"timed out after 0\.2 s"):
        fetch_recession_probability(_settings(server, timeout_s=0.2), NOW_2025, cache=OddsCache())
    assert time.monotonic() - started < 1.5


def test_truncated_body_is_payload_invalid(server: ReplayServer) -> None:
    body = fixture_path("polymarket", "search_recession_2025.json").read_bytes()
    _serve(server, Reply(status=200, body=body[: len(body) // 2], headers={"Content-Type": "application/json"}))
    with pytest.raises(PayloadInvalid, match="answered a body that is not JSON"):
        fetch_recession_probability(_settings(server), NOW_2025, cache=OddsCache())


def test_html_page_with_status_200_is_payload_invalid(server: ReplayServer) -> None:
    _serve(server, Reply(status=200, body=b"<!DOCTYPE html><title>Just a moment...</title>"))
    with pytest.raises(PayloadInvalid, match=r"not JSON.*DOCTYPE"):
        fetch_recession_probability(_settings(server), NOW_2025, cache=OddsCache())


def test_unparseable_prices_over_http_are_payload_invalid(server: ReplayServer) -> None:
    _serve(server, _recorded("search_recession_prices_not_json.json"))
    with pytest.raises(PayloadInvalid, match="outcomePrices is not a JSON list"):
        fetch_recession_probability(_settings(server), NOW_2025, cache=OddsCache())


def test_no_matching_market_over_http_is_source_unavailable(server: ReplayServer) -> None:
    _serve(server, _recorded("search_no_match.json"))
    with pytest.raises(SourceUnavailable, match="no active, open Yes/No US-recession market for 2025"):
        fetch_recession_probability(_settings(server), NOW_2025, cache=OddsCache())


def test_refused_connection_is_source_unavailable() -> None:
    with ReplayServer() as gone:
        settings = _settings(gone)
    with pytest.raises(SourceUnavailable, match=r"polymarket GET http://127\.0\.0\.1:\d+/public-search failed"):
        fetch_recession_probability(settings, NOW_2025, cache=OddsCache())


def test_fetch_works_when_the_caller_runs_an_event_loop(server: ReplayServer) -> None:
    _serve(server, _recorded("search_recession_2025.json"))

    async def caller() -> RecessionOdds:
        return fetch_recession_probability(_settings(server), NOW_2025, cache=OddsCache())

    assert asyncio.run(caller()).probability == RECESSION_2025_YES


# --- cache and staleness --------------------------------------------------------------------------------


def test_answer_is_cached_for_the_ttl(server: ReplayServer) -> None:
    _serve(server, _recorded("search_recession_2025.json"))
    settings, cache = _settings(server, ttl_s=600.0), OddsCache()
    first = fetch_recession_probability(settings, NOW_2025, cache=cache)
    again = fetch_recession_probability(settings, NOW_2025 + timedelta(seconds=599), cache=cache)
    assert again == first
    assert len(server.requests) == 1
    later = fetch_recession_probability(settings, NOW_2025 + timedelta(seconds=600), cache=cache)
    assert len(server.requests) == 2
    assert later.as_of == NOW_2025 + timedelta(seconds=600)


def test_failure_serves_last_good_odds_marked_stale(server: ReplayServer) -> None:
    _serve(server, _recorded("search_recession_2025.json"), Reply(status=500, body=b"down"))
    settings, cache = _settings(server, ttl_s=60.0), OddsCache()
    good = fetch_recession_probability(settings, NOW_2025, cache=cache)
    stale = fetch_recession_probability(settings, NOW_2025 + timedelta(minutes=5), cache=cache)
    assert (stale.stale, stale.stale_since, stale.as_of) == (True, good.as_of, good.as_of)
    assert stale.probability == RECESSION_2025_YES
    assert stale.error is not None
    assert "HTTP 500" in stale.error


def test_failure_without_a_good_value_raises_never_a_zero(server: ReplayServer) -> None:
    _serve(server, _recorded("search_recession_prices_zero_zero.json"))
    with pytest.raises(PayloadInvalid, match=r"sum to 0, not 1"):
        fetch_recession_probability(_settings(server), NOW_2025, cache=OddsCache())


def test_after_a_failure_no_new_request_for_a_minute_then_recovery(server: ReplayServer) -> None:
    _serve(server, Reply(status=500, body=b"down"), _recorded("search_recession_2025.json"))
    settings, cache = _settings(server), OddsCache()
    for seconds in (0, 59):
        with pytest.raises(SourceUnavailable, match="HTTP 500"):
            fetch_recession_probability(settings, NOW_2025 + timedelta(seconds=seconds), cache=cache)
    assert len(server.requests) == 1
    recovered = fetch_recession_probability(settings, NOW_2025 + timedelta(seconds=60), cache=cache)
    assert (recovered.probability, recovered.stale, len(server.requests)) == (RECESSION_2025_YES, False, 2)


def test_caches_are_kept_per_gamma_url(server: ReplayServer) -> None:
    _serve(server, _recorded("search_recession_2025.json"))
    cache = OddsCache()
    fetch_recession_probability(_settings(server), NOW_2025, cache=cache)
    with ReplayServer() as other:
        other.script("GET", SEARCH_PATH, Reply(status=500))
        with pytest.raises(SourceUnavailable):
            fetch_recession_probability(_settings(other), NOW_2025, cache=cache)


def test_naive_now_is_refused() -> None:
    settings = Settings(_env_file=None)
    with pytest.raises(ValueError, match="tz-aware"):
        fetch_recession_probability(settings, datetime(2025, 6, 16), cache=OddsCache())
