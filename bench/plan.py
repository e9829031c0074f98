"""`hainfra plan` cold start against importing what it stands on.

Each sample is a new process (cold: nothing imported, nothing memoised): ``hainfra plan --stack S``
against ``python -c "import pulumi_aws, pandas, boto3"``, paired and interleaved (the order
alternates); wall and CPU time are medians over the pairs.

Run: .venv/bin/python bench/plan.py [--runs N] [--quick]      (quick: 5 pairs, ~20 s)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from runbook import timed  # bench/runbook.py: one new process, timed (this folder is on sys.path)

REPO = Path(__file__).resolve().parents[1]
BASELINE = "import pulumi_aws, pandas, boto3"
GOAL = 2.3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="paired runs (default 11)")
    parser.add_argument("--quick", action="store_true", help="5 pairs")
    args = parser.parse_args()
    runs = 5 if args.quick else args.runs
    with tempfile.TemporaryDirectory(prefix="hainfra-bench-plan-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAINFRA_")}
        env.update(HAINFRA_HOME=str(Path(tmp) / "home"), HAINFRA_CONFIG_HOME=str(Path(tmp) / "config"),
                   PYTHONPATH=str(REPO))
        script = Path(sys.executable).parent / "hainfra"  # the console script users run
        command = [str(script)] if script.exists() else [sys.executable, "-m", "hainfra.cli"]
        sides = {"plan": [*command, "plan", "--stack", "benchplan"],
                 "imports": [sys.executable, "-c", BASELINE]}
        timed(sides["plan"], env)  # once unmeasured: the .pyc files exist, as after any install
        samples: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
        for i in range(runs):
            for side in (("plan", "imports") if i % 2 == 0 else ("imports", "plan")):
                samples[side].append(timed(sides[side], env)[:2])
    med = {side: (statistics.median(w for w, _ in s), statistics.median(c for _, c in s)) for side, s in samples.items()}
    ratios = [p[0] / b[0] for p, b in zip(samples["plan"], samples["imports"], strict=True)]
    print(f"{runs} paired runs, interleaved; load average {os.getloadavg()[0]:.2f}")
    print("| process | wall s (median) | CPU s (median) |\n|---|---|---|")
    print(f"| `hainfra plan` (cold) | {med['plan'][0]:.2f} | {med['plan'][1]:.2f} |")
    print(f"| `python -c \"{BASELINE}\"` | {med['imports'][0]:.2f} | {med['imports'][1]:.2f} |")
    print(f"\nplan / imports: {statistics.median(ratios):.2f}x wall (median of pairs; goal <= {GOAL}x), "
          f"{med['plan'][1] / med['imports'][1]:.2f}x CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
