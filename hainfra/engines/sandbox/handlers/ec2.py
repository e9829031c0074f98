"""EC2 network handlers: VPC, subnets, gateways, routes, NACLs, security groups, flow logs."""

from __future__ import annotations

import hashlib
from typing import Any

from botocore.exceptions import ClientError

from hainfra.aws import Ctx, tags_of
from hainfra.engines.sandbox.handlers import (
    HELD,
    Created,
    Found,
    Handler,
    Lookup,
    Props,
    error_code,
    ignore,
    ints,
    lookup,
    register,
    replaces_on,
    tag_diff,
    tag_list,
    unknown,
)


def ec2(ctx: Ctx) -> Any:
    return ctx.client("ec2")


def spec(resource_type: str, tags: dict[str, str] | None) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": tag_list(tags)}] if tags else []


def tag_ec2(ctx: Ctx, rid: str, props: Props, old: dict[str, str], new: dict[str, str]) -> None:
    """EC2 resources are tagged by id."""
    put, remove = tag_diff(old, new)
    if put:
        ec2(ctx).create_tags(Resources=[rid], Tags=tag_list(put))
    if remove:
        ec2(ctx).delete_tags(Resources=[rid], Tags=[{"Key": k} for k in remove])


def by_name_tag(describe: str, key: str, id_key: str, ids_arg: str) -> Lookup:
    """Lookup for unnamed EC2 kinds: by id when known, else by the stack-unique ``Name`` tag.

    Tags are compared here as well: moto ignores tag filters for some kinds (NAT gateways).
    """

    @lookup()
    def find(ctx: Ctx, p: Props) -> Found | None:
        name = (p.get("tags") or {}).get("Name")
        by_id = not unknown(p.get("id"))
        if not by_id and not name:
            return None
        by = {ids_arg: [p["id"]]} if by_id else {"Filters": [{"Name": "tag:Name", "Values": [name]}]}
        items = getattr(ec2(ctx), describe)(**by).get(key, [])
        live = [i for i in items if str(i.get("State", "")).lower() not in ("deleted", "deleting", "failed")
                and (by_id or (tags_of(i.get("Tags")).get("Name") == name and i[id_key] not in p.get(HELD, ())))]
        return Found(live[0][id_key], tags_of(live[0].get("Tags"))) if live else None

    return find


# --- VPC --------------------------------------------------------------------------------
def create_vpc(ctx: Ctx, p: Props) -> Created:
    vpc = ec2(ctx).create_vpc(CidrBlock=p["cidrBlock"], TagSpecifications=spec("vpc", p.get("tags")))["Vpc"]
    vid = vpc["VpcId"]
    update_vpc(ctx, vid, {}, p)
    acl = ec2(ctx).describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vid]},
                                                  {"Name": "default", "Values": ["true"]}])["NetworkAcls"][0]
    return vid, {"arn": f"arn:aws:ec2:{ctx.region}:{ctx.account_id}:vpc/{vid}",
                 "defaultNetworkAclId": acl["NetworkAclId"], "mainRouteTableId": _main_route_table(ctx, vid)}


def update_vpc(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    for attr in ("enableDnsSupport", "enableDnsHostnames"):
        if attr in new:
            ec2(ctx).modify_vpc_attribute(VpcId=rid, **{attr[0].upper() + attr[1:]: {"Value": bool(new[attr])}})
    return {}


def _main_route_table(ctx: Ctx, vpc_id: str) -> str:
    tables = ec2(ctx).describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                     {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
    return tables[0]["RouteTableId"] if tables else ""


@ignore("InvalidVpcID.NotFound")
def delete_vpc(ctx: Ctx, rid: str, p: Props) -> None:
    ec2(ctx).delete_vpc(VpcId=rid)


register("aws:ec2/vpc:Vpc", Handler(create_vpc, delete_vpc, update_vpc, frozenset({"enableDnsSupport", "enableDnsHostnames"}),
                                    tag=tag_ec2, lookup=by_name_tag("describe_vpcs", "Vpcs", "VpcId", "VpcIds")))


# --- subnets ----------------------------------------------------------------------------
def create_subnet(ctx: Ctx, p: Props) -> Created:
    sn = ec2(ctx).create_subnet(VpcId=p["vpcId"], CidrBlock=p["cidrBlock"], AvailabilityZone=p["availabilityZone"],
                                TagSpecifications=spec("subnet", p.get("tags")))["Subnet"]
    sid = sn["SubnetId"]
    update_subnet(ctx, sid, {}, p)
    return sid, {"arn": sn.get("SubnetArn", f"arn:aws:ec2:{ctx.region}:{ctx.account_id}:subnet/{sid}"),
                 "availabilityZoneId": sn.get("AvailabilityZoneId", "")}


def update_subnet(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    ec2(ctx).modify_subnet_attribute(SubnetId=rid, MapPublicIpOnLaunch={"Value": bool(new.get("mapPublicIpOnLaunch"))})
    return {}


@ignore("InvalidSubnetID.NotFound")
def delete_subnet(ctx: Ctx, rid: str, p: Props) -> None:
    ec2(ctx).delete_subnet(SubnetId=rid)


register("aws:ec2/subnet:Subnet", Handler(
    create_subnet, delete_subnet, update_subnet, frozenset({"mapPublicIpOnLaunch"}), tag_ec2,
    by_name_tag("describe_subnets", "Subnets", "SubnetId", "SubnetIds")))


# --- internet gateway ---------------------------------------------------------------------
def create_igw(ctx: Ctx, p: Props) -> Created:
    igw = ec2(ctx).create_internet_gateway(TagSpecifications=spec("internet-gateway", p.get("tags")))["InternetGateway"]
    gid = igw["InternetGatewayId"]
    ec2(ctx).attach_internet_gateway(InternetGatewayId=gid, VpcId=p["vpcId"])
    return gid, {"arn": f"arn:aws:ec2:{ctx.region}:{ctx.account_id}:internet-gateway/{gid}"}


def update_igw(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    """The provider moves a gateway to another VPC in place: detach, then attach.

    Read the attachments first: a killed run may have moved it already (the update must be repeatable).
    """
    gateway = ec2(ctx).describe_internet_gateways(InternetGatewayIds=[rid])["InternetGateways"][0]
    attached = [a["VpcId"] for a in gateway.get("Attachments", [])]
    for vpc in attached:
        if vpc != new["vpcId"]:
            ec2(ctx).detach_internet_gateway(InternetGatewayId=rid, VpcId=vpc)
    if new["vpcId"] not in attached:
        ec2(ctx).attach_internet_gateway(InternetGatewayId=rid, VpcId=new["vpcId"])
    return {}


@ignore("InvalidInternetGatewayID.NotFound", "Gateway.NotAttached")
def delete_igw(ctx: Ctx, rid: str, p: Props) -> None:
    try:
        ec2(ctx).detach_internet_gateway(InternetGatewayId=rid, VpcId=p["vpcId"])
    except ClientError as exc:
        if error_code(exc) not in ("Gateway.NotAttached",):
            raise
    ec2(ctx).delete_internet_gateway(InternetGatewayId=rid)


register("aws:ec2/internetGateway:InternetGateway", Handler(
    create_igw, delete_igw, update_igw, frozenset({"vpcId"}), tag=tag_ec2,
    lookup=by_name_tag("describe_internet_gateways", "InternetGateways", "InternetGatewayId", "InternetGatewayIds")))


# --- elastic IPs and NAT gateways ---------------------------------------------------------
def create_eip(ctx: Ctx, p: Props) -> Created:
    eip = ec2(ctx).allocate_address(Domain=p.get("domain", "vpc"), TagSpecifications=spec("elastic-ip", p.get("tags")))
    return eip["AllocationId"], {"allocationId": eip["AllocationId"], "publicIp": eip["PublicIp"]}


@ignore("InvalidAllocationID.NotFound")
def delete_eip(ctx: Ctx, rid: str, p: Props) -> None:
    ec2(ctx).release_address(AllocationId=rid)


register("aws:ec2/eip:Eip", Handler(create_eip, delete_eip, tag=tag_ec2, lookup=by_name_tag(
    "describe_addresses", "Addresses", "AllocationId", "AllocationIds")))


def create_nat(ctx: Ctx, p: Props) -> Created:
    nat = ec2(ctx).create_nat_gateway(SubnetId=p["subnetId"], AllocationId=p["allocationId"],
                                      TagSpecifications=spec("natgateway", p.get("tags")))["NatGateway"]
    return nat["NatGatewayId"], {"publicIp": (nat.get("NatGatewayAddresses") or [{}])[0].get("PublicIp", "")}


@ignore("NatGatewayNotFound", "InvalidNatGatewayID.NotFound")
def delete_nat(ctx: Ctx, rid: str, p: Props) -> None:
    ec2(ctx).delete_nat_gateway(NatGatewayId=rid)


register("aws:ec2/natGateway:NatGateway", Handler(
    create_nat, delete_nat, tag=tag_ec2,
    lookup=by_name_tag("describe_nat_gateways", "NatGateways", "NatGatewayId", "NatGatewayIds")))


# --- route tables, routes, associations -------------------------------------------------------
def create_rt(ctx: Ctx, p: Props) -> Created:
    rt = ec2(ctx).create_route_table(VpcId=p["vpcId"], TagSpecifications=spec("route-table", p.get("tags")))
    rid = rt["RouteTable"]["RouteTableId"]
    return rid, {"arn": f"arn:aws:ec2:{ctx.region}:{ctx.account_id}:route-table/{rid}"}


@ignore("InvalidRouteTableID.NotFound")
def delete_rt(ctx: Ctx, rid: str, p: Props) -> None:
    ec2(ctx).delete_route_table(RouteTableId=rid)


register("aws:ec2/routeTable:RouteTable", Handler(
    create_rt, delete_rt, tag=tag_ec2,
    lookup=by_name_tag("describe_route_tables", "RouteTables", "RouteTableId", "RouteTableIds")))

_ROUTE_TARGETS = {"gatewayId": "GatewayId", "natGatewayId": "NatGatewayId"}


def _route_target(p: Props) -> dict[str, str]:
    return {api: p[key] for key, api in _ROUTE_TARGETS.items() if p.get(key)}


def create_route(ctx: Ctx, p: Props) -> Created:
    args = {"RouteTableId": p["routeTableId"], "DestinationCidrBlock": p["destinationCidrBlock"], **_route_target(p)}
    ec2(ctx).create_route(**args)
    return _route_id(p), {}


def _route_id(p: Props) -> str:
    digest = int(hashlib.sha1(p["destinationCidrBlock"].encode()).hexdigest()[:8], 16)
    return f"r-{p['routeTableId']}{digest}"


def _table_tags(ctx: Ctx, table_id: str) -> dict[str, str]:
    return tags_of(ec2(ctx).describe_route_tables(RouteTableIds=[table_id])["RouteTables"][0].get("Tags"))


@lookup("routeTableId", "destinationCidrBlock")
def find_route(ctx: Ctx, p: Props) -> Found | None:
    """A route has no tags: its table's say who owns it."""
    table = ec2(ctx).describe_route_tables(RouteTableIds=[p["routeTableId"]])["RouteTables"][0]
    if any(r.get("DestinationCidrBlock") == p["destinationCidrBlock"] for r in table.get("Routes", [])):
        return Found(_route_id(p), tags_of(table.get("Tags")))
    return None


def update_route(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    ec2(ctx).replace_route(RouteTableId=new["routeTableId"], DestinationCidrBlock=new["destinationCidrBlock"],
                           **_route_target(new))
    return {}


@ignore("InvalidRoute.NotFound", "InvalidRouteTableID.NotFound")
def delete_route(ctx: Ctx, rid: str, p: Props) -> None:
    ec2(ctx).delete_route(RouteTableId=p["routeTableId"], DestinationCidrBlock=p["destinationCidrBlock"])


register("aws:ec2/route:Route", Handler(create_route, delete_route, update_route,
                                        frozenset({"gatewayId", "natGatewayId"}), lookup=find_route))


def create_rta(ctx: Ctx, p: Props) -> Created:
    aid = ec2(ctx).associate_route_table(RouteTableId=p["routeTableId"], SubnetId=p["subnetId"])["AssociationId"]
    return aid, {}


@lookup("subnetId", "routeTableId")
def find_rta(ctx: Ctx, p: Props) -> Found | None:
    tables = ec2(ctx).describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [p["subnetId"]]}])
    for table in tables["RouteTables"]:
        for assoc in table.get("Associations", []):
            if assoc.get("SubnetId") == p["subnetId"] and table["RouteTableId"] == p["routeTableId"]:
                return Found(assoc["RouteTableAssociationId"], tags_of(table.get("Tags")))
    return None


def update_rta(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    """Point the subnet at another table in place (ReplaceRouteTableAssociation): the id changes.

    The subnet's current association is read first: a killed run may have replaced it already.
    """
    tables = ec2(ctx).describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [new["subnetId"]]}])
    for table in tables["RouteTables"]:
        for assoc in table.get("Associations", []):
            if assoc.get("SubnetId") == new["subnetId"]:
                if table["RouteTableId"] == new["routeTableId"]:
                    return {"id": assoc["RouteTableAssociationId"]}
                rid = assoc["RouteTableAssociationId"]
    return {"id": ec2(ctx).replace_route_table_association(AssociationId=rid, RouteTableId=new["routeTableId"])[
        "NewAssociationId"]}


@ignore("InvalidAssociationID.NotFound")
def delete_rta(ctx: Ctx, rid: str, p: Props) -> None:
    ec2(ctx).disassociate_route_table(AssociationId=rid)


register("aws:ec2/routeTableAssociation:RouteTableAssociation", Handler(create_rta, delete_rta, update_rta,
                                                                        frozenset({"routeTableId"}), lookup=find_rta))


# --- network ACLs --------------------------------------------------------------------------
def _acl_entries(ctx: Ctx, acl_id: str, p: Props) -> None:
    for egress, rules in ((False, p.get("ingress") or []), (True, p.get("egress") or [])):
        for r in rules:
            args: dict[str, Any] = {
                "NetworkAclId": acl_id, "RuleNumber": ints(r["ruleNo"]), "Protocol": _protocol(r["protocol"]),
                "RuleAction": r["action"], "Egress": egress, "CidrBlock": r["cidrBlock"],
            }
            if args["Protocol"] != "-1":
                args["PortRange"] = {"From": ints(r["fromPort"]), "To": ints(r["toPort"])}
            ec2(ctx).create_network_acl_entry(**args)


def _protocol(value: str) -> str:
    return {"tcp": "6", "udp": "17", "icmp": "1", "all": "-1"}.get(str(value), str(value))


def create_acl(ctx: Ctx, p: Props) -> Created:
    acl = ec2(ctx).create_network_acl(VpcId=p["vpcId"], TagSpecifications=spec("network-acl", p.get("tags")))
    aid = acl["NetworkAcl"]["NetworkAclId"]
    _acl_entries(ctx, aid, p)
    return aid, {"arn": f"arn:aws:ec2:{ctx.region}:{ctx.account_id}:network-acl/{aid}"}


def update_acl(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    for entry in ec2(ctx).describe_network_acls(NetworkAclIds=[rid])["NetworkAcls"][0]["Entries"]:
        if entry["RuleNumber"] < 32767:
            ec2(ctx).delete_network_acl_entry(NetworkAclId=rid, RuleNumber=entry["RuleNumber"], Egress=entry["Egress"])
    _acl_entries(ctx, rid, new)
    return {}


@ignore("InvalidNetworkAclID.NotFound")
def delete_acl(ctx: Ctx, rid: str, p: Props) -> None:
    ec2(ctx).delete_network_acl(NetworkAclId=rid)


register("aws:ec2/networkAcl:NetworkAcl", Handler(
    create_acl, delete_acl, update_acl, frozenset({"ingress", "egress"}), tag_ec2,
    by_name_tag("describe_network_acls", "NetworkAcls", "NetworkAclId", "NetworkAclIds")))


def _current_association(ctx: Ctx, subnet_id: str) -> dict[str, Any]:
    acls = ec2(ctx).describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])
    for acl in acls["NetworkAcls"]:
        for assoc in acl["Associations"]:
            if assoc["SubnetId"] == subnet_id:
                return {"acl": acl["NetworkAclId"], "vpc": acl["VpcId"], "id": assoc["NetworkAclAssociationId"]}
    raise LookupError(f"subnet {subnet_id} has no network ACL association")


def create_acl_assoc(ctx: Ctx, p: Props) -> Created:
    current = _current_association(ctx, p["subnetId"])
    new_id = ec2(ctx).replace_network_acl_association(AssociationId=current["id"], NetworkAclId=p["networkAclId"])
    return new_id["NewAssociationId"], {}


def delete_acl_assoc(ctx: Ctx, rid: str, p: Props) -> None:
    """Hand the subnet back to its VPC's default NACL (a subnet always has exactly one)."""
    try:
        current = _current_association(ctx, p["subnetId"])
    except (LookupError, ClientError):
        return
    default = ec2(ctx).describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [current["vpc"]]},
                                                      {"Name": "default", "Values": ["true"]}])["NetworkAcls"]
    if default and current["acl"] != default[0]["NetworkAclId"]:
        ec2(ctx).replace_network_acl_association(AssociationId=current["id"], NetworkAclId=default[0]["NetworkAclId"])


register("aws:ec2/networkAclAssociation:NetworkAclAssociation", Handler(create_acl_assoc, delete_acl_assoc))


def create_default_acl(ctx: Ctx, p: Props) -> Created:
    """Adopt the VPC's default NACL and replace its rules (``[]``: only the implicit deny-all stays).

    Like the default security group it cannot be created or deleted; AWS makes it allow-all.
    """
    aid = p["defaultNetworkAclId"]
    acl = ec2(ctx).describe_network_acls(NetworkAclIds=[aid])["NetworkAcls"][0]
    if not acl.get("IsDefault"):
        raise LookupError(f"network ACL {aid} is not its VPC's default NACL; DefaultNetworkAcl adopts only that one")
    update_acl(ctx, aid, {}, p)
    for subnet_id in p.get("subnetIds") or []:
        create_acl_assoc(ctx, {"subnetId": subnet_id, "networkAclId": aid})
    if p.get("tags"):
        ec2(ctx).create_tags(Resources=[aid], Tags=tag_list(p["tags"]))
    return aid, {"arn": f"arn:aws:ec2:{ctx.region}:{ctx.account_id}:network-acl/{aid}", "vpcId": acl["VpcId"]}


def untag_default(ctx: Ctx, rid: str, p: Props) -> None:
    """Delete of an adopted default (NACL, security group): like Pulumi, it stays with its VPC (rules as
    they are); only hainfra's tags go."""
    try:
        ec2(ctx).delete_tags(Resources=[rid], Tags=[{"Key": k} for k in p.get("tags") or {}])
    except ClientError:
        pass


register("aws:ec2/defaultNetworkAcl:DefaultNetworkAcl", Handler(
    create_default_acl, untag_default, update_acl, frozenset({"ingress", "egress"}), tag_ec2))


# --- security groups -------------------------------------------------------------------------
def _permissions(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    perms = []
    for r in rules:
        perm: dict[str, Any] = {"IpProtocol": _protocol(r["protocol"]) if r["protocol"] in ("all", "-1") else r["protocol"]}
        if perm["IpProtocol"] != "-1":
            perm.update(FromPort=ints(r["fromPort"]), ToPort=ints(r["toPort"]))
        desc = {"Description": r["description"]} if r.get("description") else {}
        if r.get("cidrBlocks"):
            perm["IpRanges"] = [{"CidrIp": c, **desc} for c in r["cidrBlocks"]]
        if r.get("securityGroups"):
            perm["UserIdGroupPairs"] = [{"GroupId": g, **desc} for g in r["securityGroups"]]
        perms.append(perm)
    return perms


def _set_rules(ctx: Ctx, gid: str, p: Props) -> None:
    group = ec2(ctx).describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    if group.get("IpPermissions"):
        ec2(ctx).revoke_security_group_ingress(GroupId=gid, IpPermissions=group["IpPermissions"])
    if group.get("IpPermissionsEgress"):
        ec2(ctx).revoke_security_group_egress(GroupId=gid, IpPermissions=group["IpPermissionsEgress"])
    if p.get("ingress"):
        ec2(ctx).authorize_security_group_ingress(GroupId=gid, IpPermissions=_permissions(p["ingress"]))
    if p.get("egress"):
        ec2(ctx).authorize_security_group_egress(GroupId=gid, IpPermissions=_permissions(p["egress"]))


def create_sg(ctx: Ctx, p: Props) -> Created:
    gid = ec2(ctx).create_security_group(GroupName=p["name"], Description=p.get("description", "Managed by hainfra"),
                                         VpcId=p["vpcId"], TagSpecifications=spec("security-group", p.get("tags")))["GroupId"]
    _set_rules(ctx, gid, p)
    return gid, {"arn": f"arn:aws:ec2:{ctx.region}:{ctx.account_id}:security-group/{gid}"}


def update_sg(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    _set_rules(ctx, rid, new)
    return {}


@ignore("InvalidGroup.NotFound")
def delete_sg(ctx: Ctx, rid: str, p: Props) -> None:
    ec2(ctx).delete_security_group(GroupId=rid)


def _group(ctx: Ctx, name: str, vpc_id: str) -> dict[str, Any] | None:
    groups = ec2(ctx).describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]},
                                                        {"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
    return groups[0] if groups else None


@lookup("vpcId")
def find_sg(ctx: Ctx, p: Props) -> Found | None:
    if not unknown(p.get("id")):
        group = ec2(ctx).describe_security_groups(GroupIds=[p["id"]])["SecurityGroups"][0]
    else:
        group = _group(ctx, p["name"], p["vpcId"])
    return Found(group["GroupId"], tags_of(group.get("Tags"))) if group else None


register("aws:ec2/securityGroup:SecurityGroup", Handler(
    create_sg, delete_sg, update_sg, frozenset({"ingress", "egress"}), tag_ec2, lookup=find_sg))


def create_default_sg(ctx: Ctx, p: Props) -> Created:
    """Adopt the VPC's default group and strip every rule (it cannot be created or deleted)."""
    group = _group(ctx, "default", p["vpcId"])
    if group is None:
        raise LookupError(f"VPC {p['vpcId']} has no default security group")
    gid = group["GroupId"]
    _set_rules(ctx, gid, p)
    if p.get("tags"):
        ec2(ctx).create_tags(Resources=[gid], Tags=tag_list(p["tags"]))
    return gid, {"arn": f"arn:aws:ec2:{ctx.region}:{ctx.account_id}:security-group/{gid}", "name": "default"}


register("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", Handler(
    create_default_sg, untag_default, update_sg, frozenset({"ingress", "egress"}), tag_ec2))


# --- flow logs ----------------------------------------------------------------------------------
def create_flow_log(ctx: Ctx, p: Props) -> Created:
    resp = ec2(ctx).create_flow_logs(
        ResourceIds=[p["vpcId"]], ResourceType="VPC", TrafficType=p["trafficType"],
        LogDestinationType=p.get("logDestinationType", "cloud-watch-logs"), LogDestination=p["logDestination"],
        DeliverLogsPermissionArn=p["iamRoleArn"], MaxAggregationInterval=ints(p.get("maxAggregationInterval", 600)),
        TagSpecifications=spec("vpc-flow-log", p.get("tags")))
    if resp.get("Unsuccessful"):
        raise RuntimeError(f"flow log not created: {resp['Unsuccessful'][0]['Error']['Message']}")
    fid = resp["FlowLogIds"][0]
    return fid, {"arn": f"arn:aws:ec2:{ctx.region}:{ctx.account_id}:vpc-flow-log/{fid}"}


@ignore("InvalidFlowLogId.NotFound")  # deleted out of band: already gone is done
def delete_flow_log(ctx: Ctx, rid: str, p: Props) -> None:
    resp = ec2(ctx).delete_flow_logs(FlowLogIds=[rid])
    failed = [u for u in resp.get("Unsuccessful", []) if "NotFound" not in u["Error"]["Code"]]
    if failed:
        raise RuntimeError(failed[0]["Error"]["Message"])


@lookup("vpcId")
def find_flow_log(ctx: Ctx, p: Props) -> Found | None:
    by = ({"FlowLogIds": [p["id"]]} if not unknown(p.get("id"))
          else {"Filters": [{"Name": "resource-id", "Values": [p["vpcId"]]}]})
    logs = ec2(ctx).describe_flow_logs(**by)["FlowLogs"]
    return Found(logs[0]["FlowLogId"], tags_of(logs[0].get("Tags"))) if logs else None


register("aws:ec2/flowLog:FlowLog", Handler(create_flow_log, delete_flow_log, tag=tag_ec2, lookup=find_flow_log))


# --- VPC endpoints -------------------------------------------------------------------------------
def create_endpoint(ctx: Ctx, p: Props) -> Created:
    kind = p.get("vpcEndpointType") or "Gateway"
    args: dict[str, Any] = {"VpcId": p["vpcId"], "ServiceName": p["serviceName"], "VpcEndpointType": kind,
                            "TagSpecifications": spec("vpc-endpoint", p.get("tags"))}
    if p.get("policy"):
        args["PolicyDocument"] = p["policy"]
    if kind == "Gateway":
        args["RouteTableIds"] = p.get("routeTableIds") or []
    else:
        args.update(SubnetIds=p.get("subnetIds") or [], SecurityGroupIds=p.get("securityGroupIds") or [],
                    PrivateDnsEnabled=str(p.get("privateDnsEnabled")).lower() == "true")
    endpoint = ec2(ctx).create_vpc_endpoint(**args)["VpcEndpoint"]
    eid = endpoint["VpcEndpointId"]
    return eid, {"arn": f"arn:aws:ec2:{ctx.region}:{ctx.account_id}:vpc-endpoint/{eid}",
                 "state": endpoint.get("State", "available")}


def _diff(old: Any, new: Any) -> tuple[list[str], list[str]]:
    before, after = set(old or []), set(new or [])
    return sorted(after - before), sorted(before - after)


def update_endpoint(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    """Route tables, subnets, security groups, private DNS and the policy change in place (ModifyVpcEndpoint)."""
    args: dict[str, Any] = {"VpcEndpointId": rid}
    for key, add, remove in (("routeTableIds", "AddRouteTableIds", "RemoveRouteTableIds"),
                             ("subnetIds", "AddSubnetIds", "RemoveSubnetIds"),
                             ("securityGroupIds", "AddSecurityGroupIds", "RemoveSecurityGroupIds")):
        added, removed = _diff(old.get(key), new.get(key))
        if added:
            args[add] = added
        if removed:
            args[remove] = removed
    if (new.get("vpcEndpointType") or "Gateway") == "Interface":
        args["PrivateDnsEnabled"] = str(new.get("privateDnsEnabled")).lower() == "true"
    if new.get("policy") != old.get("policy"):  # no policy: back to AWS's default full access
        args.update({"PolicyDocument": new["policy"]} if new.get("policy") else {"ResetPolicy": True})
    ec2(ctx).modify_vpc_endpoint(**args)
    return {}


@ignore("InvalidVpcEndpointId.NotFound")
def delete_endpoint(ctx: Ctx, rid: str, p: Props) -> None:
    failed = ec2(ctx).delete_vpc_endpoints(VpcEndpointIds=[rid]).get("Unsuccessful") or []
    if failed:  # DeleteVpcEndpoints reports per-endpoint failures in the response, not as an error
        raise RuntimeError(f"VPC endpoint {rid} was not deleted: {failed[0].get('Error', {}).get('Message', failed)}")


register("aws:ec2/vpcEndpoint:VpcEndpoint", Handler(
    create_endpoint, delete_endpoint, update_endpoint,
    frozenset({"routeTableIds", "subnetIds", "securityGroupIds", "privateDnsEnabled", "policy"}), tag_ec2,
    lookup=by_name_tag("describe_vpc_endpoints", "VpcEndpoints", "VpcEndpointId", "VpcEndpointIds")))


# --- replace-forcing inputs (ForceNew in terraform-provider-aws, bridged by pulumi-aws) ----------------

replaces_on("aws:ec2/vpc:Vpc", "cidrBlock", "ipv4IpamPoolId", "ipv4NetmaskLength")
replaces_on("aws:ec2/subnet:Subnet", "vpcId", "cidrBlock", "availabilityZone", "availabilityZoneId",
            unique=("vpcId", "cidrBlock"))
replaces_on("aws:ec2/internetGateway:InternetGateway")  # vpc_id changes by detach + attach
replaces_on("aws:ec2/eip:Eip", "domain", "vpc", "address", "publicIpv4Pool", "networkBorderGroup",
            "customerOwnedIpv4Pool")
# An EIP serves one NAT gateway at a time: same allocation, so the old NAT goes first.
replaces_on("aws:ec2/natGateway:NatGateway", "allocationId", "subnetId", "connectivityType", "privateIp",
            unique=("allocationId",))
replaces_on("aws:ec2/routeTable:RouteTable", "vpcId")
replaces_on("aws:ec2/route:Route", "routeTableId", "destinationCidrBlock", "destinationIpv6CidrBlock",
            "destinationPrefixListId", unique=("routeTableId", "destinationCidrBlock"))
replaces_on("aws:ec2/routeTableAssociation:RouteTableAssociation", "subnetId", "gatewayId", unique=("subnetId",))
replaces_on("aws:ec2/networkAcl:NetworkAcl", "vpcId")
replaces_on("aws:ec2/networkAclAssociation:NetworkAclAssociation", "networkAclId", "subnetId", unique=("subnetId",))
replaces_on("aws:ec2/securityGroup:SecurityGroup", "name", "namePrefix", "description", "vpcId",
            unique=("name", "vpcId"))
replaces_on("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "vpcId", unique=("vpcId",))
# aws_default_network_acl: default_network_acl_id is ForceNew; rules, subnets and tags change in place.
replaces_on("aws:ec2/defaultNetworkAcl:DefaultNetworkAcl", "defaultNetworkAclId", unique=("defaultNetworkAclId",))
replaces_on("aws:ec2/vpcEndpoint:VpcEndpoint", "vpcId", "serviceName", "vpcEndpointType", "autoAccept",
            unique=("vpcId", "serviceName"))
replaces_on("aws:ec2/flowLog:FlowLog", "vpcId", "subnetId", "eniId", "transitGatewayId", "trafficType",
            "logDestination", "logDestinationType", "logGroupName", "iamRoleArn", "maxAggregationInterval",
            "logFormat", "destinationOptions", "deliverCrossAccountRole")
