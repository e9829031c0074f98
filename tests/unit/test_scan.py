"""hainfra scan without Prowler: finding it, its command and environment, and reading its CSV (pure)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from hainfra import cli, scan
from hainfra.config import StackConfig
from hainfra.errors import ConfigError, ScannerError
from hainfra.scan import findings

HEADER = ["CHECK_ID", "STATUS", "STATUS_EXTENDED", "SERVICE_NAME", "SEVERITY", "RESOURCE_UID", "RESOURCE_NAME",
          "RESOURCE_TAGS", "COMPLIANCE"]


def _script(path: Path, shebang: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{shebang}\nprint('prowler')\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def no_prowler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(scan.ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))


def test_absent_prowler_is_none_and_the_cli_says_how_to_install_it(no_prowler: None, capsys: pytest.CaptureFixture,
                                                                   tmp_path: Path) -> None:
    assert scan.find() is None
    assert cli.main(["scan", "--stack", "dev"]) == 2
    err = capsys.readouterr().err
    assert "Prowler is not installed" in err and "HAINFRA_PROWLER" in err and "scripts/test.sh" in err


def test_a_mistyped_hainfra_prowler_is_an_error_not_a_silent_skip(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    monkeypatch.setenv(scan.ENV, str(tmp_path / "nope" / "prowlr"))
    with pytest.raises(ConfigError, match="HAINFRA_PROWLER"):
        scan.find()


def test_found_in_a_virtualenv_with_its_interpreter(no_prowler: None, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    venv = tmp_path / "cache" / "hainfra" / "prowler-venv"
    python = _script(venv / "bin" / "python", "#!/bin/sh")
    _script(venv / "bin" / "prowler", f"#!{python}")
    found = scan.find()
    assert found == scan.Prowler(venv / "bin" / "prowler", python)
    assert found.command(emulated=True) == [str(python), scan.launcher.__file__]
    assert found.command(emulated=False) == [str(venv / "bin" / "prowler")]
    monkeypatch.setenv(scan.ENV, str(venv))  # the virtualenv folder is accepted too
    assert scan.find() == found


def test_a_non_python_prowler_runs_plainly_on_aws_but_cannot_take_the_emulator_shims(no_prowler: None,
                                                                                   tmp_path: Path) -> None:
    binary = _script(tmp_path / "empty-bin" / "prowler", "#!/bin/sh")
    found = scan.find()
    assert found is not None and found.python is None
    assert found.command(emulated=False) == [str(binary)]
    with pytest.raises(ScannerError, match="not a Python console script"):
        found.command(emulated=True)


def test_environment_points_at_the_emulator_only_for_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://stale.example")
    monkeypatch.setenv("AWS_PROFILE", "prod-admin")
    kwargs = {"region_name": "eu-west-1", "endpoint_url": "https://127.0.0.1:5123"}
    sandbox = scan.environment(kwargs, emulated=True)
    assert sandbox["AWS_ENDPOINT_URL"] == "https://127.0.0.1:5123" and sandbox["AWS_ACCESS_KEY_ID"] == "test"
    assert "AWS_PROFILE" not in sandbox and sandbox[scan.launcher.EMULATOR_FLAG] == "1"
    aws = scan.environment({"region_name": "eu-west-1"}, emulated=False)
    assert "AWS_ENDPOINT_URL" not in aws and scan.launcher.EMULATOR_FLAG not in aws
    assert aws["AWS_PROFILE"] == "prod-admin" and aws["AWS_DEFAULT_REGION"] == "eu-west-1"


def test_arguments_scan_the_stack_region_and_services_into_the_folder(tmp_path: Path) -> None:
    args = scan.arguments("eu-west-1", tmp_path)
    assert args[:3] == ["aws", "--region", "eu-west-1"]
    assert args[args.index("--services") + 1: args.index("--output-formats")] == list(scan.SERVICES)
    assert {"csv", "json-ocsf"} <= set(args) and str(tmp_path) in args
    only = scan.arguments("eu-west-1", tmp_path, checks=("ec2_networkacl_allow_ingress_any_port",))
    assert "--services" not in only and only[only.index("--checks") + 1] == "ec2_networkacl_allow_ingress_any_port"


def _csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=HEADER, delimiter=";")
        writer.writeheader()
        writer.writerows([{k: r.get(k, "") for k in HEADER} for r in rows])
    return path


def test_only_the_stacks_resources_are_kept(tmp_path: Path) -> None:
    config = StackConfig.load({"stack": "blue", "project": "shop"})
    rows = [
        {"CHECK_ID": "a", "STATUS": "PASS", "RESOURCE_UID": "arn:aws:ec2:us-east-1:1:vpc/vpc-0aaa1111",
         "RESOURCE_TAGS": "Project=shop | Stack=blue | Name=x"},  # tagged as ours
        {"CHECK_ID": "b", "STATUS": "FAIL", "RESOURCE_UID": "arn:aws:ec2:us-east-1:1:vpc/vpc-0bbb2222",
         "RESOURCE_TAGS": "Project=shop | Stack=green"},  # the same project's other stack
        {"CHECK_ID": "c", "STATUS": "FAIL", "RESOURCE_UID": "arn:aws:ec2:us-east-1:1:subnet/subnet-0ccc3333"},
        {"CHECK_ID": "d", "STATUS": "FAIL", "RESOURCE_UID": "arn:aws:iam::1:root", "RESOURCE_NAME": "dev"},
        {"CHECK_ID": "e", "STATUS": "FAIL", "RESOURCE_UID": "arn:aws:ec2:us-east-1:1:subnet/subnet-0ccc33334"},
    ]
    df = findings.read_csv(_csv(tmp_path / "p.csv", rows))
    ids = findings.stack_identifiers({"stack": "blue", "region": "us-east-1", "environment": "dev",
                                      "private_subnet_ids": ["subnet-0ccc3333"]})
    kept = findings.stack_only(df, config, ids)
    assert list(kept["CHECK_ID"]) == ["a", "c"]  # no prefix match (subnet-0ccc33334), no short values ("dev")


def test_fails_are_explained_by_artefact_false_positive_or_open_work() -> None:
    artefact = "ec2_instance_managed_by_ssm"
    assert findings.explain(artefact, "FAIL", emulated=True).startswith("emulator:")
    assert findings.explain(artefact, "FAIL", emulated=False) == ""  # on AWS it is real
    assert findings.explain(artefact, "PASS", emulated=True) == ""
    assert findings.explain("s3_bucket_no_mfa_delete", "FAIL", emulated=False).startswith("accepted:")
    fp = "iam_role_cross_service_confused_deputy_prevention"
    assert findings.explain(fp, "FAIL", emulated=False).startswith("prowler false positive:")
    assert findings.explain("s3_bucket_cross_region_replication", "FAIL", emulated=False).startswith(
        "accepted: DR replication is opt-in: set dr_region")
    assert findings.explain("elbv2_waf_acl_attached", "FAIL", emulated=False) == ""  # landed: on AWS a FAIL is real
    assert findings.explain("ec2_networkacl_allow_ingress_any_port", "FAIL", emulated=True) == ""


def test_annotated_rows_put_unexplained_fails_first(tmp_path: Path) -> None:
    rows = [{"CHECK_ID": "z_pass", "STATUS": "PASS"}, {"CHECK_ID": "s3_bucket_object_lock", "STATUS": "FAIL"},
            {"CHECK_ID": "ec2_networkacl_allow_ingress_any_port", "STATUS": "FAIL", "STATUS_EXTENDED": "open"}]
    out = findings.annotate(findings.read_csv(_csv(tmp_path / "p.csv", rows)), emulated=True)
    assert set(out.columns) == set(scan.COLUMNS)
    assert list(out["status"]) == ["FAIL", "FAIL", "PASS"]
    assert list(scan.unexplained(out)["check"]) == ["ec2_networkacl_allow_ingress_any_port"]


def test_every_known_entry_gives_its_reason() -> None:
    for check, artefact in findings.ARTEFACTS.items():
        assert artefact.reason.startswith(("emulator: ", "prowler false positive: ")) and len(artefact.reason) > 50, check
    for check, reason in findings.OPEN_WORK.items():
        assert reason.startswith(("open: fixed by issue ", "open: no issue yet")), check
    for check, reason in findings.ACCEPTED.items():
        assert reason.startswith("accepted: ") and len(reason) > 50, check
    lists = [set(findings.ARTEFACTS), set(findings.OPEN_WORK), set(findings.ACCEPTED)]
    assert sum(map(len, lists)) == len(set.union(*lists)), "a check is in two lists"


def test_summary_counts_fails_by_reason_kind(tmp_path: Path) -> None:
    rows = [{"CHECK_ID": "ec2_instance_managed_by_ssm", "STATUS": "FAIL"}, {"CHECK_ID": "x", "STATUS": "FAIL"},
            {"CHECK_ID": "s3_bucket_no_mfa_delete", "STATUS": "FAIL"}, {"CHECK_ID": "y", "STATUS": "PASS"}]
    df = findings.annotate(findings.read_csv(_csv(tmp_path / "p.csv", rows)), emulated=True)
    df.attrs.update(counts=df["status"].value_counts().to_dict(), seconds=12.3, folder="/f")
    assert scan.summary(df) == ("prowler: 1 PASS, 3 FAIL on the stack's resources (1 accepted, 1 emulator, "
                                "1 unexplained) in 12s; output in /f")


def test_archive_files_name_every_output_under_its_scan(tmp_path: Path) -> None:
    folder = tmp_path / "20261129T120000Z"
    (folder / "compliance").mkdir(parents=True)
    (folder / "prowler.csv").write_text("x")
    (folder / "compliance" / "cis.csv").write_text("y")
    assert scan.archive_files(folder) == {"scan/20261129T120000Z/compliance/cis.csv": b"y",
                                          "scan/20261129T120000Z/prowler.csv": b"x"}
    assert scan.archive_files(tmp_path / "missing") == {}


def test_scans_since_lists_only_this_runs_folders(hainfra_home: Path) -> None:
    from hainfra.home import stack_dir

    old = stack_dir("s") / "scan" / "old"
    old.mkdir(parents=True)
    os.utime(old, (1, 1))
    new = stack_dir("s") / "scan" / "new"
    new.mkdir()
    assert scan.scans_since("s", 1000.0) == [new]
    assert scan.scans_since("other", 0.0) == []


def test_a_failing_prowler_is_a_scanner_error_naming_its_log(tmp_path: Path) -> None:
    broken = _script(tmp_path / "bin" / "prowler", "#!/bin/sh\necho 'botocore.exceptions.NoCredentialsError' >&2\n"
                                                   "exit 1")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ScannerError, match="exit 1.*prowler.log.*NoCredentialsError"):
        scan.run(scan.Prowler(broken, None), {"region_name": "us-east-1"}, emulated=False, folder=out)
    assert "NoCredentialsError" in (out / "prowler.log").read_text()


def test_a_prowler_that_writes_no_csv_is_a_scanner_error(tmp_path: Path) -> None:
    silent = _script(tmp_path / "bin" / "prowler", "#!/bin/sh\nexit 0")
    with pytest.raises(ScannerError, match="Prowler failed"):
        scan.run(scan.Prowler(silent, None), {"region_name": "us-east-1"}, emulated=False, folder=tmp_path)
