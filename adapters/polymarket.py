"""US-recession odds from Polymarket's public Gamma API, fetched over aiohttp in a worker thread and cached.

Owns finding the year's US-recession market and reading its Yes price. It never invents a probability: a
failure raises an adapters.errors type, or serves the last good value marked stale.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import aiohttp
from pydantic import Field, field_validator

from adapters.errors import AdapterError, AuthFailed, PayloadInvalid, SourceUnavailable
from config.settings import Settings
from models.base import RiskdashModel
from models.conventions import NEW_YORK
from models.market import Quote

__all__ = [
    "POLYMARKET_SOURCE",
    "SEARCH_PATH",
    "OddsCache",
    "RecessionOdds",
    "fetch_recession_probability",
    "select_recession_market",
    "to_quote",
    "to_recession_odds",
]

POLYMARKET_SOURCE: Final = "polymarket"
SEARCH_PATH: Final = "/public-search"
_SEARCH_PARAMS: Final = {"q": "recession", "events_status": "active", "limit_per_type": "25"}

_RECESSION = re.compile(r"\brecession\b", re.IGNORECASE)
# Case-sensitive so the pronoun "us" never counts; the lookarounds keep "USD" or "AUS" out.
_UNITED_STATES = re.compile(r"(?<![A-Za-z])(?:U\.S\.A?\.?|USA|US|United States)(?![A-Za-z])")

_PRICE_SUM_TOLERANCE: Final = 0.02
"""Open Yes/No markets quote prices summing to exactly 1 (all 300 open markets of the realdata capture);
resolved-but-stale ones show "0"/"0", which must never read as a 0 % probability."""

_RETRY_AFTER_FAILURE: Final = timedelta(seconds=60)
"""After a failure the next minute of page reruns is served from the failure, not a fresh wait on a timeout."""

_WORKER_GRACE_S: Final = 2.0
_BODY_EXCERPT_CHARS: Final = 200


def _require_aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("must be tz-aware")
    return value


class RecessionOdds(RiskdashModel):
    """Market-implied probability (0..1) of a US recession this year, with the market it was read from.

    `stale` odds are the last good ones, served because the latest fetch failed (`error` says why).
    """

    probability: float = Field(ge=0.0, le=1.0)
    question: str = Field(min_length=1)
    slug: str
    market_id: str = Field(min_length=1)
    volume_usd: float = Field(ge=0.0)
    source: str = POLYMARKET_SOURCE
    as_of: datetime
    stale: bool = False
    stale_since: datetime | None = None
    error: str | None = None

    _aware = field_validator("as_of", "stale_since")(_require_aware)


def to_quote(odds: RecessionOdds) -> Quote:
    """The recession probability (0..1) as a Quote for MarketSnapshot.recession_prob, with source and as-of."""
    return Quote(value=odds.probability, source=odds.source, as_of=odds.as_of)


def _market_label(market: Mapping[str, Any]) -> str:
    return f"polymarket market {market.get('id')!r} ({market.get('slug')!r})"


def _decode_list(market: Mapping[str, Any], key: str) -> list[Any]:
    raw = market.get(key)
    # Gamma encodes these lists as JSON strings inside the JSON ("[\"Yes\", \"No\"]").
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise PayloadInvalid(
                f"{_market_label(market)}: {key} is not a JSON list: {raw[:_BODY_EXCERPT_CHARS]!r}",
                field=key,
                row=str(market.get("id")),
            ) from exc
    if not isinstance(raw, list):
        raise PayloadInvalid(
            f"{_market_label(market)}: {key} must be a list, got {type(raw).__name__}",
            field=key,
            row=str(market.get("id")),
        )
    return raw


def _outcomes(market: Mapping[str, Any]) -> list[str]:
    outcomes = _decode_list(market, "outcomes")
    if not all(isinstance(name, str) for name in outcomes):
        raise PayloadInvalid(
            f"{_market_label(market)}: outcomes must be names, got {outcomes!r}",
            field="outcomes",
            row=str(market.get("id")),
        )
    return [name.strip() for name in outcomes]


def _is_yes_no(outcomes: Sequence[str]) -> bool:
    return sorted(outcomes) == ["No", "Yes"]


def _number(market: Mapping[str, Any], key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PayloadInvalid(
            f"{_market_label(market)}: {key} must be a number, got {value!r}", field=key, row=str(market.get("id"))
        )
    try:
        number = float(value)
    except ValueError as exc:
        raise PayloadInvalid(
            f"{_market_label(market)}: {key} is not a number: {value!r}", field=key, row=str(market.get("id"))
        ) from exc
    if not math.isfinite(number):
        raise PayloadInvalid(
            f"{_market_label(market)}: {key} is not finite: {value!r}", field=key, row=str(market.get("id"))
        )
    return number


def _volume_usd(market: Mapping[str, Any]) -> float:
    # `volumeNum` is the float; `volume` the same figure as a string (realdata NOTES §4).
    key = "volumeNum" if market.get("volumeNum") is not None else "volume"
    volume = _number(market, key, market.get(key))
    if volume < 0:
        raise PayloadInvalid(
            f"{_market_label(market)}: {key} is negative: {volume:g}", field=key, row=str(market.get("id"))
        )
    return volume


def _matches(question: str, year: int) -> bool:
    return (
        _RECESSION.search(question) is not None
        and _UNITED_STATES.search(question) is not None
        and re.search(rf"\b{year}\b", question) is not None
    )


def _markets_of(payload: Any) -> list[Mapping[str, Any]]:
    where = f"polymarket {SEARCH_PATH}"
    if not isinstance(payload, Mapping):
        raise PayloadInvalid(f"{where}: expected a JSON object with 'events', got {type(payload).__name__}")
    events = payload.get("events") or []  # the documented answer may carry events: null
    if not isinstance(events, list):
        raise PayloadInvalid(f"{where}: 'events' must be a list, got {type(events).__name__}", field="events")
    markets: list[Mapping[str, Any]] = []
    for index, event in enumerate(events):
        if not isinstance(event, Mapping):
            raise PayloadInvalid(f"{where}: events[{index}] is not an object", field="events")
        nested = event.get("markets") or []
        if not isinstance(nested, list) or not all(isinstance(market, Mapping) for market in nested):
            raise PayloadInvalid(f"{where}: events[{index}].markets is not a list of objects", field="markets")
        markets.extend(nested)
    return markets


def select_recession_market(payload: Any, year: int) -> Mapping[str, Any]:
    """The active, open Yes/No market with the highest volume asking about a US recession in `year`.

    Args:
        payload: Decoded GET /public-search answer ({"events": [{"markets": [...]}, ...]}).
        year: Calendar year the question must name ("US recession in 2025?", "... by end of 2026?").

    Raises:
        SourceUnavailable: No market qualifies (names the year and how many markets were searched).
        PayloadInvalid: The answer is not the search shape, or a qualifying market's outcomes cannot be read.
    """
    markets = _markets_of(payload)
    candidates = [
        market
        for market in markets
        if market.get("active") is True
        and market.get("closed") is False
        and isinstance(market.get("question"), str)
        and _matches(market["question"], year)
    ]
    # One market can sit in several events of the answer; keep it once.
    unique = list({str(market.get("id")): market for market in candidates}.values())
    for market in sorted(unique, key=_volume_usd, reverse=True):
        # A Long/Short or Up/Down market has no Yes price to read; the next one down by volume may.
        if _is_yes_no(_outcomes(market)):
            return market
    raise SourceUnavailable(
        f"polymarket {SEARCH_PATH}: no active, open Yes/No US-recession market for {year} "
        f"among {len(markets)} markets found for q={_SEARCH_PARAMS['q']!r}"
    )


def to_recession_odds(market: Mapping[str, Any], as_of: datetime) -> RecessionOdds:
    """Recession probability (0..1) read as the price of the outcome named "Yes" of one Gamma market.

    Args:
        market: One Gamma market object (outcomes and outcomePrices as JSON strings).
        as_of: When the market was fetched (tz-aware).

    Raises:
        PayloadInvalid: Names the market and the field (outcomes, outcomePrices, volume) that cannot be read.
    """
    label, row = _market_label(market), str(market.get("id"))
    for key in ("id", "question"):
        if not isinstance(market.get(key), str) or not market[key]:
            raise PayloadInvalid(f"{label}: {key} must be a non-empty string", field=key, row=row)
    outcomes = _outcomes(market)
    if "Yes" not in outcomes:
        raise PayloadInvalid(f"{label}: no outcome named 'Yes' in {outcomes!r}", field="outcomes", row=row)
    raw_prices = _decode_list(market, "outcomePrices")
    if len(raw_prices) != len(outcomes):
        raise PayloadInvalid(
            f"{label}: {len(raw_prices)} outcomePrices for {len(outcomes)} outcomes", field="outcomePrices", row=row
        )
    prices = [_number(market, "outcomePrices", price) for price in raw_prices]
    if not all(0.0 <= price <= 1.0 for price in prices):
        raise PayloadInvalid(f"{label}: outcomePrices outside [0, 1]: {raw_prices!r}", field="outcomePrices", row=row)
    if abs(sum(prices) - 1.0) > _PRICE_SUM_TOLERANCE:
        raise PayloadInvalid(
            f"{label}: outcomePrices {raw_prices!r} sum to {sum(prices):g}, not 1: a resolved or stale market",
            field="outcomePrices",
            row=row,
        )
    slug = market.get("slug")
    return RecessionOdds(
        probability=prices[outcomes.index("Yes")],  # by name: the Yes price is not always first
        question=market["question"],
        slug=slug if isinstance(slug, str) else "",
        market_id=row,
        volume_usd=_volume_usd(market),
        as_of=as_of,
    )


def _excerpt(body: bytes) -> str:
    return body[:_BODY_EXCERPT_CHARS].decode("utf-8", errors="replace")


async def _search(base_url: str, timeout_s: float) -> Any:
    """Decoded /public-search answer; the one place where aiohttp and JSON errors become adapter errors."""
    url = base_url.rstrip("/") + SEARCH_PATH
    where = f"polymarket GET {url}"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session,
            session.get(url, params=_SEARCH_PARAMS, headers={"Accept": "application/json"}) as response,
        ):
            body = await response.read()
            status, retry_after = response.status, response.headers.get("Retry-After")
    except TimeoutError as exc:
        raise SourceUnavailable(f"{where} timed out after {timeout_s:g} s") from exc
    except aiohttp.ClientError as exc:
        raise SourceUnavailable(f"{where} failed: {type(exc).__name__}: {exc}") from exc
    if status in (401, 403):
        raise AuthFailed(f"{where} refused access: HTTP {status}: {_excerpt(body)}")
    if status == 429:
        raise SourceUnavailable(f"{where} rate limited: HTTP 429 (Retry-After: {retry_after or 'not given'})")
    if not 200 <= status < 300:
        raise SourceUnavailable(f"{where} answered HTTP {status}: {_excerpt(body)}")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise PayloadInvalid(f"{where} answered a body that is not JSON ({exc}): {_excerpt(body)!r}") from exc


def _search_in_worker(base_url: str, timeout_s: float) -> Any:
    # asyncio.run in a thread we own: the caller (Streamlit's script thread) has no event loop, and a caller
    # that does have one must not be blocked re-entering it.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="polymarket")
    try:
        future = executor.submit(lambda: asyncio.run(_search(base_url, timeout_s)))
        try:
            return future.result(timeout=timeout_s + _WORKER_GRACE_S)
        except FutureTimeout as exc:
            waited_s = timeout_s + _WORKER_GRACE_S
            raise SourceUnavailable(f"polymarket GET {base_url}{SEARCH_PATH}: no answer within {waited_s:g} s") from exc
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class _Entry:
    good: RecessionOdds | None = None
    failure: AdapterError | None = None
    failed_at: datetime | None = None


class OddsCache:
    """Last good odds and last failure per Gamma base URL; thread-safe. The module keeps one by default."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def _entry(self, key: str) -> _Entry:
        """What is known for `key` (an empty entry when nothing is)."""
        with self._lock:
            return self._entries.get(key, _Entry())

    def _record_success(self, key: str, odds: RecessionOdds) -> None:
        """Keep `odds` as the last good value and forget any failure."""
        with self._lock:
            self._entries[key] = _Entry(good=odds)

    def _record_failure(self, key: str, failure: AdapterError, at: datetime) -> None:
        """Remember `failure` at `at`, keeping the last good value."""
        with self._lock:
            self._entries[key] = _Entry(good=self._entries.get(key, _Entry()).good, failure=failure, failed_at=at)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()


_DEFAULT_CACHE: Final = OddsCache()


def _stale_or_raise(good: RecessionOdds | None, failure: AdapterError) -> RecessionOdds:
    if good is None:
        raise failure.with_traceback(None)
    return good.model_copy(update={"stale": True, "stale_since": good.as_of, "error": str(failure)})


def fetch_recession_probability(settings: Settings, now: datetime, *, cache: OddsCache | None = None) -> RecessionOdds:
    """Market-implied probability (0..1) of a US recession in `now`'s New York year, from Polymarket.

    Served from the cache while younger than `polymarket_cache_ttl_s`. On failure: the last good odds marked
    stale (with the error), else the adapter error is raised; for a minute after a failure the same answer is
    given without a new request, so page reruns never wait on a dead endpoint again and again.

    Args:
        settings: Gamma base URL, request timeout (s) and cache TTL (s).
        now: The caller's clock (tz-aware): picks the year, stamps `as_of`, ages the cache.
        cache: Where to keep results; the module-wide cache when omitted.

    Raises:
        AuthFailed, SourceUnavailable, PayloadInvalid: The fetch failed and no good odds were ever cached.
    """
    if now.tzinfo is None:
        raise ValueError("fetch_recession_probability: now must be tz-aware")
    cache = _DEFAULT_CACHE if cache is None else cache
    key = settings.polymarket_gamma_url.rstrip("/")
    known = cache._entry(key)
    if known.good is not None and now - known.good.as_of < timedelta(seconds=settings.polymarket_cache_ttl_s):
        return known.good
    if known.failure is not None and known.failed_at is not None and now - known.failed_at < _RETRY_AFTER_FAILURE:
        return _stale_or_raise(known.good, known.failure)
    try:
        payload = _search_in_worker(key, settings.polymarket_timeout_s)
        market = select_recession_market(payload, now.astimezone(NEW_YORK).year)
        odds = to_recession_odds(market, as_of=now)
    except AdapterError as exc:
        cache._record_failure(key, exc, now)
        if known.good is None:
            raise
        return _stale_or_raise(known.good, exc)
    cache._record_success(key, odds)
    return odds
