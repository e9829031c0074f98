"""The audit archive's files: run records written once, and secret redaction.

Layout::

    archive/index.jsonl                                   signed write-ahead entries, chained (see chain.py)
    archive/<stack>/<YYYY-MM-DD>/<run_id>/<stage>.ipynb   executed notebook (redacted)
    archive/<stack>/<YYYY-MM-DD>/<run_id>/<stage>.html    its rendering
    archive/<stack>/<YYYY-MM-DD>/<run_id>/run.json        who, when, with what, outcome, file hashes
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SECRET_PARAM = re.compile(r"(password|passwd|passphrase|secret|token|api[-_]?key|private[-_]?key|credential)", re.I)
REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 6


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return sha256_bytes(path.read_bytes())


# --- redaction -------------------------------------------------------------------------------------
def secret_parameters(params: dict[str, Any]) -> dict[str, str]:
    """Parameters whose names look secret (password, secret, token, key...), by name."""
    found = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif SECRET_PARAM.search(prefix.split(".")[-1]) and isinstance(value, str) and value:
            found[prefix] = value

    walk("", params)
    return found


def redact_params(params: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``params`` with secret-looking values replaced."""
    if isinstance(params, dict):
        return {k: (REDACTED if SECRET_PARAM.search(str(k)) and isinstance(v, str) and v else redact_params(v))
                for k, v in params.items()}
    return params


def redact(text: str, secrets: Iterable[str]) -> tuple[str, int]:
    """Replace every occurrence of every secret value; returns (text, replacements)."""
    count = 0
    for secret in sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True):
        for form in {secret, json.dumps(secret)[1:-1]}:  # raw and as it appears inside JSON strings
            n = text.count(form)
            if n:
                text = text.replace(form, REDACTED)
                count += n
    return text, count


# --- writing -------------------------------------------------------------------------------------------
def write_new(path: Path, data: bytes) -> str:
    """Write a file that must not exist yet (archived files are never overwritten); returns its sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(path, 0o444)
    return sha256_bytes(data)


def run_folder(root: Path, record: dict[str, Any]) -> Path:
    return root / record["stack"] / record["started"][:10] / record["run_id"]


def write_run(root: Path, record: dict[str, Any], files: dict[str, bytes]) -> tuple[dict[str, Any], str]:
    """Write ``files`` and ``run.json`` (never overwriting); returns (record with file hashes, run.json sha256)."""
    folder = run_folder(root, record)
    record = {**record, "files": {name: write_new(folder / name, data) for name, data in files.items()}}
    return record, write_new(folder / "run.json", json.dumps(record, indent=2, sort_keys=True, default=str).encode())
