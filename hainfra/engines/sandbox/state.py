"""Sandbox state: one JSON file per stack, rewritten atomically after every resource,
and a per-stack lock that says who holds it since when.

File I/O is its own small layer (``atomic_write``, ``read_state``): a write goes to a
temporary file, is fsynced and renamed over the old one, which is kept as
``state.json.prev``; a file that cannot be read or parsed is a ``StateError`` naming it and
the command that recovers, never a traceback.

Secret values never reach the state: inputs named in ``ignore_changes`` (where the
stack keeps generated secrets) are stored as a fingerprint only.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hainfra.engines.changes import REPLACED_MARK
from hainfra.errors import StackLockedError, StateError
from hainfra.home import stack_dir

STATE_VERSION = 1


class State:
    """Resources by URN plus the stack's outputs and the emulator they live in."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        data = read_state(path)
        self.resources: dict[str, dict[str, Any]] = data.get("resources", {})
        self.outputs: dict[str, Any] = data.get("outputs", {})
        self.meta: dict[str, Any] = data.get("meta", {})

    @classmethod
    def for_stack(cls, stack: str) -> State:
        return cls(stack_dir(stack) / "state.json")

    @property
    def empty(self) -> bool:
        return not self.resources

    def next_order(self) -> int:
        return max((r["order"] for r in self.resources.values()), default=0) + 1

    def put(self, urn: str, entry: dict[str, Any]) -> None:
        with self._lock:
            if "order" not in entry:
                entry["order"] = self.next_order()
            self.resources[urn] = entry
            self._save()

    def ids(self) -> set[str]:
        """Physical ids of every resource the state knows (never a half-made orphan)."""
        with self._lock:
            return {e["id"] for e in self.resources.values() if e.get("id")}

    def retire(self, urn: str) -> str:
        """Keep a replaced resource under its own key until it is deleted (create-before-delete).

        It keeps its recorded dependencies (deleted before what it used) and holds back what depends
        on its URN (see ``changes.delete_blockers``); a killed ``up`` leaves it in the state, and the
        next ``up`` (or ``destroy``) deletes it.
        """
        with self._lock:
            entry = self.resources.pop(urn)
            key = f"{urn}{REPLACED_MARK}{entry['order']}"
            self.resources[key] = {**entry, "urn": key, "status": "replaced"}
            self._save()
            return key

    def remove(self, urn: str) -> None:
        with self._lock:
            self.resources.pop(urn, None)
            self._save()

    def save(self) -> None:
        with self._lock:
            self._save()

    def in_reverse_order(self) -> list[dict[str, Any]]:
        return sorted(self.resources.values(), key=lambda r: r["order"], reverse=True)

    def _save(self) -> None:
        data = {"version": STATE_VERSION, "meta": self.meta, "outputs": self.outputs, "resources": self.resources,
                "saved": time.time()}
        atomic_write(self.path, json.dumps(data, indent=1, sort_keys=True, default=str).encode())

    def drop(self) -> None:
        """Forget the stack: the state file becomes the previous version (recoverable, see ``read_state``)."""
        with self._lock:
            try:
                if self.path.exists():
                    os.replace(self.path, previous(self.path))
            except OSError as exc:
                raise _write_error(self.path, exc) from exc
            self.resources, self.outputs = {}, {}


# --- state file I/O -------------------------------------------------------------------------------
def previous(path: Path) -> Path:
    """Where the version before the last write is kept."""
    return path.with_name(path.name + ".prev")


def atomic_write(path: Path, payload: bytes) -> None:
    """Replace ``path`` with ``payload`` so a kill at any instant leaves the old or the new file, whole.

    temp file + fsync + rename (+ fsync of the folder so the rename survives a power cut); the
    version being replaced is kept as ``<name>.prev`` through a hard link (no window without a file).
    """
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            _keep_previous(path)
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _write_error(path, exc) from exc


def _keep_previous(path: Path) -> None:
    link = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.prev-tmp")
    link.unlink(missing_ok=True)
    try:
        os.link(path, link)
    except OSError:  # a filesystem without hard links: a copy is as good, only slower
        link.write_bytes(path.read_bytes())
    os.replace(link, previous(path))


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_state(path: Path) -> dict[str, Any]:
    """The parsed state file (``{}`` when there is none); anything unusable is a ``StateError``."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise StateError(f"cannot read the state file {path}: {exc.strerror}. "
                         f"Fix: make it readable (`chmod u+rw {path}`) or point HAINFRA_HOME at a folder you own"
                         ) from exc
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise StateError(_unusable(path, f"it is not JSON ({exc})" if raw.strip() else "it is empty")) from None
    problem = _shape_problem(data)
    if problem:
        raise StateError(_unusable(path, problem))
    return data


def _shape_problem(data: Any) -> str:
    if not isinstance(data, dict):
        return f"it holds a JSON {type(data).__name__}, not an object"
    wrong = [key for key in ("resources", "outputs", "meta") if not isinstance(data.get(key, {}), dict)]
    return f"its {', '.join(wrong)} is not an object" if wrong else ""


def _unusable(path: Path, problem: str) -> str:
    stack = path.parent.name
    prev = previous(path)
    if prev.exists() and not _shape_problem(_try_json(prev)):
        fix = f"restore the previous version: `cp {prev} {path}`, then run `hainfra preview --stack {stack}`"
    else:
        fix = (f"no usable previous version; set the file aside (`mv {path} {path}.broken`): what the stack "
               f"created is then unmanaged, and `hainfra destroy --stack {stack}` lists it (its sweep)")
    return f"the state file {path} is unusable: {problem}. Fix: {fix}"


def _try_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def _write_error(path: Path, exc: OSError) -> StateError:
    return StateError(f"cannot write the state file {path}: {exc.strerror or exc}. Fix: make {path.parent} "
                      "writable (`chmod u+w` it) or point HAINFRA_HOME at a folder you own")


@contextmanager
def stack_lock(stack: str, operation: str) -> Iterator[None]:
    """Hold the stack's lock for one operation; fail at once naming the holder.

    ``flock`` is released by the kernel when the holder dies (even on SIGKILL), so a
    lock can never outlive its process.
    """
    directory = stack_dir(stack)
    try:
        fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise _write_error(directory / "lock", exc) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        holder = _read_holder(directory / "lock.json")
        raise StackLockedError(
            f"stack {stack!r} is locked: {holder.get('operation', '?')} by {holder.get('user', '?')}@"
            f"{holder.get('host', '?')} (pid {holder.get('pid', '?')}) since {holder.get('since', '?')}; "
            "wait for it to finish — the lock is released when that process ends") from None
    try:
        try:
            (directory / "lock.json").write_text(json.dumps({
                "operation": operation, "user": getpass.getuser(), "host": socket.gethostname(), "pid": os.getpid(),
                "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}))
        except OSError as exc:
            raise _write_error(directory / "lock.json", exc) from exc
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _read_holder(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
