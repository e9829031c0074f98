"""Drills on a live sandbox stack: each scenario recovers on a fresh stack, with timings, and fails
(naming the phase) when the group cannot replace instances."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hainfra import drill
from hainfra.aws import Ctx
from hainfra.config import StackConfig
from hainfra.engines import get_engine
from hainfra.engines.sandbox.emulator import Emulator
from hainfra.errors import ConfigError

pytestmark = pytest.mark.slow
FROZEN = ["ReplaceUnhealthy", "Launch"]  # a group that cannot replace anything


@dataclass
class Stack:
    config: StackConfig
    home: Path
    engine: Any
    aws: Ctx

    def drill(self, monkeypatch: pytest.MonkeyPatch, scenario: str, **kwargs: Any) -> drill.DrillResult:
        monkeypatch.setenv("HAINFRA_HOME", str(self.home))
        return drill.run(self.config, scenario, engine=self.engine, **kwargs)

    def group(self) -> dict[str, Any]:
        return self.aws.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[self.engine.outputs()["asg_name"]])["AutoScalingGroups"][0]

    @contextmanager
    def frozen(self) -> Iterator[None]:
        name = self.engine.outputs()["asg_name"]
        autoscaling = self.aws.client("autoscaling")
        autoscaling.suspend_processes(AutoScalingGroupName=name, ScalingProcesses=FROZEN)
        try:
            yield
        finally:
            autoscaling.resume_processes(AutoScalingGroupName=name, ScalingProcesses=FROZEN)


@pytest.fixture(scope="module")
def stack(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("drill-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HAINFRA_HOME", str(home))
        config = StackConfig.load({"stack": "drill", "project": "drill", "aws_endpoint_url": emulator.url,
                                   "asg_min": 2, "asg_desired": 2, "az_count": 3})
        engine = get_engine("sandbox", config)
        engine.up()
        yield Stack(config, home, engine, Ctx(emulator.url, config.region))
        mp.setenv("HAINFRA_HOME", str(home))
        engine.destroy()


@pytest.fixture(autouse=True)
def stack_home(hainfra_home: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests on the module's stack read its state (outputs) from the stack's home."""
    if "stack" in request.fixturenames:
        monkeypatch.setenv("HAINFRA_HOME", str(request.getfixturevalue("stack").home))


def phases(result: drill.DrillResult) -> list[tuple[str, bool]]:
    return [(r.phase, bool(r.ok)) for r in result.timings.itertuples()]


def test_instance_drill_replaces_the_instance(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    result = stack.drill(monkeypatch, "instance")
    assert result.passed, result.timings.to_string()
    assert phases(result) == [("steady before", True), ("inject", True), ("replaced and healthy", True)]
    assert list(result.timings.columns) == ["phase", "seconds", "ok", "detail"]
    assert result.timings["seconds"].is_monotonic_increasing and result.timings["seconds"].iloc[-1] < 30
    victim = result.timings.iloc[1]["detail"].split()[-1]
    group = stack.group()
    assert victim not in {i["InstanceId"] for i in group["Instances"]} and len(group["Instances"]) == 2
    assert "passed" in result.describe()


def test_instance_drill_fails_when_the_group_cannot_replace(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    with stack.frozen():
        result = stack.drill(monkeypatch, "instance", bound_seconds=3)
    assert not result.passed
    assert phases(result)[-1] == ("replaced and healthy", False)
    assert "not within 3s: 1/2 healthy" in result.timings.iloc[-1]["detail"]
    assert "FAILED" in result.describe() and "did not replace" in result.detail


def test_az_drill_restores_capacity_in_the_other_azs(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    result = stack.drill(monkeypatch, "az")
    assert result.passed, result.timings.to_string()
    assert [p for p, _ in phases(result)] == ["steady before", "inject", "capacity in other AZs", "AZ given back"]
    lost_zone = result.timings.iloc[1]["detail"].split()[0]
    group = stack.group()
    assert len(group["Instances"]) == 2 and lost_zone not in {i["AvailabilityZone"] for i in group["Instances"]}
    assert len(group["VPCZoneIdentifier"].split(",")) == 3  # the AZ is given back to the group


def test_az_drill_fails_when_the_group_cannot_replace(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    with stack.frozen():
        result = stack.drill(monkeypatch, "az", bound_seconds=3)
    assert not result.passed
    assert phases(result)[-2:] == [("capacity in other AZs", False), ("AZ given back", True)]
    assert len(stack.group()["VPCZoneIdentifier"].split(",")) == 3  # given back even on failure


def test_nat_drill_is_caught_by_verify_and_converged_by_up(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    before = stack.engine.outputs()["nat_gateway_ids"]
    result = stack.drill(monkeypatch, "nat")
    assert result.passed, result.timings.to_string()
    assert [p for p, _ in phases(result)] == ["verify before", "inject", "NAT gone", "verify caught it",
                                              "up converged", "verify passes"]
    assert "network.nat-per-az" in result.timings.iloc[3]["detail"]
    after = stack.engine.outputs()["nat_gateway_ids"]
    assert after[0] != before[0] and after[1:] == before[1:]


def test_nat_drill_fails_when_verify_fails_before(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """A drill never starts from a broken stack: a private route already sent to another AZ's NAT fails it."""
    ec2, outputs = stack.aws.client("ec2"), stack.engine.outputs()
    subnet = outputs["private_subnet_ids"][1]
    table = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])
    table_id = table["RouteTables"][0]["RouteTableId"]
    ec2.replace_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=outputs["nat_gateway_ids"][2])
    try:
        result = stack.drill(monkeypatch, "nat")
    finally:
        ec2.replace_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0",
                          NatGatewayId=outputs["nat_gateway_ids"][1])
    assert not result.passed and phases(result) == [("verify before", False)]
    assert "network.private-routes" in result.timings.iloc[0]["detail"]


def test_unknown_scenario_and_unconfirmed_real_stack_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="scenario"):
        drill.run(StackConfig.load({"stack": "x"}), "meteor")
    with pytest.raises(ConfigError, match="confirm='real'"):
        drill.run(StackConfig.load({"stack": "real", "engine": "pulumi"}), "instance", confirm="wrong")


def test_cli_drill_prints_timings_and_exits_by_verdict(stack: Stack, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture) -> None:
    from hainfra import cli

    monkeypatch.setenv("HAINFRA_HOME", str(stack.home))
    argv = ["drill", "--stack", "drill", "--scenario", "instance", "-p", "project", "drill", "-p", "aws_endpoint_url",
            stack.config.aws_endpoint_url, "-p", "asg_min", "2", "-p", "asg_desired", "2"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "replaced and healthy" in out and "drill instance on drill: passed" in out
    with stack.frozen():
        assert cli.main([*argv, "--bound", "2"]) == 1
    with pytest.raises(SystemExit) as info:  # the parser's choices are drill.SCENARIOS: exit 2, naming them
        cli.main([*argv[:3], "--scenario", "meteor"])
    assert info.value.code == 2 and "choose from 'instance'" in capsys.readouterr().err
