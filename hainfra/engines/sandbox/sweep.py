"""After destroy: prove the account holds nothing of the stack, service by service.

A resource belongs to the stack when it carries the stack's Project + Stack tags,
or (for the few untaggable kinds) when its name follows the stack's convention. Other stacks in the
same emulator may be deleting theirs meanwhile: a resource listed, then gone before its tags are read,
is gone (never an error). A resource
found by the stack's name but tagged for another stack is reported as "not ours" — never
counted as a leftover, never deleted (the sweep only reads).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, TypeVar

import pandas as pd
from botocore.exceptions import ClientError

from hainfra import naming
from hainfra.aws import Ctx, tags_of
from hainfra.config import StackConfig
from hainfra.engines.sandbox.handlers import not_found
from hainfra.naming import PROJECT_TAG, STACK_TAG

T = TypeVar("T")


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


def _gone_is_none(read: Callable[[], T]) -> T | None:
    """``read()``, or None when the resource it reads was deleted since it was listed."""
    try:
        return read()
    except ClientError as exc:
        if not_found(exc):
            return None
        raise


def _tagged(items: list[str], tags: Callable[[str], dict[str, str]], c: StackConfig) -> list[str]:
    """The items whose tags (read one by one; a vanished item is skipped) say they are the stack's."""
    return [i for i in items if _ours(_gone_is_none(lambda i=i: tags(i)) or {}, c)]


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
    return _tagged([r["RoleName"] for r in iam.list_roles()["Roles"]],
                   lambda name: tags_of(iam.list_role_tags(RoleName=name)["Tags"]), c)


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
        names = [naming.bucket_name(c, ctx.account_id), naming.log_bucket_name(c, ctx.account_id)]
        if c.dr_enabled:
            names += [naming.dr_bucket_name(c, ctx.account_id), naming.log_bucket_name(c, ctx.account_id, c.dr_region)]
        if b["Name"] in names:
            named.append((b["Name"], tags))
        elif _ours(tags, c):
            ours.append(b["Name"])
    split = _split(named, c)
    return Split(ours + split.ours, split.not_ours)


def _log_groups(ctx: Ctx, c: StackConfig) -> list[str]:
    logs = ctx.client("logs")
    return _tagged([g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]],
                   lambda name: logs.list_tags_log_group(logGroupName=name).get("tags", {}), c)


def _log_policies(ctx: Ctx, c: StackConfig) -> list[str]:
    return [p["policyName"] for p in ctx.client("logs").describe_resource_policies()["resourcePolicies"]
            if p["policyName"] in (naming.name(c, "s3-events-policy"), naming.name(c, "waf-logs-policy"))]


def _keys(ctx: Ctx, c: StackConfig) -> list[str]:
    kms = ctx.client("kms")

    def tags(key: str) -> dict[str, str]:
        if kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingDeletion":
            return {}  # AWS deletes keys after a waiting period; scheduled is gone for us
        return tags_of(kms.list_resource_tags(KeyId=key).get("Tags"), "TagKey", "TagValue")

    return _tagged([k["KeyId"] for k in kms.list_keys()["Keys"]], tags, c)


def _aliases(ctx: Ctx, c: StackConfig) -> list[str]:
    return [a["AliasName"] for a in ctx.client("kms").list_aliases()["Aliases"]
            if a["AliasName"] in (f"alias/{naming.name(c, 'key')}", f"alias/{naming.name(c, 'backup-dr')}")]


def _secrets(ctx: Ctx, c: StackConfig) -> list[str]:
    return [s["Name"] for s in ctx.client("secretsmanager").list_secrets()["SecretList"]
            if _ours(tags_of(s.get("Tags")), c) and not s.get("DeletedDate")]


def _parameters(ctx: Ctx, c: StackConfig) -> Split:
    ssm = ctx.client("ssm")
    params = ssm.get_parameters_by_path(Path=naming.ssm_path(c), Recursive=True)["Parameters"]
    tags = {p["Name"]: _gone_is_none(lambda p=p: ssm.list_tags_for_resource(
        ResourceType="Parameter", ResourceId=p["Name"])["TagList"]) for p in params}
    return _split([(name, tags_of(t)) for name, t in tags.items() if t is not None], c)


def _load_balancers(ctx: Ctx, c: StackConfig) -> list[str]:
    elb = ctx.client("elbv2")
    arns = [lb["LoadBalancerArn"] for lb in elb.describe_load_balancers()["LoadBalancers"]]
    arns += [tg["TargetGroupArn"] for tg in elb.describe_target_groups()["TargetGroups"]]
    if not arns:
        return []
    found = []
    for i in range(0, len(arns), 20):
        batch = _gone_is_none(lambda i=i: elb.describe_tags(ResourceArns=arns[i:i + 20])["TagDescriptions"])
        if batch is None:  # one of them was deleted meanwhile: ask one by one
            batch = [d for arn in arns[i:i + 20]
                     for d in _gone_is_none(lambda arn=arn: elb.describe_tags(ResourceArns=[arn])["TagDescriptions"]) or []]
        found += [d["ResourceArn"].split(":")[-1] for d in batch if _ours(tags_of(d["Tags"]), c)]
    return found


def _groups(ctx: Ctx, c: StackConfig) -> list[str]:
    return [g["AutoScalingGroupName"] for g in ctx.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
            if _ours(tags_of(g.get("Tags")), c)]


def _rules(ctx: Ctx, c: StackConfig) -> list[str]:
    return [r["Name"] for r in ctx.client("events").list_rules()["Rules"] if r["Name"] == naming.name(c, "s3-created")]


def _topics(ctx: Ctx, c: StackConfig) -> list[str]:
    sns = ctx.client("sns")
    return _tagged([t["TopicArn"] for t in sns.list_topics()["Topics"]],
                   lambda arn: tags_of(sns.list_tags_for_resource(ResourceArn=arn)["Tags"]), c)


def _alarms(ctx: Ctx, c: StackConfig) -> list[str]:
    cw = ctx.client("cloudwatch")
    arns = {a["AlarmArn"]: a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"]}
    return [arns[arn] for arn in _tagged(list(arns), lambda arn: tags_of(cw.list_tags_for_resource(
        ResourceARN=arn)["Tags"]), c)]


def _web_acls(ctx: Ctx, c: StackConfig) -> list[str]:
    waf = ctx.client("wafv2")
    acls = {a["ARN"]: a["Name"] for a in waf.list_web_acls(Scope="REGIONAL").get("WebACLs", [])}
    return [acls[arn] for arn in _tagged(list(acls), lambda arn: tags_of(waf.list_tags_for_resource(
        ResourceARN=arn)["TagInfoForResource"].get("TagList")), c)]


def _certificates(ctx: Ctx, c: StackConfig) -> list[str]:
    acm = ctx.client("acm")
    arns = [s["CertificateArn"] for s in acm.list_certificates().get("CertificateSummaryList", [])]
    return [arn.split("/")[-1] for arn in _tagged(arns, lambda arn: tags_of(acm.list_tags_for_certificate(
        CertificateArn=arn).get("Tags")), c)]


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


# What each kind's count waits for during a destroy: the stack's resources of these types. Its check runs
# as soon as they are deleted, beside the last deletes (a VPC's chain is long; the alarms go early). A kind
# not listed waits for every delete. Only a count of zero is final then: a kind found early is checked
# again once everything is deleted (a VPC takes its default network ACL and route table with it).
WAITS_FOR: dict[tuple[str, str], tuple[str, ...]] = {
    ("ec2", "instances"): ("aws:autoscaling/group:Group",),
    ("ec2", "vpcs"): ("aws:ec2/vpc:Vpc",),
    ("ec2", "subnets"): ("aws:ec2/subnet:Subnet",),
    ("ec2", "internet gateways"): ("aws:ec2/internetGateway:InternetGateway",),
    ("ec2", "NAT gateways"): ("aws:ec2/natGateway:NatGateway",),
    ("ec2", "elastic IPs"): ("aws:ec2/eip:Eip",),
    ("ec2", "route tables"): ("aws:ec2/routeTable:RouteTable", "aws:ec2/vpc:Vpc"),
    ("ec2", "network ACLs"): ("aws:ec2/networkAcl:NetworkAcl", "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl",
                              "aws:ec2/vpc:Vpc"),
    ("ec2", "security groups"): ("aws:ec2/securityGroup:SecurityGroup",),
    ("ec2", "flow logs"): ("aws:ec2/flowLog:FlowLog",),
    ("ec2", "VPC endpoints"): ("aws:ec2/vpcEndpoint:VpcEndpoint",),
    ("ec2", "launch templates"): ("aws:ec2/launchTemplate:LaunchTemplate",),
    ("iam", "roles"): ("aws:iam/role:Role",),
    ("iam", "instance profiles"): ("aws:iam/instanceProfile:InstanceProfile",),
    ("s3", "buckets"): ("aws:s3/bucket:Bucket",),
    ("logs", "log groups"): ("aws:cloudwatch/logGroup:LogGroup",),
    ("logs", "resource policies"): ("aws:cloudwatch/logResourcePolicy:LogResourcePolicy",),
    ("kms", "keys"): ("aws:kms/key:Key",),
    ("kms", "aliases"): ("aws:kms/alias:Alias",),
    ("secretsmanager", "secrets"): ("aws:secretsmanager/secret:Secret",),
    ("ssm", "parameters"): ("aws:ssm/parameter:Parameter",),
    ("elbv2", "load balancers and target groups"): ("aws:lb/loadBalancer:LoadBalancer", "aws:lb/targetGroup:TargetGroup"),
    ("autoscaling", "groups"): ("aws:autoscaling/group:Group",),
    ("events", "rules"): ("aws:cloudwatch/eventRule:EventRule",),
    ("sns", "topics"): ("aws:sns/topic:Topic",),
    ("cloudwatch", "alarms"): ("aws:cloudwatch/metricAlarm:MetricAlarm",),
    ("wafv2", "web ACLs"): ("aws:wafv2/webAcl:WebAcl",),
    ("acm", "certificates"): ("aws:acm/certificate:Certificate",),
}


def waits(entries: list[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    """Each check -> the URNs among ``entries`` (what a destroy deletes) it must wait for."""
    every = {e["urn"] for e in entries}
    return {key: ({e["urn"] for e in entries if e["type"] in WAITS_FOR[key]} if key in WAITS_FOR else every)
            for key in LISTERS}


# Services whose listing covers every region (IAM is global; ListBuckets lists the buckets of all regions).
GLOBAL_SERVICES = ("iam", "s3")


def check(ctx: Ctx, config: StackConfig, key: tuple[str, str]) -> Split:
    """One kind's check: the stack's resources of it that remain (and same-named ones of other stacks).

    With ``dr_region`` a regional kind is listed there too (its names prefixed with that region).
    """
    found = _split_of(LISTERS[key](ctx, config))
    if config.dr_enabled and key[0] not in GLOBAL_SERVICES:
        dr = _split_of(LISTERS[key](ctx.at(config.dr_region), config))
        found = Split(found.ours + [f"{config.dr_region}:{n}" for n in dr.ours],
                      found.not_ours + [f"{config.dr_region}:{n}" for n in dr.not_ours])
    return found


def _split_of(found: list[str] | Split) -> Split:
    return found if isinstance(found, Split) else Split(found, [])


def frame(found: dict[tuple[str, str], Split]) -> pd.DataFrame:
    """The sweep table: one row per (service, kind), in ``LISTERS`` order."""
    return pd.DataFrame([{"service": service, "kind": kind, "remaining": len(found[(service, kind)].ours),
                          "names": ", ".join(found[(service, kind)].ours),
                          "not_ours": ", ".join(found[(service, kind)].not_ours)} for service, kind in LISTERS])


def checks(ctx: Ctx, config: StackConfig, keys: list[tuple[str, str]], parallel: int = 8) -> dict[tuple[str, str], Split]:
    """Run the checks ``keys`` concurrently (independent reads; boto3 clients are thread-safe)."""
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="hainfra-sweep") as pool:
        return dict(zip(keys, pool.map(lambda key: check(ctx, config, key), keys), strict=True))


def sweep(ctx: Ctx, config: StackConfig, parallel: int = 8) -> pd.DataFrame:
    """One row per (service, kind): how many of the stack's resources remain, and which; ``not_ours``
    names same-named resources another stack's tags claim (reported, never deleted)."""
    return frame(checks(ctx, config, list(LISTERS), parallel))
