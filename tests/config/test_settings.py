"""Settings: .env.example lists every setting, empty values are unset, secrets never print."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_lists_every_setting_empty() -> None:
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    assignments = dict(line.split("=", 1) for line in lines if re.match(r"^[A-Z][A-Z0-9_]*=", line))
    assert set(assignments) == {name.upper() for name in Settings.model_fields}
    assert all(value == "" for value in assignments.values())


def test_env_example_loads_as_all_sources_off() -> None:
    settings = load_settings(ROOT / ".env.example")
    assert not settings.ibkr_configured
    assert not settings.tastytrade_configured
    assert not settings.llm_configured
    assert not settings.polymarket_enabled


def test_secrets_never_appear_in_repr_or_dump(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = "tt-refresh-Z9sECRET"
    monkeypatch.setenv("TASTYTRADE_REFRESH_TOKEN", secret)
    monkeypatch.setenv("TASTYTRADE_PROVIDER_SECRET", "prov-" + secret)
    monkeypatch.setenv("LLM_API_KEY", "sk-" + secret)
    settings = load_settings(tmp_path / "absent.env")
    assert settings.tastytrade_configured
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert secret not in text
