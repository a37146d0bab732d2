"""The embedded snapshot store: every good fetch per source, in one SQLite file (WAL) under riskdash_data_dir.

Owns the file, its schema version and one transaction per save. It never fetches, and never keeps a secret:
every text it writes is scrubbed of the Settings' SecretStr values first.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Final, TypeVar

from pydantic import BaseModel, SecretStr, ValidationError

from adapters.results import FetchResult
from config.settings import Settings
from models.base import RiskdashModel
from models.market import MarketSnapshot

__all__ = [
    "SCHEMA_VERSION",
    "STORE_FILE_NAME",
    "SnapshotKind",
    "SnapshotStore",
    "SnapshotStoreError",
    "SourceStatus",
    "mark_stale",
]

SCHEMA_VERSION: Final = 1
STORE_FILE_NAME: Final = "snapshots.sqlite3"
DEFAULT_KEEP_PER_SOURCE: Final = 200
"""Snapshots kept per (kind, source): a few hours of one-minute refreshes, so the file cannot grow forever."""

REDACTED: Final = "[redacted]"
_MIN_SECRET_CHARS: Final = 6
"""Shorter "secrets" would match ordinary text (symbols, numbers) and corrupt it when scrubbed."""

_BUSY_TIMEOUT_S: Final = 5.0

_SCHEMA_V1: Final = (
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    """CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('positions', 'market')),
        source TEXT NOT NULL,
        as_of TEXT NOT NULL,
        payload TEXT NOT NULL
    )""",
    "CREATE INDEX snapshots_by_source ON snapshots (kind, source, id)",
    """CREATE TABLE source_status (
        kind TEXT NOT NULL,
        source TEXT NOT NULL,
        ok INTEGER NOT NULL,
        last_good_at TEXT,
        last_attempt_at TEXT NOT NULL,
        error TEXT,
        PRIMARY KEY (kind, source)
    )""",
)

# Version n -> the statements that take a store from n to n + 1. Empty while version 1 is the only one.
_MIGRATIONS: Final[dict[int, tuple[str, ...]]] = {}

ModelT = TypeVar("ModelT", bound=BaseModel)


class SnapshotStoreError(Exception):
    """The store file cannot be opened, migrated, written or read; the message names the file."""


class SnapshotKind(StrEnum):
    """What a snapshot holds: a FetchResult of positions, or a MarketSnapshot."""

    POSITIONS = "positions"
    MARKET = "market"


class SourceStatus(RiskdashModel):
    """Health of one source: did its last attempt succeed, when was its last good snapshot, what failed."""

    source: str
    kind: SnapshotKind
    ok: bool
    last_good_at: datetime | None
    last_attempt_at: datetime
    error: str | None


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be tz-aware, got {value.isoformat()}")


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def mark_stale(result: FetchResult, error: str, now: datetime) -> FetchResult:
    """`result` kept as the answer of a failed refresh: stale since its fetch, carrying the failure's message.

    A result that is already stale keeps its original `stale_since`.

    Args:
        result: The last good result of the source (for example `SnapshotStore.last_fetch`).
        error: What failed, naming the source and endpoint.
        now: When the refresh failed (tz-aware, not before the result was fetched).
    """
    _require_aware(now, "now")
    if now < result.fetched_at:
        raise ValueError(
            f"mark_stale: now {now.isoformat()} is before {result.source} was fetched ({result.fetched_at.isoformat()})"
        )
    since = result.stale_since if result.stale and result.stale_since is not None else result.fetched_at
    return result.model_copy(update={"stale": True, "stale_since": since, "error": error})


def _secret_values(settings: Settings) -> list[SecretStr]:
    values = (getattr(settings, name) for name in type(settings).model_fields)
    return [value for value in values if isinstance(value, SecretStr)]


class SnapshotStore:
    """Last good snapshots per source in SQLite; one writer at a time, thread-safe, each save one transaction."""

    def __init__(
        self,
        path: Path,
        *,
        secrets: Iterable[SecretStr] = (),
        keep_per_source: int = DEFAULT_KEEP_PER_SOURCE,
    ) -> None:
        """Open (or create) the store at `path`, checking or migrating its schema version.

        Args:
            path: The SQLite file; its directory is created when missing.
            secrets: Values scrubbed from every text written (pass the Settings' SecretStr fields).
            keep_per_source: Snapshots kept per (kind, source); older ones are deleted in the same transaction.
        """
        if keep_per_source < 1:
            raise ValueError(f"keep_per_source must be >= 1, got {keep_per_source}")
        self._path = path
        self._keep = keep_per_source
        values = {s.get_secret_value() for s in secrets if len(s.get_secret_value()) >= _MIN_SECRET_CHARS}
        # Payloads are JSON, where a secret holding a quote or backslash appears escaped.
        escaped = {json.dumps(value)[1:-1] for value in values}
        self._secrets = sorted(values | escaped, key=len, reverse=True)  # longest first: scrub containers whole
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=_BUSY_TIMEOUT_S)
            mode = str(self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0])
            if mode.lower() != "wal":
                raise SnapshotStoreError(f"snapshot store {path}: SQLite refused WAL journal mode (kept {mode!r})")
            # FULL: a commit is on disk before save returns, so neither a killed process nor a power cut loses it.
            self._conn.execute("PRAGMA synchronous=FULL")
            self._prepare_schema()
        except sqlite3.Error as exc:
            self.close()
            raise SnapshotStoreError(f"snapshot store {path} cannot be opened: {exc}") from exc
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_settings(cls, settings: Settings) -> SnapshotStore:
        """The store at `riskdash_data_dir/snapshots.sqlite3`, scrubbing every SecretStr of `settings`."""
        return cls(settings.riskdash_data_dir / STORE_FILE_NAME, secrets=_secret_values(settings))

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self._path

    @property
    def schema_version(self) -> int:
        """Schema version of the open file (always SCHEMA_VERSION once opened)."""
        with self._reading("read the schema version") as conn:
            return int(conn.execute("SELECT version FROM schema_version").fetchone()[0])

    def _prepare_schema(self) -> None:
        with self._transaction("prepare the schema") as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not tables:
                for statement in _SCHEMA_V1:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
                return
            if "schema_version" not in tables:
                raise SnapshotStoreError(
                    f"snapshot store {self._path} is not a riskdash snapshot store (no schema_version table; "
                    f"tables: {', '.join(sorted(tables))})"
                )
            rows = conn.execute("SELECT version FROM schema_version").fetchall()
            if len(rows) != 1 or not isinstance(rows[0][0], int):
                raise SnapshotStoreError(
                    f"snapshot store {self._path}: schema_version must hold one integer, holds {rows!r}"
                )
            version = int(rows[0][0])
            if version > SCHEMA_VERSION:
                raise SnapshotStoreError(
                    f"snapshot store {self._path} has schema version {version}, newer than version "
                    f"{SCHEMA_VERSION} this riskdash understands: upgrade riskdash or use another RISKDASH_DATA_DIR"
                )
            while version < SCHEMA_VERSION:
                steps = _MIGRATIONS.get(version)
                if steps is None:
                    raise SnapshotStoreError(
                        f"snapshot store {self._path} has schema version {version}, older than version "
                        f"{SCHEMA_VERSION}, and no migration from it exists: move the file away to start afresh"
                    )
                for statement in steps:
                    conn.execute(statement)
                version += 1
                conn.execute("UPDATE schema_version SET version = ?", (version,))

    def _require_open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise SnapshotStoreError(f"snapshot store {self._path} is closed")
        return self._conn

    @contextmanager
    def _transaction(self, action: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._require_open()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise SnapshotStoreError(f"snapshot store {self._path}: cannot {action}: {exc}") from exc
            try:
                yield conn
            except BaseException as exc:
                with suppress(sqlite3.Error):  # keep the original failure, not a rollback's
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise SnapshotStoreError(f"snapshot store {self._path}: cannot {action}: {exc}") from exc
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise SnapshotStoreError(f"snapshot store {self._path}: cannot {action}: {exc}") from exc

    @contextmanager
    def _reading(self, action: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._require_open()
            try:
                yield conn
            except sqlite3.Error as exc:
                raise SnapshotStoreError(f"snapshot store {self._path}: cannot {action}: {exc}") from exc

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def _save(self, kind: SnapshotKind, source: str, as_of: datetime, payload: str) -> None:
        _require_aware(as_of, f"{kind.value} snapshot of {source!r}: as_of")
        with self._transaction(f"save the {kind.value} snapshot of {source!r}") as conn:
            conn.execute(
                "INSERT INTO snapshots (kind, source, as_of, payload) VALUES (?, ?, ?, ?)",
                (kind.value, source, _instant(as_of), self._scrub(payload)),
            )
            conn.execute(
                """DELETE FROM snapshots WHERE kind = ? AND source = ? AND id NOT IN
                   (SELECT id FROM snapshots WHERE kind = ? AND source = ? ORDER BY id DESC LIMIT ?)""",
                (kind.value, source, kind.value, source, self._keep),
            )
            conn.execute(
                """INSERT INTO source_status (kind, source, ok, last_good_at, last_attempt_at, error)
                   VALUES (?, ?, 1, ?, ?, NULL)
                   ON CONFLICT (kind, source) DO UPDATE SET ok = 1, last_good_at = excluded.last_good_at,
                       last_attempt_at = excluded.last_attempt_at, error = NULL""",
                (kind.value, source, _instant(as_of), _instant(as_of)),
            )

    def save_fetch(self, result: FetchResult) -> None:
        """Store a good positions fetch of `result.source` and mark the source healthy, in one transaction."""
        if result.stale:
            raise ValueError(f"snapshot store: refusing to save a stale {result.source!r} result as a good fetch")
        self._save(
            SnapshotKind.POSITIONS,
            result.source,
            result.fetched_at,
            # `dte` and other computed fields are derived on load; stored, they would fail extra="forbid".
            result.model_dump_json(exclude_computed_fields=True),
        )

    def save_market(self, snapshot: MarketSnapshot, source: str) -> None:
        """Store a good market snapshot from `source` and mark the source healthy, in one transaction."""
        self._save(SnapshotKind.MARKET, source, snapshot.as_of, snapshot.model_dump_json(exclude_computed_fields=True))

    def record_failure(self, source: str, kind: SnapshotKind, error: str, at: datetime) -> None:
        """Mark `source` failing at `at` with `error`; its last good snapshot stays."""
        _require_aware(at, "at")
        with self._transaction(f"record the failure of {source!r}") as conn:
            conn.execute(
                """INSERT INTO source_status (kind, source, ok, last_good_at, last_attempt_at, error)
                   VALUES (?, ?, 0, NULL, ?, ?)
                   ON CONFLICT (kind, source) DO UPDATE SET ok = 0, last_attempt_at = excluded.last_attempt_at,
                       error = excluded.error""",
                (kind.value, source, _instant(at), self._scrub(error)),
            )

    def _load(self, kind: SnapshotKind, source: str, limit: int, model: type[ModelT]) -> list[ModelT]:
        with self._reading(f"read {kind.value} snapshots of {source!r}") as conn:
            rows = conn.execute(
                "SELECT id, payload FROM snapshots WHERE kind = ? AND source = ? ORDER BY id DESC LIMIT ?",
                (kind.value, source, limit),
            ).fetchall()
        loaded: list[ModelT] = []
        for row_id, payload in rows:
            try:
                loaded.append(model.model_validate_json(payload))
            except ValidationError as exc:
                raise SnapshotStoreError(
                    f"snapshot store {self._path}: snapshots row {row_id} ({kind.value} of {source!r}) "
                    f"is not a valid {model.__name__}: {exc.error_count()} errors, first "
                    f"{'.'.join(map(str, exc.errors()[0]['loc']))}: {exc.errors()[0]['msg']}"
                ) from exc
        return loaded

    def last_fetch(self, source: str) -> FetchResult | None:
        """The last good positions fetch of `source` (as saved, not stale), or None if there is none."""
        found = self._load(SnapshotKind.POSITIONS, source, 1, FetchResult)
        return found[0] if found else None

    def last_market(self, source: str) -> MarketSnapshot | None:
        """The last good market snapshot from `source`, or None if there is none."""
        found = self._load(SnapshotKind.MARKET, source, 1, MarketSnapshot)
        return found[0] if found else None

    def fetch_history(self, source: str, limit: int = DEFAULT_KEEP_PER_SOURCE) -> list[FetchResult]:
        """Up to `limit` stored positions fetches of `source`, newest first."""
        return self._load(SnapshotKind.POSITIONS, source, limit, FetchResult)

    def status(self) -> list[SourceStatus]:
        """Health of every source seen, ordered by kind then source."""
        with self._reading("read source status") as conn:
            rows = conn.execute(
                "SELECT source, kind, ok, last_good_at, last_attempt_at, error FROM source_status ORDER BY kind, source"
            ).fetchall()
        return [
            SourceStatus(
                source=source,
                kind=SnapshotKind(kind),
                ok=bool(ok),
                last_good_at=None if last_good is None else datetime.fromisoformat(last_good),
                last_attempt_at=datetime.fromisoformat(last_attempt),
                error=error,
            )
            for source, kind, ok, last_good, last_attempt, error in rows
        ]

    def close(self) -> None:
        """Close the file (checkpointing the WAL); safe to call twice."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> SnapshotStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
