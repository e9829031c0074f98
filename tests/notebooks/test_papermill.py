"""Plain papermill and the `hainfra` papermill engine, as a scheduler's papermill operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import papermill
import pytest
from papermill.engines import papermill_engines
from papermill.exceptions import PapermillExecutionError

from hainfra import audit, cli
from hainfra.config import SECRET_FROM_ENV
from hainfra.errors import ConfigError
from hainfra.runbook import runner
from hainfra.runbook.engine import HainfraEngine

pytestmark = pytest.mark.slow
CONFIGURE = str(runner.NOTEBOOKS / runner.STAGES["configure"])
# The entry point needs the package metadata installed; tests register the same class directly.
papermill_engines.register("hainfra", HainfraEngine)


def _outputs(path: Path) -> str:
    return json.dumps(json.loads(path.read_text())["cells"])


def test_plain_papermill_fails_on_a_misspelled_parameter_with_the_hainfra_run_message(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out.ipynb"
    proc = subprocess.run([sys.executable, "-m", "papermill", CONFIGURE, str(out), "-p", "stack", "s",
                           "-p", "az_cout", "four"], capture_output=True, text=True, env=os.environ, timeout=300)
    assert proc.returncode != 0
    assert "ConfigError" in proc.stderr
    executed = json.loads(out.read_text())
    failed = [c for c in executed["cells"] if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert len(failed) == 1 and "checked_config" in "".join(failed[0]["source"])  # the first code cell after injection
    assert cli.main(["run", "configure", "--stack", "s", "-p", "az_cout", "four", "--archive", str(tmp_path / "a")]) == 2
    cli_message = capsys.readouterr().err.splitlines()[-1].strip()
    assert cli_message == "az_cout='four': unknown parameter for stage configure; did you mean 'az_count'?"
    assert cli_message in failed[0]["outputs"][0]["evalue"]


def test_plain_papermill_takes_stack_config_fields_as_top_level_parameters(tmp_path: Path) -> None:
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(CONFIGURE, str(out), parameters={"stack": "top", "az_count": 2}, progress_bar=False)
    text = _outputs(out)
    assert "10.0.16.0/20" in text and "AZ 2" in text and "AZ 3" not in text  # the subnet plan has two AZs


def test_plain_papermill_refuses_a_wrong_type(tmp_path: Path) -> None:
    with pytest.raises(PapermillExecutionError) as exc:
        papermill.execute_notebook(str(runner.NOTEBOOKS / runner.STAGES["verify"]), str(tmp_path / "o.ipynb"),
                                   parameters={"stack": "s", "wait_seconds": "soon"}, progress_bar=False)
    assert exc.value.ename == "ConfigError" and "wait_seconds='soon': must be float" in exc.value.evalue


def test_the_hainfra_engine_refuses_bad_parameters_before_any_kernel_starts(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="did you mean 'az_count'"):
        papermill.execute_notebook(CONFIGURE, str(tmp_path / "o.ipynb"), engine_name="hainfra",
                                   parameters={"stack": "s", "az_cout": 2}, archive=str(tmp_path / "a"))
    assert not (tmp_path / "o.ipynb").exists() and not (tmp_path / "a").exists()


def test_the_hainfra_engine_runs_and_archives_like_hainfra_run(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    out = tmp_path / "out.ipynb"
    secret = "ENGINE-s3cr3t-91b2"
    papermill.execute_notebook(CONFIGURE, str(out), engine_name="hainfra", progress_bar=False, archive=str(archive),
                               parameters={"stack": "eng", "params": {"az_count": 2},
                                           "pulumi_config_passphrase": secret})
    runs = audit.runs(archive)
    assert list(runs["stage"]) == ["configure"] and list(runs["outcome"]) == ["success"]
    record = audit.show(runs.iloc[0]["run_id"], archive)
    # The secret reached the kernel through its environment, as with `hainfra run` (never the parameters cell).
    assert record["parameters"]["params"] == {"az_count": 2, "pulumi_config_passphrase": SECRET_FROM_ENV}
    assert secret not in out.read_text()  # papermill's output is the archived, redacted notebook
    assert not any(secret.encode() in p.read_bytes() for p in archive.rglob("*") if p.is_file())
    assert "AZ 2" in _outputs(out)


def test_hainfra_run_streams_cells_and_progress_unless_quiet(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["run", "configure", "--stack", "loud", "-p", "az_count", "2", "--archive", str(tmp_path / "a")]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    total = len(json.loads(Path(CONFIGURE).read_text())["cells"]) + 1  # + papermill's injected cell
    assert f'  [configure 4/{total}] config = rb.checked_config("configure", globals())' in out
    assert f"  [configure 3/{total}] (injected parameters)" in out
    assert f"  [configure 10/{total}] rb.zone_check(config)" in out
    assert any(line.startswith("configure success") for line in out)
    assert cli.main([*argv, "--quiet"]) == 0
    quiet = capsys.readouterr().out.splitlines()
    assert any(line.startswith("configure success") for line in quiet)
    assert not [line for line in quiet if line.startswith("  [configure")]
