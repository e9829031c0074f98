"""Robustness costs: what keeping the previous state version costs per save, and how an emulator
answers with idle clients connected.

Run: .venv/bin/python bench/robustness.py [--saves N] [--idle N]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import tempfile
import time
from pathlib import Path

from hainfra.engines.sandbox.emulator import Emulator, reachable
from hainfra.engines.sandbox.state import atomic_write

STATE_SIZE = 74  # resources in a 3-AZ stack: one save per resource change


def plain_write(path: Path, payload: bytes) -> None:
    """The previous scheme: temp + fsync + rename, no previous version, no folder fsync."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def bench_saves(saves: int) -> None:
    payload = json.dumps({"resources": {f"urn:{i}": {"inputs": {"x": "y" * 400}} for i in range(STATE_SIZE)}}).encode()
    with tempfile.TemporaryDirectory() as tmp:
        for label, write in (("temp+fsync+rename", plain_write), ("atomic_write (+prev, +folder fsync)", atomic_write)):
            target = Path(tmp) / f"{label[:5]}.json"
            started = time.perf_counter()
            for _ in range(saves):
                write(target, payload)
            per = (time.perf_counter() - started) / saves * 1000
            print(f"  {label:38} {per:7.2f} ms per save ({len(payload) // 1024} KiB)")


def bench_idle(idle: int, repeat: int = 20) -> None:
    with Emulator() as emu:
        for n in (0, idle):
            conns = [socket.create_connection(("127.0.0.1", emu.port)) for _ in range(n)]
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                ok = reachable(emu.url, timeout=10)
                times.append(time.perf_counter() - started)
            for c in conns:
                c.close()
            print(f"  request with {n:3} idle connections open: median {statistics.median(times) * 1000:7.1f} ms"
                  f"{'' if ok else '  (NO ANSWER)'}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--saves", type=int, default=200)
    parser.add_argument("--idle", type=int, default=20)
    args = parser.parse_args()
    print("State saves:")
    bench_saves(args.saves)
    print("Emulator with idle clients:")
    bench_idle(args.idle)


if __name__ == "__main__":
    main()
