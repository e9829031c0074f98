"""Any Pulumi program as a Terraform plan JSON: types, attribute names, blocks, references, secrets."""

from __future__ import annotations

import importlib
import json
import keyword
import re
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from hainfra import cli
from hainfra.config import StackConfig
from hainfra.errors import ConfigError, ExportError
from hainfra.policy import checkov, export_stack_tfplan, export_tfplan
from hainfra.policy.graph import Resource
from hainfra.policy.tfplan import REDACTED, TF_TYPES, export
from tests.policy.test_rules import BROKEN_AND_FIXED, TAGS, bucket, launch_template

PROD = {"environment": "prod", "asg_min": 3}
CAMEL = re.compile(r"^[a-z]+[A-Z]")


def _values(plan: dict[str, Any], tf_type: str) -> list[dict[str, Any]]:
    return [r["values"] for r in plan["planned_values"]["root_module"]["resources"] if r["type"] == tf_type]


def _expressions(plan: dict[str, Any], tf_type: str) -> list[dict[str, Any]]:
    return [r["expressions"] for r in plan["configuration"]["root_module"]["resources"] if r["type"] == tf_type]


@pytest.fixture(scope="module")
def prod_plan() -> dict[str, Any]:
    return export_stack_tfplan(StackConfig.load(PROD)).plan


# --- the mapping table ------------------------------------------------------------------------------
def test_every_type_of_the_stack_and_the_policy_tests_is_mapped() -> None:
    for params in ({}, PROD, {"nat_strategy": "single", "az_count": 2}):
        assert not export_stack_tfplan(StackConfig.load(params)).skipped  # would raise ExportError first
    for rule, programs in BROKEN_AND_FIXED.items():
        for program in programs:
            assert export_tfplan(program).addresses, rule


@pytest.mark.parametrize("token", sorted(TF_TYPES))
def test_mapping_table_names_real_pulumi_types_and_terraform_types(token: str) -> None:
    _, module, cls = token.split(":")
    package = module.split("/")[0] + ("_" if keyword.iskeyword(module.split("/")[0]) else "")  # lambda -> lambda_
    assert hasattr(importlib.import_module(f"pulumi_aws.{package}"), cls), f"{token} is not in pulumi_aws"
    spec = TF_TYPES[token]
    assert re.fullmatch(r"aws_[a-z0-9_]+", spec.type)
    assert all(re.fullmatch(r"[a-z][a-zA-Z0-9]*", p) and re.fullmatch(r"[a-z0-9_]+", tf)
               for p, tf in spec.renames.items())


def test_unmapped_type_is_an_error_naming_it_or_a_listed_skip() -> None:
    def program() -> None:
        aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16", tags=TAGS)
        aws.ec2.KeyPair("kp", public_key="ssh-ed25519 AAAA test")

    with pytest.raises(ExportError, match=r"aws:ec2/keyPair:KeyPair.*TF_TYPES"):
        export_tfplan(program)
    exported = export_tfplan(program, skip_unmapped=True)
    assert [r.type for r in exported.skipped] == ["aws:ec2/keyPair:KeyPair"]
    assert [r["type"] for r in exported.plan["planned_values"]["root_module"]["resources"]] == ["aws_vpc"]
    rows = checkov.findings({"results": {}}, exported)
    assert rows.loc[0, "status"] == "skip" and "KeyPair" in rows.loc[0, "message"]


def test_a_program_checkov_cannot_read_at_all_is_listed_not_scanned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkov, "find", lambda: None)  # would be a ConfigError if checkov were run
    rows = checkov.scan(export_tfplan(lambda: aws.ec2.KeyPair("kp", public_key="ssh-ed25519 AAAA"),
                                      skip_unmapped=True))
    assert list(rows["status"]) == ["skip"] and rows.loc[0, "resource"] == "KeyPair kp"


# --- attribute names and shapes ---------------------------------------------------------------------
def _keys(value: Any, path: str = "") -> list[str]:
    """Every attribute path in planned values, not descending into maps (tags, dimensions)."""
    if isinstance(value, dict):
        return [k for key, v in value.items() if key not in ("tags", "dimensions")
                for k in [f"{path}{key}", *_keys(v, f"{path}{key}.")]]
    if isinstance(value, list):
        return [k for v in value for k in _keys(v, path)]
    return []


def test_no_pulumi_camel_case_and_blocks_are_lists(prod_plan: dict[str, Any]) -> None:
    for r in prod_plan["planned_values"]["root_module"]["resources"]:
        camel = [k for k in _keys(r["values"]) if CAMEL.match(k.split(".")[-1])]
        assert not camel, f"{r['address']}: {camel}"
        for key, value in r["values"].items():
            assert not isinstance(value, dict) or key in ("tags", "dimensions"), f"{r['address']}.{key} is not a list"


@pytest.mark.parametrize(("tf_type", "path", "expected"), [
    ("aws_autoscaling_group", "tag.0.propagate_at_launch", True),
    ("aws_autoscaling_group", "launch_template.0.version", "$Latest"),
    ("aws_autoscaling_group", "health_check_type", "ELB"),
    ("aws_launch_template", "metadata_options.0.http_tokens", "required"),
    ("aws_launch_template", "metadata_options.0.http_put_response_hop_limit", 1),
    ("aws_launch_template", "block_device_mappings.0.ebs.0.encrypted", "true"),
    ("aws_launch_template", "network_interfaces.0.associate_public_ip_address", "false"),
    ("aws_lb_listener", "default_action.0.type", "forward"),
    ("aws_lb_target_group", "health_check.0.path", "/"),
    ("aws_s3_bucket_lifecycle_configuration", "rule.0.noncurrent_version_transition.0.storage_class", "STANDARD_IA"),
    ("aws_s3_bucket_lifecycle_configuration", "rule.0.abort_incomplete_multipart_upload.0.days_after_initiation", 7),
    ("aws_s3_bucket_server_side_encryption_configuration", "rule.0.apply_server_side_encryption_by_default.0"
                                                             ".sse_algorithm", "aws:kms"),
    ("aws_s3_bucket_versioning", "versioning_configuration.0.status", "Enabled"),
    ("aws_s3_bucket_ownership_controls", "rule.0.object_ownership", "BucketOwnerEnforced"),
    ("aws_s3_bucket_notification", "eventbridge", True),
    ("aws_network_acl", "ingress.0.rule_no", 90),
    ("aws_flow_log", "traffic_type", "ALL"),
    ("aws_kms_key", "enable_key_rotation", True),
    ("aws_vpc", "tags.ManagedBy", "hainfra"),
])
def test_terraform_attribute_names(prod_plan: dict[str, Any], tf_type: str, path: str, expected: Any) -> None:
    def resolve(value: Any) -> Any:
        try:
            for part in path.split("."):
                value = value[int(part)] if part.isdigit() else value[part]
        except (KeyError, IndexError, TypeError):
            return None  # this resource of the type does not have the block (the log bucket's lifecycle)
        return value

    # Several resources may share a type (the backup bucket's SSE-KMS, the log bucket's SSE-S3): one matches.
    found = [resolve(v) for v in _values(prod_plan, tf_type)]
    assert any(value == expected and type(value) is type(expected) for value in found), found


# --- references -------------------------------------------------------------------------------------
def test_references_replace_values_known_only_after_apply(prod_plan: dict[str, Any]) -> None:
    vpc = next(r["address"] for r in prod_plan["planned_values"]["root_module"]["resources"] if r["type"] == "aws_vpc")
    for expressions, values in zip(_expressions(prod_plan, "aws_subnet"), _values(prod_plan, "aws_subnet"), strict=True):
        assert expressions["vpc_id"] == {"references": [f"{vpc}.id", vpc]} and "vpc_id" not in values
    for kind in ("public_access_block", "versioning", "lifecycle_configuration", "notification",
                 "server_side_encryption_configuration", "policy"):
        assert _expressions(prod_plan, f"aws_s3_bucket_{kind}")[0]["bucket"]["references"][1].startswith(
            "aws_s3_bucket."), kind
    assoc = _expressions(prod_plan, "aws_network_acl_association")
    assert len(assoc) == 6 and all(e["subnet_id"]["references"][1].startswith("aws_subnet.") and
                                   e["network_acl_id"]["references"][1].startswith("aws_network_acl.") for e in assoc)
    flow = _expressions(prod_plan, "aws_flow_log")[0]
    assert {"vpc_id", "log_destination", "iam_role_arn"} <= set(flow)
    lt = _expressions(prod_plan, "aws_launch_template")[0]  # a reference inside a block
    assert lt["iam_instance_profile"][0]["arn"]["references"][1].startswith("aws_iam_instance_profile.")
    asg = _expressions(prod_plan, "aws_autoscaling_group")[0]["vpc_zone_identifier"]["references"]
    assert len([r for r in asg if r.count(".") == 1]) == 3  # every private subnet, in order


def _resource(name: str, inputs: dict[str, Any], rid: str = "") -> Resource:
    return Resource("aws:ec2/subnet:Subnet" if inputs else "aws:ec2/vpc:Vpc", name, f"urn:{name}", inputs,
                    id=rid or f"id-{name}", outputs={"arn": f"arn:{name}"})


def test_a_literal_equal_to_an_id_is_a_reference_only_when_the_program_depends_on_it() -> None:
    vpc, subnet = _resource("v", {}, rid="vpc-1"), _resource("s", {"vpcId": "vpc-1"})
    unrelated = export([vpc, subnet], {}).plan["planned_values"]["root_module"]["resources"][1]["values"]
    assert unrelated["vpc_id"] == "vpc-1"
    linked = export([vpc, subnet], {"urn:s": ["urn:v"]}).plan["configuration"]["root_module"]["resources"][1]
    assert linked["expressions"]["vpc_id"] == {"references": ["aws_vpc.v.id", "aws_vpc.v"]}


def test_addresses_are_valid_and_unique_for_clashing_or_odd_names() -> None:
    resources = [_resource("a/b c", {}), _resource("a/b c", {}, rid="x"), _resource("1st", {})]
    addresses = list(export(resources, {}).addresses)
    assert addresses == ["aws_vpc.a_b_c", "aws_vpc.a_b_c_2", "aws_vpc.r_1st"]


# --- secrets and files -------------------------------------------------------------------------------
def test_secret_inputs_never_reach_the_export(tmp_path: Path) -> None:
    value = "s3cr3t-value-never-exported"

    def program() -> None:
        secret = aws.secretsmanager.Secret("s", kms_key_id="arn:key", tags=TAGS)
        aws.secretsmanager.SecretVersion("v", secret_id=secret.id, secret_string=pulumi.Output.secret(value))

    path = tmp_path / "plan.json"
    exported = export_tfplan(program, str(path))
    assert value not in path.read_text()
    assert _values(exported.plan, "aws_secretsmanager_secret_version")[0]["secret_string"] == REDACTED


def test_cli_writes_the_plan(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "out" / "tfplan.json"
    assert cli.main(["policy", "--stack", "tf", "-p", "environment", "prod", "-p", "asg_min", "3",
                     "--export-tfplan", str(path)]) == 0
    plan = json.loads(path.read_text())
    assert plan["format_version"] and len(plan["resource_changes"]) == len(
        plan["planned_values"]["root_module"]["resources"]) > 50
    assert "wrote the Terraform plan" in capsys.readouterr().out


def test_a_mistyped_checkov_location_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(checkov.ENV, str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="HAINFRA_CHECKOV"):
        checkov.find()
    assert cli.main(["policy", "--stack", "x", "--checkov"]) == 2


def test_launch_template_and_bucket_programs_export_their_blocks() -> None:
    lt = _values(export_tfplan(launch_template).plan, "aws_launch_template")[0]
    assert lt["block_device_mappings"][0]["device_name"] == "/dev/xvda"
    lc = _values(export_tfplan(lambda: bucket(lifecycle=True)).plan, "aws_s3_bucket_lifecycle_configuration")[0]
    assert lc["rule"][0]["noncurrent_version_expiration"] == [{"noncurrent_days": 365}]
