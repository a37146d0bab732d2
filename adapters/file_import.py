"""A book read from a file: tells an IBKR Flex XML from a thinkorswim Position Statement CSV by content, then reads it.

Detection only looks at the file's first bytes; the readers in adapters.flex_xml and adapters.thinkorswim_csv translate.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Final

from adapters.errors import PayloadInvalid, SourceUnavailable
from adapters.flex_xml import FLEX_ROOT, read_flex_xml
from adapters.results import FetchResult
from adapters.thinkorswim_csv import STATEMENT_MARKER, read_thinkorswim_csv
from models.positions import UnifiedPosition

__all__ = ["FileFormat", "UnrecognisedFile", "detect_format", "expired_by", "import_file"]

_SNIFF_BYTES: Final = 8192
"""Enough for the XML prolog and root tag, or the thinkorswim disclaimer and statement line."""

_TOS_HEAD_LINES: Final = 10
# The first element name after the prolog, comments and processing instructions.
_XML_ROOT_RE: Final = re.compile(r"^\s*(?:<\?.*?\?>\s*|<!--.*?-->\s*)*<([A-Za-z_][\w.:-]*)", re.S)


class FileFormat(StrEnum):
    """The book file formats riskdash imports."""

    IBKR_FLEX_XML = "ibkr_flex_xml"
    THINKORSWIM_CSV = "thinkorswim_csv"


class UnrecognisedFile(PayloadInvalid):
    """The file is neither an IBKR Flex Query XML nor a thinkorswim Position Statement CSV."""


def detect_format(head: bytes, name: str) -> FileFormat:
    """Which reader a file needs, from its first bytes; UnrecognisedFile names the file and what was found.

    Args:
        head: The file's first bytes (a few kB are enough).
        name: The file's name, for the error message.
    """
    text = head.decode("utf-8-sig", errors="replace")
    if text.lstrip().startswith("<"):
        match = _XML_ROOT_RE.match(text)
        root = match[1] if match else "?"
        if root == FLEX_ROOT:
            return FileFormat.IBKR_FLEX_XML
        raise UnrecognisedFile(f"{name}: XML root is <{root}>, not an IBKR Flex <{FLEX_ROOT}>", field="(file)")
    if any(STATEMENT_MARKER in line for line in text.splitlines()[:_TOS_HEAD_LINES]):
        return FileFormat.THINKORSWIM_CSV
    raise UnrecognisedFile(
        f"{name} is neither an IBKR Flex Query XML (root <{FLEX_ROOT}>) nor a thinkorswim Position Statement CSV "
        f"(a '{STATEMENT_MARKER}… on …' line near the top)",
        field="(file)",
    )


def import_file(path: Path | str, now: datetime) -> FetchResult:
    """Positions of a book file, IBKR Flex XML or thinkorswim Position Statement CSV, detected from its content.

    Args:
        path: The file.
        now: tz-aware instant of the import (`fetched_at`; positions expired by then are named in `notes`).

    Raises:
        SourceUnavailable: the file cannot be read.
        UnrecognisedFile: the content is neither format.
        PayloadInvalid: the file is of a known format but broken as a whole (malformed XML, no statement line).
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError as exc:
        raise SourceUnavailable(f"cannot read {path}: {exc.strerror or exc}") from exc
    if detect_format(head, str(path)) is FileFormat.IBKR_FLEX_XML:
        return read_flex_xml(path, now)
    return read_thinkorswim_csv(path, now)


def expired_by(position: UnifiedPosition, now: datetime) -> bool:
    """True when the position's expiry instant is at or before `now` (or before its own as-of instant)."""
    return position.expired or (position.expiry is not None and position.expiry <= now)
