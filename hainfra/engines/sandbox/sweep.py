"""After destroy: prove the account holds nothing of the stack, service by service.

A resource belongs to the stack when it carries the stack's Project + Stack tags,
or (for the few untaggable kinds) when its name follows the stack's convention. A resource
found by the stack's name but tagged for another stack is reported as "not ours" — never
counted as a leftover, never deleted (the sweep only reads).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import pandas as pd
from botocore.exceptions import ClientError

from hainfra import naming
from hainfra.aws import Ctx, tags_of
from hainfra.config import StackConfig
from hainfra.naming import PROJECT_TAG, STACK_TAG


class Split(NamedTuple):
    """What a name-matching lister found: the stack's own, and same-named ones another stack's tags claim."""

    ours: list[str]
    not_ours: list[str]


def _ours(tags: dict[str, str], c: StackConfig) -> bool:
    return tags.get(PROJECT_TAG) == c.project and tags.get(STACK_TAG) == c.stack


def _split(named: list[tuple[str, dict[str, str]]], c: StackConfig) -> Split:
    """Name matches, judged by tags (an untagged one counts as ours: its name carries the stack)."""
    return Split([n for n, t in named if not t.get(STACK_TAG) or _ours(t, c)],
                 [f"{n} (stack {t[STACK_TAG]})" for n, t in named if t.get(STACK_TAG) and not _ours(t, c)])


def _ec2(describe: str, key: str, id_key: str, live: Callable[[dict[str, Any]], bool] = lambda _: True):
    def lister(ctx: Ctx, c: StackConfig) -> list[str]:
        filters = [{"Name": f"tag:{PROJECT_TAG}", "Values": [c.project]}, {"Name": f"tag:{STACK_TAG}", "Values": [c.stack]}]
        items = getattr(ctx.client("ec2"), describe)(Filters=filters)[key]
        # Tags are checked again here: moto ignores tag filters for some kinds (NAT gateways).
        return [i[id_key] for i in items if live(i) and _ours(tags_of(i.get("Tags")), c)]

    return lister


def _instances(ctx: Ctx, c: StackConfig) -> list[str]:
    filters = [{"Name": f"tag:{PROJECT_TAG}", "Values": [c.project]}, {"Name": f"tag:{STACK_TAG}", "Values": [c.stack]},
               {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]
    return [i["InstanceId"] for r in ctx.client("ec2").describe_instances(Filters=filters)["Reservations"]
            for i in r["Instances"]]


def _roles(ctx: Ctx, c: StackConfig) -> list[str]:
    iam = ctx.client("iam")
    return [r["RoleName"] for r in iam.list_roles()["Roles"]
            if _ours(tags_of(iam.list_role_tags(RoleName=r["RoleName"])["Tags"]), c)]


def _profiles(ctx: Ctx, c: StackConfig) -> list[str]:
    iam = ctx.client("iam")
    return [p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]
            if _ours(tags_of(p.get("Tags")), c)]


def _buckets(ctx: Ctx, c: StackConfig) -> Split:
    s3, ours, named = ctx.client("s3"), [], []
    for b in s3.list_buckets()["Buckets"]:
        try:
            tags = tags_of(s3.get_bucket_tagging(Bucket=b["Name"])["TagSet"])
        except ClientError:
            tags = {}
        if b["Name"] in (naming.bucket_name(c, ctx.account_id), naming.log_bucket_name(c, ctx.account_id)):
            named.append((b["Name"], tags))
        elif _ours(tags, c):
            ours.append(b["Name"])
    split = _split(named, c)
    return Split(ours + split.ours, split.not_ours)


def _log_groups(ctx: Ctx, c: StackConfig) -> list[str]:
    logs = ctx.client("logs")
    return [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]
            if _ours(logs.list_tags_log_group(logGroupName=g["logGroupName"]).get("tags", {}), c)]


def _log_policies(ctx: Ctx, c: StackConfig) -> list[str]:
    return [p["policyName"] for p in ctx.client("logs").describe_resource_policies()["resourcePolicies"]
            if p["policyName"] in (naming.name(c, "s3-events-policy"), naming.name(c, "waf-logs-policy"))]


def _keys(ctx: Ctx, c: StackConfig) -> list[str]:
    kms, found = ctx.client("kms"), []
    for k in kms.list_keys()["Keys"]:
        if kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion":
            continue  # AWS deletes keys after a waiting period; scheduled is gone for us
        if _ours(tags_of(kms.list_resource_tags(KeyId=k["KeyId"]).get("Tags"), "TagKey", "TagValue"), c):
            found.append(k["KeyId"])
    return found


def _aliases(ctx: Ctx, c: StackConfig) -> list[str]:
    return [a["AliasName"] for a in ctx.client("kms").list_aliases()["Aliases"]
            if a["AliasName"] == f"alias/{naming.name(c, 'key')}"]


def _secrets(ctx: Ctx, c: StackConfig) -> list[str]:
    return [s["Name"] for s in ctx.client("secretsmanager").list_secrets()["SecretList"]
            if _ours(tags_of(s.get("Tags")), c) and not s.get("DeletedDate")]


def _parameters(ctx: Ctx, c: StackConfig) -> Split:
    ssm = ctx.client("ssm")
    params = ssm.get_parameters_by_path(Path=naming.ssm_path(c), Recursive=True)["Parameters"]
    return _split([(p["Name"], tags_of(ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=p["Name"])["TagList"]))
                   for p in params], c)


def _load_balancers(ctx: Ctx, c: StackConfig) -> list[str]:
    elb = ctx.client("elbv2")
    arns = [lb["LoadBalancerArn"] for lb in elb.describe_load_balancers()["LoadBalancers"]]
    arns += [tg["TargetGroupArn"] for tg in elb.describe_target_groups()["TargetGroups"]]
    if not arns:
        return []
    found = []
    for i in range(0, len(arns), 20):
        for d in elb.describe_tags(ResourceArns=arns[i:i + 20])["TagDescriptions"]:
            if _ours(tags_of(d["Tags"]), c):
                found.append(d["ResourceArn"].split(":")[-1])
    return found


def _groups(ctx: Ctx, c: StackConfig) -> list[str]:
    return [g["AutoScalingGroupName"] for g in ctx.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
            if _ours(tags_of(g.get("Tags")), c)]


def _rules(ctx: Ctx, c: StackConfig) -> list[str]:
    return [r["Name"] for r in ctx.client("events").list_rules()["Rules"] if r["Name"] == naming.name(c, "s3-created")]


def _topics(ctx: Ctx, c: StackConfig) -> list[str]:
    sns = ctx.client("sns")
    return [t["TopicArn"] for t in sns.list_topics()["Topics"]
            if _ours(tags_of(sns.list_tags_for_resource(ResourceArn=t["TopicArn"])["Tags"]), c)]


def _alarms(ctx: Ctx, c: StackConfig) -> list[str]:
    cw = ctx.client("cloudwatch")
    return [a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"]
            if _ours(tags_of(cw.list_tags_for_resource(ResourceARN=a["AlarmArn"])["Tags"]), c)]


def _web_acls(ctx: Ctx, c: StackConfig) -> list[str]:
    waf = ctx.client("wafv2")
    return [a["Name"] for a in waf.list_web_acls(Scope="REGIONAL").get("WebACLs", [])
            if _ours(tags_of(waf.list_tags_for_resource(ResourceARN=a["ARN"])["TagInfoForResource"].get("TagList")), c)]


def _certificates(ctx: Ctx, c: StackConfig) -> list[str]:
    acm = ctx.client("acm")
    return [s["CertificateArn"].split("/")[-1] for s in acm.list_certificates().get("CertificateSummaryList", [])
            if _ours(tags_of(acm.list_tags_for_certificate(CertificateArn=s["CertificateArn"]).get("Tags")), c)]


LISTERS: dict[tuple[str, str], Callable[[Ctx, StackConfig], list[str] | Split]] = {
    ("ec2", "instances"): _instances,
    ("ec2", "vpcs"): _ec2("describe_vpcs", "Vpcs", "VpcId"),
    ("ec2", "subnets"): _ec2("describe_subnets", "Subnets", "SubnetId"),
    ("ec2", "internet gateways"): _ec2("describe_internet_gateways", "InternetGateways", "InternetGatewayId"),
    ("ec2", "NAT gateways"): _ec2("describe_nat_gateways", "NatGateways", "NatGatewayId",
                                  lambda n: n.get("State") not in ("deleted", "deleting")),
    ("ec2", "elastic IPs"): _ec2("describe_addresses", "Addresses", "AllocationId"),
    ("ec2", "route tables"): _ec2("describe_route_tables", "RouteTables", "RouteTableId"),
    ("ec2", "network ACLs"): _ec2("describe_network_acls", "NetworkAcls", "NetworkAclId"),
    ("ec2", "security groups"): _ec2("describe_security_groups", "SecurityGroups", "GroupId",
                                     lambda g: g.get("GroupName") != "default"),
    ("ec2", "flow logs"): _ec2("describe_flow_logs", "FlowLogs", "FlowLogId"),
    ("ec2", "VPC endpoints"): _ec2("describe_vpc_endpoints", "VpcEndpoints", "VpcEndpointId",
                                   lambda e: str(e.get("State", "")).lower() not in ("deleted", "deleting")),
    ("ec2", "launch templates"): _ec2("describe_launch_templates", "LaunchTemplates", "LaunchTemplateId"),
    ("iam", "roles"): _roles,
    ("iam", "instance profiles"): _profiles,
    ("s3", "buckets"): _buckets,
    ("logs", "log groups"): _log_groups,
    ("logs", "resource policies"): _log_policies,
    ("kms", "keys"): _keys,
    ("kms", "aliases"): _aliases,
    ("secretsmanager", "secrets"): _secrets,
    ("ssm", "parameters"): _parameters,
    ("elbv2", "load balancers and target groups"): _load_balancers,
    ("autoscaling", "groups"): _groups,
    ("events", "rules"): _rules,
    ("sns", "topics"): _topics,
    ("cloudwatch", "alarms"): _alarms,
    ("wafv2", "web ACLs"): _web_acls,
    ("acm", "certificates"): _certificates,
}


def sweep(ctx: Ctx, config: StackConfig, parallel: int = 8) -> pd.DataFrame:
    """One row per (service, kind): how many of the stack's resources remain, and which; ``not_ours``
    names same-named resources another stack's tags claim (reported, never deleted).

    The checks are independent reads, so they run concurrently (boto3 clients are thread-safe).
    """
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="hainfra-sweep") as pool:
        found = [f if isinstance(f, Split) else Split(f, [])
                 for f in pool.map(lambda lister: lister(ctx, config), LISTERS.values())]
    return pd.DataFrame([{"service": service, "kind": kind, "remaining": len(f.ours), "names": ", ".join(f.ours),
                          "not_ours": ", ".join(f.not_ours)}
                         for (service, kind), f in zip(LISTERS, found, strict=True)])
