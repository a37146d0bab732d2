"""Market regime from VIX, VIX3M, VVIX and the Polymarket recession probability, as the risk matrix defines it.

Owns regime classification for one moment and for a daily history, both through the same vectorized
condition evaluator. Pure: no I/O and no clock; the RiskMatrix is loaded at the edge and passed in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from config.condition_eval import evaluate, explain
from config.conditions import INPUT_NAMES
from config.risk_matrix import UNKNOWN_REGIME, Limits, RiskMatrix

__all__ = [
    "TERM_STRUCTURE_DECIMALS",
    "UNKNOWN_REGIME",
    "RegimeInputs",
    "RegimeResult",
    "classify_regime",
    "classify_regime_history",
    "term_structure",
]

FloatArray = npt.NDArray[np.float64]

TERM_STRUCTURE_DECIMALS: Final = 10
"""VIX3M / VIX is rounded to this many decimals before any comparison (see ``term_structure``)."""

# Condition input name → RegimeInputs field. TermStructure is derived from VIX3M and VIX.
_FIELD_BY_INPUT: Final[Mapping[str, str]] = {
    "VIX": "vix",
    "VIX3M": "vix3m",
    "VVIX": "vvix",
    "TermStructure": "term_structure",
    "Polymarket_Recession_Prob": "recession_prob",
}
_SOURCES: Final[Mapping[str, tuple[str, ...]]] = {
    "VIX": ("VIX",),
    "VIX3M": ("VIX3M",),
    "VVIX": ("VVIX",),
    "TermStructure": ("VIX3M", "VIX"),
    "Polymarket_Recession_Prob": ("Polymarket_Recession_Prob",),
}
"""Which raw inputs a condition input is computed from, so a missing ratio is reported as its missing quote."""

if set(_FIELD_BY_INPUT) != INPUT_NAMES or set(_SOURCES) != INPUT_NAMES:  # pragma: no cover - import guard
    raise RuntimeError("risk_engine.regime does not map every input name of config.conditions")


def term_structure(vix3m: FloatArray | float, vix: FloatArray | float) -> FloatArray:
    """VIX3M / VIX as a ratio rounded to 10 decimals; NaN where either level is missing.

    The rounding is a guard so that a quoted ratio compares as the decimal it is: 13.2 / 12.0 in binary is
    1.0999999999999999, which would fail ``TermStructure >= 1.10``; rounded, it is the double nearest 1.10,
    exactly what the YAML literal ``1.10`` parses to. Quotes carry 2 decimals, so 10 decimals lose nothing.

    Args:
        vix3m: CBOE VIX3M level(s), index points.
        vix: CBOE VIX level(s), index points.

    Example:
        >>> float(term_structure(13.2, 12.0)) == 1.10
        True
    """
    ratio = np.asarray(vix3m, dtype=np.float64) / np.asarray(vix, dtype=np.float64)
    return np.round(ratio, TERM_STRUCTURE_DECIMALS)


def _check_values(name: str, values: FloatArray, *, probability: bool) -> None:
    """Raise ValueError naming ``name`` and the first bad element; NaN (missing) is allowed."""
    present = ~np.isnan(values)
    if probability:
        bad = present & ~((values >= 0.0) & (values <= 1.0))
        rule = "a probability in 0..1"
    else:
        bad = present & ~((values > 0.0) & np.isfinite(values))
        rule = "a positive, finite index level"
    if bad.any():
        index = int(np.flatnonzero(bad.ravel())[0])
        where = "" if values.ndim == 0 else f" at day index {index}"
        raise ValueError(f"{name} must be {rule} (NaN = missing); got {values.ravel()[index]!r}{where}")


@dataclass(frozen=True, slots=True)
class RegimeInputs:
    """Regime inputs at one moment; None (or NaN) means missing.

    Attributes:
        vix: CBOE VIX, index points.
        vix3m: CBOE VIX3M, index points.
        vvix: CBOE VVIX, index points.
        recession_prob: Polymarket US-recession probability, 0..1.
    """

    vix: float | None
    vix3m: float | None
    vvix: float | None
    recession_prob: float | None

    def __post_init__(self) -> None:
        for name in ("vix", "vix3m", "vvix", "recession_prob"):
            value = getattr(self, name)
            if value is None:
                continue
            number = float(value)
            _check_values(name, np.asarray(number), probability=name == "recession_prob")
            # Frozen: normalise NaN to None (and ints to float) once, so every reader sees one "missing".
            object.__setattr__(self, name, None if math.isnan(number) else number)

    @property
    def term_structure(self) -> float | None:
        """VIX3M / VIX rounded to 10 decimals (ratio), or None if either is missing; see ``term_structure``."""
        if self.vix is None or self.vix3m is None:
            return None
        return float(term_structure(self.vix3m, self.vix))

    def as_dict(self) -> dict[str, float | None]:
        """The inputs keyed vix, vix3m, vvix, term_structure, recession_prob; None where missing."""
        return {
            "vix": self.vix,
            "vix3m": self.vix3m,
            "vvix": self.vvix,
            "term_structure": self.term_structure,
            "recession_prob": self.recession_prob,
        }


@dataclass(frozen=True)
class RegimeResult:
    """The regime at one moment, whose limits apply, and why."""

    regime: str
    """Regime name, or "unknown" when VIX is missing and no condition could be shown to hold."""
    limits_regime: str
    """Regime whose limits apply: ``regime`` itself, or the matrix's unknown_vix_regime when unknown."""
    limits: Limits
    decided_by: str
    """Source text of the deciding clause (e.g. "VIX > 22"), or a sentence for the fallback / unknown case."""
    missing_inputs: tuple[str, ...]
    """Sorted input names that were needed but missing (their conditions counted as not holding)."""
    inputs: dict[str, float | None] = field(hash=False)
    """vix, vix3m, vvix, term_structure, recession_prob as used; None where missing."""
    reason: str
    """One line for the trader."""
    description: str
    allowed_strategies: tuple[str, ...]


def _fmt(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _inputs_line(inputs: RegimeInputs) -> str:
    prob = "n/a" if inputs.recession_prob is None else f"{inputs.recession_prob:.1%}"
    return (
        f"VIX {_fmt(inputs.vix, 2)}, VIX3M {_fmt(inputs.vix3m, 2)}, VVIX {_fmt(inputs.vvix, 2)}, "
        f"VIX3M/VIX {_fmt(inputs.term_structure, 4)}, recession {prob}"
    )


def classify_regime(matrix: RiskMatrix, inputs: RegimeInputs) -> RegimeResult:
    """The regime for one set of inputs: the first regime in evaluation_order whose condition holds.

    A condition that needs a missing input is unknown and counts as not holding; the input is listed in
    ``missing_inputs``. If none holds, the regime is the fallback, or "unknown" (with the unknown_vix_regime's
    limits) when VIX itself is missing, since "nothing held" cannot then be concluded.

    Args:
        matrix: the loaded risk matrix.
        inputs: VIX, VIX3M, VVIX (index points) and recession probability (0..1); None = missing.

    Example:
        VIX 24.1, VIX3M 23.0, VVIX 120, recession 0.18 with the shipped matrix: crisis_mode does not hold
        (24.1 <= 35, 120 <= 150), so the regime is high_volatility, decided by "VIX > 22".
    """
    values = {name: getattr(inputs, attr) for name, attr in _FIELD_BY_INPUT.items()}
    missing: set[str] = set()
    chosen: str | None = None
    decided_by = ""
    for name in matrix.evaluation_order:
        verdict = explain(matrix.regimes[name].condition, values)
        missing.update(raw for used in verdict.missing for raw in _SOURCES[used] if values[raw] is None)
        if verdict.holds and verdict.decided_by is not None:
            chosen, decided_by = name, verdict.decided_by
            break
    tried = "/".join(matrix.evaluation_order)
    if inputs.vix is None:
        missing.add("VIX")
    if chosen is not None:
        regime = limits_regime = chosen
    elif inputs.vix is None:
        regime, limits_regime = UNKNOWN_REGIME, matrix.unknown_vix_regime
        decided_by = f"VIX is missing and no condition of {tried} could be shown to hold"
    else:
        regime = limits_regime = matrix.fallback_regime
        decided_by = f"no condition of {tried} held"
    spec = matrix.regimes[limits_regime]
    missing_inputs = tuple(sorted(missing))
    if regime == UNKNOWN_REGIME:
        description = f"Regime unknown: VIX is missing. {limits_regime} limits apply ({spec.description})"
        reason = f"regime unknown (VIX missing): {limits_regime} limits apply; {_inputs_line(inputs)}"
    else:
        description = spec.description
        reason = f"{regime} because {decided_by}; {_inputs_line(inputs)}"
    others = [name for name in missing_inputs if name != "VIX" or regime != UNKNOWN_REGIME]
    if others:
        reason += f"; missing {', '.join(others)}, so conditions needing {'them' if len(others) > 1 else 'it'} "
        reason += "counted as not holding"
    return RegimeResult(
        regime=regime,
        limits_regime=limits_regime,
        limits=spec.limits,
        decided_by=decided_by,
        missing_inputs=missing_inputs,
        inputs=inputs.as_dict(),
        reason=reason,
        description=description,
        allowed_strategies=spec.limits.allowed_strategies,
    )


def _days(name: str, values: npt.ArrayLike, length: int | None, *, probability: bool = False) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of one value per day; got shape {array.shape}")
    if length is not None and array.shape[0] != length:
        raise ValueError(f"{name} has {array.shape[0]} days but vix has {length}")
    _check_values(name, array, probability=probability)
    return array


def classify_regime_history(
    matrix: RiskMatrix,
    vix: npt.ArrayLike,
    vix3m: npt.ArrayLike,
    vvix: npt.ArrayLike,
    recession_prob: npt.ArrayLike,
) -> npt.NDArray[np.str_]:
    """Regime name per day, equal day by day to ``classify_regime``; vectorized, no per-day loop.

    Args:
        matrix: the loaded risk matrix.
        vix: VIX close per day, index points; NaN = missing.
        vix3m: VIX3M close per day, index points; NaN = missing.
        vvix: VVIX close per day, index points; NaN = missing.
        recession_prob: recession probability per day, 0..1; NaN = missing (all NaN before Polymarket).

    Returns:
        One regime name per day (a name from the matrix, or "unknown" where VIX is missing and no
        condition holds).
    """
    vix_days = _days("vix", vix, None)
    days = vix_days.shape[0]
    values: dict[str, FloatArray] = {
        "VIX": vix_days,
        "VIX3M": _days("vix3m", vix3m, days),
        "VVIX": _days("vvix", vvix, days),
        "Polymarket_Recession_Prob": _days("recession_prob", recession_prob, days, probability=True),
    }
    values["TermStructure"] = term_structure(values["VIX3M"], values["VIX"])
    order = matrix.evaluation_order
    holds = np.stack([evaluate(matrix.regimes[name].condition, values).holds for name in order])
    any_held = holds.any(axis=0)
    # argmax finds the first True per day: evaluation order decides between regimes that both hold.
    code = np.where(any_held, np.argmax(holds, axis=0), len(order))
    code = np.where(~any_held & np.isnan(vix_days), len(order) + 1, code)
    labels = np.array([*order, matrix.fallback_regime, UNKNOWN_REGIME], dtype=np.str_)
    result: npt.NDArray[np.str_] = labels[code]
    return result
