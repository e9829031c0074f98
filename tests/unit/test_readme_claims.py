"""README promises checked without notebooks or an emulator: the actor, read-only archived files, a crashing
verify check, and the runbook's whole-run timeout between stages."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from hainfra import verify
from hainfra.audit import signing
from hainfra.audit.record import base_record, recording
from hainfra.config import StackConfig
from hainfra.runbook import runner
from hainfra.verify.base import CHECKS


def _one_run(root: Path, stack: str = "claims") -> dict[str, Any]:
    with recording(root, base_record("run-claims-1", "deploy", stack), signer=signing.get_signer()) as stage:
        stage.outcome = "success"
        stage.files = {"02-deploy.ipynb": b"{}", "02-deploy.html": b"<html></html>"}
    return stage.result


def test_the_actor_is_hainfra_actor_when_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAINFRA_ACTOR", "ci-bot@pipeline-42")
    root = tmp_path / "archive"
    record = _one_run(root)
    assert record["actor"] == "ci-bot@pipeline-42"
    started = json.loads((root / "index.jsonl").read_text().splitlines()[0])
    assert started["actor"] == "ci-bot@pipeline-42"  # the write-ahead entry names them too, before any cell


def test_archived_files_are_read_only_for_everyone(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    _one_run(root)
    files = [p for p in root.rglob("*") if p.is_file() and p.parent != root]  # the run folder, not the index
    assert {p.name for p in files} >= {"02-deploy.ipynb", "02-deploy.html", "run.json"}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) & 0o222 == 0, f"{path} is writable"


class _Deployed:
    """An engine whose stack is deployed: what verify.run needs before it runs any check."""

    emulated = True

    def outputs(self) -> dict[str, str]:
        return {"stack": "claims", "vpc_id": "vpc-0123456789abcdef0"}

    def aws_client_kwargs(self) -> dict[str, str]:
        return {"region_name": "us-east-1", "endpoint_url": "https://127.0.0.1:9"}


def test_a_crashing_check_is_a_mandatory_failing_row_never_a_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    def crashes(ctx: object) -> list[object]:
        raise KeyError("Subnets")  # e.g. an API answer without the field the check reads

    monkeypatch.setitem(CHECKS, "test.crashes", crashes)
    results = verify.run(StackConfig.load({"stack": "claims"}), engine=_Deployed(), checks=["test.crashes"])
    assert results.to_dict("records") == [{
        "check": "test.crashes", "resource": "-", "status": "fail", "expected": "check runs",
        "found": "KeyError: 'Subnets'", "fix": "run `hainfra verify -v` for the traceback", "mandatory": True}]
    assert len(verify.mandatory_failures(results)) == 1  # so the verify stage fails


def test_the_whole_run_timeout_stops_between_stages_and_bounds_the_running_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each stage takes 10 s of a 15 s budget: deploy gets what is left (5 s), verify never starts."""
    clock = [1000.0]
    ran: list[tuple[str, float]] = []

    def stage(name: str, **kwargs: Any) -> dict[str, Any]:
        ran.append((name, kwargs["cell_timeout"]))
        clock[0] += 10
        return {"stage": name, "outcome": "success", "run_id": f"r-{name}"}

    class NoKernels:  # the stages are stubbed: no kernel to start ahead
        def __enter__(self) -> NoKernels:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def start(self, *args: object) -> None:
            pass

        take = stop = start

    # The runner's clock only: the time module itself stays real (asyncio and threads read it).
    monkeypatch.setattr(runner, "time", SimpleNamespace(monotonic=lambda: clock[0], time=time.time,
                                                        perf_counter=time.perf_counter))
    monkeypatch.setattr(runner, "Kernels", NoKernels)
    monkeypatch.setattr(runner, "run_stage", stage)
    records = runner.run_runbook(stack="late", params={"aws_endpoint_url": "https://127.0.0.1:9"}, timeout=15)
    assert ran == [("configure", 15.0), ("deploy", 5.0)]
    assert [(r["stage"], r["outcome"]) for r in records] == [
        ("configure", "success"), ("deploy", "success"), ("verify", "timeout")]
    assert "Outcome: FAILED" in runner.summary(records, "archive")
