"""IBKR Client Portal position rows → riskdash, on the documented and the live (masked) row shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.errors import PayloadInvalid
from adapters.ibkr_cpapi import cpapi_to_position, read_cpapi_positions
from models.conventions import NEW_YORK, SettlementTime
from models.positions import ExerciseStyle, InstrumentKind, Right
from tests.conftest import fixture_path, load_fixture

NOW = datetime(2025, 5, 2, 14, 0, tzinfo=UTC)


def jsonl(name: str) -> list[dict[str, Any]]:
    lines = fixture_path("ibkr_live", name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_documented_rows_translate_and_crypto_is_rejected() -> None:
    result = read_cpapi_positions(load_fixture("ibkr_live", "cpapi_official_example_crypto_opt_stk.json"), NOW)
    spy, ibm = result.positions
    assert (spy.symbol, spy.kind, spy.quantity, spy.multiplier) == (
        "SPY   250117C00440000",
        InstrumentKind.EQUITY_OPTION,
        1.0,
        100.0,
    )
    assert (spy.strike, spy.right, spy.expiry) == (440.0, Right.CALL, datetime(2025, 1, 17, 16, 0, tzinfo=NEW_YORK))
    assert (spy.mark, spy.underlying, spy.exercise_style) == (95.70706175, "SPY", ExerciseStyle.AMERICAN)
    # The docs' shares carry multiplier 0 ("not a derivative"): a share is one unit.
    assert (ibm.symbol, ibm.quantity, ibm.multiplier, ibm.kind) == ("IBM", 1412.0, 1.0, InstrumentKind.STOCK)
    (crypto,) = result.rejected
    assert (crypto.row, crypto.field) == ("conid=479624278 BTC CRYPTO", "assetClass")


def test_live_option_row_reads_terms_from_the_description_and_scientific_price() -> None:
    (row,) = jsonl("cpapi_live_opt_scientific_price.jsonl")
    position = cpapi_to_position(row, NOW)
    assert (position.account, position.quantity, position.multiplier) == ("U*******", -5.0, 100.0)
    assert (position.strike, position.right) == (40.0, Right.CALL)
    assert position.expiry == datetime(2025, 6, 20, 16, 0, tzinfo=NEW_YORK)
    assert position.mark == pytest.approx(8.5215e-4)


def test_live_future_option_rows_without_terms_are_rejected_not_guessed() -> None:
    result = read_cpapi_positions(jsonl("cpapi_live_fop_terms_only_in_desc.jsonl"), NOW)
    assert result.positions == ()
    assert [(r.row, r.field) for r in result.rejected] == [
        ("conid=784136636 ES     JUN2025 6040 C (E2D)", "expiry"),
        ("conid=784391272 ES     JUN2025 6010 C (EW2)", "expiry"),
        ("conid=785625295 ZN     JUN2025 112.75 C (ZN2)", "expiry"),
    ]
    assert all("waitForSecDef" in r.reason for r in result.rejected)


def test_documented_row_whose_strike_contradicts_the_occ_symbol_is_rejected() -> None:
    row = dict(load_fixture("ibkr_live", "cpapi_official_example_crypto_opt_stk.json")[1], strike="445")
    with pytest.raises(PayloadInvalid, match="strike") as info:
        cpapi_to_position(row, NOW)
    assert info.value.field == "strike"


@pytest.mark.parametrize(
    ("root", "expiry", "settlement"),
    [
        ("SPX ", datetime(2025, 6, 20, 9, 30, tzinfo=NEW_YORK), SettlementTime.AM),
        ("SPXW", datetime(2025, 6, 20, 16, 0, tzinfo=NEW_YORK), SettlementTime.PM),
    ],
    ids=["spx-am", "spxw-pm"],
)
def test_spx_class_in_the_occ_root_decides_settlement(root: str, expiry: datetime, settlement: SettlementTime) -> None:
    # CONSTRUCTED on the live SPXU row's shape: only contractDesc carries the terms.
    (row,) = jsonl("cpapi_live_opt_scientific_price.jsonl")
    row = {**row, "contractDesc": f"SPX    JUN2025 5000 P [{root}  250620P05000000 100]", "mktPrice": 12.5}
    position = cpapi_to_position(row, NOW)
    assert (position.kind, position.underlying) == (InstrumentKind.INDEX_OPTION, "SPX")
    assert (position.expiry, position.settlement, position.exercise_style) == (
        expiry,
        settlement,
        ExerciseStyle.EUROPEAN,
    )
