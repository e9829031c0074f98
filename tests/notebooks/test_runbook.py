"""The runbook: papermill runs of the four notebooks, the audit archive, redaction, exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hainfra import audit, cli
from hainfra.aws import Ctx
from hainfra.config import SECRET_FROM_ENV, StackConfig
from hainfra.engines import get_engine
from hainfra.engines.sandbox.emulator import Emulator
from hainfra.errors import ConfigError
from hainfra.runbook import runner

pytestmark = pytest.mark.slow
CANARY = "CANARY-s3cr3t-7f3a9c1e"


def test_whole_runbook_on_the_sandbox(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    records = runner.run_runbook(stack="rb", params={"pulumi_config_passphrase": CANARY, "asg_min": 2,
                                                     "asg_desired": 2}, archive_root=archive)
    assert [(r["stage"], r["outcome"]) for r in records] == [
        ("configure", "success"), ("deploy", "success"), ("verify", "success"), ("teardown", "success")]
    assert "4 runs, 8 files, 8 entries, hash chain intact, every entry signed" in audit.verify(archive)

    record = audit.show(records[1]["run_id"], archive)
    for key in ("run_id", "actor", "host", "started", "ended", "stage", "stack", "engine", "parameters",
                "input_notebook_sha256", "git", "hainfra_version", "outcome", "failing_cell", "files", "redactions"):
        assert key in record, key
    # The secret travelled in the kernel's environment: the record and the cell show the placeholder.
    assert record["parameters"]["params"]["pulumi_config_passphrase"] == SECRET_FROM_ENV
    assert set(record["files"]) == {"02-deploy.ipynb", "02-deploy.html"}
    assert record["timings"]["render"] > 0  # bench/runbook.py's per-stage breakdown

    # The canary appears nowhere in the archive (the stack's own secrets: tests/sandbox/test_archive_redaction.py).
    everything = b"".join(p.read_bytes() for p in archive.rglob("*") if p.is_file())
    assert CANARY.encode() not in everything
    assert everything.count(SECRET_FROM_ENV.encode()) >= 4  # one injected cell per stage

    runs = audit.runs(archive)
    assert list(runs["stage"]) == ["configure", "deploy", "verify", "teardown"]
    assert list(runs["seq"]) == [1, 3, 5, 7]  # each run: its started entry, then its finished entry
    folder = archive / "rb" / record["started"][:10] / record["run_id"]
    counts = [c["execution_count"] for c in json.loads((folder / "02-deploy.ipynb").read_text())["cells"]
              if c["cell_type"] == "code"]
    assert counts == list(range(1, len(counts) + 1)), "the kernel started ahead ran no cell of its own"
    page = (folder / "02-deploy.html").read_text()
    assert page.count("<html") == 1
    header = page[page.index("<body"):][:6000]
    for shown in ("hainfra run record", record["run_id"], "deploy", "success", record["actor"], record["signer"],
                  "resolved configuration", "&quot;az_count&quot;: 3"):
        assert shown in header, shown
    configure = audit.show(records[0]["run_id"], archive)
    plan_page = (archive / "rb" / configure["started"][:10] / configure["run_id"] / "01-configure.html").read_text()
    assert "<td>...</td>" not in plan_page and "<th>...</th>" not in plan_page, "an archived table was truncated"
    assert "max-width:1280px" in plan_page
    verify_record = audit.show(records[2]["run_id"], archive)
    assert verify_record["verify_counts"]["pass"] > 0 and verify_record["verify_counts"]["fail"] == 0
    assert f"pass {verify_record['verify_counts']['pass']}" in (archive / "rb" / verify_record["started"][:10]
                                                              / verify_record["run_id"] / "03-verify.html").read_text()
    assert record["config"]["pulumi_config_passphrase"] == "********" and record["config"]["asg_min"] == 2


def test_failing_stage_exits_1_and_is_archived_with_its_cell(emulator: Emulator, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    archive = tmp_path / "archive"
    params = {"aws_endpoint_url": emulator.url, "project": "failing", "asg_min": 2, "asg_desired": 2}
    config = StackConfig.load({**params, "stack": "fail"})
    deploy = runner.run_stage("deploy", stack="fail", params={**params, "policy_override": "change CHG-1"},
                              archive_root=archive)
    assert deploy["outcome"] == "success" and deploy["policy_override"] == "change CHG-1"
    outputs = get_engine("sandbox", config).outputs()
    Ctx(emulator.url, config.region).client("s3").put_bucket_versioning(
        Bucket=outputs["bucket_name"], VersioningConfiguration={"Status": "Suspended"})
    try:
        argv = ["run", "verify", "--stack", "fail", "--archive", str(archive), "-p", "wait_seconds", "2"]
        for key, value in params.items():
            argv += ["-p", key, str(value)]
        assert cli.main(argv) == 1
    finally:
        get_engine("sandbox", config).destroy()
    assert "verify    failed" in capsys.readouterr().out
    last = audit.runs(archive).iloc[-1]
    record = audit.show(last["run_id"], archive)
    assert record["outcome"] == "failed"
    assert record["failing_cell"]["ename"] == "VerifyFailed"
    assert "storage.versioning" in record["failing_cell"]["evalue"]
    notebook = (archive / "fail" / record["started"][:10] / record["run_id"] / "03-verify.ipynb").read_text()
    assert "An Exception was encountered" in notebook and "VerifyFailed" in notebook


def test_bad_parameters_exit_2_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    archive = tmp_path / "archive"
    assert cli.main(["run", "configure", "--stack", "x", "--archive", str(archive), "-p", "az_cuont", "3"]) == 2
    assert "az_cuont" in capsys.readouterr().err
    assert cli.main(["run", "verify", "--stack", "x", "--archive", str(archive), "-p", "wait_seconds", "soon"]) == 2
    assert "wait_seconds" in capsys.readouterr().err
    assert cli.main(["runbook", "--stack", "x", "--archive", str(archive), "-p", "az_count", "9"]) == 2
    assert "az_count" in capsys.readouterr().err
    assert not archive.exists(), "nothing executed, nothing archived"
    with pytest.raises(ConfigError, match="confirm"):
        runner.run_runbook(stack="x", params={"confirm_": "x"}, archive_root=archive)


def test_teardown_of_a_real_stack_needs_confirmation(tmp_path: Path) -> None:
    record = runner.run_stage("teardown", stack="prod-like", params={"engine": "pulumi"}, archive_root=tmp_path / "a")
    assert record["outcome"] == "failed"
    assert record["failing_cell"]["ename"] == "ConfigError" and "confirm" in record["failing_cell"]["evalue"]


def test_a_spent_timeout_runs_no_stage_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The CLI end of the timeout; stopping *between* stages is tests/unit/test_readme_claims.py's."""
    assert cli.main(["runbook", "--stack", "late", "--archive", str(tmp_path / "a"), "--timeout", "0"]) == 1
    out = capsys.readouterr().out
    assert "configure timeout" in out and "Outcome: FAILED" in out


def test_runbook_with_the_optional_drill_stage(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    records = runner.run_runbook(stack="rbdrill", params={"asg_min": 2, "asg_desired": 2, "az_count": 2},
                                 archive_root=archive, drill="az")
    assert [(r["stage"], r["outcome"]) for r in records] == [
        ("configure", "success"), ("deploy", "success"), ("verify", "success"), ("drill", "success"),
        ("teardown", "success")]
    drill = audit.show(records[3]["run_id"], archive)
    assert drill["parameters"]["scenario"] == "az"
    assert set(drill["files"]) == {"05-drill.ipynb", "05-drill.html"}
    html = next(archive.rglob("05-drill.html")).read_text()
    assert "capacity in other AZs" in html and "AZ given back" in html
    assert "5 runs, 10 files, 10 entries, hash chain intact, every entry signed" in audit.verify(archive)


def test_ctrl_c_archives_the_partial_notebook_as_interrupted(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    archive = tmp_path / "archive"
    proc = subprocess.Popen([sys.executable, "-m", "hainfra.cli", "run", "configure", "--stack", "intr", "--archive",
                             str(archive)], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    deadline = time.monotonic() + 60
    while not (archive / "index.jsonl").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # the kernel is up and running cells
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130, proc.stderr.read()
    runs = audit.runs(archive)
    assert list(runs["outcome"]) == ["interrupted"]
    record = audit.show(runs["run_id"][0], archive)
    assert (archive / "intr" / record["started"][:10] / record["run_id"] / "01-configure.ipynb").is_file()
    assert "1 runs" in audit.verify(archive)


def test_keep_without_a_long_lived_emulator_refuses_with_the_command(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture) -> None:
    archive = tmp_path / "archive"
    assert cli.main(["runbook", "--stack", "kept", "--keep", "--archive", str(archive)]) == 2
    assert "hainfra sandbox serve" in capsys.readouterr().err
    assert not archive.exists(), "nothing executed, nothing archived"


def test_keep_uses_the_served_emulator_so_the_stack_stays_reachable(emulator: Emulator, tmp_path: Path,
                                                                    hainfra_home: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    hainfra_home.mkdir(parents=True, exist_ok=True)
    (hainfra_home / "emulator.json").write_text(json.dumps({"url": emulator.url, "pid": 1}))  # `sandbox serve`
    params = ["-p", "project", "keptrb", "-p", "asg_min", "2", "-p", "asg_desired", "2"]
    assert cli.main(["runbook", "--stack", "kept", "--keep", "--archive", str(tmp_path / "a"), *params]) == 0
    assert "teardown" not in capsys.readouterr().out
    assert cli.main(["verify", "--stack", "kept", "--wait", "5", *params]) == 0, "the kept stack is still there"
    assert cli.main(["destroy", "--stack", "kept", *params]) == 0, "and destroy needs no --forget"


def test_a_scan_written_during_a_run_is_archived_redacted_and_hashed(tmp_path: Path, hainfra_home: Path) -> None:
    """The verify notebook's optional Prowler output joins the run's archive (the stage here is immaterial)."""
    from hainfra.home import stack_dir

    folder = stack_dir("scanned") / "scan" / "20261129T120000000000Z"
    folder.mkdir(parents=True)
    (folder / "prowler.csv").write_text(f"CHECK_ID;STATUS\ncheck;PASS {CANARY}\n")
    os.utime(folder, (4e9, 4e9))  # "written during the run" (after it began)
    stale = stack_dir("scanned") / "scan" / "older"
    stale.mkdir()
    os.utime(stale, (1, 1))
    archive = tmp_path / "archive"
    record = runner.run_stage("configure", stack="scanned", params={"pulumi_config_passphrase": CANARY},
                              archive_root=archive)
    assert record["outcome"] == "success"
    assert set(record["files"]) == {"01-configure.ipynb", "01-configure.html",
                                    "scan/20261129T120000000000Z/prowler.csv"}
    archived = archive / "scanned" / record["started"][:10] / record["run_id"] / "scan" / folder.name / "prowler.csv"
    assert CANARY not in archived.read_text() and "[REDACTED]" in archived.read_text()
    assert "1 runs, 3 files, 2 entries, hash chain intact" in audit.verify(archive)
