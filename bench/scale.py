"""Scale benchmark: up/destroy wall time and peak memory for 2, 3 and 6 AZs, and for N stacks
deployed (then destroyed) concurrently into one emulator.

Every scenario gets a fresh emulator process and one worker process per stack, so each peak
memory is that scenario's own: the workers' maxrss and the emulator's VmHWM (high-water mark).
Workers import everything, say they are ready and wait, so the timings start together and hold
no interpreter start-up or imports. AZ scenarios repeat in a rotating order; medians are printed.
Goal (issue 17): 6 AZs ≤ 1.5× 3 AZs.

Run: .venv/bin/python bench/scale.py [--quick] [--repeat N] [--stacks N] [--az 2 3 6]
(``--az`` alone: only the concurrent stacks; ``--stacks 0``: only the AZ runs)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hainfra.engines.sandbox.emulator import Emulator


def peak_mb(pid: int) -> float:
    """The high-water mark of a process's resident memory, in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- one stack, in a worker process -------------------------------------------------------------
def worker(url: str, stack: str, az: int) -> None:
    """Protocol on stdin/stdout: "ready" → (go) up → JSON → (go) destroy → JSON with the peak memory."""
    from hainfra.config import StackConfig
    from hainfra.engines import get_engine
    from hainfra.plan import evaluate_offline

    config = StackConfig.load({"aws_endpoint_url": url, "stack": stack, "project": stack[:20], "az_count": az,
                               "asg_min": az, "asg_desired": az, "asg_max": 2 * az})
    evaluate_offline(config)  # the offline evaluation is `plan`'s cost (issue 17 item 3), not the engine's
    engine = get_engine("sandbox", config)
    for operation in ("up", "destroy"):
        print("ready", flush=True)
        sys.stdin.readline()
        started = time.perf_counter()
        result = getattr(engine, operation)()
        print(json.dumps({"seconds": time.perf_counter() - started, "resources": len(result.changes),
                          "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)


def _result(worker: subprocess.Popen[str], operation: str) -> dict[str, Any]:
    line = worker.stdout.readline()
    if not line.startswith("{"):
        raise RuntimeError(f"a worker's {operation} failed (its traceback is above): {worker.args[-2]}")
    return json.loads(line)


def scenario(stacks: int, az: int, label: str) -> dict[str, Any]:
    """Deploy ``stacks`` stacks of ``az`` AZs at once into a fresh emulator, then destroy them at once."""
    env = {**os.environ, "HAINFRA_HOME": tempfile.mkdtemp(prefix="hainfra-scale-")}
    with Emulator() as emu:
        workers = [subprocess.Popen([sys.executable, __file__, "--worker", emu.url, f"{label}{k}", str(az)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
                   for k in range(stacks)]
        out: dict[str, Any] = {"stacks": stacks, "az": az}
        try:
            for operation in ("up", "destroy"):
                for w in workers:
                    if w.stdout.readline().strip() != "ready":
                        raise RuntimeError(f"a worker failed before {operation}")
                started = time.perf_counter()
                for w in workers:
                    w.stdin.write("go\n")
                    w.stdin.flush()
                results = [_result(w, operation) for w in workers]
                out[operation] = time.perf_counter() - started
                out[f"{operation}_each"] = statistics.median(r["seconds"] for r in results)
                out["resources"] = results[0]["resources"]
                out["workers_mb"] = sum(r["rss_mb"] for r in results)
            out["emulator_mb"] = peak_mb(emu.process.pid)
        finally:
            for w in workers:
                w.wait(timeout=60)
    return out


# --- the report ----------------------------------------------------------------------------------
def med(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def report_azs(by_az: dict[int, list[dict[str, Any]]]) -> None:
    print(f"\none stack per fresh emulator, medians of {len(next(iter(by_az.values())))} runs")
    print(f"{'az':>3} {'res':>4} {'up s':>6} {'destroy s':>9} {'worker MiB':>10} {'emulator MiB':>12}")
    for az, runs in sorted(by_az.items()):
        print(f"{az:>3} {runs[0]['resources']:>4} {med(runs, 'up'):>6.2f} {med(runs, 'destroy'):>9.2f} "
              f"{med(runs, 'workers_mb'):>10.0f} {med(runs, 'emulator_mb'):>12.0f}")
    if 3 in by_az and 6 in by_az:
        three, six = by_az[3], by_az[6]
        paired = lambda key: statistics.median(b[key] / a[key] for a, b in zip(three, six, strict=True))  # noqa: E731
        print(f"6 AZ / 3 AZ (paired medians): up {paired('up'):.2f}, destroy {paired('destroy'):.2f}, "
              f"resources {six[0]['resources'] / three[0]['resources']:.2f}, emulator memory "
              f"{paired('emulator_mb'):.2f}   (goal: time ≤ 1.5)")


def report_many(many: dict[str, Any], single: list[dict[str, Any]]) -> None:
    n = many["stacks"]
    print(f"\n{n} stacks of {many['az']} AZs deployed at once into one emulator")
    print(f"  up: {many['up']:.1f}s for all (median stack {many['up_each']:.1f}s); "
          f"destroy: {many['destroy']:.1f}s for all (median stack {many['destroy_each']:.1f}s)")
    print(f"  peak memory: workers {many['workers_mb']:.0f} MiB in total ({many['workers_mb'] / n:.0f} each), "
          f"emulator {many['emulator_mb']:.0f} MiB")
    if single:
        up, down = med(single, "up"), med(single, "destroy")
        print(f"  against {n} × one stack alone ({up:.2f}s up, {down:.2f}s destroy): "
              f"up {many['up'] / (n * up):.2f}×, destroy {many['destroy'] / (n * down):.2f}× "
              "(below 1: running them together beats one after another)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run per AZ count (a few minutes)")
    parser.add_argument("--repeat", type=int, default=None, help="runs per AZ count (default 3)")
    parser.add_argument("--stacks", type=int, default=10, help="stacks deployed at once (0: skip)")
    parser.add_argument("--az", type=int, nargs="*", default=[2, 3, 6], help="AZ counts of the one-stack runs")
    parser.add_argument("--worker", nargs=3, metavar=("URL", "STACK", "AZ"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], int(args.worker[2]))
        return 0
    started = time.perf_counter()
    repeat = args.repeat or (1 if args.quick else 3)
    azs = args.az
    by_az: dict[int, list[dict[str, Any]]] = {az: [] for az in azs}
    for i in range(repeat if azs else 0):
        for az in azs[i % len(azs):] + azs[:i % len(azs)]:
            by_az[az].append(scenario(1, az, f"scale{az}r{i}s"))
            print(f"az {az} run {i + 1}/{repeat} done ({time.perf_counter() - started:.0f}s)", file=sys.stderr)
    if azs:
        report_azs(by_az)
    if args.stacks:
        report_many(scenario(args.stacks, 3, "many"), by_az.get(3, []))
    print(f"\n(total {time.perf_counter() - started:.0f}s; load average {os.getloadavg()[0]:.2f} at the end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
