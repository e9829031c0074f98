"""Tags of the taggable resource kinds ``tags.required`` did not read before: security groups, the
internet gateway, route tables, NACLs, EIPs, the flow log and its role, the instance profile, listeners,
the launch template, the event rule, SSM parameters and alarms.

Each is found by id, name or VPC — never by tag — so a lost tag shows as a failing row. AWS-made
resources the stack does not tag (the VPC's main route table and default NACL) are left out.
"""

from __future__ import annotations

from collections.abc import Iterator

from hainfra import naming
from hainfra.aws import tags_of
from hainfra.verify.base import VerifyContext

Tagged = Iterator[tuple[str, dict[str, str]]]


def ec2_tagged(v: VerifyContext) -> Tagged:
    ec2, vpc = v.client("ec2"), [{"Name": "vpc-id", "Values": [v.outputs["vpc_id"]]}]
    for g in ec2.describe_security_groups(Filters=vpc)["SecurityGroups"]:
        yield f"{g['GroupId']} ({g['GroupName']})", tags_of(g.get("Tags"))
    for igw in ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [v.outputs["vpc_id"]]}])["InternetGateways"]:
        yield igw["InternetGatewayId"], tags_of(igw.get("Tags"))
    for table in ec2.describe_route_tables(Filters=vpc)["RouteTables"]:
        if not any(a.get("Main") for a in table.get("Associations", [])):
            yield table["RouteTableId"], tags_of(table.get("Tags"))
    for acl in ec2.describe_network_acls(Filters=vpc)["NetworkAcls"]:
        if not acl.get("IsDefault"):
            yield acl["NetworkAclId"], tags_of(acl.get("Tags"))
    allocations = [a["AllocationId"] for n in v.nats for a in n.get("NatGatewayAddresses", []) if a.get("AllocationId")]
    if allocations:
        for eip in ec2.describe_addresses(AllocationIds=allocations)["Addresses"]:
            yield eip["AllocationId"], tags_of(eip.get("Tags"))
    for flow in ec2.describe_flow_logs(FlowLogIds=[v.outputs["flow_log_id"]])["FlowLogs"]:
        yield flow["FlowLogId"], tags_of(flow.get("Tags"))
    # DescribeTags, not DescribeLaunchTemplates: moto's copy of a template's tags stays as created
    lt = v.outputs["launch_template_id"]
    yield lt, tags_of(ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [lt]}])["Tags"])


def service_tagged(v: VerifyContext) -> Tagged:
    o, iam = v.outputs, v.client("iam")
    role = naming.name(v.config, "flow-logs-role")
    yield role, tags_of(iam.list_role_tags(RoleName=role)["Tags"])
    profile = naming.name(v.config, "app-profile")
    # GetInstanceProfile carries the tags (moto has no ListInstanceProfileTags)
    yield profile, tags_of(iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"].get("Tags"))
    elb = v.client("elbv2")
    listeners = [li["ListenerArn"] for li in elb.describe_listeners(LoadBalancerArn=o["alb_arn"])["Listeners"]]
    if listeners:
        for d in elb.describe_tags(ResourceArns=listeners)["TagDescriptions"]:
            yield "listener " + d["ResourceArn"].split("/")[-1], tags_of(d["Tags"])
    events = v.client("events")
    rule_arn = events.describe_rule(Name=o["event_rule_name"])["Arn"]
    yield o["event_rule_name"], tags_of(events.list_tags_for_resource(ResourceARN=rule_arn)["Tags"])
    ssm = v.client("ssm")
    for name in (f"{o['ssm_path']}/config/backup-bucket", f"{o['ssm_path']}/secure/api-token"):
        yield name, tags_of(ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"])
    cloudwatch = v.client("cloudwatch")
    for alarm in cloudwatch.describe_alarms(AlarmNamePrefix=f"{v.config.project}-alarm-")["MetricAlarms"]:
        if alarm["AlarmName"].endswith(f"-{v.config.env_id}"):
            yield alarm["AlarmName"], tags_of(cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"])


def more_tagged_resources(v: VerifyContext) -> Tagged:
    yield from ec2_tagged(v)
    yield from service_tagged(v)
