"""The audit archive: run records and a hash-chained append-only index (redaction: ``hainfra.redact``).

Layout::

    archive/index.jsonl                                   one entry per run, chained by hash
    archive/<stack>/<YYYY-MM-DD>/<run_id>/<stage>.ipynb   executed notebook (redacted)
    archive/<stack>/<YYYY-MM-DD>/<run_id>/<stage>.html    its rendering
    archive/<stack>/<YYYY-MM-DD>/<run_id>/run.json        who, when, with what, outcome, file hashes
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from hainfra.errors import AuditError

GENESIS = "0" * 64


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return sha256_bytes(path.read_bytes())


def _canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()


# --- writing -------------------------------------------------------------------------------------------
def write_new(path: Path, data: bytes) -> str:
    """Write a file that must not exist yet (archived files are never overwritten); returns its sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as fh:
        fh.write(data)
    os.chmod(path, 0o444)
    return sha256_bytes(data)


def append_index(root: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """Append ``entry`` to ``index.jsonl`` chained to the previous entry; returns it with its hash."""
    root.mkdir(parents=True, exist_ok=True)
    index = root / "index.jsonl"
    with open(index, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        lines = [line for line in fh.read().splitlines() if line.strip()]
        prev = json.loads(lines[-1])["hash"] if lines else GENESIS
        entry = {**entry, "seq": len(lines) + 1, "prev": prev}
        entry["hash"] = sha256_bytes(_canonical(entry))
        fh.write(json.dumps(entry, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
        fcntl.flock(fh, fcntl.LOCK_UN)
    return entry


def archive_run(root: Path, record: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
    """Write ``files`` and ``run.json`` under the run's folder and chain it into the index."""
    folder = root / record["stack"] / record["started"][:10] / record["run_id"]
    record = {**record, "files": {name: write_new(folder / name, data) for name, data in files.items()}}
    run_json = json.dumps(record, indent=2, sort_keys=True).encode()
    run_sha = write_new(folder / "run.json", run_json)
    append_index(root, {"run_id": record["run_id"], "stack": record["stack"], "stage": record["stage"],
                        "outcome": record["outcome"], "path": str(folder.relative_to(root)), "run_json_sha256": run_sha})
    return record


# --- reading and verifying --------------------------------------------------------------------------------
def entries(root: Path) -> list[dict[str, Any]]:
    index = root / "index.jsonl"
    if not index.exists():
        return []
    return [json.loads(line) for line in index.read_text().splitlines() if line.strip()]


def verify_archive(root: Path) -> str:
    """Recompute every hash; raise AuditError naming the first tampered or missing entry or file."""
    index = root / "index.jsonl"
    if not index.exists():
        raise AuditError(f"no archive index at {index}")
    prev = GENESIS
    files = 0
    lines = [line for line in index.read_text().splitlines() if line.strip()]
    for n, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
        except ValueError:
            raise AuditError(f"index entry {n} is not valid JSON (tampered)") from None
        stated = entry.pop("hash", None)
        if entry.get("prev") != prev:
            raise AuditError(f"index entry {n} ({entry.get('run_id')}): chain broken — it names previous hash "
                             f"{str(entry.get('prev'))[:12]}…, expected {prev[:12]}… (an entry was removed or altered)")
        if sha256_bytes(_canonical(entry)) != stated or entry.get("seq") != n:
            raise AuditError(f"index entry {n} ({entry.get('run_id')}): hash mismatch (the entry was edited)")
        folder = root / entry["path"]
        run_json = folder / "run.json"
        if not run_json.exists():
            raise AuditError(f"index entry {n} ({entry['run_id']}): {run_json} is missing")
        if sha256_file(run_json) != entry["run_json_sha256"]:
            raise AuditError(f"index entry {n} ({entry['run_id']}): {run_json} was modified (sha256 mismatch)")
        for name, digest in json.loads(run_json.read_text())["files"].items():
            path = folder / name
            if not path.exists():
                raise AuditError(f"index entry {n} ({entry['run_id']}): {path} is missing")
            if sha256_file(path) != digest:
                raise AuditError(f"index entry {n} ({entry['run_id']}): {path} was modified (sha256 mismatch)")
            files += 1
        prev = stated
    return f"archive verified: {len(lines)} runs, {files} files, hash chain intact"
