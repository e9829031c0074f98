"""The audit archive as a library: list, show and verify archived runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from hainfra.errors import AuditError
from hainfra.runbook import archive


def runs(root: str | Path = "archive") -> pd.DataFrame:
    """One row per archived run (from the index, joined with each run.json)."""
    rows = []
    for entry in archive.entries(Path(root)):
        record = show(entry["run_id"], root)
        rows.append({"seq": entry["seq"], "run_id": entry["run_id"], "stack": entry["stack"], "stage": entry["stage"],
                     "outcome": entry["outcome"], "actor": record.get("actor"), "started": record.get("started"),
                     "ended": record.get("ended"), "engine": record.get("engine"),
                     "redactions": record.get("redactions"), "policy_override": record.get("policy_override") or ""})
    return pd.DataFrame(rows, columns=["seq", "run_id", "stack", "stage", "outcome", "actor", "started", "ended",
                                       "engine", "redactions", "policy_override"])


def show(run_id: str, root: str | Path = "archive") -> dict[str, Any]:
    for entry in archive.entries(Path(root)):
        if entry["run_id"] == run_id:
            return json.loads((Path(root) / entry["path"] / "run.json").read_text())
    raise AuditError(f"no run {run_id!r} in {Path(root).resolve()}; `hainfra audit list` shows the runs")


def verify(root: str | Path = "archive") -> str:
    """Recompute every hash; raises AuditError naming the first tampered or missing entry or file."""
    return archive.verify_archive(Path(root))
