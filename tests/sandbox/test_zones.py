"""The configure stage's AZ check: against the engine when reachable, else the shipped table (unverified)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hainfra.config import StackConfig
from hainfra.errors import ConfigError
from hainfra.runbook import steps


def test_azs_are_checked_against_a_reachable_engine(make_config: Callable[..., StackConfig]) -> None:
    table = steps.zone_check(make_config(az_count=2))
    assert list(table["zone"]) == ["us-east-1a", "us-east-1b"]
    assert set(table["status"]) == {"available (checked against the engine)"}


def test_an_engine_with_too_few_azs_refuses_the_count(make_config: Callable[..., StackConfig],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(steps, "live_zones", lambda config: ["us-east-1a", "us-east-1b"])  # e.g. an account's subset
    with pytest.raises(ConfigError, match="az_count=3: region us-east-1 has only 2 available AZs"):
        steps.zone_check(make_config(az_count=3))


def test_unreachable_engine_shows_the_table_as_unverified() -> None:
    config = StackConfig.load({"stack": "far", "aws_endpoint_url": "https://127.0.0.1:9", "region": "eu-west-1"})
    table = steps.zone_check(config)
    assert list(table["zone"]) == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert table["status"].str.startswith("unverified (engine not reachable").all()
