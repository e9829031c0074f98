"""Day-2 change costs on the sandbox: what a plan adds to ``up``, and what each kind of change costs.

Deploys one stack, then for each change measures preview, up and the no-op up that follows (wall and
process CPU, which includes the evaluation threads) and prints the ratio of the change's up to a
no-op up. CPU is the number to compare across machines; wall time depends on how loaded the host is.

Run: .venv/bin/python bench/changes.py [--changes vpc_cidr=10.1.0.0/16 log_retention_days=60 ...]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Callable
from typing import Any

import yaml

from hainfra.config import StackConfig
from hainfra.engines import get_engine
from hainfra.engines.sandbox.emulator import Emulator

DEFAULT_CHANGES = ["log_retention_days=60", "az_count=4", "nat_strategy=single", "vpc_cidr=10.1.0.0/16"]


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, used = time.perf_counter(), cpu()
    result = fn()
    return time.perf_counter() - wall, cpu() - used, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", nargs="*", default=DEFAULT_CHANGES, help="NAME=VALUE, applied one after another")
    args = parser.parse_args()
    os.environ["HAINFRA_HOME"] = tempfile.mkdtemp(prefix="hainfra-bench-")
    with Emulator() as emulator:
        config = StackConfig.load({"aws_endpoint_url": emulator.url, "stack": "bench-changes", "project": "benchc",
                                   "asg_min": 2, "asg_desired": 2})
        wall, used, _ = measure(get_engine("sandbox", config).up)
        print(f"{'deploy':32} up {wall:6.1f}s wall {used:5.1f}s cpu")
        _, noop_cpu, _ = measure(get_engine("sandbox", config).up)
        print(f"{'no-op up':32} up {'':12} {noop_cpu:5.1f}s cpu")
        for change in args.changes:
            name, value = change.split("=", 1)
            config = config.replace(**{name: yaml.safe_load(value)})
            engine = get_engine("sandbox", config)
            _, preview_cpu, preview = measure(engine.preview)
            wall, used, _ = measure(engine.up)
            print(f"{change:32} {preview.describe().split(' in ')[0]:44} preview {preview_cpu:4.1f}s cpu, "
                  f"up {wall:6.1f}s wall {used:5.1f}s cpu ({used / noop_cpu:4.1f}x a no-op up)")
        get_engine("sandbox", config).destroy()


if __name__ == "__main__":
    main()
