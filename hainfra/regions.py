"""The region → availability-zone table shipped with hainfra (``data/azs.json``), read offline.

Used where no engine can be asked: validation refuses an ``az_count`` the region cannot hold, and the
offline plan shows real AZ names instead of invented ones. Regenerate with ``scripts/az_table.py``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

TABLE = Path(__file__).resolve().parent / "data" / "azs.json"


@functools.cache
def _table() -> dict[str, tuple[str, ...]]:
    return {region: tuple(zones) for region, zones in json.loads(TABLE.read_text())["regions"].items()}


def zones(region: str) -> tuple[str, ...] | None:
    """The region's AZ names in the shipped table, or None when the table does not know the region."""
    return _table().get(region)


def source() -> str:
    """Where the table came from (shown next to AZs that were not checked against an engine)."""
    return str(json.loads(TABLE.read_text())["source"])
