"""StackConfig: every bad value is refused naming the field, the value and the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hainfra.config import StackConfig, describe
from hainfra.errors import ConfigError


def refused(params: dict, field: str, fragment: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        StackConfig.load(params)
    fields = [p[0] for p in info.value.problems]
    assert field in fields, info.value
    assert fragment in str(info.value)
    return info.value


def test_defaults_are_valid_and_documented() -> None:
    config = StackConfig.load({})
    assert (config.az_count, config.nat_strategy, config.environment) == (3, "per_az", "dev")
    assert config.nat_count == 3
    assert all(row["description"] for row in describe())


def test_overlapping_cidr_refused() -> None:
    refused({"vpc_cidr": "10.0.0.0/16", "avoid_cidrs": ["10.0.128.0/20"]}, "vpc_cidr", "overlaps 10.0.128.0/20")


def test_too_small_cidr_refused() -> None:
    refused({"vpc_cidr": "10.0.0.0/26"}, "vpc_cidr", "/16 to /24")


def test_cidr_with_host_bits_refused() -> None:
    refused({"vpc_cidr": "10.0.0.1/16"}, "vpc_cidr", "host bits zero")


def test_public_cidr_refused() -> None:
    refused({"vpc_cidr": "8.8.0.0/16"}, "vpc_cidr", "private range")


def test_min_desired_max_order() -> None:
    refused({"asg_min": 4, "asg_desired": 3, "asg_max": 6}, "asg_desired", "asg_min <= asg_desired <= asg_max")
    refused({"asg_min": 1, "asg_desired": 7, "asg_max": 6}, "asg_desired", "asg_min <= asg_desired <= asg_max")


def test_prod_needs_an_instance_per_az() -> None:
    refused({"environment": "prod", "az_count": 3, "asg_min": 2, "asg_desired": 3}, "asg_min", "at least one instance per AZ")


def test_prod_refuses_single_nat() -> None:
    refused({"environment": "prod", "nat_strategy": "single"}, "nat_strategy", "single point of failure")
    assert StackConfig.load({"nat_strategy": "single"}).nat_count == 1


@pytest.mark.parametrize("az_count", [1, 7])
def test_az_count_range(az_count: int) -> None:
    refused({"az_count": az_count}, "az_count", "2 to 6")


def test_invalid_region() -> None:
    refused({"region": "us-middle-9"}, "region", "AWS region code")


@pytest.mark.parametrize("suffix,why", [("PR-42", "lowercase"), ("pr_42", "lowercase"), ("a--b", "lowercase"),
                                         ("-z", "starting and ending with a letter or digit"),
                                         ("z-", "starting and ending with a letter or digit")])
def test_suffix_must_keep_bucket_name_valid(suffix: str, why: str) -> None:
    refused({"environment_suffix": suffix}, "environment_suffix", why)


@pytest.mark.parametrize("suffix", ["z", "7", "pr-42"])
def test_short_suffixes_are_valid(suffix: str) -> None:
    assert StackConfig.load({"environment_suffix": suffix}).env_id == f"dev-{suffix}"


def test_az_count_the_region_cannot_hold_is_refused_naming_its_azs() -> None:
    refused({"region": "eu-north-1", "az_count": 6}, "az_count",
            "region eu-north-1 has 3 AZs (eu-north-1a, eu-north-1b, eu-north-1c)")
    assert StackConfig.load({"region": "us-west-2", "az_count": 4}).az_count == 4


def test_retention_must_be_cloudwatch_value() -> None:
    refused({"log_retention_days": 45}, "log_retention_days", "CloudWatch retention value")


def test_lifecycle_days_in_order() -> None:
    refused({"backup_ia_days": 30, "backup_glacier_days": 400, "backup_expire_days": 365},
            "backup_glacier_days", "backup_ia_days < backup_glacier_days < backup_expire_days")
    refused({"backup_ia_days": 10}, "backup_ia_days", "at least 30 days")


def test_unknown_key_suggests_the_right_one() -> None:
    refused({"az_cuont": 3}, "az_cuont", "did you mean 'az_count'")


def test_wrong_type_named() -> None:
    refused({"az_count": "three"}, "az_count", "must be int")
    refused({"az_count": True}, "az_count", "must be int")


def test_reserved_tags_refused() -> None:
    refused({"extra_tags": {"Stack": "x"}}, "extra_tags", "set by hainfra")
    refused({"extra_tags": {"aws:foo": "x"}}, "extra_tags", "reserved by AWS")


def test_email_and_certificate_validated() -> None:
    refused({"alarm_email": "not-an-email"}, "alarm_email", "e-mail address")
    refused({"certificate_arn": "arn:aws:iam::1:cert"}, "certificate_arn", "ACM certificate ARN")


def test_all_problems_reported_at_once() -> None:
    error = refused({"az_count": 9, "log_retention_days": 2}, "az_count", "2 to 6")
    assert {p[0] for p in error.problems} == {"az_count", "log_retention_days"}


def test_sources_precedence(tmp_path: Path) -> None:
    file = tmp_path / "stack.yaml"
    file.write_text("az_count: 2\ninstance_type: t3.small\nregion: us-west-2\n")
    env = {"HAINFRA_AZ_COUNT": "4", "HAINFRA_UNRELATED": "x"}
    config = StackConfig.load({"instance_type": "t3.large"}, file=file, env=env)
    assert (config.az_count, config.instance_type, config.region) == (4, "t3.large", "us-west-2")


def test_cli_strings_are_coerced_but_typed_values_are_strict() -> None:
    """``-p az_count 4`` arrives as a string and is read as YAML; a typed value of the wrong type is refused."""
    config = StackConfig.load({"az_count": "4", "extra_tags": "{Team: ops}"})
    assert (config.az_count, config.extra_tags) == (4, {"Team": "ops"})
    for value, got in ((4.0, "float"), (True, "bool"), ("four", "str")):
        with pytest.raises(ConfigError, match=f"az_count={value!r}: must be int, got {got}"):
            StackConfig.load({"az_count": value})


def test_bad_file_named(tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text("- a list\n")
    with pytest.raises(ConfigError, match=f"{re.escape(str(file))}.*mapping"):
        StackConfig.load(file=file)
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError, match=f"{re.escape(str(missing))}.*no such file"):
        StackConfig.load(file=missing)


def test_config_is_frozen() -> None:
    config = StackConfig.load({})
    with pytest.raises(AttributeError):
        config.az_count = 4  # type: ignore[misc]
    assert config.replace(az_count=4).az_count == 4


@pytest.mark.parametrize("params, retention, endpoints", [
    ({}, 30, False),
    ({"environment": "prod", "asg_min": 3}, 365, True),
    ({"environment": "prod", "asg_min": 3, "log_retention_days": "90", "interface_endpoints": "false"}, 90, False),
    ({"interface_endpoints": True, "log_retention_days": None}, 30, True),
    ({"interface_endpoints": "auto", "log_retention_days": ""}, 30, False),
])
def test_prod_defaults_for_retention_and_endpoints(params: dict, retention: int, endpoints: bool) -> None:
    config = StackConfig.load(params)
    assert (config.retention_days, config.endpoints_enabled) == (retention, endpoints)


def test_switches_refuse_non_booleans_and_resource_type_is_reserved() -> None:
    refused({"interface_endpoints": 1}, "interface_endpoints", "true or false")
    refused({"interface_endpoints": "maybe"}, "interface_endpoints", "true or false")
    refused({"extra_tags": {"ResourceType": "x"}}, "extra_tags", "set by hainfra")
