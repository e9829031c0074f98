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
    assert re.search(r"Stack demo: 91 resources across 3 AZs in us-east-1", out)
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


def test_version_and_a_user_facing_help(capsys: pytest.CaptureFixture) -> None:
    from hainfra import __version__

    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"hainfra {__version__}"
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "configure → deploy → verify → teardown" in out and "hainfra runbook --stack dev" in out
    assert "exit codes:" in out and "Each subcommand imports" not in out  # not the developer docstring


@pytest.mark.parametrize("flag", ["-f", "--config", "--file"])
@pytest.mark.parametrize("command", [["plan"], ["run", "configure"], ["runbook"]])
def test_every_command_takes_the_same_parameter_file_flags(command: list[str], flag: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    file = tmp_path / "p.yaml"
    file.write_text("az_count: 9\n")  # invalid on purpose: refused (exit 2) before anything runs
    archive = [] if command == ["plan"] else ["--archive", str(tmp_path / "archive")]
    assert cli.main([*command, "--stack", "demo", flag, str(file), *archive]) == 2
    assert "az_count=9" in capsys.readouterr().err


def test_run_suggests_the_parameter_it_meant(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["run", "configure", "--stack", "d", "-p", "az_cout", "2", "--archive", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'az_count'?" in err and "known:" not in err
    assert cli.main(["runbook", "--stack", "d", "-p", "wait_secnds", "2", "--archive", str(tmp_path)]) == 2
    assert "did you mean 'wait_seconds'?" in capsys.readouterr().err


def test_plan_into_a_closed_pipe_exits_quietly() -> None:
    import subprocess
    import sys

    proc = subprocess.run(f"'{sys.executable}' -m hainfra.cli plan --stack demo | head -1", shell=True,
                          capture_output=True, text=True, timeout=300, executable="/bin/bash",
                          env={**__import__("os").environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout.startswith("Stack demo:")
    assert "Error" not in proc.stderr and "unexpected" not in proc.stderr, proc.stderr


def test_plan_names_only_azs_that_exist(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["plan", "--stack", "demo", "-p", "region", "eu-north-1", "-p", "az_count", "6"]) == 2
    assert "region eu-north-1 has 3 AZs" in capsys.readouterr().err
    assert cli.main(["plan", "--stack", "demo", "-p", "region", "eu-north-1"]) == 0
    out = capsys.readouterr().out
    assert "AZs from hainfra's table" in out and "eu-north-1c" in out and "eu-north-1d" not in out


def test_plan_says_unverified_for_a_region_the_table_lacks(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture) -> None:
    from hainfra import regions

    monkeypatch.setattr(regions, "zones", lambda region: None)
    assert cli.main(["plan", "--stack", "demo", "-p", "region", "ap-south-2", "-p", "project", "unverif"]) == 0
    out = capsys.readouterr().out
    assert "AZs unverified: region ap-south-2 is not in hainfra's AZ table" in out
    assert "ap-south-2-az1-unverified" in out and "ap-south-2a" not in out


def test_notebooks_copy_gives_editable_copies_and_never_overwrites(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    from hainfra.runbook import runner

    dest = tmp_path / "ops"
    assert cli.main(["notebooks", "copy", str(dest)]) == 0
    assert sorted(p.name for p in dest.glob("*.ipynb")) == sorted(runner.STAGES.values())
    (dest / "02-deploy.ipynb").write_text("{}")  # the operator's edits
    assert cli.main(["notebooks", "copy", str(dest)]) == 2
    assert "--force" in capsys.readouterr().err and (dest / "02-deploy.ipynb").read_text() == "{}"
    assert cli.main(["notebooks", "copy", str(dest), "--force"]) == 0
    assert (dest / "02-deploy.ipynb").read_bytes() == (runner.NOTEBOOKS / "02-deploy.ipynb").read_bytes()


def test_progress_into_a_closed_pipe_never_interrupts_the_operation(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    def closed(*args: object, **kwargs: object) -> None:
        raise BrokenPipeError

    silenced: list[bool] = []
    monkeypatch.setattr(builtins, "print", closed)
    monkeypatch.setattr(cli, "_silence_stdout", lambda: silenced.append(True))
    cli.say("  [deploy 7/12] result = rb.deploy(config, policy_override)")  # must not raise
    assert silenced == [True]


# --- choices come from the registries; exit codes the README promises --------------------------------
def test_choices_are_the_registries_and_load_only_when_used(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture) -> None:
    import subprocess
    import sys

    from hainfra.config import ENGINES
    from hainfra.drill import SCENARIOS
    from hainfra.runbook.runner import STAGES

    assert tuple(cli.STAGES) == tuple(STAGES) and tuple(cli.ENGINES) == ENGINES
    assert set(cli.SCENARIOS) == set(SCENARIOS) == {"instance", "nat", "az"}
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "deploy-everything", "--stack", "s"])
    assert info.value.code == 2 and "choose from 'configure', 'deploy', 'verify', 'drill'" in capsys.readouterr().err
    for argv in (["drill", "--stack", "s", "--scenario", "meteor"], ["runbook", "--stack", "s", "--drill", "meteor"],
                 ["up", "--stack", "s", "--engine", "terraform"]):
        with pytest.raises(SystemExit) as info:
            cli.build_parser().parse_args(argv)
        assert info.value.code == 2, argv
    # parsing a command that does not use the scenario option never imports the drill (pulumi_aws: start-up time)
    probe = ("import sys, hainfra.cli as c; c.build_parser().parse_args(['run', 'verify', '--stack', 's']); "
             "print('hainfra.drill' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          env={**__import__("os").environ, "PYTHONPATH": str(README.parent)}).stdout.strip() == "False"


def test_the_engine_registry_and_the_config_agree() -> None:
    """config validates engine names before any engine module loads; the factories must cover exactly those."""
    from hainfra import engines
    from hainfra.config import ENGINES

    assert set(engines.ENGINES) == set(ENGINES)


def test_ctrl_c_in_any_command_exits_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_plan", interrupted)
    assert cli.main(["plan", "--stack", "s"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted"


def test_an_unexpected_error_exits_3_with_the_traceback_in_the_log(monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture) -> None:
    from hainfra.home import home

    def boom(args: object) -> int:
        raise ZeroDivisionError("nobody expected this")

    monkeypatch.setattr(cli, "cmd_plan", boom)
    assert cli.main(["plan", "--stack", "s"]) == 3
    err = capsys.readouterr().err
    assert f"unexpected error: ZeroDivisionError: nobody expected this (traceback in {home() / 'hainfra.log'})" in err
    assert 'in boom\n    raise ZeroDivisionError("nobody expected this")' in (home() / "hainfra.log").read_text()


@pytest.fixture
def mandatory_violation(monkeypatch: pytest.MonkeyPatch) -> str:
    """A mandatory rule that flags every VPC: the real gate and `hainfra policy` see a violation."""
    from hainfra.policy import rules

    def every_vpc(g: object, c: object) -> object:
        for vpc in g.of("ec2/vpc:Vpc"):  # type: ignore[attr-defined]
            yield vpc, "VPC flagged by the test rule"

    monkeypatch.setitem(rules.RULES, "test-every-vpc", rules.Rule("test-every-vpc", "high", True, "remove the VPC",
                                                                  "", every_vpc))
    return "test-every-vpc"


def test_policy_exits_1_on_a_mandatory_finding(mandatory_violation: str, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["policy", "--stack", "pol1"]) == 1
    out = capsys.readouterr().out
    assert mandatory_violation in out and "VPC flagged by the test rule" in out


class _Engine:
    """Stands in for the engine behind the real gate: records whether ``up`` ran."""

    name, emulated = "sandbox", True

    def __init__(self, config: object) -> None:
        self.config, self.ups = config, 0

    def up(self) -> object:
        self.ups += 1
        return type("Result", (), {"describe": lambda self: "1 created", "outputs": {}, "policy_override": ""})()


def test_up_is_refused_by_the_gate_unless_skip_policy_names_a_reason(
        mandatory_violation: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from hainfra import audit

    engines: list[_Engine] = []
    monkeypatch.setattr(cli, "_engine", lambda args, config=None: engines.append(_Engine(config)) or engines[-1])
    archive = tmp_path / "archive"
    assert cli.main(["up", "--stack", "gated", "--archive", str(archive)]) == 1
    err = capsys.readouterr().err
    assert "policy gate refused stack 'gated'" in err and "nothing was created" in err and mandatory_violation in err
    assert engines[-1].ups == 0
    assert cli.main(["up", "--stack", "gated", "--archive", str(archive), "--skip-policy", "CHG-42 accepted"]) == 0
    assert engines[-1].ups == 1
    runs = audit.runs(archive)
    assert list(zip(runs["outcome"], runs["policy_override"], strict=True)) == [("failed", ""),
                                                                                ("success", "CHG-42 accepted")]
