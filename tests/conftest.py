"""Shared test helpers: fixture paths and loaders."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_path(*parts: str) -> Path:
    """Path of a recorded fixture; fails with a message saying what is missing."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"fixture {path} is missing: copy it from ../shared/realdata or ../shared/golden")
    return path


def load_fixture(*parts: str) -> Any:
    """Parsed JSON fixture."""
    return json.loads(fixture_path(*parts).read_text(encoding="utf-8"))


def golden_rows(name: str) -> list[dict[str, str]]:
    """Rows of a shared/golden CSV (copied into tests/fixtures/golden)."""
    with fixture_path("golden", name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
