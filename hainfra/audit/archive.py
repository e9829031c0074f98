"""The audit archive's files: run records written once, redacted by ``hainfra.redact``.

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
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hainfra import redact


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return sha256_bytes(path.read_bytes())


# --- redaction (the logic lives in hainfra.redact) ---------------------------------------------------
def redact_text(text: str, secrets: Iterable[str]) -> tuple[str, int]:
    """Replace every form of every secret in ``text`` (see :class:`hainfra.redact.Redactor`); (text, count).

    Weak secrets were refused before the run (exit 2); here, while archiving, they are skipped rather
    than failing the archive write.
    """
    return redact.Redactor(s for s in secrets if s and not redact.weak(s)).text(text)


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
    """Write ``files`` and ``run.json`` (never overwriting); returns (record with file hashes, run.json sha256).

    The run folder must be new: its path is known from the ``started`` entry, and a folder or symlink
    planted there would receive the run (and the mirror would upload what it points to).
    """
    folder = run_folder(root, record)
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.mkdir()  # FileExistsError for anything already there, a symlink included
    record = {**record, "files": {name: write_new(folder / name, data) for name, data in files.items()}}
    return record, write_new(folder / "run.json", json.dumps(record, indent=2, sort_keys=True, default=str).encode())
