"""Sandbox engine benchmark: up / no-op up / destroy against the same handler (boto3) calls made directly.

Three arms per sample, run back to back in a rotating order (paired and interleaved, so a noisy
neighbour on a shared machine hits every arm alike):

- **after**: ``engine.destroy()`` as shipped: deletes in parallel along the dependency graph, each
  sweep check beside the last deletes;
- **before**: the destroy issue 17 replaced, reproduced here: one delete at a time in reverse creation
  order (same ownership check, same state save), then the whole sweep;
- **direct**: every handler's create in declaration order, then every delete in reverse, one call after
  another: the boto3 work alone, without Pulumi, state, ownership checks, locks, sweep or concurrency.

Each arm reports wall time and CPU time (this process, all threads; and the emulator process).
Ratios are medians of the per-sample ratios. Goal (issue 17): destroy/direct ≤ 1.3.

Run: .venv/bin/python bench/engine.py [--quick] [--repeat N] [--az 2 3 6]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hainfra.aws import Ctx
from hainfra.config import StackConfig
from hainfra.engines import get_engine
from hainfra.engines.runtime import unwrap_secrets
from hainfra.engines.sandbox.emulator import Emulator
from hainfra.engines.sandbox.handlers import REGISTRY
from hainfra.engines.sandbox.state import stack_lock
from hainfra.engines.sandbox.sweep import sweep
from hainfra.plan import evaluate_offline

TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Meter:
    """Wall, own CPU and emulator CPU of one timed block."""

    def __init__(self, emulator_pid: int) -> None:
        self.pid = emulator_pid

    def __call__(self, fn: Callable[[], Any]) -> dict[str, float]:
        wall, cpu, emu = time.perf_counter(), time.process_time(), process_cpu(self.pid)
        fn()
        return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                "emu_cpu": process_cpu(self.pid) - emu}


def direct_create(config: StackConfig) -> list[tuple[Any, str, dict[str, Any]]]:
    """Create every resource with its handler in declaration order, one call after another."""
    evaluation, _ = evaluate_offline(config)
    ctx = Ctx(config.aws_endpoint_url, config.region)
    ctx.account_id  # noqa: B018 - warm the STS call outside the timing, as the engine's own first call
    real: dict[str, Any] = {}

    def substitute(value: Any) -> Any:
        if isinstance(value, str):
            if value in real:
                return real[value]
            for offline in sorted((k for k in real if k in value), key=len, reverse=True):  # inside policy JSON
                value = value.replace(offline, real[offline])
            return value
        if isinstance(value, list):
            return [substitute(v) for v in value]
        if isinstance(value, dict):
            return {k: substitute(v) for k, v in value.items()}
        return value

    created = []
    for reg in evaluation.custom:
        handler = REGISTRY[reg.type]
        inputs = substitute(unwrap_secrets(reg.inputs))
        rid, outputs = handler.create(ctx, inputs)
        real[reg.id] = rid
        for key, value in reg.outputs.items():
            if key in outputs and isinstance(value, str):
                real[value] = outputs[key]
        created.append((handler, rid, {**inputs, **outputs}))
    return created


def direct_delete(config: StackConfig, created: list[tuple[Any, str, dict[str, Any]]]) -> None:
    ctx = Ctx(config.aws_endpoint_url, config.region)
    for handler, rid, props in reversed(created):
        handler.delete(ctx, rid, props)


def serial_destroy(config: StackConfig) -> None:
    """The destroy before issue 17 (its loop, verbatim in behaviour): reverse creation order, one by one, then the sweep."""
    engine = get_engine("sandbox", config)
    with stack_lock(config.stack, "destroy"):
        url = engine.endpoint_url
        state, ctx = engine._state(url), engine._ctx(url)  # noqa: SLF001 - the old loop used the same internals
        for entry in state.in_reverse_order():
            handler = REGISTRY[entry["type"]]
            engine.step("delete", entry["type"], entry["name"], entry["urn"],
                        lambda entry=entry, handler=handler: engine._delete_one(ctx, state, handler, entry))  # noqa: SLF001
            state.remove(entry["urn"])
        state.outputs = {}
        state.save()
        left = int(sweep(ctx, config)["remaining"].sum())
    if left:
        raise RuntimeError(f"the serial destroy left {left} resources")


def sample(emu: Emulator, meter: Meter, az: int, i: int) -> dict[str, dict[str, float]]:
    """One paired sample: the three arms, in an order that rotates with ``i``."""
    common = {"aws_endpoint_url": emu.url, "az_count": az, "asg_min": az, "asg_desired": az, "asg_max": 2 * az}
    configs = {arm: StackConfig.load({**common, "stack": f"{arm}{az}-{i}", "project": f"b{arm[:3]}{az}x{i}"})
               for arm in ("after", "before", "direct")}
    for config in configs.values():
        evaluate_offline(config)  # memoised per configuration; timed on its own by `plan`, not here
    out: dict[str, dict[str, float]] = {}
    arms = ["after", "before", "direct"]
    for arm in arms[i % 3:] + arms[:i % 3]:
        out.update(run_arm(arm, configs[arm], meter))
    return out


def run_arm(arm: str, config: StackConfig, meter: Meter) -> dict[str, dict[str, float]]:
    """Deploy, then destroy, one arm's stack; measured."""
    if arm == "direct":
        created: list[Any] = []
        return {"direct_up": meter(lambda: created.extend(direct_create(config))),
                "direct_destroy": meter(lambda: direct_delete(config, created))}
    engine = get_engine("sandbox", config)
    if arm == "after":
        return {"after_up": meter(engine.up), "noop": meter(engine.up), "after_destroy": meter(engine.destroy)}
    return {"before_up": meter(engine.up), "before_destroy": meter(lambda: serial_destroy(config))}


def median(samples: list[dict[str, dict[str, float]]], key: str, field: str = "wall") -> float:
    return statistics.median(s[key][field] for s in samples)


def ratio(samples: list[dict[str, dict[str, float]]], top: str, bottom: str, field: str = "wall") -> float:
    """Median of the per-sample ratios (each pair shares its moment's machine load)."""
    return statistics.median(s[top][field] / s[bottom][field] for s in samples if s[bottom][field] > 0)


def report(rows: list[tuple[int, int, list[dict[str, dict[str, float]]]]]) -> None:
    print(f"\nwall seconds, medians ({len(rows[0][2])} paired samples per row)")
    print(f"{'az':>3} {'res':>4} {'up':>6} {'no-op':>6} {'direct up':>9} {'up/direct':>9} | {'destroy':>7} "
          f"{'before':>7} {'direct':>7} {'after/direct':>12} {'before/direct':>13} {'after/before':>12}")
    for az, n, s in rows:
        print(f"{az:>3} {n:>4} {median(s, 'after_up'):>6.2f} {median(s, 'noop'):>6.2f} {median(s, 'direct_up'):>9.2f} "
              f"{ratio(s, 'after_up', 'direct_up'):>9.2f} | {median(s, 'after_destroy'):>7.2f} "
              f"{median(s, 'before_destroy'):>7.2f} {median(s, 'direct_destroy'):>7.2f} "
              f"{ratio(s, 'after_destroy', 'direct_destroy'):>12.2f} {ratio(s, 'before_destroy', 'direct_destroy'):>13.2f} "
              f"{ratio(s, 'after_destroy', 'before_destroy'):>12.2f}")
    print("\ndestroy CPU seconds, medians: this process (client) + the emulator process")
    print(f"{'az':>3} {'after':>13} {'before':>13} {'direct':>13} {'after/direct (total CPU)':>25}")
    for az, _, s in rows:
        cells = [f"{median(s, k, 'cpu'):5.2f} + {median(s, k, 'emu_cpu'):5.2f}"
                 for k in ("after_destroy", "before_destroy", "direct_destroy")]
        total = statistics.median((x["after_destroy"]["cpu"] + x["after_destroy"]["emu_cpu"]) /
                                  max(1e-9, x["direct_destroy"]["cpu"] + x["direct_destroy"]["emu_cpu"]) for x in s)
        print(f"{az:>3} {cells[0]:>13} {cells[1]:>13} {cells[2]:>13} {total:>25.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 AZs, 3 samples (under 2 minutes)")
    parser.add_argument("--repeat", type=int, default=None, help="paired samples per AZ count (default 3)")
    parser.add_argument("--az", type=int, nargs="+", default=None, help="AZ counts (default 2 3 6)")
    args = parser.parse_args()
    azs = args.az or ([3] if args.quick else [2, 3, 6])
    repeat = args.repeat or 3
    os.environ["HAINFRA_HOME"] = tempfile.mkdtemp(prefix="hainfra-bench-")
    started = time.perf_counter()
    rows = []
    with Emulator() as emu:
        meter = Meter(emu.process.pid)
        for az in azs:
            samples = [sample(emu, meter, az, i) for i in range(repeat)]
            resources = len(evaluate_offline(StackConfig.load(
                {"aws_endpoint_url": emu.url, "az_count": az, "asg_min": az, "asg_desired": az, "asg_max": 2 * az,
                 "stack": f"after{az}-0", "project": f"baft{az}x0"}))[0].custom)
            rows.append((az, resources, samples))
            print(f"az {az}: {repeat} samples done ({time.perf_counter() - started:.0f}s)", file=sys.stderr)
    report(rows)
    if not args.quick:
        from hainfra.plan import plan

        offline = [(az, plan(StackConfig.load({"az_count": az, "stack": f"offline{az}"})).attrs["seconds"]) for az in azs]
        print("offline evaluation (plan, policy gate, type check; shared within a process):",
              ", ".join(f"az {az}: {s:.2f}s" for az, s in offline))
    print(f"\n(total {time.perf_counter() - started:.0f}s; load average {os.getloadavg()[0]:.2f} at the end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
