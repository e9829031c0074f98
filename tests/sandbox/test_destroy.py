"""Destroy along the dependency graph against a real moto server: order, parallelism, failures, kills (issue 17)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from hainfra import naming
from hainfra.aws import Ctx
from hainfra.config import StackConfig
from hainfra.engines import ProgressEvent, get_engine
from hainfra.engines.sandbox import engine as engine_mod
from hainfra.engines.sandbox.handlers import REGISTRY
from hainfra.engines.sandbox.state import State
from hainfra.engines.sandbox.sweep import sweep
from hainfra.errors import ResourceError

pytestmark = pytest.mark.slow


def left(config: StackConfig) -> int:
    return int(sweep(Ctx(config.aws_endpoint_url, config.region), config)["remaining"].sum())


class Recorder:
    """Progress events with the time each arrived, keyed by (type, name)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[float, ProgressEvent]] = []

    def __call__(self, event: ProgressEvent) -> None:
        with self.lock:
            self.events.append((time.monotonic(), event))

    def at(self, status: str) -> dict[tuple[str, str], float]:
        return {(e.type, e.name): t for t, e in self.events if e.status == status}

    def most_in_flight(self) -> int:
        running = most = 0
        for _, event in self.events:
            running += {"start": 1, "done": -1, "failed": -1}[event.status]
            most = max(most, running)
        return most


def dependants_first_violations(entries: list[dict[str, Any]], recorder: Recorder) -> list[str]:
    """Every (dependant, dependency) pair of the state whose dependency's delete began before the dependant was gone."""
    by_urn = {e["urn"]: e for e in entries}
    started, done = recorder.at("start"), recorder.at("done")
    bad = []
    for entry in entries:
        for dep in entry.get("dependencies", []):
            if dep in by_urn:
                key, dep_key = (entry["type"], entry["name"]), (by_urn[dep]["type"], by_urn[dep]["name"])
                if started[dep_key] < done[key]:
                    bad.append(f"{dep_key[1]} ({dep_key[0]}) before its dependant {key[1]} ({key[0]})")
    return bad


def test_destroy_after_growing_deletes_every_dependant_first_and_in_parallel(
        make_config: Callable[..., StackConfig]) -> None:
    """2 → 3 AZs updates the ALB, the ASG and the S3 endpoint in place to use subnets and a route table
    created later: reverse creation order would delete those first (AWS refuses a subnet under an ALB)."""
    config = make_config(az_count=2)
    get_engine("sandbox", config).up()
    grown = config.replace(az_count=3)
    get_engine("sandbox", grown).up()
    entries = list(State.for_stack(config.stack).resources.values())
    by_urn = {e["urn"]: e for e in entries}
    later = [(e["name"], by_urn[d]["name"]) for e in entries for d in e["dependencies"]
             if d in by_urn and by_urn[d]["order"] > e["order"]]
    assert later, "the growth made an earlier resource depend on a newer one (the case this test is about)"

    recorder = Recorder()
    engine = get_engine("sandbox", grown, progress=recorder)
    result = engine.destroy()

    assert dependants_first_violations(entries, recorder) == []
    assert sorted(result.changes["urn"]) == sorted(by_urn) and set(result.changes["action"]) == {"delete"}
    assert len(recorder.at("start")) == len(recorder.at("done")) == len(entries), "one start and one done per resource"
    assert 1 < recorder.most_in_flight() <= engine.parallel, "deletes overlap, never more than the pool"
    assert int(result.sweep["remaining"].sum()) == 0 and left(config) == 0
    assert State.for_stack(config.stack).empty


def _tables_program(second: bool) -> Callable[[StackConfig], dict[str, Any]]:
    """A VPC whose subnet's association moves (in place) to a route table created by a later ``up``."""

    def program(config: StackConfig) -> dict[str, Any]:
        n = lambda kind: naming.name(config, kind)  # noqa: E731
        vpc = aws.ec2.Vpc(n("vpc"), cidr_block="10.42.0.0/16", tags=naming.tags(config, n("vpc")))
        subnet = aws.ec2.Subnet(n("subnet"), vpc_id=vpc.id, cidr_block="10.42.1.0/24", availability_zone="us-east-1a",
                                tags=naming.tags(config, n("subnet")))
        first = aws.ec2.RouteTable(n("rt-first"), vpc_id=vpc.id, tags=naming.tags(config, n("rt-first")))
        table = aws.ec2.RouteTable(n("rt-second"), vpc_id=vpc.id,
                                   tags=naming.tags(config, n("rt-second"))) if second else first
        aws.ec2.RouteTableAssociation(n("rta"), subnet_id=subnet.id, route_table_id=table.id)
        return {"vpc_id": vpc.id}

    return program


def test_association_moved_to_a_newer_table_is_deleted_before_it(
        make_config: Callable[..., StackConfig], monkeypatch: pytest.MonkeyPatch) -> None:
    """Failed on the old destroy: reverse creation order deleted the newer table first, and EC2 refuses to
    delete a table that still has an association (DependencyViolation)."""
    config = make_config(az_count=2)
    monkeypatch.setattr(engine_mod, "program", _tables_program(second=False))
    get_engine("sandbox", config).up()
    monkeypatch.setattr(engine_mod, "program", _tables_program(second=True))
    moved = get_engine("sandbox", config).up()
    assert set(moved.changes[moved.changes["action"] != "same"]["action"]) == {"create", "update"}

    result = get_engine("sandbox", config).destroy()
    assert len(result.changes) == 5 and int(result.sweep["remaining"].sum()) == 0
    assert State.for_stack(config.stack).empty


def test_a_new_depends_on_without_an_input_change_is_recorded_for_destroy(
        make_config: Callable[..., StackConfig], monkeypatch: pytest.MonkeyPatch) -> None:
    """An unchanged resource ("same") that gains a depends_on: no write call, but the state records it."""
    config = make_config(az_count=2)

    def program(later: bool) -> Callable[[StackConfig], dict[str, Any]]:
        def declare(c: StackConfig) -> dict[str, Any]:
            n = lambda kind: naming.name(c, kind)  # noqa: E731
            vpc = aws.ec2.Vpc(n("vpc"), cidr_block="10.43.0.0/16", tags=naming.tags(c, n("vpc")))
            table = aws.ec2.RouteTable(n("rt"), vpc_id=vpc.id, tags=naming.tags(c, n("rt")))
            group = aws.cloudwatch.LogGroup(n("logs"), name=n("logs"), tags=naming.tags(c, n("logs")),
                                            opts=pulumi.ResourceOptions(depends_on=[table] if later else []))
            return {"group": group.name}
        return declare

    monkeypatch.setattr(engine_mod, "program", program(later=False))
    get_engine("sandbox", config).up()
    monkeypatch.setattr(engine_mod, "program", program(later=True))
    again = get_engine("sandbox", config).up()
    assert again.no_changes
    entries = State.for_stack(config.stack).resources.values()
    group = next(e for e in entries if e["type"] == "aws:cloudwatch/logGroup:LogGroup")
    table = next(e for e in entries if e["type"] == "aws:ec2/routeTable:RouteTable")
    assert table["urn"] in group["dependencies"]
    get_engine("sandbox", config).destroy()


def test_a_failed_delete_keeps_what_it_needs_and_the_rest_is_deleted(
        make_config: Callable[..., StackConfig], monkeypatch: pytest.MonkeyPatch) -> None:
    config = make_config(az_count=2)
    get_engine("sandbox", config).up()
    state = State.for_stack(config.stack)
    subnet = next(e for e in state.resources.values() if e["type"] == "aws:ec2/subnet:Subnet")
    vpc = next(e for e in state.resources.values() if e["type"] == "aws:ec2/vpc:Vpc")
    real = REGISTRY["aws:ec2/subnet:Subnet"]

    def refuse(ctx: Ctx, rid: str, props: dict[str, Any]) -> None:
        if rid == subnet["id"]:
            raise RuntimeError(f"DependencyViolation: the subnet '{rid}' has dependencies")
        real.delete(ctx, rid, props)

    monkeypatch.setitem(REGISTRY, "aws:ec2/subnet:Subnet", real.__class__(**{**real.__dict__, "delete": refuse}))
    with pytest.raises(ResourceError) as info:
        get_engine("sandbox", config).destroy()
    assert info.value.urn == subnet["urn"] and subnet["urn"] in str(info.value)
    assert "DependencyViolation" in str(info.value) and f"hainfra destroy --stack {config.stack}" in str(info.value)
    kept = State.for_stack(config.stack).resources
    assert set(kept) == {subnet["urn"], vpc["urn"]}, "only the failed subnet and what it depends on are kept"
    remaining = sweep(Ctx(config.aws_endpoint_url, config.region), config).set_index("kind")["remaining"]
    assert remaining["subnets"] == 1 and remaining["vpcs"] == 1
    assert int(remaining.drop(["subnets", "vpcs"]).sum()) == 0, "independent branches all finished"

    monkeypatch.setitem(REGISTRY, "aws:ec2/subnet:Subnet", real)
    again = get_engine("sandbox", config).destroy()
    assert sorted(again.changes["urn"]) == sorted([subnet["urn"], vpc["urn"]])
    assert left(config) == 0


# --- SIGKILL in the middle of a destroy ---------------------------------------------------------------
DESTROY_SCRIPT = """
import sys
from hainfra.config import StackConfig
from hainfra.engines import get_engine
get_engine("sandbox", StackConfig.load(%r)).destroy()
"""


def _gone(ctx: Ctx, entry: dict[str, Any]) -> bool:
    """The emulator no longer holds ``entry`` (a setting of a parent counts as gone: its parent is judged)."""
    handler = REGISTRY[entry["type"]]
    if handler.lookup is None or entry.get("status") != "created":
        return True
    found = handler.lookup(ctx, {**entry["inputs"], **entry["outputs"], "id": entry["id"]})
    return found is None or bool(found.part_of)


@pytest.mark.parametrize("deleted", [8, 45])
def test_sigkill_mid_destroy_then_destroy_converges(
        deleted: int, make_config: Callable[..., StackConfig], hainfra_home: Path) -> None:
    config = make_config(az_count=2)
    get_engine("sandbox", config).up()
    state_file = hainfra_home / "stacks" / config.stack / "state.json"
    before = json.loads(state_file.read_text())["resources"]
    proc = subprocess.Popen([sys.executable, "-c", DESTROY_SCRIPT % (config.as_dict(),)],
                            env={**os.environ, "HAINFRA_HOME": str(hainfra_home)})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if len(before) - len(json.loads(state_file.read_text())["resources"]) >= deleted:
                break
        except (OSError, ValueError):
            pass  # never happens with atomic writes; tolerated so the poll cannot fail the test itself
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "killed in the middle of the destroy"

    after = State.for_stack(config.stack).resources
    assert 0 < len(after) < len(before)
    ctx = Ctx(config.aws_endpoint_url, config.region)
    claimed_gone = [e for urn, e in before.items() if urn not in after]
    assert [e["name"] for e in claimed_gone if not _gone(ctx, e)] == [], "the state never drops what still exists"

    result = get_engine("sandbox", config).destroy()  # raises LeftoverError if anything survived
    assert set(result.changes["urn"]) <= set(after)
    assert left(config) == 0 and State.for_stack(config.stack).empty


# --- another stack deletes while this one sweeps ---------------------------------------------------
def test_sweep_counts_a_resource_deleted_between_listing_and_reading_its_tags_as_gone(
        make_config: Callable[..., StackConfig]) -> None:
    """Two stacks in one emulator: the sweep (now beside the last deletes) lists another stack's resource,
    which that stack's destroy deletes before its tags are read. Before: NoSuchEntity ended the destroy."""
    config = make_config()
    other = {naming.PROJECT_TAG: "other", naming.STACK_TAG: "other-stack"}
    aws = Ctx(config.aws_endpoint_url, config.region)
    name = f"vanishing-{config.stack}"
    aws.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument="{}",
                                  Tags=[{"Key": k, "Value": v} for k, v in other.items()])
    aws.client("logs").create_log_group(logGroupName=name, tags=other)
    topic = aws.client("sns").create_topic(Name=name, Tags=[{"Key": k, "Value": v} for k, v in other.items()])["TopicArn"]
    aws.client("cloudwatch").put_metric_alarm(
        AlarmName=name, MetricName="CPUUtilization", Namespace="AWS/EC2", Statistic="Average", Period=60,
        EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
        Tags=[{"Key": k, "Value": v} for k, v in other.items()])
    group = aws.client("elbv2").create_target_group(Name=name[:32], TargetType="lambda",
                                                    Tags=[{"Key": k, "Value": v} for k, v in other.items()])
    deleters = {
        ("iam", "ListRoleTags"): lambda: aws.client("iam").delete_role(RoleName=name),
        ("logs", "ListTagsLogGroup"): lambda: aws.client("logs").delete_log_group(logGroupName=name),
        ("sns", "ListTagsForResource"): lambda: aws.client("sns").delete_topic(TopicArn=topic),
        ("cloudwatch", "ListTagsForResource"): lambda: aws.client("cloudwatch").delete_alarms(AlarmNames=[name]),
        ("elbv2", "DescribeTags"): lambda: aws.client("elbv2").delete_target_group(
            TargetGroupArn=group["TargetGroups"][0]["TargetGroupArn"]),
    }
    sweeping = Ctx(config.aws_endpoint_url, config.region)
    pending = [list(item) for item in deleters.items()]

    def delete_first(once: list[Any]) -> Callable[..., None]:
        def hook(**_: Any) -> None:  # before-call: must return None, or botocore takes it as the response
            if len(once) == 2:
                once.pop()()
                once.clear()
        return hook

    for once in pending:
        service, operation = once[0]
        sweeping.client(service).meta.events.register(f"before-call.{service}.{operation}", delete_first(once))

    result = sweep(sweeping, config)
    assert int(result["remaining"].sum()) == 0
    assert not any(pending), "each resource was deleted between its listing and the read of its tags"
