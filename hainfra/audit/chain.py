"""The write-ahead index: ``archive/index.jsonl``, one signed entry per line, chained by hash.

Each entry carries ``seq`` (its line number), ``prev`` (the previous entry's hash), ``hash`` (sha256
of the canonical entry without ``hash`` and ``sig``) and ``sig`` (a signature over ``hash`` by a key
that is not in the archive, see :mod:`hainfra.audit.signing`). Kinds: ``started`` (written before a
stage's first cell), ``finished`` (its outcome and the sha256 of its ``run.json``) and ``repair``
(a torn line moved aside). After every append the new head is anchored in the witness.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from hainfra.audit import signing, witness
from hainfra.errors import AuditError

GENESIS = "0" * 64
INDEX = "index.jsonl"


def utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k not in ("hash", "sig")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass
class Index:
    """An index read from disk: its complete lines (parsed on demand) and a torn last line if there is one."""

    lines: list[bytes] = field(default_factory=list)
    torn: bytes | None = None  # the unterminated or unparsable last line
    torn_offset: int = 0  # where the torn line starts

    @functools.cached_property
    def entries(self) -> list[dict[str, Any] | None]:
        """Every entry; None for a line that is not JSON."""
        return [_load(line) for line in self.lines]

    def hash_at(self, seq: int) -> str:
        """The stated hash of entry ``seq`` (1-based) without parsing the others: appends stay O(1) in JSON."""
        return str((_load(self.lines[seq - 1]) or {}).get("hash"))


def _load(line: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def parse(data: bytes) -> Index:
    """Split the index into lines; an unterminated or unparsable *last* line is torn, not tampered."""
    *complete, tail = data.split(b"\n")  # tail: bytes after the last newline (b"" when terminated)
    index = Index(lines=complete)
    if tail:
        index.torn, index.torn_offset = tail, len(data) - len(tail)
    elif complete and _load(complete[-1]) is None:
        index.torn, index.torn_offset = complete[-1], len(data) - len(complete[-1]) - 1
        index.lines = complete[:-1]
    return index


def _refuse_link(path: Path) -> AuditError:
    return AuditError(f"{path} is a symlink (to {os.readlink(path)}), refused: the index must be a file in the "
                      "archive — through a link, append would write and repair would truncate another file of "
                      "yours. Move the link aside and look at what it points to")


def read(root: Path) -> Index:
    path = root / INDEX
    if path.is_symlink():
        raise _refuse_link(path)
    return parse(path.read_bytes()) if path.is_file() else Index()


@contextmanager
def shared_lock(root: Path) -> Iterator[None]:
    """Hold the index's lock shared (appends wait), so a reader sees the witness and the index together."""
    try:
        fd = os.open(root / INDEX, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        yield
        return
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refuse_link(root / INDEX) from None
        raise
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


def _open_index(root: Path, mode: str) -> IO[bytes]:
    """The index opened for ``mode`` ("a+b" or "r+b"), never through a symlink (see :func:`_refuse_link`)."""
    path = root / INDEX
    flags = os.O_RDWR | (os.O_APPEND | os.O_CREAT if mode == "a+b" else 0)
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refuse_link(path) from None
        raise
    return os.fdopen(fd, mode)


def entries(root: Path) -> list[dict[str, Any]]:
    """Parsed entries (unparsable lines skipped: `audit verify` reports them)."""
    return [e for e in read(root).entries if e is not None]


def append(root: Path, fields: dict[str, Any], signer: signing.Signer) -> dict[str, Any]:
    """Sign and append one entry under an exclusive lock, then anchor it; returns the entry.

    Refuses (AuditError) while the last line is torn: `hainfra audit repair` moves it aside.
    """
    fields = json.loads(json.dumps(fields, default=str))  # a non-JSON value (a date from YAML) is kept as text
    witness.ready(root)
    root.mkdir(parents=True, exist_ok=True)
    with _open_index(root, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            fh.seek(0)
            index = parse(fh.read())
            if index.torn is not None:
                raise AuditError(f"{root / INDEX}: the last line (entry {len(index.lines) + 1}) is torn — an "
                                 f"interrupted write; run `hainfra audit repair --archive {root}` to move it aside")
            entry = {**fields, "seq": len(index.lines) + 1, "prev": index.hash_at(len(index.lines)) if index.lines else GENESIS,
                     "time": utc(), "key": signer.fingerprint}
            entry["hash"] = entry_hash(entry)
            entry["sig"] = signing.signature(signer, entry["hash"].encode())
            fh.write((json.dumps(entry, sort_keys=True) + "\n").encode())
            fh.flush()
            os.fsync(fh.fileno())
            witness.advance(root, entry, index, entry["time"])
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return entry


def repair(root: Path, signer: signing.Signer) -> str:
    """Move a torn last line aside (never delete it) and record that in a signed ``repair`` entry."""
    path = root / INDEX
    with _open_index(root, "r+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            index = parse(fh.read())
            if index.torn is None:
                return f"{path}: nothing to repair (no torn last line)"
            aside = root / f"index.torn-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%fZ')}.jsonl"
            with open(aside, "xb") as out:
                out.write(index.torn)
                out.flush()
                os.fsync(out.fileno())
            fh.truncate(index.torn_offset)
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    entry = append(root, {"kind": "repair", "moved_aside": aside.name, "line": len(index.lines) + 1,
                          "bytes": len(index.torn), "sha256": hashlib.sha256(index.torn).hexdigest()}, signer)
    return (f"moved the torn line {entry['line']} ({len(index.torn)} bytes) to {aside}; "
            f"recorded as entry {entry['seq']}: archiving continues")
