"""Network and flow-log checks."""

from __future__ import annotations

import time
from collections.abc import Iterator

from hainfra import naming
from hainfra.aws import as_list, policy_doc, tags_of
from hainfra.cidr import ADMIN_PORTS, ANYWHERE, WORLD
from hainfra.verify.base import Row, VerifyContext, check, check_row, skip


@check("network.subnets-multi-az")
def subnets_multi_az(v: VerifyContext) -> Iterator[Row]:
    for tier in ("public", "private"):
        azs = sorted({s["AvailabilityZone"] for sid, s in v.subnets.items() if v.tier(sid) == tier})
        yield check_row(f"{tier} subnets", len(azs) >= 2, f">= 2 AZs ({v.config.az_count} configured)",
                        f"{len(azs)} AZs: {', '.join(azs)}", "recreate the missing subnets with `hainfra up`")


@check("network.nat-per-az")
def nat_per_az(v: VerifyContext) -> Iterator[Row]:
    nats = v.nats
    by_az: dict[str, list[str]] = {}
    for nat in nats:
        az = v.subnets.get(nat["SubnetId"], {}).get("AvailabilityZone", "?")
        state = nat["State"]
        yield check_row(nat["NatGatewayId"], state == "available", "available", f"{state} in {az}",
                        "replace the NAT gateway with `hainfra up`")
        if state == "available":
            by_az.setdefault(az, []).append(nat["NatGatewayId"])
    expected = v.config.nat_count
    yield check_row("NAT gateways", len(by_az) == expected,
                    f"{expected} available NAT gateway(s) in distinct AZs ({v.config.nat_strategy})",
                    f"{len(by_az)} AZ(s) with an available NAT: {', '.join(sorted(by_az))}",
                    "run `hainfra up` to recreate the missing NAT gateways")


def _route_tables_by_subnet(v: VerifyContext) -> dict[str, dict]:
    tables = v.client("ec2").describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [v.outputs["vpc_id"]]}])["RouteTables"]
    return {a["SubnetId"]: t for t in tables for a in t.get("Associations", []) if a.get("SubnetId")}


@check("network.private-routes")
def private_routes(v: VerifyContext) -> Iterator[Row]:
    tables = _route_tables_by_subnet(v)
    nats = {n["NatGatewayId"]: v.subnets.get(n["SubnetId"], {}).get("AvailabilityZone", "?") for n in v.nats}
    for sid in v.outputs["private_subnet_ids"]:
        az = v.subnets[sid]["AvailabilityZone"]
        table = tables.get(sid)
        routes = [r for r in (table or {}).get("Routes", []) if r.get("DestinationCidrBlock") == ANYWHERE]
        target = routes[0].get("NatGatewayId") if routes else None
        target_az = nats.get(target or "", "another VPC's or unknown")
        expected = f"{ANYWHERE} -> the NAT in " + (az if v.config.nat_strategy == "per_az" else "the single NAT's AZ")
        ok = bool(target) and (target_az == az if v.config.nat_strategy == "per_az" else target in nats)
        found = f"{ANYWHERE} -> {target} in {target_az}" if target else "no default route through a NAT"
        yield check_row(f"{sid} ({az})", ok, expected, found,
                        f"point the route back: ec2 replace-route --route-table-id {(table or {}).get('RouteTableId')} "
                        "... or `hainfra up` after `hainfra destroy`")


@check("network.nacl-association")
def nacl_association(v: VerifyContext) -> Iterator[Row]:
    acls = v.client("ec2").describe_network_acls(
        Filters=[{"Name": "vpc-id", "Values": [v.outputs["vpc_id"]]}])["NetworkAcls"]
    by_subnet = {a["SubnetId"]: acl for acl in acls for a in acl["Associations"]}
    for sid in v.outputs["public_subnet_ids"] + v.outputs["private_subnet_ids"]:
        acl = by_subnet.get(sid, {})
        tier = tags_of(acl.get("Tags")).get("Tier")
        found = "the VPC's default NACL" if acl.get("IsDefault") else f"{acl.get('NetworkAclId')} (tier {tier})"
        yield check_row(sid, not acl.get("IsDefault") and tier == v.tier(sid), f"the {v.tier(sid)} tier's NACL",
                        found, f"re-associate {sid} with {naming.name(v.config, 'nacl-' + v.tier(sid))}")


@check("network.default-sg-closed")
def default_sg_closed(v: VerifyContext) -> Iterator[Row]:
    groups = v.client("ec2").describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [v.outputs["vpc_id"]]}, {"Name": "group-name", "Values": ["default"]}])
    for g in groups["SecurityGroups"]:
        rules = len(g.get("IpPermissions", [])) + len(g.get("IpPermissionsEgress", []))
        yield check_row(g["GroupId"], rules == 0, "no rules", f"{rules} rule(s)",
                        "revoke every rule of the default security group")


@check("network.private-no-public-ip")
def private_no_public_ip(v: VerifyContext) -> Iterator[Row]:
    for sid in v.outputs["private_subnet_ids"]:
        mapped = v.subnets[sid].get("MapPublicIpOnLaunch", False)
        yield check_row(sid, not mapped, "MapPublicIpOnLaunch false", f"MapPublicIpOnLaunch {mapped}",
                        f"ec2 modify-subnet-attribute --subnet-id {sid} --no-map-public-ip-on-launch")


def _opens(perm: dict, port: int) -> bool:
    if perm.get("IpProtocol") == "-1":
        return True
    return perm.get("IpProtocol") in ("tcp", "6") and perm.get("FromPort", 0) <= port <= perm.get("ToPort", 0)


@check("network.no-world-admin-ports")
def no_world_admin_ports(v: VerifyContext) -> Iterator[Row]:
    groups = v.client("ec2").describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [v.outputs["vpc_id"]]}])["SecurityGroups"]
    for g in groups:
        open_ports = sorted({port for perm in g.get("IpPermissions", []) for port in ADMIN_PORTS if _opens(perm, port)
                             and any(r.get("CidrIp") in WORLD for r in perm.get("IpRanges", []))
                             | any(r.get("CidrIpv6") in WORLD for r in perm.get("Ipv6Ranges", []))})
        yield check_row(f"{g['GroupId']} ({g['GroupName']})", not open_ports,
                        f"{' and '.join(map(str, ADMIN_PORTS))} closed to the internet",
                        f"open to the internet: {open_ports}" if open_ports else "closed",
                        f"revoke the {ANYWHERE} rule; reach instances with SSM Session Manager")


# --- flow logs -------------------------------------------------------------------------------------
def _flow_log_group_arn(v: VerifyContext) -> str:
    return f"arn:aws:logs:{v.config.region}:{v.aws.account_id}:log-group:{v.outputs['flow_log_group']}"


@check("flowlogs.active")
def flow_log_active(v: VerifyContext) -> Iterator[Row]:
    logs = v.client("ec2").describe_flow_logs(
        Filters=[{"Name": "resource-id", "Values": [v.outputs["vpc_id"]]}])["FlowLogs"]
    good = [f for f in logs if f.get("FlowLogStatus") == "ACTIVE" and f.get("TrafficType") == "ALL"
            and (f.get("LogGroupName") == v.outputs["flow_log_group"]
                 or f.get("LogDestination", "").rstrip(":*") == _flow_log_group_arn(v))]
    found = "; ".join(f"{f['FlowLogId']} {f.get('FlowLogStatus')} {f.get('TrafficType')} -> "
                      f"{f.get('LogGroupName') or f.get('LogDestination')}" for f in logs) or "no flow log"
    yield check_row(v.outputs["vpc_id"], bool(good), f"ACTIVE, ALL traffic -> {v.outputs['flow_log_group']}", found,
                    "run `hainfra up` after `hainfra destroy`, or recreate the flow log with the stack's role")


@check("flowlogs.role")
def flow_log_role(v: VerifyContext) -> Iterator[Row]:
    iam = v.client("iam")
    role_name = naming.name(v.config, "flow-logs-role")
    role = iam.get_role(RoleName=role_name)["Role"]
    trust = policy_doc(role["AssumeRolePolicyDocument"])
    principals = sorted({json_principal for st in as_list(trust.get("Statement"))
                         for json_principal in as_list((st.get("Principal") or {}).get("Service"))})
    yield check_row(f"{role_name} trust", principals == ["vpc-flow-logs.amazonaws.com"],
                    "trusts only vpc-flow-logs.amazonaws.com", ", ".join(principals) or "nobody",
                    "restore the trust policy from hainfra.documents.assume_role")
    group_arn = _flow_log_group_arn(v)
    resources = sorted({r for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]
                        for st in as_list(policy_doc(iam.get_role_policy(RoleName=role_name, PolicyName=name)
                                                     ["PolicyDocument"]).get("Statement"))
                        for r in as_list(st.get("Resource"))})
    yield check_row(f"{role_name} policy", bool(resources) and set(resources) <= {group_arn, f"{group_arn}:*"},
                    f"writes only to {v.outputs['flow_log_group']}", ", ".join(resources) or "no policy",
                    "restore the policy from hainfra.documents.flow_log_policy")


@check("flowlogs.group")
def flow_log_group(v: VerifyContext) -> Iterator[Row]:
    groups = v.client("logs").describe_log_groups(logGroupNamePrefix=v.outputs["flow_log_group"])["logGroups"]
    group = next((g for g in groups if g["logGroupName"] == v.outputs["flow_log_group"]), {})
    retention, key = group.get("retentionInDays"), group.get("kmsKeyId")
    yield check_row(v.outputs["flow_log_group"], retention == v.config.retention_days and v.is_stack_key(key),
                    f"retention {v.config.retention_days} d, encrypted with the stack key",
                    f"retention {retention} d, key {key or 'none'}", "put the retention policy and associate the key")


@check("flowlogs.delivery")
def flow_log_delivery(v: VerifyContext) -> Iterator[Row]:
    group = v.outputs["flow_log_group"]
    if v.emulated:
        yield skip(group, "a log stream with flow records", "the emulator records no network traffic, so no flow "
                   "records are ever delivered (moto creates the flow log ACTIVE with no records)")
        return
    deadline = time.monotonic() + v.wait_seconds
    streams: list = []
    while time.monotonic() < deadline and not streams:
        streams = v.client("logs").describe_log_streams(logGroupName=group, limit=5)["logStreams"]
        if not streams:
            time.sleep(5)
    yield check_row(group, bool(streams), f"a log stream within {v.wait_seconds:.0f}s",
                    f"{len(streams)} stream(s)", "check the flow log's role and the key policy for logs.amazonaws.com")
