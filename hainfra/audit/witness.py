"""The anchored head: the latest signed (sequence, hash) of an archive, kept outside it.

One small JSON file per archive under ``<config>/witness/``, keyed by the archive's absolute path,
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


def paths_for(root: Path) -> list[Path]:
    """Where the witness of ``root`` is kept: keyed by its absolute path as spelled (symlinks *not*
    followed) and by its resolved path, when they differ.

    The spelled key stops whoever can swap the archive folder for a symlink (to an older, validly
    signed copy) from pointing verify at a path without a witness; the resolved key keeps one witness
    current for every spelling of the same folder.
    """
    spellings = dict.fromkeys((os.path.abspath(root), str(Path(root).resolve())))
    return [config_home() / "witness" / f"{hashlib.sha256(s.encode()).hexdigest()[:20]}.json" for s in spellings]


def path_for(root: Path) -> Path:
    """The witness under the path as spelled (the one messages name)."""
    return paths_for(root)[0]


def read_all(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every witness of ``root`` (see :func:`paths_for`): verify checks each."""
    return [(path, json.loads(path.read_text())) for path in paths_for(root) if path.is_file()]


def read(root: Path) -> dict[str, Any] | None:
    """The most advanced witness of ``root``, or None."""
    return max((w for _, w in read_all(root)), key=lambda w: w.get("seq") or 0, default=None)


def ready(root: Path) -> None:
    """Raise OSError unless the witness can be written: checked before an entry is appended, so an
    unwritable config folder never leaves unanchored entries behind."""
    for path in paths_for(root):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise PermissionError(13, "the witness folder is not writable", str(path.parent))


def _write(root: Path, data: dict[str, Any]) -> None:
    for path in paths_for(root):
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
    witness = read(root) or {"archive": os.path.abspath(root), "losses": []}
    for _, anchor in read_all(root):  # every witness: a swapped folder shows in the one under its spelling
        loss = missing_head(anchor, index_before)
        if loss and loss not in [earlier["message"] for earlier in witness["losses"]]:
            witness["losses"].append({"detected": when, "anchored_seq": anchor["seq"], "anchored_hash": anchor["hash"],
                                      "found_entries": len(index_before.lines), "message": loss})
    witness.update(seq=entry["seq"], hash=entry["hash"], sig=entry.get("sig"), updated=when)
    _write(root, witness)
