"""Sandbox state: one JSON file per stack, rewritten atomically after every resource,
and a per-stack lock that says who holds it since when.

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

from hainfra.errors import StackLockedError
from hainfra.home import stack_dir

STATE_VERSION = 1


class State:
    """Resources by URN plus the stack's outputs and the emulator they live in."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        data = json.loads(path.read_text()) if path.exists() else {}
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
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1, sort_keys=True, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


@contextmanager
def stack_lock(stack: str, operation: str) -> Iterator[None]:
    """Hold the stack's lock for one operation; fail at once naming the holder.

    ``flock`` is released by the kernel when the holder dies (even on SIGKILL), so a
    lock can never outlive its process.
    """
    directory = stack_dir(stack)
    fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
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
        (directory / "lock.json").write_text(json.dumps({
            "operation": operation, "user": getpass.getuser(), "host": socket.gethostname(), "pid": os.getpid(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}))
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _read_holder(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
