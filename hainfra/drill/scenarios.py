"""The drill scenarios: instance, nat, az. Each returns a one-line detail; its phases are the timings."""

from __future__ import annotations

from typing import Any

from hainfra.drill import SCENARIOS, Drill, scenario  # SCENARIOS: the registry this module fills

NAT_CHECKS = ["network.nat-per-az", "network.private-routes"]
GONE = ("deleting", "deleted", "failed")


def group(d: Drill) -> dict[str, Any]:
    return d.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[d.outputs["asg_name"]])["AutoScalingGroups"][0]


def healthy(g: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted((i for i in g.get("Instances", []) if i["LifecycleState"] == "InService"
                   and i["HealthStatus"] == "Healthy"), key=lambda i: i["InstanceId"])


def target_states(d: Drill) -> dict[str, str]:
    health = d.client("elbv2").describe_target_health(TargetGroupArn=d.outputs["target_group_arn"])
    return {t["Target"]["Id"]: t["TargetHealth"]["State"] for t in health["TargetHealthDescriptions"]}


def steady(d: Drill, avoid: set[str] | None = None, zone: str | None = None) -> tuple[bool, str]:
    """Desired capacity of healthy InService instances, each healthy in the target group
    (none of ``avoid``, none in ``zone``)."""
    g = group(d)
    instances = [i for i in healthy(g) if i["InstanceId"] not in (avoid or set()) and i["AvailabilityZone"] != zone]
    states = target_states(d)
    in_tg = [i for i in instances if states.get(i["InstanceId"]) == "healthy"]
    ok = len(in_tg) >= g["DesiredCapacity"]
    return ok, (f"{len(in_tg)}/{g['DesiredCapacity']} healthy in the group and the target group: "
                + ", ".join(f"{i['InstanceId']} ({i['AvailabilityZone']})" for i in in_tg))


@scenario("instance")
def instance(d: Drill) -> str:
    """Terminate one instance; the group replaces it and the target group is healthy again."""
    if not d.wait_for("steady before", lambda: steady(d)):
        return "the group was not at desired capacity before the drill"
    victim = healthy(group(d))[0]["InstanceId"]
    d.client("ec2").terminate_instances(InstanceIds=[victim])
    d.mark("inject", True, f"terminated {victim}")
    if not d.wait_for("replaced and healthy", lambda: steady(d, avoid={victim})):
        return f"the group did not replace {victim} within {d.bound:.0f}s"
    return f"{victim} replaced; target group healthy"


@scenario("az")
def az(d: Drill) -> str:
    """Take one AZ away (its instances Unhealthy, its subnet out of the group); capacity returns elsewhere."""
    if not d.wait_for("steady before", lambda: steady(d)):
        return "the group was not at desired capacity before the drill"
    autoscaling = d.client("autoscaling")
    subnets = d.client("ec2").describe_subnets(SubnetIds=d.outputs["private_subnet_ids"])["Subnets"]
    zone = healthy(group(d))[0]["AvailabilityZone"]
    keep = [s["SubnetId"] for s in subnets if s["AvailabilityZone"] != zone]
    lost = [i["InstanceId"] for i in healthy(group(d)) if i["AvailabilityZone"] == zone]
    name = d.outputs["asg_name"]
    autoscaling.update_auto_scaling_group(AutoScalingGroupName=name, VPCZoneIdentifier=",".join(keep))
    try:
        for instance_id in lost:
            autoscaling.set_instance_health(InstanceId=instance_id, HealthStatus="Unhealthy",
                                            ShouldRespectGracePeriod=False)
        d.mark("inject", True, f"{zone} lost: {len(lost)} instance(s) Unhealthy ({', '.join(lost)}), subnet out")
        recovered = d.wait_for("capacity in other AZs", lambda: steady(d, avoid=set(lost), zone=zone))
    finally:
        autoscaling.update_auto_scaling_group(AutoScalingGroupName=name,
                                              VPCZoneIdentifier=",".join(d.outputs["private_subnet_ids"]))
        d.mark("AZ given back", True, f"group spans all {len(subnets)} private subnets again")
    return f"capacity restored outside {zone}" if recovered else f"capacity not restored outside {zone}"


def _verify(d: Drill) -> tuple[bool, str]:
    from hainfra import verify

    results = verify.run(d.config, engine=d.engine, checks=NAT_CHECKS, wait_seconds=0)
    failed = verify.mandatory_failures(results)
    found = "; ".join(f"{r.check}: {r.resource}: {r.found}" for r in failed.itertuples())
    return failed.empty, found or verify.summary(results)


@scenario("nat")
def nat(d: Drill) -> str:
    """Delete one AZ's NAT gateway; verify catches it; refresh + up converge; verify passes again."""
    ok, found = _verify(d)
    if not d.mark("verify before", ok, found):
        return "verify failed before the drill"
    victim = d.outputs["nat_gateway_ids"][0]
    ec2 = d.client("ec2")
    ec2.delete_nat_gateway(NatGatewayId=victim)
    d.mark("inject", True, f"deleted {victim}")

    def gone() -> tuple[bool, str]:
        state = ec2.describe_nat_gateways(NatGatewayIds=[victim])["NatGateways"][0]["State"]
        return state in GONE, state

    if not d.wait_for("NAT gone", gone):
        return f"{victim} was not deleted"
    ok, found = _verify(d)
    if not d.mark("verify caught it", not ok, found):
        return "verify did not notice the missing NAT gateway"
    refreshed = d.engine.refresh()
    converged = d.engine.up()
    d.mark("up converged", True, f"{refreshed.describe()}; {converged.describe()}")
    ok, found = _verify(d)
    d.mark("verify passes", ok, found)
    return f"{victim} replaced by {converged.outputs['nat_gateway_ids'][0]}" if ok else "verify still fails after up"

__all__ = ["SCENARIOS"]
