"""``audit verify``: recompute, check signatures, compare with the witness; name what and where.

The report separates *problems* (tampering, history loss, a torn line), *incomplete* stages
(``started`` with no ``finished``: killed, or still running) and *notes* (repairs, no witness).
Problems and incomplete stages make the verdict fail; notes do not.
"""

from __future__ import annotations

import json
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hainfra.audit import archive, chain, signing, witness
from hainfra.errors import AuditError


@dataclass
class Report:
    root: Path
    entries: int = 0
    runs: int = 0
    files: int = 0
    keys: set[str] = field(default_factory=set)
    anchored: int | None = None
    problems: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.incomplete

    def __str__(self) -> str:
        keys = ", ".join(k[:16] + "…" for k in sorted(self.keys)) or "none"
        anchor = f"anchored at sequence {self.anchored}" if self.anchored else "not anchored"
        if self.ok:
            head = (f"archive verified: {self.runs} runs, {self.files} files, {self.entries} entries, hash chain "
                    f"intact, every entry signed (key {keys}), {anchor}")
        else:
            verdict = "TAMPERED OR INCOMPLETE" if self.problems and self.incomplete else (
                "TAMPERED OR LOST" if self.problems else "INCOMPLETE")
            head = (f"archive {verdict}: {len(self.problems)} problems, {len(self.incomplete)} incomplete stages "
                    f"({self.entries} entries, {self.runs} finished runs, {anchor})")
        lines = [head] + [f"  problem: {p}" for p in self.problems] + [f"  incomplete: {i}" for i in self.incomplete]
        return "\n".join(lines + [f"  note: {n}" for n in self.notes])


def _label(n: int, entry: dict[str, Any]) -> str:
    return f"entry {n} ({entry.get('kind', '?')} {entry.get('run_id', '-')})"


def _check_entry(n: int, entry: dict[str, Any], prev: str, keys: Path | None) -> list[str]:
    label, found = _label(n, entry), []
    if entry.get("prev") != prev:
        found.append(f"{label}: chain broken — it names previous hash {str(entry.get('prev'))[:12]}…, expected "
                     f"{prev[:12]}… (an entry before it was removed, inserted or reordered)")
    if entry.get("seq") != n:
        found.append(f"{label}: says sequence {entry.get('seq')} at line {n} (entries were removed, inserted or reordered)")
    if chain.entry_hash(entry) != entry.get("hash"):
        found.append(f"{label}: hash mismatch (the entry was edited)")
    why = signing.check(entry.get("sig"), str(entry.get("hash")).encode(), keys)
    if why:
        found.append(f"{label}: {why}")
    elif entry.get("sig", {}).get("key") != entry.get("key"):
        found.append(f"{label}: signed by a key other than the one it names")
    return found


def _unreadable(path: Path) -> str | None:
    """Why ``path`` must not be read: missing, a symlink, or not a regular file (a FIFO would block forever)."""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return "missing"
    if stat.S_ISLNK(mode):
        return "a symlink (not read)"
    return None if stat.S_ISREG(mode) else "not a regular file (not read)"


def _check_files(root: Path, root_real: Path, n: int, entry: dict[str, Any]) -> tuple[list[str], int]:
    """(problems, files verified) for one finished run's run.json and files.

    Only regular files inside a run folder inside the archive are read (a run may keep files in
    sub-folders, e.g. a scan's output): a forged entry must not make verify follow a path or a symlink
    out of the archive or its run folder, or block on a FIFO.
    """
    label = _label(n, entry)
    folder = root / str(entry.get("path"))
    run_json = folder / "run.json"
    if not folder.resolve().is_relative_to(root_real):
        return [f"{label}: its run folder {folder} is outside the archive (a symlink or a path out of it; not read)"], 0
    why = _unreadable(run_json)
    if why:
        return [f"{label}: {run_json} is {why}"], 0
    data = run_json.read_bytes()
    if archive.sha256_bytes(data) != entry.get("run_json_sha256"):
        return [f"{label}: {run_json} was modified (sha256 mismatch)"], 0
    record = _json(data)
    listed = record.get("files") if isinstance(record, dict) else None
    if not isinstance(listed, dict):
        return [f"{label}: {run_json} is not a run record (no files table)"], 0
    problems, files = [], 0
    for name, digest in listed.items():
        path = folder / str(name)
        parts = str(name).split("/")
        plain = (all(part not in ("", ".", "..") for part in parts)
                 and path.resolve().is_relative_to(folder.resolve()))
        why = _unreadable(path) if plain else "outside its run folder (not read)"
        if why:
            problems.append(f"{label}: {path} is {why}")
        elif archive.sha256_file(path) == digest:
            files += 1
        else:
            problems.append(f"{label}: {path} was modified (sha256 mismatch)")
    return problems, files


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


def check(root: str | Path, keys: Path | None = None, mirror: Any = None) -> Report:
    """Every check on the local archive, its witness and (given) its S3 mirror; never raises for a finding."""
    root, keys = Path(root), keys or signing.keys_dir()
    # The witness and the index are read under the index's shared lock: a stage appending meanwhile
    # is never mistaken for history loss or for entries copied in.
    report = Report(root)
    try:
        with chain.shared_lock(root):
            anchors, index = witness.read_all(root), chain.read(root)
    except AuditError as exc:  # a symlinked index: named, never followed
        report.problems.append(str(exc))
        return report
    finished = [(n, e) for n, e in enumerate(index.entries, start=1) if e and e.get("kind") == "finished"]
    # File hashing and signature checks dominate on a large archive. hashlib releases the GIL, so the
    # files are hashed on threads while this thread walks the chain and checks the signatures.
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        root_real = root.resolve()
        hashed = pool.map(lambda item: _check_files(root, root_real, *item), finished)
        _walk_chain(index, keys, report)
        for found, files in hashed:
            report.problems += found
            report.files += files
    report.entries, report.runs = len(index.entries), len(finished)
    if index.torn is not None:
        report.problems.append(f"line {len(index.lines) + 1} of {root / chain.INDEX} is torn ({len(index.torn)} "
                               f"bytes, an interrupted write): `hainfra audit repair --archive {root}` moves it aside")
    _check_witness(root, anchors, index, report, keys)
    if mirror is not None:
        remote = mirror.compare(root)
        report.problems += remote
        report.notes.append(f"compared with the mirror {mirror.uri}: {'agrees' if not remote else 'DIFFERS'}")
    return report


def _walk_chain(index: chain.Index, keys: Path, report: Report) -> None:
    """Links, hashes and signatures of every entry; started entries without a finished one are incomplete."""
    prev, open_runs = chain.GENESIS, {}
    for n, entry in enumerate(index.entries, start=1):
        if entry is None:
            report.problems.append(f"entry {n} is not valid JSON (tampered)")
            continue
        report.problems += _check_entry(n, entry, prev, keys)
        report.keys.add(str(entry.get("key")))
        prev = str(entry.get("hash"))
        kind = entry.get("kind")
        if kind == "started":
            open_runs[str(entry.get("run_id"))] = (n, entry)
        elif kind == "finished":
            if open_runs.pop(str(entry.get("run_id")), None) is None:
                report.problems.append(f"{_label(n, entry)}: no started entry before it (an entry was removed)")
        elif kind == "repair":
            report.notes.append(f"entry {n}: a torn line {entry.get('line')} was moved aside to "
                                f"{entry.get('moved_aside')} ({entry.get('bytes')} bytes) on {entry.get('time')}")
        else:
            report.problems.append(f"entry {n}: unknown kind {kind!r} (an unsigned legacy entry, or forged)")
    for n, entry in open_runs.values():
        report.incomplete.append(f"entry {n}: {entry.get('stage')} run {entry.get('run_id')} of stack "
                                 f"{entry.get('stack')} started {entry.get('started')} on {entry.get('host')} (pid "
                                 f"{entry.get('pid')}) and never finished — killed, or still running")


def _check_witness(root: Path, anchors: list[tuple[Path, dict[str, Any]]], index: chain.Index, report: Report,
                   keys: Path | None) -> None:
    """Each witness of the archive (see ``witness.paths_for``) must hold; entries past the newest are named."""
    if not anchors:
        if index.entries:
            report.notes.append(f"no witness at {witness.path_for(root)}: the head is not anchored on this machine "
                                "(use --remote to compare with the S3 mirror)")
        return
    found: list[str] = []
    for path, anchor in anchors:
        why = signing.check(anchor.get("sig"), str(anchor.get("hash")).encode(), keys) if anchor.get("seq") else None
        if why:
            found.append(f"the witness {path} was edited: its head {why}")
        found.append(witness.missing_head(anchor, index) or "")
        found += [f"{e['message']} (detected {e['detected']} when a new entry was appended)"
                  for e in anchor.get("losses", [])]
    report.problems += [p for p in dict.fromkeys(found) if p]
    seq, count = max(a.get("seq") or 0 for _, a in anchors), len(index.lines)
    report.anchored = seq or None
    if seq and count > seq + 1:  # every append anchors its entry; only a kill in between leaves one out
        report.problems.append(
            f"entries {seq + 1}..{count} are not anchored: the witness names sequence {seq} as the head, and "
            f"hainfra anchors each entry as it appends it (at most one escapes, when a write is killed) — they "
            "were copied in from another archive (a copy shares its head)")
