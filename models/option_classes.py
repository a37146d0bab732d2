"""Cash-settled index option classes: which index each class is on and when it settles. Facts, not code paths.

SPX, NDX and RUT monthlies settle on the special opening quotation of expiry day (AM); their twin classes SPXW,
NDXP and RUTW list on the same dates and settle at the close (PM), so only the class tells a pair apart. XSP
(mini-SPX) settles PM. VIX options settle on the Wednesday-morning special opening quotation. All are European.
"""

from __future__ import annotations

from typing import Final

from models.conventions import SettlementTime

__all__ = ["AM_PM_TWIN_INDEXES", "INDEX_OPTION_CLASSES", "WEEKLY_CLASS_OF"]

INDEX_OPTION_CLASSES: Final = {
    "SPX": ("SPX", SettlementTime.AM),
    "SPXW": ("SPX", SettlementTime.PM),
    "XSP": ("XSP", SettlementTime.PM),
    "NDX": ("NDX", SettlementTime.AM),
    "NDXP": ("NDX", SettlementTime.PM),
    "RUT": ("RUT", SettlementTime.AM),
    "RUTW": ("RUT", SettlementTime.PM),
    "DJX": ("DJX", SettlementTime.AM),
    "VIX": ("VIX", SettlementTime.AM),
    "VIXW": ("VIX", SettlementTime.AM),
}
"""Option class (OCC root / IBKR trading class) → (index, settlement)."""

AM_PM_TWIN_INDEXES: Final = frozenset({"SPX", "NDX", "RUT"})
"""Indexes with both an AM-settled and a PM-settled class on the same dates: a row without its class is ambiguous."""

WEEKLY_CLASS_OF: Final = {"SPX": "SPXW", "NDX": "NDXP", "RUT": "RUTW", "XSP": "XSP"}
"""The PM-settled class traded for short-dated risk on each index."""
