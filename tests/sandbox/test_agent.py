"""The sandbox instance agent: SSM Run Command documents run on the host, only for targeted instances,
with the instance role's credentials, in a temporary folder, under a timeout, reported through SSM."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from hainfra.aws import Ctx
from hainfra.engines.sandbox.emulator import Emulator

TERMINAL = {"Success", "Failed", "TimedOut", "Cancelled"}


@dataclass
class Fleet:
    aws: Ctx
    role_arn: str
    with_role: str
    other: str
    no_role: str


@pytest.fixture(scope="module")
def fleet(emulator: Emulator) -> Iterator[Fleet]:
    aws = Ctx(emulator.url, "us-east-1")
    iam, ec2 = aws.client("iam"), aws.client("ec2")
    name = "agent-" + hashlib.sha1(emulator.url.encode()).hexdigest()[:8]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    profile = iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    with_role = ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2,
                                  IamInstanceProfile={"Arn": profile})["Instances"]
    bare = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ids = [i["InstanceId"] for i in with_role]
    yield Fleet(aws, role, ids[0], ids[1], bare)
    ec2.terminate_instances(InstanceIds=[*ids, bare])
    iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=name)
    iam.delete_instance_profile(InstanceProfileName=name)
    iam.delete_role(RoleName=name)


def run(fleet: Fleet, instance: str, commands: list[str], document: str = "AWS-RunShellScript",
        **params: list[str]) -> dict[str, Any]:
    ssm = fleet.aws.client("ssm")
    command = ssm.send_command(InstanceIds=[instance], DocumentName=document,
                               Parameters={"commands": commands, **params})["Command"]["CommandId"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        invocation = ssm.get_command_invocation(CommandId=command, InstanceId=instance)
        if invocation["Status"] in TERMINAL:
            return invocation
        time.sleep(0.2)
    raise TimeoutError(command)


def test_script_runs_with_the_instance_role_and_reports_output(fleet: Fleet) -> None:
    inv = run(fleet, fleet.with_role, ["aws sts get-caller-identity --query Arn --output text", "pwd", "echo oops >&2"])
    assert inv["Status"] == "Success" and inv["ResponseCode"] == 0, inv
    out = inv["StandardOutputContent"].splitlines()
    role_name = fleet.role_arn.split("/")[-1]
    assert out[0].startswith("arn:aws:sts::") and f":assumed-role/{role_name}/{fleet.with_role}" in out[0]
    assert "hainfra-agent-" in out[1]  # a temporary folder, not the emulator's working folder
    assert inv["StandardErrorContent"].strip() == "oops"


def test_script_verifies_the_emulator_tls_certificate(fleet: Fleet) -> None:
    """The agent hands scripts a CA bundle (no --no-verify-ssl): a client that trusts nothing fails."""
    inv = run(fleet, fleet.with_role, ["aws sts get-caller-identity --output text > /dev/null && echo verified",
                                       "AWS_MAX_ATTEMPTS=1 AWS_CA_BUNDLE=/dev/null aws sts get-caller-identity || echo refused"])
    assert inv["StandardOutputContent"].split() == ["verified", "refused"], inv


def test_only_targeted_instances_run(fleet: Fleet) -> None:
    ssm = fleet.aws.client("ssm")
    inv = run(fleet, fleet.with_role, ["echo hello"])
    command = inv["CommandId"]
    assert ssm.list_commands(CommandId=command)["Commands"][0]["InstanceIds"] == [fleet.with_role]
    with pytest.raises(ssm.exceptions.ClientError):
        ssm.get_command_invocation(CommandId=command, InstanceId=fleet.other)
    assert ssm.list_commands(CommandId=command)["Commands"][0]["Status"] == "Success"


def test_failure_exit_code_and_stderr_are_reported(fleet: Fleet) -> None:
    inv = run(fleet, fleet.with_role, ["echo before", "exit 7", "echo never"])
    assert (inv["Status"], inv["ResponseCode"], inv["StandardOutputContent"]) == ("Failed", 7, "before\n")


def test_timeout_kills_the_script(fleet: Fleet) -> None:
    started = time.monotonic()
    inv = run(fleet, fleet.with_role, ["echo started", "sleep 30", "echo never"], executionTimeout=["2"])
    assert inv["Status"] == "TimedOut" and inv["StatusDetails"] == "ExecutionTimedOut", inv
    assert inv["StandardOutputContent"] == "started\n" and time.monotonic() - started < 20


def test_instance_without_role_has_no_credentials(fleet: Fleet) -> None:
    inv = run(fleet, fleet.no_role, ["aws sts get-caller-identity"])
    assert inv["Status"] == "Failed" and "credentials" in inv["StandardErrorContent"].lower(), inv


def test_other_documents_and_stopped_instances_are_refused(fleet: Fleet) -> None:
    inv = run(fleet, fleet.with_role, ["echo hi"], document="AWS-RunPowerShellScript")
    assert inv["Status"] == "Failed" and "only AWS-RunShellScript" in inv["StandardErrorContent"]
    fleet.aws.client("ec2").stop_instances(InstanceIds=[fleet.other])
    inv = run(fleet, fleet.other, ["echo hi"])
    assert (inv["Status"], inv["StatusDetails"]) == ("Failed", "Undeliverable")
    assert "stopped" in inv["StandardErrorContent"] and inv["StandardOutputContent"] == ""
