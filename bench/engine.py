"""Sandbox engine benchmark: wall time of up / no-change up / destroy for az_count 2, 3 and 6,
and the engine's overhead against issuing the same handler (boto3) create calls directly in sequence.

Run: .venv/bin/python bench/engine.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Any

from hainfra.aws import Ctx
from hainfra.config import StackConfig
from hainfra.engines import get_engine
from hainfra.engines.runtime import unwrap_secrets
from hainfra.engines.sandbox.emulator import Emulator
from hainfra.engines.sandbox.handlers import REGISTRY
from hainfra.plan import evaluate_offline


def direct_sequence(config: StackConfig) -> tuple[float, float]:
    """Create every resource with its handler in declaration order, one call after another, then delete
    in reverse: the same boto3 calls the engine makes, without Pulumi, state, locks or concurrency."""
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
    started = time.perf_counter()
    for reg in evaluation.custom:
        handler = REGISTRY[reg.type]
        inputs = substitute(unwrap_secrets(reg.inputs))
        rid, outputs = handler.create(ctx, inputs)
        real[reg.id] = rid
        for key, value in reg.outputs.items():
            if key in outputs and isinstance(value, str):
                real[value] = outputs[key]
        created.append((handler, rid, {**inputs, **outputs}))
    up = time.perf_counter() - started
    started = time.perf_counter()
    for handler, rid, props in reversed(created):
        handler.delete(ctx, rid, props)
    return up, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    os.environ["HAINFRA_HOME"] = tempfile.mkdtemp(prefix="hainfra-bench-")
    rows = []
    with Emulator() as emu:
        for az in (2, 3, 6):
            samples: dict[str, list[float]] = {"up": [], "noop": [], "destroy": [], "direct_up": [], "direct_destroy": []}
            resources = 0
            for i in range(args.repeat):
                common = {"aws_endpoint_url": emu.url, "az_count": az, "asg_min": az, "asg_desired": az, "asg_max": 2 * az}
                config = StackConfig.load({**common, "stack": f"bench{az}-{i}", "project": f"bench{az}x{i}"})
                engine = get_engine("sandbox", config)
                evaluate_offline(config)  # the offline evaluation is timed separately below
                t = time.perf_counter(); result = engine.up(); samples["up"].append(time.perf_counter() - t)  # noqa: E702
                resources = len(result.changes)
                t = time.perf_counter(); engine.up(); samples["noop"].append(time.perf_counter() - t)  # noqa: E702
                t = time.perf_counter(); engine.destroy(); samples["destroy"].append(time.perf_counter() - t)  # noqa: E702
                direct = StackConfig.load({**common, "stack": f"direct{az}-{i}", "project": f"direct{az}x{i}"})
                up, down = direct_sequence(direct)
                samples["direct_up"].append(up)
                samples["direct_destroy"].append(down)
            med = {k: statistics.median(v) for k, v in samples.items()}
            rows.append((az, resources, med))
    offline = []
    for az in (2, 3, 6):
        from hainfra.plan import plan

        offline.append((az, plan(StackConfig.load({"az_count": az, "stack": f"offline{az}"})).attrs["seconds"]))

    print(f"{'az':>3} {'res':>4} {'up s':>7} {'no-op s':>8} {'destroy s':>9} {'direct up s':>11} "
          f"{'direct del s':>12} {'up/direct':>9} {'destroy/direct':>14}")
    for az, n, m in rows:
        print(f"{az:>3} {n:>4} {m['up']:>7.2f} {m['noop']:>8.2f} {m['destroy']:>9.2f} {m['direct_up']:>11.2f} "
              f"{m['direct_destroy']:>12.2f} {m['up'] / m['direct_up']:>9.2f} {m['destroy'] / m['direct_destroy']:>14.2f}")
    print("offline evaluation (plan, policy gate, type check; shared within a process):",
          ", ".join(f"az {az}: {s:.2f}s" for az, s in offline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
