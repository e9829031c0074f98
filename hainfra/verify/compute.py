"""Load balancer, target group, Auto Scaling group and launch template checks."""

from __future__ import annotations

from collections.abc import Iterator

from hainfra.verify.base import Row, VerifyContext, check, check_row, skip


@check("compute.alb-multi-az")
def alb_multi_az(v: VerifyContext) -> Iterator[Row]:
    lb = v.client("elbv2").describe_load_balancers(LoadBalancerArns=[v.outputs["alb_arn"]])["LoadBalancers"][0]
    azs = sorted(z["ZoneName"] for z in lb.get("AvailabilityZones", []))
    yield check_row(lb["LoadBalancerName"], len(azs) >= 2, ">= 2 AZs", ", ".join(azs),
                    "elbv2 set-subnets with the public subnets of every AZ")


@check("compute.target-group-health")
def target_group_health(v: VerifyContext) -> Iterator[Row]:
    tg = v.client("elbv2").describe_target_groups(TargetGroupArns=[v.outputs["target_group_arn"]])["TargetGroups"][0]
    ok = tg.get("HealthCheckEnabled", True) and tg.get("HealthCheckPath") == "/" and tg.get("HealthCheckProtocol") == "HTTP"
    yield check_row(tg["TargetGroupName"], bool(ok), "HTTP health check on /",
                    f"{tg.get('HealthCheckProtocol')} {tg.get('HealthCheckPath')} every {tg.get('HealthCheckIntervalSeconds')}s",
                    "elbv2 modify-target-group --health-check-path / --health-check-protocol HTTP")


def _group(v: VerifyContext) -> dict:
    return v.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[v.outputs["asg_name"]])["AutoScalingGroups"][0]


@check("compute.asg")
def asg(v: VerifyContext) -> Iterator[Row]:
    g = _group(v)
    name = g["AutoScalingGroupName"]
    yield check_row(f"{name} health check", g.get("HealthCheckType") == "ELB", "ELB", g.get("HealthCheckType", "?"),
                    f"autoscaling update-auto-scaling-group --auto-scaling-group-name {name} --health-check-type ELB")
    zones = set(filter(None, g.get("VPCZoneIdentifier", "").split(",")))
    want = set(v.outputs["private_subnet_ids"])
    yield check_row(f"{name} subnets", zones == want, f"all {len(want)} private subnets",
                    f"{len(zones & want)} of them" + (f" + {len(zones - want)} other" if zones - want else ""),
                    "update the group's VPCZoneIdentifier to the private subnets")
    healthy = [i for i in g.get("Instances", []) if i["LifecycleState"] == "InService" and i["HealthStatus"] == "Healthy"]
    yield check_row(f"{name} instances", len(healthy) >= g["MinSize"], f">= {g['MinSize']} healthy InService",
                    f"{len(healthy)} healthy", "look at the instances' health and the target group")
    azs = sorted({i["AvailabilityZone"] for i in healthy})
    if v.emulated:
        yield skip(f"{name} instance spread", "healthy instances in >= 2 AZs",
                   f"instances in {', '.join(azs) or 'no AZ'}, but the spread comes from hainfra's Auto Scaling "
                   "emulation (moto puts every instance in the first subnet), not from AWS; the group's subnets "
                   "are checked above instead")
    else:
        yield check_row(f"{name} instance spread", len(azs) >= min(2, v.config.asg_min), "healthy instances in >= 2 AZs",
                        ", ".join(azs) or "none", "check capacity in each AZ; rebalance the group")


@check("compute.launch-template")
def launch_template(v: VerifyContext) -> Iterator[Row]:
    ec2 = v.client("ec2")
    version = ec2.describe_launch_template_versions(LaunchTemplateId=v.outputs["launch_template_id"],
                                                    Versions=["$Default"])["LaunchTemplateVersions"][0]
    data = version["LaunchTemplateData"]
    meta = data.get("MetadataOptions", {})
    volumes = [m.get("Ebs", {}) for m in data.get("BlockDeviceMappings", [])]
    nics = data.get("NetworkInterfaces", [])
    found = {"HttpTokens": meta.get("HttpTokens"), "HopLimit": meta.get("HttpPutResponseHopLimit"),
             "EncryptedVolumes": f"{sum(bool(e.get('Encrypted')) for e in volumes)}/{len(volumes)}",
             "PublicIp": any(n.get("AssociatePublicIpAddress") for n in nics)}
    ok = (found["HttpTokens"] == "required" and found["HopLimit"] == 1 and volumes
          and all(e.get("Encrypted") for e in volumes) and not found["PublicIp"])
    yield check_row(f"{version['LaunchTemplateName']} v{version['VersionNumber']}", bool(ok),
                    "HttpTokens=required, HopLimit=1, all volumes encrypted, no public IP",
                    ", ".join(f"{k}={val}" for k, val in found.items()),
                    "create a compliant version and make it the default (`hainfra up` after destroy)")
