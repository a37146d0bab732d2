"""The risk matrix: regimes, their conditions and limits, and the grading thresholds, validated at load.

Owns reading ``config/risk_matrix.yaml`` into a frozen ``RiskMatrix``. It is loaded once at the edge and
passed in; engine code never opens files. Every problem is one ``RiskMatrixError`` naming file and key path.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Hashable, Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Final, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails

from config.conditions import ConditionError, Node, parse_condition

__all__ = [
    "UNKNOWN_REGIME",
    "Condition",
    "DteBucket",
    "Limits",
    "NatenbergEdge",
    "NearExpiryGamma",
    "RegimeSpec",
    "RiskMatrix",
    "RiskMatrixError",
    "StatusThresholds",
    "ThetaVegaZone",
    "default_risk_matrix_path",
    "load_risk_matrix",
]

_MAX_SHOWN: Final = 80
"""Characters of an offending value quoted in an error message."""

UNKNOWN_REGIME: Final = "unknown"
"""Regime name reported when VIX is missing; reserved, so no configured regime may use it."""


class RiskMatrixError(ValueError):
    """The risk matrix file is unreadable or invalid; the message names the file, key path and reason."""

    def __init__(self, source: str, problems: Sequence[tuple[str, str]]) -> None:
        self.source = source
        self.problems = tuple(problems)
        lines = [f"{source}: {path}: {reason}" if path else f"{source}: {reason}" for path, reason in problems]
        super().__init__("\n".join(lines))


class _KeyPathError(ValueError):
    """A cross-field problem raised inside a validator, with the key path below the validated object."""

    def __init__(self, path: tuple[str | int, ...], reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(reason)


def _parse_condition_field(value: object) -> Node:
    if not isinstance(value, str):
        raise ValueError(f"a condition must be a quoted string, not {type(value).__name__}")
    return parse_condition(value)


def _condition_text(node: Node) -> str:
    return node.text


Condition = Annotated[Node, PlainValidator(_parse_condition_field), PlainSerializer(_condition_text)]
"""A regime condition, parsed at load by config.conditions; serializes back to its text."""


class _ConfigModel(BaseModel):
    # strict: YAML `yes` must not become 1.0 and "600" must not become 600 without anyone noticing.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


class Limits(_ConfigModel):
    """Greek limits of one regime (book level, SPX-beta-weighted where stated)."""

    max_beta_delta: float = Field(ge=0)
    """Bound on |SPX-beta-weighted delta|, SPX-share equivalents."""
    max_negative_vega: float = Field(le=0)
    """Floor on book vega, USD per vol point: vega >= this."""
    min_daily_theta: float
    """Floor on book theta, USD per calendar day: theta >= this."""
    max_gamma: float = Field(ge=0)
    """Bound on |SPX-beta-weighted gamma|, deltas per SPX point."""
    allowed_strategies: tuple[str, ...] = Field(strict=False, min_length=1)
    """Shown to the trader only."""


class RegimeSpec(_ConfigModel):
    """One regime: when it applies, what it means, and its limits."""

    condition: Condition
    description: str = Field(min_length=1)
    limits: Limits


class StatusThresholds(_ConfigModel):
    """Fractions of a limit used at which a limit is graded warn, alert, and (strictly past) breach."""

    warn: float = Field(gt=0)
    alert: float = Field(gt=0)
    breach: float = Field(gt=0)

    @model_validator(mode="after")
    def _increasing(self) -> Self:
        if not self.warn < self.alert < self.breach:
            raise ValueError(f"need warn < alert < breach, got {self.warn}, {self.alert}, {self.breach}")
        return self


class DteBucket(_ConfigModel):
    """Days-to-expiry bucket in whole calendar days: min_days <= DTE <= max_days (None = no upper end)."""

    label: str = Field(min_length=1)
    min_days: int = Field(ge=0)
    max_days: int | None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max_days is not None and self.max_days < self.min_days:
            raise _KeyPathError(("max_days",), f"max_days {self.max_days} is below min_days {self.min_days}")
        return self

    def contains(self, dte_days: int) -> bool:
        """Whether a position ``dte_days`` whole calendar days from expiry falls in this bucket."""
        return self.min_days <= dte_days and (self.max_days is None or dte_days <= self.max_days)


class NearExpiryGamma(_ConfigModel):
    """Near-expiry gamma warning: bound on |SPX-beta-weighted gamma| in one DTE bucket, deltas per SPX point."""

    bucket: str
    max_abs_gamma: float = Field(ge=0)


class ThetaVegaZone(_ConfigModel):
    """Zones of book theta (USD/day) ÷ |book vega| (USD/vol point): green inside, red outside the red edges."""

    green_low: float = Field(ge=0)
    green_high: float = Field(ge=0)
    red_below: float = Field(ge=0)
    red_above: float = Field(ge=0)
    target: float = Field(ge=0)

    @model_validator(mode="after")
    def _nested(self) -> Self:
        if not self.red_below < self.green_low <= self.target <= self.green_high < self.red_above:
            raise ValueError(
                "need red_below < green_low <= target <= green_high < red_above, got "
                f"{self.red_below}, {self.green_low}, {self.target}, {self.green_high}, {self.red_above}"
            )
        return self


class NatenbergEdge(_ConfigModel):
    """Implied minus forecast volatility, in vol points, from which an edge counts as moderate or strong."""

    moderate: float = Field(gt=0)
    strong: float = Field(gt=0)

    @model_validator(mode="after")
    def _increasing(self) -> Self:
        if not self.moderate < self.strong:
            raise ValueError(f"need moderate < strong, got {self.moderate}, {self.strong}")
        return self


class RiskMatrix(_ConfigModel):
    """The validated risk matrix; see config/risk_matrix.yaml for the meaning and unit of every key."""

    regimes: dict[str, RegimeSpec] = Field(min_length=1)
    evaluation_order: tuple[str, ...] = Field(strict=False, min_length=1)
    fallback_regime: str
    unknown_vix_regime: str
    status_thresholds: StatusThresholds
    dte_buckets: tuple[DteBucket, ...] = Field(strict=False, min_length=1)
    near_expiry_gamma: NearExpiryGamma
    theta_vega_zone: ThetaVegaZone
    beta_reference: Literal["SPX"]
    natenberg_edge_vol_points: NatenbergEdge
    staleness_minutes: int = Field(gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_regime_names(self)
        _check_buckets(self.dte_buckets)
        labels = [bucket.label for bucket in self.dte_buckets]
        if self.near_expiry_gamma.bucket not in labels:
            raise _KeyPathError(
                ("near_expiry_gamma", "bucket"),
                f"{self.near_expiry_gamma.bucket!r} is not a dte_buckets label (labels: {', '.join(labels)})",
            )
        return self

    def regime(self, name: str) -> RegimeSpec:
        """The regime called ``name``; KeyError names the known regimes."""
        try:
            return self.regimes[name]
        except KeyError:
            raise KeyError(f"no regime {name!r} in the risk matrix (regimes: {', '.join(self.regimes)})") from None

    def dte_bucket(self, label: str) -> DteBucket:
        """The DTE bucket labelled ``label``; KeyError names the known labels."""
        for bucket in self.dte_buckets:
            if bucket.label == label:
                return bucket
        labels = ", ".join(bucket.label for bucket in self.dte_buckets)
        raise KeyError(f"no DTE bucket {label!r} in the risk matrix (labels: {labels})")


def _check_regime_names(matrix: RiskMatrix) -> None:
    known = ", ".join(matrix.regimes)
    if UNKNOWN_REGIME in matrix.regimes:
        raise _KeyPathError(("regimes", UNKNOWN_REGIME), f"{UNKNOWN_REGIME!r} is reserved for a missing VIX")
    seen: set[str] = set()
    for index, name in enumerate(matrix.evaluation_order):
        if name not in matrix.regimes:
            raise _KeyPathError(("evaluation_order", index), f"{name!r} is not a regime (regimes: {known})")
        if name in seen:
            raise _KeyPathError(("evaluation_order", index), f"{name!r} is listed twice")
        if name == matrix.fallback_regime:
            raise _KeyPathError(
                ("evaluation_order", index), f"{name!r} is the fallback_regime; it applies when none here holds"
            )
        seen.add(name)
    for key in ("fallback_regime", "unknown_vix_regime"):
        name = getattr(matrix, key)
        if name not in matrix.regimes:
            raise _KeyPathError((key,), f"{name!r} is not a regime (regimes: {known})")
    for name in matrix.regimes:
        if name not in seen and name != matrix.fallback_regime:
            raise _KeyPathError(
                ("regimes", name), "never chosen: it is neither in evaluation_order nor the fallback_regime"
            )


def _check_buckets(buckets: Sequence[DteBucket]) -> None:
    """Buckets must start at 0, be sorted, leave no gap or overlap, and only the last may be open-ended."""
    if buckets[0].min_days != 0:
        raise _KeyPathError(
            ("dte_buckets", 0, "min_days"), f"the first bucket must start at 0, not {buckets[0].min_days}"
        )
    labels: set[str] = set()
    for index, bucket in enumerate(buckets):
        if bucket.label in labels:
            raise _KeyPathError(("dte_buckets", index, "label"), f"label {bucket.label!r} is used twice")
        labels.add(bucket.label)
        if index == 0:
            continue
        previous = buckets[index - 1]
        if previous.max_days is None:
            raise _KeyPathError(("dte_buckets", index - 1, "max_days"), "only the last bucket may be open-ended (null)")
        if bucket.min_days != previous.max_days + 1:
            kind = "gap" if bucket.min_days > previous.max_days + 1 else "overlap"
            raise _KeyPathError(
                ("dte_buckets", index, "min_days"),
                f"{kind}: bucket {bucket.label!r} starts at {bucket.min_days} but {previous.label!r} ends at "
                f"{previous.max_days}; it must start at {previous.max_days + 1}",
            )


# ---------------------------------------------------------------------------------------------------------
# Loading


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys, which PyYAML otherwise resolves silently to the last."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Hashable, Any]:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found an unhashable key", key_node.start_mark
            )
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def _key_path(loc: Sequence[str | int]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _model_at(loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class that owns the last key of ``loc``, for listing allowed keys; None if not a model."""
    current: Any = RiskMatrix
    for part in loc[:-1]:
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            field = current.model_fields.get(part)
            if field is None:
                return None
            current = field.annotation
        else:
            args = typing.get_args(current)
            origin = typing.get_origin(current)
            if origin is dict and len(args) == 2:
                current = args[1]
            elif origin is tuple and args:
                current = args[0]
            else:
                return None
    if isinstance(current, types.UnionType):
        return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _problem(error: ErrorDetails) -> tuple[str, str]:
    loc: tuple[str | int, ...] = tuple(error["loc"])
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, _KeyPathError):
        return _key_path(loc + cause.path), cause.reason
    if isinstance(cause, ConditionError):
        return _key_path(loc), str(cause)
    if error["type"] == "extra_forbidden":
        model = _model_at(loc)
        allowed = f"; allowed keys: {', '.join(model.model_fields)}" if model else ""
        return _key_path(loc), f"unknown key{allowed}"
    if error["type"] == "missing":
        return _key_path(loc), "missing required key"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "value_error":
        return _key_path(loc), message
    got = repr(error["input"])
    return _key_path(loc), f"{message} (got {got if len(got) <= _MAX_SHOWN else got[:_MAX_SHOWN] + '…'})"


def _parse(text: str, source: str) -> RiskMatrix:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise RiskMatrixError(source, [("", f"{where}invalid YAML: {exc.problem}")]) from exc
    except yaml.YAMLError as exc:
        raise RiskMatrixError(source, [("", f"invalid YAML: {exc}")]) from exc
    if not isinstance(data, dict):
        raise RiskMatrixError(source, [("", f"the top level must be a mapping, not {type(data).__name__}")])
    try:
        return RiskMatrix.model_validate(data)
    except ValidationError as exc:
        raise RiskMatrixError(source, [_problem(error) for error in exc.errors()]) from exc


def default_risk_matrix_path() -> Path:
    """Path of the risk matrix shipped inside the ``config`` package."""
    return Path(str(resources.files("config") / "risk_matrix.yaml"))


def load_risk_matrix(path: Path | None = None) -> RiskMatrix:
    """The validated risk matrix read from ``path`` (default: the packaged config/risk_matrix.yaml).

    Conditions are parsed here, so a malformed one fails at start-up rather than at classification time.

    Args:
        path: a risk-matrix YAML file; None for the packaged default.

    Raises:
        RiskMatrixError: unreadable file, invalid YAML, unknown or duplicate key, missing limit, bad
            condition, unknown regime name or bad DTE buckets; the message names file, key path and reason.
    """
    file = default_risk_matrix_path() if path is None else path
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RiskMatrixError(str(file), [("", f"cannot read the risk matrix: {exc}")]) from exc
    return _parse(text, str(file))
