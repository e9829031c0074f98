"""Regenerate hainfra/data/azs.json, the region → AZ table shipped with hainfra.

The table lets `hainfra plan` (offline) show only AZ names that exist and refuse an az_count a
region cannot hold. Source: the AZ list of moto (the sandbox's emulator), which tracks AWS's public
zone lists; AWS accounts may see a subset (opt-in zones, capacity), which is why the configure
stage checks the AZs against the engine whenever one is reachable.

    .venv/bin/python scripts/az_table.py
"""

from __future__ import annotations

import json
from datetime import date
from importlib.metadata import version
from pathlib import Path

from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend

TABLE = Path(__file__).resolve().parents[1] / "hainfra" / "data" / "azs.json"

if __name__ == "__main__":
    zones = {region: sorted(z.name for z in items) for region, items in sorted(RegionsAndZonesBackend.zones.items())}
    TABLE.write_text(json.dumps({"source": f"moto {version('moto')} AZ list, generated {date.today()}",
                                 "regions": zones}, indent=1) + "\n")
    print(f"{TABLE}: {len(zones)} regions")
