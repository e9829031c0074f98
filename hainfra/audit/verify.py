"""``audit verify``: recompute, check signatures, compare with the witness; name what and where.

The report separates *problems* (tampering, history loss, a torn line), *incomplete* stages
(``started`` with no ``finished``: killed, or still running) and *notes* (repairs, no witness).
Problems and incomplete stages make the verdict fail; notes do not.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hainfra.audit import archive, chain, signing, witness


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


def _check_files(root: Path, n: int, entry: dict[str, Any]) -> tuple[list[str], int]:
    """(problems, files verified) for one finished run's run.json and files."""
    label = _label(n, entry)
    folder = root / str(entry.get("path"))
    run_json = folder / "run.json"
    try:
        data = run_json.read_bytes()
    except OSError:
        return [f"{label}: {run_json} is missing"], 0
    if archive.sha256_bytes(data) != entry.get("run_json_sha256"):
        return [f"{label}: {run_json} was modified (sha256 mismatch)"], 0
    problems, files = [], 0
    for name, digest in json.loads(data).get("files", {}).items():
        path = folder / name
        try:
            ok = archive.sha256_file(path) == digest
        except OSError:
            problems.append(f"{label}: {path} is missing")
            continue
        if ok:
            files += 1
        else:
            problems.append(f"{label}: {path} was modified (sha256 mismatch)")
    return problems, files


def check(root: str | Path, keys: Path | None = None, mirror: Any = None) -> Report:
    """Every check on the local archive, its witness and (given) its S3 mirror; never raises for a finding."""
    root, keys = Path(root), keys or signing.keys_dir()
    index, report, anchor = chain.read(root), Report(root), witness.read(root)
    finished = [(n, e) for n, e in enumerate(index.entries, start=1) if e and e.get("kind") == "finished"]
    # File hashing and signature checks dominate on a large archive. hashlib releases the GIL, so the
    # files are hashed on threads while this thread walks the chain and checks the signatures.
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        hashed = pool.map(lambda item: _check_files(root, *item), finished)
        _walk_chain(index, keys, report)
        for found, files in hashed:
            report.problems += found
            report.files += files
    report.entries, report.runs = len(index.entries), len(finished)
    if index.torn is not None:
        report.problems.append(f"line {len(index.lines) + 1} of {root / chain.INDEX} is torn ({len(index.torn)} "
                               f"bytes, an interrupted write): `hainfra audit repair --archive {root}` moves it aside")
    _check_witness(root, anchor, index, report, keys)
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
            open_runs[entry.get("run_id")] = (n, entry)
        elif kind == "finished":
            if open_runs.pop(entry.get("run_id"), None) is None:
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


def _check_witness(root: Path, anchor: dict[str, Any] | None, index: chain.Index, report: Report,
                   keys: Path | None) -> None:
    if anchor is None:
        if index.entries:
            report.notes.append(f"no witness at {witness.path_for(root)}: the head is not anchored on this machine "
                                "(use --remote to compare with the S3 mirror)")
        return
    report.anchored = anchor.get("seq")
    why = signing.check(anchor.get("sig"), str(anchor.get("hash")).encode(), keys) if anchor.get("seq") else None
    if why:
        report.problems.append(f"the witness {witness.path_for(root)} was edited: its head {why}")
    loss = witness.missing_head(anchor, index)
    if loss:
        report.problems.append(loss)
    for earlier in anchor.get("losses", []):
        report.problems.append(f"{earlier['message']} (detected {earlier['detected']} when a new entry was appended)")
