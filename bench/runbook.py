"""Runbook benchmark: the four notebooks (`hainfra runbook`) against the same stages through the API.

The API path executes each runbook notebook's own code cells, in order, in one Python process with a
private emulator (``hainfra.runbook.steps``: no kernel, no papermill, no rendering, no archive), so both
paths make exactly the same calls. Runs are paired and interleaved (the order alternates, ABBA) and each
side runs in its own new process: wall and CPU time (the process and the children it waited for:
kernels, emulator) are medians over the pairs.

Per stage, the notebook path is split from what the archive records: kernel start (papermill's start to
the first cell), imports (the first code cell: ``import hainfra.runbook.steps`` + the config check),
offline evaluation (the configure cells that list the program: plan, policy, export; deploy's own
evaluations stay in its engine cells), engine work (every other cell), HTML rendering (``run.json``
``timings.render``) and archiving (the rest, up to the signed ``finished`` entry). The API path is split
the same way by cell.

Run: .venv/bin/python bench/runbook.py [--runs N] [--quick]   (quick: 1 pair, < 3 min on 2 cores)
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
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
STAGES = ("configure", "deploy", "verify", "teardown")
COLUMNS = ("kernel start", "imports", "offline evaluation", "engine work", "HTML rendering", "archiving")
EVALUATION_CALLS = ("rb.resource_plan(", "rb.policy_findings(", "rb.tfplan_export(")


def category(source: str, first: bool) -> str:
    """The breakdown column of one code cell (the same rule for both paths)."""
    if first:
        return "imports"
    return "offline evaluation" if any(call in source for call in EVALUATION_CALLS) else "engine work"


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end.replace("Z", "+00:00")) - datetime.fromisoformat(start.replace("Z", "+00:00"))
            ).total_seconds()


# --- the API path: the notebooks' cells in this process ----------------------------------------------------
def code_cells(stage: str) -> tuple[str, list[str]]:
    """(parameters cell, other code cells) of a stage's packaged notebook."""
    from hainfra.runbook.runner import NOTEBOOKS
    from hainfra.runbook.runner import STAGES as FILES

    cells = json.loads((NOTEBOOKS / FILES[stage]).read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    params = next("".join(c["source"]) for c in code if "parameters" in c["metadata"].get("tags", []))
    return params, ["".join(c["source"]) for c in code if "parameters" not in c["metadata"].get("tags", [])]


def api_once(stack: str) -> dict[str, dict[str, float]]:
    """configure → deploy → verify → teardown through the notebooks' calls; seconds per stage and column."""
    started = time.perf_counter()
    from hainfra.engines import private_emulator

    breakdown: dict[str, dict[str, float]] = {}
    with private_emulator() as emu:
        for stage in STAGES:
            params_cell, cells = code_cells(stage)
            namespace: dict[str, Any] = {}
            exec(params_cell, namespace)  # noqa: S102 - the notebook's own defaults
            namespace.update(stack=stack, params={"aws_endpoint_url": emu.url})
            row = dict.fromkeys(COLUMNS, 0.0)
            for i, source in enumerate(cells):
                t = time.perf_counter()
                exec(compile(source, f"<{stage} cell {i + 1}>", "exec"), namespace)  # noqa: S102
                row[category(source, i == 0)] += time.perf_counter() - t
            breakdown[stage] = row
    breakdown["total"] = {"wall": time.perf_counter() - started}
    return breakdown


# --- the notebook path: `hainfra runbook`, broken down from its archive ------------------------------------
def notebook_breakdown(archive: Path) -> dict[str, dict[str, float]]:
    """Seconds per stage and column, from the archived notebooks, run.json and the index."""
    finished = {}
    for line in (archive / "index.jsonl").read_text().splitlines():
        entry = json.loads(line)
        if entry["kind"] == "finished":
            finished[entry["run_id"]] = entry["time"]
    breakdown: dict[str, dict[str, float]] = {}
    for run_json in archive.rglob("run.json"):
        record = json.loads(run_json.read_text())
        notebook = json.loads(next(run_json.parent.glob("*.ipynb")).read_text())
        row = dict.fromkeys(COLUMNS, 0.0)
        code = [c for c in notebook["cells"] if c["cell_type"] == "code" and "parameters" not in
                c["metadata"].get("tags", []) and "injected-parameters" not in c["metadata"].get("tags", [])]
        for i, cell in enumerate(code):
            row[category("".join(cell["source"]), i == 0)] += cell["metadata"]["papermill"]["duration"] or 0.0
        first = min(c["metadata"]["papermill"]["start_time"] for c in notebook["cells"]
                    if c["metadata"].get("papermill", {}).get("start_time"))
        row["kernel start"] = _seconds(notebook["metadata"]["papermill"]["start_time"], first)
        row["HTML rendering"] = (record.get("timings") or {}).get("render", 0.0)
        row["archiving"] = _seconds(record["ended"], finished[record["run_id"]]) - row["HTML rendering"]
        breakdown[record["stage"]] = row
    return breakdown


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall s, CPU s of the process and its waited-for children, stdout) of one new process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f"{' '.join(argv[:3])} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, done.stdout


def isolated_env(folder: Path) -> dict[str, str]:
    """Local state, signing keys and archive of the benchmark's own (never the user's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAINFRA_")}
    env.update(HAINFRA_HOME=str(folder / "home"), HAINFRA_CONFIG_HOME=str(folder / "config"),
               HAINFRA_ARCHIVE=str(folder / "archive"), PYTHONPATH=str(REPO))
    return env


def one_pair(i: int, folder: Path, notebooks_first: bool) -> dict[str, Any]:
    env = isolated_env(folder)
    hainfra = [sys.executable, "-m", "hainfra.cli"] if not (Path(sys.executable).parent / "hainfra").exists() \
        else [str(Path(sys.executable).parent / "hainfra")]
    archive = folder / f"archive-{i}"
    sides = {
        "notebooks": hainfra + ["runbook", "--stack", f"nb{i}", "--archive", str(archive)],
        "api": [sys.executable, str(Path(__file__).resolve()), "--api-once", f"api{i}"],
    }
    result: dict[str, Any] = {}
    for side in (("notebooks", "api") if notebooks_first else ("api", "notebooks")):
        wall, cpu, out = timed(sides[side], env)
        result[side] = {"wall": wall, "cpu": cpu}
        if side == "api":
            result["api_breakdown"] = json.loads(out.strip().splitlines()[-1])
    result["notebook_breakdown"] = notebook_breakdown(archive)
    return result


def median_breakdown(samples: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    return {stage: {col: statistics.median(s[stage][col] for s in samples) for col in COLUMNS} for stage in STAGES}


def table(title: str, rows: dict[str, dict[str, float]], wall: float) -> str:
    """Seconds per stage and column; the last row is the wall time outside the stages (start, emulator, exit)."""
    head = f"| {title} | " + " | ".join(COLUMNS) + " | total |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 2)]
    for stage in STAGES:
        values = [rows[stage][c] for c in COLUMNS]
        lines.append(f"| {stage} | " + " | ".join(f"{v:.2f}" for v in values) + f" | {sum(values):.2f} |")
    sums = [sum(rows[s][c] for s in STAGES) for c in COLUMNS]
    lines.append("| **all stages** | " + " | ".join(f"{v:.2f}" for v in sums) + f" | {sum(sums):.2f} |")
    lines.append(f"| outside stages (process start, checks, emulator start/stop) |{' |' * len(COLUMNS)} "
                 f"{wall - sum(sums):.2f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="paired runs (default 3)")
    parser.add_argument("--quick", action="store_true", help="one pair (the integrator's quick check)")
    parser.add_argument("--api-once", metavar="STACK", help=argparse.SUPPRESS)  # the API side, in its own process
    args = parser.parse_args()
    if args.api_once:
        print(json.dumps(api_once(args.api_once)))
        return 0
    runs = 1 if args.quick else args.runs
    print(f"{runs} paired run(s), interleaved; load average {os.getloadavg()[0]:.2f} at start", flush=True)
    pairs = []
    with tempfile.TemporaryDirectory(prefix="hainfra-bench-runbook-") as tmp:
        for i in range(runs):
            pairs.append(one_pair(i, Path(tmp), notebooks_first=i % 2 == 0))
            print(f"  pair {i + 1}: notebooks {pairs[-1]['notebooks']['wall']:.1f}s, api {pairs[-1]['api']['wall']:.1f}s",
                  flush=True)
    med = {side: {k: statistics.median(p[side][k] for p in pairs) for k in ("wall", "cpu")} for side in ("notebooks", "api")}
    print()
    print(table("notebooks (s)", median_breakdown([p["notebook_breakdown"] for p in pairs]), med["notebooks"]["wall"]))
    print()
    print(table("API (s)", median_breakdown([p["api_breakdown"] for p in pairs]), med["api"]["wall"]))
    print()
    print("| path | wall s (median) | CPU s (median) |\n|---|---|---|")
    for side in ("notebooks", "api"):
        print(f"| {side} | {med[side]['wall']:.1f} | {med[side]['cpu']:.1f} |")
    ratios = [p["notebooks"]["wall"] / p["api"]["wall"] for p in pairs]
    print(f"\nnotebooks / API: {statistics.median(ratios):.2f}x wall (median of pairs; goal <= 1.3x), "
          f"{med['notebooks']['cpu'] / med['api']['cpu']:.2f}x CPU; load average {os.getloadavg()[0]:.2f} at end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
