"""The seed's flow (instance -> SSM parameter -> S3 -> EventBridge -> Logs, + app log) on a live sandbox
stack: every hop passes on a fresh stack, and each break fails at the hop it breaks, naming it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from hainfra import naming, verify
from hainfra.aws import Ctx
from hainfra.config import StackConfig
from hainfra.engines import get_engine
from hainfra.engines.sandbox.emulator import Emulator

pytestmark = pytest.mark.slow
CHECK = "dataflow.instance-to-s3"
HOPS = ["command", "parameter", "s3-put", "sse-kms", "eventbridge", "app-log"]


@dataclass
class Stack:
    config: StackConfig
    home: Path
    outputs: dict[str, Any]
    aws: Ctx

    def flow(self, monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame:
        monkeypatch.setenv("HAINFRA_HOME", str(self.home))
        results = verify.run(self.config, wait_seconds=3, checks=[CHECK])
        return results.assign(hop=results["resource"].str.split(" ").str[1])


@pytest.fixture(scope="module")
def stack(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("flow-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HAINFRA_HOME", str(home))
        config = StackConfig.load({"stack": "flow", "project": "flow", "aws_endpoint_url": emulator.url,
                                   "asg_min": 2, "asg_desired": 2, "az_count": 2})
        engine = get_engine("sandbox", config)
        yield Stack(config, home, engine.up().outputs, Ctx(emulator.url, config.region))
        mp.setenv("HAINFRA_HOME", str(home))
        engine.destroy()


def test_fresh_stack_proves_every_hop_and_leaves_nothing(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    results = stack.flow(monkeypatch)
    assert list(results["hop"]) == HOPS and set(results["status"]) == {"pass"}, results.to_string()
    assert results.iloc[3]["found"] == f"aws:kms {stack.outputs['kms_key_arn']}"
    objects = stack.aws.client("s3").list_object_versions(Bucket=stack.outputs["bucket_name"], Prefix="hainfra-probe/")
    assert not objects.get("Versions") and not objects.get("DeleteMarkers")
    streams = stack.aws.client("logs").describe_log_streams(logGroupName=stack.outputs["app_log_group"])["logStreams"]
    assert not [s for s in streams if s["logStreamName"].startswith("hainfra-probe-")]


def _deny_role(s: Stack) -> Any:
    bucket = s.outputs["bucket_name"]
    policy = json.loads(s.aws.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    policy["Statement"].append({"Sid": "DenyAppRole", "Effect": "Deny", "Principal": {"AWS": s.outputs["instance_role_arn"]},
                                "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*"})
    return s.aws.client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def _allow_role(s: Stack) -> Any:
    bucket = s.outputs["bucket_name"]
    policy = json.loads(s.aws.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    policy["Statement"] = [st for st in policy["Statement"] if st.get("Sid") != "DenyAppRole"]
    return s.aws.client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def _parameter(s: Stack) -> str:
    return f"{s.outputs['ssm_path']}/config/backup-bucket"


def _rule_targets(s: Stack) -> list[dict[str, Any]]:
    return s.aws.client("events").list_targets_by_rule(Rule=s.outputs["event_rule_name"])["Targets"]


@dataclass
class Break:
    hop: str
    apply: Callable[[Stack], Any]
    restore: Callable[[Stack, Any], Any]
    found: str


BREAKS: dict[str, Break] = {
    "bucket policy denies the role": Break("s3-put", _deny_role, lambda s, _: _allow_role(s),
                                           "(403) when calling the PutObject operation"),
    "parameter deleted": Break(
        "parameter", lambda s: s.aws.client("ssm").delete_parameter(Name=_parameter(s)),
        lambda s, _: s.aws.client("ssm").put_parameter(Name=_parameter(s), Value=s.outputs["bucket_name"],
                                                       Type="String"),
        "ParameterNotFound"),
    "EventBridge target removed": Break(
        "eventbridge",
        lambda s: (_rule_targets(s), s.aws.client("events").remove_targets(
            Rule=s.outputs["event_rule_name"], Ids=[t["Id"] for t in _rule_targets(s)]))[0],
        lambda s, targets: s.aws.client("events").put_targets(Rule=s.outputs["event_rule_name"], Targets=targets),
        "rule target missing"),
    "app log group deleted": Break(
        "app-log", lambda s: s.aws.client("logs").delete_log_group(logGroupName=s.outputs["app_log_group"]),
        lambda s, _: s.aws.client("logs").create_log_group(logGroupName=s.outputs["app_log_group"],
                                                          kmsKeyId=s.outputs["kms_key_arn"]),
        "ResourceNotFoundException"),
}


@pytest.mark.parametrize("name", list(BREAKS))
def test_flow_fails_at_the_broken_hop(name: str, stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    brk = BREAKS[name]
    undo = brk.apply(stack)
    try:
        results = stack.flow(monkeypatch)
    finally:
        brk.restore(stack, undo)
    failed = results[results["status"] == "fail"]
    assert list(failed["hop"]) == [brk.hop], results[["resource", "status", "found"]].to_string()
    before = results[results["hop"].isin(HOPS[:HOPS.index(brk.hop)])]
    assert set(before["status"]) == {"pass"}, before.to_string()
    row = failed.iloc[0]
    assert brk.found in row["found"] and row["fix"], row.to_dict()
    assert len(verify.mandatory_failures(results)) == 1


def test_no_instance_in_service_fails_the_command_hop(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    autoscaling = stack.aws.client("autoscaling")
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[stack.outputs["asg_name"]])
    ids = [i["InstanceId"] for i in group["AutoScalingGroups"][0]["Instances"]]
    autoscaling.suspend_processes(AutoScalingGroupName=stack.outputs["asg_name"], ScalingProcesses=["Launch"])
    try:
        autoscaling.update_auto_scaling_group(AutoScalingGroupName=stack.outputs["asg_name"], MinSize=0,
                                              DesiredCapacity=0)
        results = stack.flow(monkeypatch)
    finally:
        autoscaling.resume_processes(AutoScalingGroupName=stack.outputs["asg_name"], ScalingProcesses=["Launch"])
        autoscaling.update_auto_scaling_group(AutoScalingGroupName=stack.outputs["asg_name"], MinSize=len(ids),
                                              DesiredCapacity=len(ids))
    assert list(results["status"]) == ["fail"] and results.iloc[0]["hop"] == "command"
    assert naming.name(stack.config, "asg") in results.iloc[0]["resource"]
