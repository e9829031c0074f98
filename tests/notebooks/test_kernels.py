"""Kernels started ahead: ready for their stage, never running a cell early, never outliving the runbook."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from hainfra import audit
from hainfra.engines.sandbox.emulator import Emulator
from hainfra.runbook import kernels, runner

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _gone_within(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if _alive(p)]
        time.sleep(0.2)
    return alive


def _command(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.NoSuchProcess:  # a short-lived child (git) ended between the listing and the look
        return ""


def _kernels_of(pid: int) -> list[psutil.Process]:
    return [c for c in psutil.Process(pid).children(recursive=True) if "ipykernel" in _command(c)]


def test_a_warm_kernel_holds_the_steps_but_no_name_and_no_history(tmp_path: Path) -> None:
    from jupyter_core.utils import run_sync

    with kernels.Kernels() as started:
        started.start("deploy", runner.NOTEBOOKS / runner.STAGES["deploy"], {"HAINFRA_PROBE": "x" * 12})
        ahead = started.take("deploy")
        assert ahead is not None
        client = ahead.manager.client()
        client.start_channels()
        try:
            run_sync(client._async_wait_for_ready)(timeout=120)
            code = ("import sys, os; print(sorted(k for k in globals() if 'hainfra' in k), "
                    "'hainfra.runbook.steps' in sys.modules, os.environ['HAINFRA_PROBE'])")
            out: list[str] = []
            reply = run_sync(client._async_execute_interactive)(code, timeout=60, output_hook=_collect(out))
            assert reply["content"]["status"] == "ok"
            assert "".join(out).strip() == f"[] True {'x' * 12}"
            assert reply["content"]["execution_count"] == 1, "warming up ran no counted cell"
        finally:
            client.stop_channels()
        pid = ahead.manager.provisioner.pid
    assert not _gone_within([pid], 20), "closing stops every kernel started ahead"


def _collect(sink: list[str]) -> Any:
    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            sink.append(msg["content"]["text"])
    return hook


def test_a_failed_stage_stops_the_kernel_started_for_the_next(emulator: Emulator, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """configure fails: the deploy kernel already booting is shut down, and nothing of deploy is recorded."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name in runner.STAGES.values():
        (notebooks / name).write_text((runner.NOTEBOOKS / name).read_text())
    configure = json.loads((notebooks / runner.STAGES["configure"]).read_text())
    code = [c for c in configure["cells"] if c["cell_type"] == "code"]
    code[2]["source"] = "raise RuntimeError('configure fails here')"  # the cell after checked_config
    (notebooks / runner.STAGES["configure"]).write_text(json.dumps(configure))
    monkeypatch.setattr(runner, "NOTEBOOKS", notebooks)
    started: list[int] = []
    original = kernels.Kernels.start

    def spy(self: kernels.Kernels, stage: str, notebook: Path, env: dict[str, str]) -> None:
        original(self, stage, notebook, env)
        started.append(self.take(stage).manager.provisioner.pid)  # type: ignore[union-attr]

    monkeypatch.setattr(kernels.Kernels, "start", spy)
    archive = tmp_path / "archive"
    records = runner.run_runbook(stack="failfast", params={"aws_endpoint_url": emulator.url, "asg_min": 2,
                                                           "asg_desired": 2}, archive_root=archive)
    assert [(r["stage"], r["outcome"]) for r in records] == [("configure", "failed")]
    assert len(started) == 2, "the deploy kernel was started while configure ran"
    assert not _gone_within(started, 20), "a kernel started ahead outlived the runbook"
    assert list(audit.runs(archive)["stage"]) == ["configure"]


def _runbook(archive: Path, home: Path, stack: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "hainfra.cli", "runbook", "--stack", stack, "--archive", str(archive),
                             "-p", "asg_min", "2", "-p", "asg_desired", "2"],
                            env={**os.environ, "PYTHONPATH": str(REPO), "HAINFRA_HOME": str(home)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for_two_kernels(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    """Until the first stage runs and the next stage's kernel is booting beside it."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        found = _kernels_of(proc.pid)
        if len(found) >= 2:
            return found
        time.sleep(0.1)
    proc.kill()
    pytest.fail("the runbook never had the next stage's kernel started ahead")


def test_sigkill_while_a_kernel_is_started_ahead_leaves_no_kernel(tmp_path: Path, hainfra_home: Path) -> None:
    proc = _runbook(tmp_path / "archive", hainfra_home, "killedahead")
    found = _wait_for_two_kernels(proc)
    everything = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    survivors = _gone_within(everything, 30)
    assert not survivors, [_command(psutil.Process(p)) for p in survivors]
    assert len(found) >= 2


def test_ctrl_c_while_a_kernel_is_started_ahead_archives_interrupted_and_stops_both(tmp_path: Path,
                                                                                    hainfra_home: Path) -> None:
    archive = tmp_path / "archive"
    proc = _runbook(archive, hainfra_home, "intrahead")
    found = _wait_for_two_kernels(proc)
    deadline = time.monotonic() + 60
    while not (archive / "index.jsonl").exists() and time.monotonic() < deadline:  # configure is recorded as started
        time.sleep(0.1)
    # Its cells run (the instant the started entry is being written and anchored is the audit's own window).
    time.sleep(2)
    assert len(_kernels_of(proc.pid)) >= 2, "the deploy kernel waits beside the running configure stage"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130, proc.stderr.read() if proc.stderr else ""
    assert not _gone_within([k.pid for k in found], 30), "a kernel outlived the interrupted runbook"
    runs = audit.runs(archive)
    assert list(runs["outcome"]) == ["interrupted"] and list(runs["stage"]) == ["configure"]
    assert "1 runs" in audit.verify(archive)
