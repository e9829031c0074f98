"""The audit archive as a library: record, list, show, verify and repair archived runs.

Modules: ``archive`` (run files, redaction), ``chain`` (the signed write-ahead index), ``signing``
(local Ed25519 or AWS KMS keys, pinned), ``witness`` (the anchored head outside the archive),
``record`` (recording a stage write-ahead, the spool, the HTML header), ``verify`` (the report),
``mirror`` (the S3 Object Lock copy).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from hainfra.audit import chain, signing, witness
from hainfra.audit.verify import Report, check
from hainfra.errors import AuditError

__all__ = ["Report", "check", "repair", "runs", "show", "verify"]


def _finished(root: Path) -> dict[str, dict[str, Any]]:
    return {e["run_id"]: e for e in chain.entries(root) if e.get("kind") == "finished"}


def runs(root: str | Path = "archive") -> pd.DataFrame:
    """One row per run (finished or not), in the order they started."""
    root = Path(root)
    finished, rows = _finished(root), []
    for entry in chain.entries(root):
        if entry.get("kind") != "started":
            continue
        done = finished.get(entry["run_id"])
        record = json.loads((root / done["path"] / "run.json").read_text()) if done else {}
        rows.append({"seq": entry["seq"], "run_id": entry["run_id"], "stack": entry["stack"], "stage": entry["stage"],
                     "outcome": done["outcome"] if done else "incomplete", "actor": entry.get("actor"),
                     "started": entry.get("started"), "ended": record.get("ended"), "engine": record.get("engine"),
                     "redactions": record.get("redactions"), "policy_override": entry.get("policy_override") or ""})
    return pd.DataFrame(rows, columns=["seq", "run_id", "stack", "stage", "outcome", "actor", "started", "ended",
                                       "engine", "redactions", "policy_override"])


def show(run_id: str, root: str | Path = "archive") -> dict[str, Any]:
    done = _finished(Path(root)).get(run_id)
    if done:
        return json.loads((Path(root) / done["path"] / "run.json").read_text())
    raise AuditError(f"no finished run {run_id!r} in {Path(root).resolve()}; `hainfra audit list` shows the runs")


def verify(root: str | Path = "archive", keys: Path | None = None) -> str:
    """The verify report as text; raises AuditError (whose message is the report) unless all is well."""
    root = Path(root)
    if not (root / chain.INDEX).exists() and witness.read(root) is None:
        raise AuditError(f"no archive index at {root / chain.INDEX} (and no witness of one)")
    report = check(root, keys)
    if not report.ok:
        raise AuditError(str(report))
    return str(report)


def repair(root: str | Path = "archive", signer_spec: str = "local") -> str:
    """Move a torn last index line aside (kept, never deleted) so archiving continues."""
    root = Path(root)
    if not (root / chain.INDEX).exists():
        raise AuditError(f"no archive index at {root / chain.INDEX}")
    return chain.repair(root, signing.get_signer(signer_spec))
