"""Terraform plan export and checkov benchmark: how much a preflight scan costs on top of the gate.

Prints, for az_count 2, 3 and 6 (prod): resources exported, the gate's time, the export's time
(on the memoised evaluation), checkov's time on the export, and checkov's share of the whole.

Run: .venv/bin/python bench/checkov.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from hainfra.config import StackConfig
from hainfra.plan import evaluate_offline
from hainfra.policy import check_stack, checkov, export_stack_tfplan


def timed(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    exe = checkov.find()
    print(f"checkov: {exe or 'not installed (export timings only)'}")
    print(f"{'az':>3} {'resources':>9} {'gate s':>7} {'export s':>8} {'checkov s':>9} {'checkov share':>13}")
    for az in (2, 3, 6):
        config = StackConfig.load({"environment": "prod", "az_count": az, "asg_min": az, "asg_desired": az})
        evaluate_offline(config)  # warm: plan, gate and export share the memoised evaluation
        gate = timed(lambda c=config: check_stack(c), args.repeat)
        export = timed(lambda c=config: export_stack_tfplan(c), args.repeat)
        exported = export_stack_tfplan(config)
        scan = float("nan")
        if exe:
            with tempfile.TemporaryDirectory() as tmp:
                path = exported.write(Path(tmp) / "tfplan.json")
                scan = timed(lambda p=path: checkov.run(p, executable=exe), args.repeat)
        total = gate + export + scan
        print(f"{az:>3} {len(exported.addresses):>9} {gate:>7.3f} {export:>8.3f} {scan:>9.2f} {scan / total:>12.0%}")


if __name__ == "__main__":
    main()
