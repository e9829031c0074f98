"""Adversarial review of the Terraform plan export: secrets in every shape, hostile names."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws

from hainfra.policy import export_tfplan
from tests.policy.test_rules import TAGS

VALUE = "hunter2-never-exported-3f9a"


def test_a_secret_in_any_shape_never_reaches_the_export(tmp_path: Path) -> None:
    def program() -> None:
        secret = pulumi.Output.secret(VALUE)
        aws.ssm.Parameter("plain-type", type="String", value=secret, tags={**TAGS, "Hint": secret})
        aws.ec2.LaunchTemplate("lt", user_data=pulumi.Output.concat("#!/bin/sh\nexport PW=", secret),
                               tags=TAGS, metadata_options={"http_tokens": "required"})
        aws.iam.Role("r", assume_role_policy=secret.apply(lambda v: json.dumps({"Sid": v})), tags=TAGS)

    path = tmp_path / "plan.json"
    exported = export_tfplan(program, str(path))
    assert VALUE not in path.read_text() and VALUE not in json.dumps(exported.plan)
    assert len(exported.addresses) == 3


def test_names_with_path_separators_and_quotes_stay_addresses(tmp_path: Path) -> None:
    def program() -> None:
        aws.ec2.Vpc("../../etc/passwd", cidr_block="10.0.0.0/16", tags=TAGS)
        aws.ec2.Vpc('a"b\\c', cidr_block="10.1.0.0/16", tags=TAGS)

    exported = export_tfplan(program, str(tmp_path / "plan.json"))
    assert list(exported.addresses) == ["aws_vpc.______etc_passwd", "aws_vpc.a_b_c"]
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]
