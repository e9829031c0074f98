"""Parameters are data: no YAML tag, no Python type beyond str/int/float/bool/None/list/dict ever reaches a kernel.

The payload below is the one from issue 11: three ``!!binary`` values of exactly 16 bytes (so each passes as a
packed IPv6 address in ``avoid_cidrs``). papermill writes bytes as ``"b'…'"`` into the injected cell, the
double quotes inside the bytes close that string, and the rest runs as Python: it creates ``pwned`` in the
working directory.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path

import pytest

from hainfra import cli
from hainfra.config import StackConfig
from hainfra.data import check_data, load_yaml
from hainfra.errors import ConfigError

PAYLOAD = ['"+(s:="pwned")+"', '"+( w := "w" )+"', '"+open( s, w )+"']


def binary_list() -> str:
    return "[" + ", ".join(f"!!binary {base64.b64encode(p.encode()).decode()}" for p in PAYLOAD) + "]"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_payload_is_what_the_issue_says() -> None:
    assert all(len(p.encode()) == 16 for p in PAYLOAD)  # a packed IPv6 address each


@pytest.mark.parametrize("path", ["file", "param", "config"])
def test_binary_payload_exits_2_and_nothing_runs(workdir: Path, path: str, capsys: pytest.CaptureFixture) -> None:
    archive = workdir / "archive"
    if path == "file":
        (workdir / "p.yaml").write_text(f"avoid_cidrs: {binary_list()}\n")
        argv = ["run", "configure", "--stack", "x", "--archive", str(archive), "-f", str(workdir / "p.yaml")]
    elif path == "param":
        argv = ["run", "configure", "--stack", "x", "--archive", str(archive), "-p", "avoid_cidrs", binary_list()]
    else:
        (workdir / "p.yaml").write_text(f"avoid_cidrs: {binary_list()}\n")
        argv = ["plan", "--stack", "x", "--config", str(workdir / "p.yaml")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "avoid_cidrs" in err and "binary" in err
    assert not (workdir / "pwned").exists(), "the payload ran"
    assert not archive.exists(), "nothing executed, nothing archived"


def test_runbook_refuses_the_payload_before_the_emulator_starts(workdir: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["runbook", "--stack", "x", "--archive", str(workdir / "a"), "-p", "avoid_cidrs", binary_list()]) == 2
    assert not (workdir / "pwned").exists() and not (workdir / "a").exists()


@pytest.mark.parametrize("text, tag", [
    ("x: !!binary aGVsbG8=", "binary"),
    ("x: !!python/object/apply:os.system ['true']", "python/object/apply"),
    ("x: !!python/name:os.system", "python/name"),
    ("x: !!set {a, b}", "set"),
    ("x: !!timestamp 2024-01-01", "timestamp"),
    ("x: !!omap [a: 1]", "omap"),
    ("x: !custom 1", "custom"),
])
def test_yaml_knows_no_tags_beyond_plain_data(text: str, tag: str) -> None:
    with pytest.raises(ConfigError, match=tag):
        load_yaml(text, "test")


def test_yaml_plain_scalars_stay_plain() -> None:
    # A date or a time of day stays a string (SafeLoader would give datetime.date / sexagesimal ints).
    assert load_yaml("a: 2024-01-01\nb: 1.5\nc: yes\nd: ~\ne: [1, x]\nf: {k: v}\ng: 12:30", "t") == {
        "a": "2024-01-01", "b": 1.5, "c": True, "d": None, "e": [1, "x"], "f": {"k": "v"}, "g": "12:30"}


def test_yaml_merge_key_is_a_plain_key_and_expanding_aliases_are_refused() -> None:
    assert load_yaml("a: &x {k: 1}\nb: {<<: *x}", "t") == {"a": {"k": 1}, "b": {"<<": {"k": 1}}}
    with pytest.raises(ConfigError, match="deeper than"):
        load_yaml("a: &x [*x]", "t")
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8))
    with pytest.raises(ConfigError, match="larger than"):
        load_yaml(laughs, "t")


@pytest.mark.parametrize("value, kind", [
    (b"0123456789abcdef", "bytes"), ({1, 2}, "set"), ((1, 2), "tuple"), (object(), "object"),
    ({"k": [1, {"n": b"x"}]}, "bytes"), ({1: "a"}, "int key"), (math.nan, "nan"), (math.inf, "inf"),
])
def test_check_data_names_the_path_and_type(value: object, kind: str) -> None:
    problems = check_data("extra_tags", value)
    assert problems and problems[0][0].startswith("extra_tags") and kind in problems[0][2]


def test_check_data_accepts_plain_data() -> None:
    assert check_data("x", {"a": [1, 2.5, True, None, "s", {"b": []}]}) == []


@pytest.mark.parametrize("source", ["params", "env", "file"])
def test_every_source_is_type_checked(source: str, tmp_path: Path) -> None:
    value = [b"0123456789abcdef"]
    with pytest.raises(ConfigError, match=r"avoid_cidrs\[0\].*(bytes|binary)"):
        if source == "params":
            StackConfig.load({"avoid_cidrs": value})
        elif source == "env":  # an environment variable is a string: the tag is refused while parsing it
            StackConfig.load({}, env={"HAINFRA_AVOID_CIDRS": "[!!binary MDEyMzQ1Njc4OWFiY2RlZg==]"})
        else:
            file = tmp_path / "c.yaml"
            file.write_text("avoid_cidrs: [!!binary MDEyMzQ1Njc4OWFiY2RlZg==]\n")
            StackConfig.load({}, file=file)


def test_notebook_params_are_type_checked() -> None:
    from hainfra.runbook import steps

    with pytest.raises(ConfigError, match="bytes"):
        steps.load_config("x", {"avoid_cidrs": [b"0123456789abcdef"]})


@pytest.mark.parametrize("cidr", [b"0123456789abcdef", 167772160])
def test_avoid_cidrs_items_must_be_strings(cidr: object) -> None:
    # ipaddress accepts packed bytes and integers; a CIDR parameter must be a CIDR string.
    with pytest.raises(ConfigError, match="avoid_cidrs"):
        StackConfig.load({"avoid_cidrs": [cidr]})


@pytest.mark.parametrize("params, field", [
    ({"asg_max": 10**6}, "asg_max"),
    ({"asg_min": 3, "asg_desired": 5000, "asg_max": 5000}, "asg_max"),
    ({"backup_expire_days": 10**12}, "backup_expire_days"),
    ({"backup_glacier_days": 10**9, "backup_expire_days": 10**9 + 1}, "backup_expire_days"),
    ({"az_count": 2**64}, "az_count"),
])
def test_numeric_fields_have_upper_bounds(params: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        StackConfig.load(params)
    assert [p[0] for p in info.value.problems] == [field]


def test_numeric_bounds_admit_the_largest_allowed_values() -> None:
    from hainfra.config import MAX_ASG_SIZE, MAX_LIFECYCLE_DAYS

    config = StackConfig.load({"asg_max": MAX_ASG_SIZE, "backup_expire_days": MAX_LIFECYCLE_DAYS})
    assert (config.asg_max, config.backup_expire_days) == (MAX_ASG_SIZE, MAX_LIFECYCLE_DAYS)


def test_notebook_config_file_must_be_a_string() -> None:
    from hainfra.runbook import steps

    with pytest.raises(ConfigError, match="config_file"):
        steps.load_config("x", {}, b"params.yaml")  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [".inf", ".nan", "!!binary AAAA"])
def test_stage_parameters_are_plain_finite_data(value: str) -> None:
    from hainfra.runbook import runner

    with pytest.raises(ConfigError, match="wait_seconds"):
        runner.split_parameters("verify", "x", {"wait_seconds": value})
