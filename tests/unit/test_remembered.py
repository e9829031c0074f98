"""A stack remembers its resolved configuration (no secrets) and later commands start from it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hainfra import remembered
from hainfra.cli import main
from hainfra.config import StackConfig
from hainfra.errors import ConfigError


def test_round_trip_without_secrets_or_the_emulator_url(hainfra_home: Path) -> None:
    config = StackConfig.load({"stack": "mem", "az_count": 2, "extra_tags": {"Team": "ops"}, "nat_strategy": "single",
                               "pulumi_config_passphrase": "hunter2-secret", "aws_endpoint_url": "http://127.0.0.1:1"})
    file = remembered.remember(config)
    assert file == hainfra_home / "stacks" / "mem" / "config.yaml"
    text = file.read_text()
    assert "hunter2-secret" not in text and "pulumi_config_passphrase" not in text and "127.0.0.1" not in text
    assert yaml.safe_load(text)["az_count"] == 2
    again = remembered.load("mem")
    assert again.replace(aws_endpoint_url=config.aws_endpoint_url, pulumi_config_passphrase="hunter2-secret") == config


def test_explicit_parameters_and_environment_win(hainfra_home: Path) -> None:
    remembered.remember(StackConfig.load({"stack": "mem", "az_count": 2, "instance_type": "t3.small"}))
    config = remembered.load("mem", {"az_count": 4}, env={"HAINFRA_INSTANCE_TYPE": "t3.large"})
    assert (config.az_count, config.instance_type) == (4, "t3.large")
    assert remembered.load("other").az_count == 3, "another stack does not see it"


def test_a_broken_file_is_a_config_error_naming_it(hainfra_home: Path) -> None:
    file = remembered.remember(StackConfig.load({"stack": "mem"}))
    file.write_text("az_count: [unclosed")
    with pytest.raises(ConfigError, match="config.yaml"):
        remembered.load("mem")
    file.write_text("az_count: nine\n")
    with pytest.raises(ConfigError, match="remembered configuration"):
        remembered.load("mem")


def test_config_show(hainfra_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "show", "--stack", "mem"]) == 1
    assert "no remembered configuration" in capsys.readouterr().out
    remembered.remember(StackConfig.load({"stack": "mem", "az_count": 5}))
    assert main(["config", "show", "--stack", "mem"]) == 0
    assert "az_count: 5" in capsys.readouterr().out
