"""The thin CLI: tables on stdout, errors on stderr, exit codes by error kind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hainfra import cli
from hainfra.config import describe
from hainfra.stack import OUTPUTS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_plan_prints_the_inventory_of_a_3_az_stack(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["plan", "--stack", "demo"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"Stack demo: 84 resources across 3 AZs in us-east-1", out)
    assert out.count("ec2.NatGateway") == 3 and "us-east-1c" in out
    assert "Subnet plan" in out and "10.0.128.0/20" in out


def test_bad_config_exits_2_naming_field_value_and_fix(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["plan", "--stack", "demo", "-p", "az_count", "9"]) == 2
    err = capsys.readouterr().err
    assert "az_count=9" in err and "2 to 6" in err


def test_config_file_and_parameters(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    file = tmp_path / "stack.yaml"
    file.write_text("az_count: 2\nregion: eu-west-1\n")
    assert cli.main(["plan", "--stack", "demo", "--config", str(file), "-p", "nat_strategy", "single"]) == 0
    out = capsys.readouterr().out
    assert "across 2 AZs in eu-west-1" in out and out.count("ec2.NatGateway") == 1


def test_policy_on_hainfra_stack_passes(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["policy", "--stack", "demo"]) == 0
    assert "suppressed" in capsys.readouterr().out


def test_sandbox_command_without_emulator_says_how_to_start_one(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["preview", "--stack", "demo"]) == 1
    assert "hainfra sandbox serve" in capsys.readouterr().err


def test_readme_tables_match_the_code() -> None:
    text = README.read_text()
    for row in describe():
        assert f"| `{row['parameter']}` | {row['type']} | `{row['default']}` | {row['description']} |" in text, row
    for name, doc in OUTPUTS.items():
        assert f"| `{name}` | {doc} |" in text, name
    assert text.splitlines()[3:5] == [
        "bash scripts/main.sh   # set up, then run the whole runbook on the sandbox: configure → deploy → verify → teardown, archived",
        "bash scripts/test.sh   # set up, then run the tests"]


@pytest.mark.parametrize("command", ["run", "runbook"])
@pytest.mark.parametrize(("content", "why"), [(None, "no such file"), ("- az_count: 2\n", "must hold a mapping"),
                                              ("az_count: [2\n", "not valid YAML")])
def test_bad_parameter_file_exits_2_naming_the_file(command: str, content: str | None, why: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    file = tmp_path / "params.yaml"
    if content is not None:
        file.write_text(content)
    stage = ["configure"] if command == "run" else []
    code = cli.main([command, *stage, "--stack", "demo", "-f", str(file), "--archive", str(tmp_path / "archive")])
    err = capsys.readouterr().err
    assert code == 2 and str(file) in err and why in err, err
    assert not (tmp_path / "archive").exists()  # refused before any stage ran
