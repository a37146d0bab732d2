"""The adapters' error types: every vendor exception becomes one of these at one choke point."""

from __future__ import annotations

__all__ = ["AdapterError", "AuthFailed", "PayloadInvalid", "SourceUnavailable"]


class AdapterError(Exception):
    """A data source failed; the message names the source and what failed, never a secret."""


class AuthFailed(AdapterError):
    """The source refused our credentials (expired token, wrong key)."""


class SourceUnavailable(AdapterError):
    """The source could not be reached or answered with an error (timeout, 5xx, rate limit, empty answer)."""


class PayloadInvalid(AdapterError):
    """A payload or row does not have the shape we translate; names the row and the field."""

    def __init__(self, message: str, *, field: str = "", row: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.row = row
