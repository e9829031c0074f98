"""The anchored head: the latest signed (sequence, hash) of an archive, kept outside it.

One small JSON file per archive under ``<config>/witness/``, keyed by the archive's resolved path,
so deleting or recreating the archive folder does not delete its witness. A dropped tail, an
emptied or recreated index or a wiped archive no longer contains the anchored head: ``audit verify``
reports that as history loss naming the last anchored sequence number. When an append finds the
anchored head missing, the loss is recorded in the witness before the new head replaces it, so a
later run cannot erase the evidence.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from hainfra.home import config_home


def path_for(root: Path) -> Path:
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:20]
    return config_home() / "witness" / f"{key}.json"


def read(root: Path) -> dict[str, Any] | None:
    path = path_for(root)
    return json.loads(path.read_text()) if path.is_file() else None


def _write(root: Path, data: dict[str, Any]) -> None:
    path = path_for(root)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def missing_head(witness: dict[str, Any] | None, index: Any) -> str | None:
    """Why the anchored head is not in ``index`` (a ``chain.Index``), or None if it is."""
    if not witness or not witness.get("seq"):
        return None
    seq, anchored, count = witness["seq"], witness["hash"], len(index.lines)
    if count < seq:
        gone = "the index is empty or missing" if not count else f"the index ends at sequence {count}"
        return (f"history loss: the witness anchors sequence {seq} (hash {anchored[:12]}…) but {gone} — "
                f"entries {count + 1}..{seq} were dropped, or the archive was wiped or recreated")
    found = index.hash_at(seq)
    if found != anchored:
        return (f"history loss: entry {seq} is not the anchored head (hash {anchored[:12]}…, found "
                f"{found[:12]}…) — the index was recreated or rewritten up to the last anchored sequence {seq}")
    return None


def advance(root: Path, entry: dict[str, Any], index_before: Any, when: str) -> None:
    """Anchor ``entry`` as the new head; first record a loss if the old head is no longer in the index."""
    witness = read(root) or {"archive": str(root.resolve()), "losses": []}
    loss = missing_head(witness, index_before)
    if loss:
        witness["losses"].append({"detected": when, "anchored_seq": witness["seq"], "anchored_hash": witness["hash"],
                                  "found_entries": len(index_before.lines), "message": loss})
    witness.update(seq=entry["seq"], hash=entry["hash"], sig=entry.get("sig"), updated=when)
    _write(root, witness)
