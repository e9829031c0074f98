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

__all__ = ["Report", "check", "checked", "mirror_for", "repair", "runs", "show", "signer_for", "verify"]


def _aws(config: Any) -> dict[str, Any]:
    """boto3 client arguments for the config's AWS (the emulator when ``aws_endpoint_url`` is set)."""
    kwargs: dict[str, Any] = {"region_name": config.region}
    if config.aws_endpoint_url:
        from hainfra.aws import EMULATOR_CREDENTIALS, is_loopback

        kwargs.update(endpoint_url=config.aws_endpoint_url, verify=not is_loopback(config.aws_endpoint_url),
                      **EMULATOR_CREDENTIALS)
    return kwargs


def signer_for(config: Any) -> signing.Signer:
    """The signer named by the config's ``audit_signer``."""
    return signing.get_signer(config.audit_signer, aws=_aws(config))


def mirror_for(config: Any) -> Any:
    """The S3 Object Lock mirror named by ``archive_s3_uri``, or None."""
    if not config.archive_s3_uri:
        return None
    import boto3

    from hainfra.audit.mirror import S3Mirror

    return S3Mirror(config.archive_s3_uri, config.archive_lock_mode, config.archive_lock_days,
                    boto3.client("s3", **_aws(config)))


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
        run_json = root / done["path"] / "run.json" if done else None
        record = json.loads(run_json.read_text()) if run_json and run_json.is_file() else {}
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


def verify(root: str | Path = "archive", keys: Path | None = None, mirror: Any = None) -> str:
    """The verify report as text; raises AuditError (whose message is the report) unless all is well.

    With ``mirror`` (see :func:`mirror_for`) the local archive is also compared with its S3 copy.
    """
    report = checked(root, keys, mirror)
    if not report.ok:
        raise AuditError(str(report))
    return str(report)


def checked(root: str | Path = "archive", keys: Path | None = None, mirror: Any = None) -> Report:
    """:func:`check`, refusing a folder that never held an archive (a typo, not an intact archive)."""
    root = Path(root)
    if not (root / chain.INDEX).exists() and witness.read(root) is None and mirror is None:
        raise AuditError(f"no archive index at {root / chain.INDEX} (and no witness of one): check --archive")
    return check(root, keys, mirror)


def repair(root: str | Path = "archive", signer_spec: str = "local") -> str:
    """Move a torn last index line aside (kept, never deleted) so archiving continues."""
    root = Path(root)
    if not (root / chain.INDEX).exists():
        raise AuditError(f"no archive index at {root / chain.INDEX}")
    return chain.repair(root, signing.get_signer(signer_spec))
