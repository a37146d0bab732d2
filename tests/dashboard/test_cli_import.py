"""`riskdash import PATH [--json]`: the JSON contract, exit codes, and the text table."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

from dashboard.cli import main
from models.positions import UnifiedPosition
from tests.conftest import fixture_path

NOW = datetime(2026, 7, 1, 14, 0, tzinfo=UTC)  # after every option in the fixtures expired


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err, now=NOW)
    return code, out.getvalue(), err.getvalue()


def _json(*parts: str) -> Any:
    code, out, err = _run("import", str(fixture_path(*parts)), "--json")
    assert code == 0, err
    return json.loads(out)


def test_json_positions_carry_the_unified_position_fields_plus_expired() -> None:
    payload = _json("thinkorswim", "position_statement_2021-12-29_paperMoney.csv")
    fields = set(UnifiedPosition.model_fields) | {"dte", "expired"}
    assert all(set(p) == fields for p in payload["positions"])
    put = next(p for p in payload["positions"] if p["symbol"] == "SPXW  220531P04650000")
    assert (put["quantity"], put["multiplier"], put["expiry"], put["expired"]) == (
        -3,
        100,
        "2022-05-31T16:00:00-04:00",
        True,
    )
    shares = next(p for p in payload["positions"] if p["symbol"] == "SPY")
    assert shares["expired"] is False
    assert payload["rejected"] == []


def test_rejected_rows_are_listed_and_the_exit_code_is_still_0() -> None:
    payload = _json("ibkr", "flex_malformed_rows.xml")
    assert len(payload["positions"]) == 2
    assert [set(r) for r in payload["rejected"]] == [{"source", "row", "field", "reason"}] * 2
    assert sorted(r["field"] for r in payload["rejected"]) == ["expiry", "multiplier"]


def test_unrecognised_file_exits_1_naming_it(tmp_path: Any) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    code, out, err = _run("import", str(path))
    assert (code, out) == (1, "")
    assert "notes.txt" in err


def test_missing_file_exits_1_naming_it(tmp_path: Any) -> None:
    code, _, err = _run("import", str(tmp_path / "gone.xml"))
    assert code == 1
    assert "gone.xml" in err


def test_text_mode_prints_counts_and_one_line_per_position() -> None:
    code, out, _ = _run("import", str(fixture_path("thinkorswim", "position_statement_malformed_rows.csv")))
    assert code == 0
    assert "7 positions, 2 rejected, 6 expired by" in out
    assert sum(line.startswith("D-00000000 (margin) ") for line in out.splitlines()) == 7
    assert "[Qty]" in out
    assert "[Instrument]" in out
