"""CloudWatch Logs, EventBridge, CloudWatch alarms and SNS handlers."""

from __future__ import annotations

from typing import Any

from hainfra.aws import Ctx, tags_of
from hainfra.engines.sandbox.handlers import (
    Created,
    Found,
    Handler,
    Props,
    ignore,
    ints,
    lookup,
    register,
    replaces_on,
    tag_diff,
    tag_list,
    tagger,
)


def logs(ctx: Ctx) -> Any:
    return ctx.client("logs")


# --- log groups ----------------------------------------------------------------------------------
def create_log_group(ctx: Ctx, p: Props) -> Created:
    args: dict[str, Any] = {"logGroupName": p["name"], "tags": p.get("tags") or {}}
    if p.get("kmsKeyId"):
        args["kmsKeyId"] = p["kmsKeyId"]
    logs(ctx).create_log_group(**args)
    if p.get("retentionInDays"):
        logs(ctx).put_retention_policy(logGroupName=p["name"], retentionInDays=ints(p["retentionInDays"]))
    return p["name"], {"arn": f"arn:aws:logs:{ctx.region}:{ctx.account_id}:log-group:{p['name']}"}


def update_log_group(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    if new.get("retentionInDays"):
        logs(ctx).put_retention_policy(logGroupName=rid, retentionInDays=ints(new["retentionInDays"]))
    else:
        logs(ctx).delete_retention_policy(logGroupName=rid)
    if new.get("kmsKeyId") != old.get("kmsKeyId"):
        if new.get("kmsKeyId"):
            logs(ctx).associate_kms_key(logGroupName=rid, kmsKeyId=new["kmsKeyId"])
        else:
            logs(ctx).disassociate_kms_key(logGroupName=rid)
    return {}


def tag_log_group(ctx: Ctx, rid: str, p: Props, old: dict[str, str], new: dict[str, str]) -> None:
    arn = f"arn:aws:logs:{ctx.region}:{ctx.account_id}:log-group:{rid}"
    put, remove = tag_diff(old, new)
    if put:
        logs(ctx).tag_resource(resourceArn=arn, tags=put)
    if remove:
        logs(ctx).untag_resource(resourceArn=arn, tagKeys=remove)


@ignore("ResourceNotFoundException")
def delete_log_group(ctx: Ctx, rid: str, p: Props) -> None:
    logs(ctx).delete_log_group(logGroupName=rid)


@lookup("name")
def find_log_group(ctx: Ctx, p: Props) -> Found | None:
    groups = logs(ctx).describe_log_groups(logGroupNamePrefix=p["name"])["logGroups"]
    if not any(g["logGroupName"] == p["name"] for g in groups):
        return None
    return Found(p["name"], logs(ctx).list_tags_log_group(logGroupName=p["name"]).get("tags", {}))


register("aws:cloudwatch/logGroup:LogGroup", Handler(
    create_log_group, delete_log_group, update_log_group, frozenset({"retentionInDays", "kmsKeyId"}), tag_log_group,
    lookup=find_log_group, named=True))


def create_log_policy(ctx: Ctx, p: Props) -> Created:
    logs(ctx).put_resource_policy(policyName=p["policyName"], policyDocument=p["policyDocument"])
    return p["policyName"], {}


def update_log_policy(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    create_log_policy(ctx, new)
    return {}


@ignore("ResourceNotFoundException")
def delete_log_policy(ctx: Ctx, rid: str, p: Props) -> None:
    logs(ctx).delete_resource_policy(policyName=rid)


@lookup("policyName")
def find_log_policy(ctx: Ctx, p: Props) -> Found | None:
    """Untaggable: its name carries the stack."""
    names = {r["policyName"] for r in logs(ctx).describe_resource_policies()["resourcePolicies"]}
    return Found(p["policyName"], None) if p["policyName"] in names else None


register("aws:cloudwatch/logResourcePolicy:LogResourcePolicy", Handler(
    create_log_policy, delete_log_policy, update_log_policy, frozenset({"policyDocument"}),
    lookup=find_log_policy, named=True))


# --- EventBridge -------------------------------------------------------------------------------------
def events(ctx: Ctx) -> Any:
    return ctx.client("events")


def create_rule(ctx: Ctx, p: Props) -> Created:
    args = {"Name": p["name"], "EventPattern": p["eventPattern"], "Description": p.get("description", ""),
            "State": "ENABLED"}
    arn = events(ctx).put_rule(**args, Tags=tag_list(p.get("tags") or {}))["RuleArn"]
    return p["name"], {"arn": arn}


def update_rule(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    events(ctx).put_rule(Name=rid, EventPattern=new["eventPattern"], Description=new.get("description", ""),
                         State="ENABLED")
    return {}




@ignore("ResourceNotFoundException")
def delete_rule(ctx: Ctx, rid: str, p: Props) -> None:
    events(ctx).delete_rule(Name=rid)


def _rule_tags(ctx: Ctx, rule: str) -> dict[str, str]:
    arn = events(ctx).describe_rule(Name=rule)["Arn"]
    return tags_of(events(ctx).list_tags_for_resource(ResourceARN=arn)["Tags"])


@lookup("name")
def find_rule(ctx: Ctx, p: Props) -> Found | None:
    return Found(p["name"], _rule_tags(ctx, p["name"]))


register("aws:cloudwatch/eventRule:EventRule", Handler(
    create_rule, delete_rule, update_rule, frozenset({"eventPattern", "description"}),
    tagger("events", "tag_resource", "untag_resource", "ResourceARN", arn=True), lookup=find_rule, named=True))


def create_target(ctx: Ctx, p: Props) -> Created:
    resp = events(ctx).put_targets(Rule=p["rule"], Targets=[{"Id": p["targetId"], "Arn": p["arn"]}])
    if resp.get("FailedEntryCount"):
        raise RuntimeError(resp["FailedEntries"][0].get("ErrorMessage", "put_targets failed"))
    return f"{p['rule']}-{p['targetId']}", {}


def update_target(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    create_target(ctx, new)
    return {}


@ignore("ResourceNotFoundException")
def delete_target(ctx: Ctx, rid: str, p: Props) -> None:
    events(ctx).remove_targets(Rule=p["rule"], Ids=[p["targetId"]])


@lookup("rule", "targetId")
def find_target(ctx: Ctx, p: Props) -> Found | None:
    """A target has no tags: its rule's say who owns it."""
    targets = events(ctx).list_targets_by_rule(Rule=p["rule"])["Targets"]
    if not any(t["Id"] == p["targetId"] for t in targets):
        return None
    return Found(f"{p['rule']}-{p['targetId']}", _rule_tags(ctx, p["rule"]))


register("aws:cloudwatch/eventTarget:EventTarget", Handler(create_target, delete_target, update_target,
                                                           frozenset({"arn"}), lookup=find_target, named=True))


# --- alarms ------------------------------------------------------------------------------------------
_ALARM_KEYS = {"namespace": "Namespace", "metricName": "MetricName", "statistic": "Statistic",
               "comparisonOperator": "ComparisonOperator", "threshold": "Threshold", "period": "Period",
               "evaluationPeriods": "EvaluationPeriods", "treatMissingData": "TreatMissingData",
               "alarmActions": "AlarmActions", "okActions": "OKActions", "alarmDescription": "AlarmDescription"}


def _put_alarm(ctx: Ctx, p: Props, tags: bool) -> str:
    args: dict[str, Any] = {api: p[key] for key, api in _ALARM_KEYS.items() if key in p}
    for key in ("period", "evaluationPeriods"):
        if key in p:
            args[_ALARM_KEYS[key]] = ints(p[key])
    args["Dimensions"] = [{"Name": k, "Value": v} for k, v in sorted((p.get("dimensions") or {}).items())]
    extra = {"Tags": tag_list(p.get("tags") or {})} if tags else {}
    ctx.client("cloudwatch").put_metric_alarm(AlarmName=p["name"], **args, **extra)
    return ctx.client("cloudwatch").describe_alarms(AlarmNames=[p["name"]])["MetricAlarms"][0]["AlarmArn"]


def create_alarm(ctx: Ctx, p: Props) -> Created:
    return p["name"], {"arn": _put_alarm(ctx, p, tags=True)}


def update_alarm(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    return {"arn": _put_alarm(ctx, new, tags=False)}


def delete_alarm(ctx: Ctx, rid: str, p: Props) -> None:
    ctx.client("cloudwatch").delete_alarms(AlarmNames=[rid])


@lookup("name")
def find_alarm(ctx: Ctx, p: Props) -> Found | None:
    alarms = ctx.client("cloudwatch").describe_alarms(AlarmNames=[p["name"]])["MetricAlarms"]
    if not alarms:
        return None
    tags = ctx.client("cloudwatch").list_tags_for_resource(ResourceARN=alarms[0]["AlarmArn"])["Tags"]
    return Found(p["name"], tags_of(tags))


register("aws:cloudwatch/metricAlarm:MetricAlarm", Handler(
    create_alarm, delete_alarm, update_alarm, frozenset(set(_ALARM_KEYS) | {"dimensions"}),
    tagger("cloudwatch", "tag_resource", "untag_resource", "ResourceARN", arn=True), lookup=find_alarm, named=True))


# --- SNS ---------------------------------------------------------------------------------------------
def create_topic(ctx: Ctx, p: Props) -> Created:
    attributes = {"KmsMasterKeyId": p["kmsMasterKeyId"]} if p.get("kmsMasterKeyId") else {}
    arn = ctx.client("sns").create_topic(Name=p["name"], Attributes=attributes,
                                         Tags=tag_list(p.get("tags") or {}))["TopicArn"]
    return arn, {"arn": arn}


def update_topic(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    ctx.client("sns").set_topic_attributes(TopicArn=rid, AttributeName="KmsMasterKeyId",
                                           AttributeValue=new.get("kmsMasterKeyId", ""))
    return {}


@ignore("NotFound")
def delete_topic(ctx: Ctx, rid: str, p: Props) -> None:
    ctx.client("sns").delete_topic(TopicArn=rid)


def _topic_tags(ctx: Ctx, arn: str) -> dict[str, str]:
    ctx.client("sns").get_topic_attributes(TopicArn=arn)  # NotFound when there is no such topic
    return tags_of(ctx.client("sns").list_tags_for_resource(ResourceArn=arn)["Tags"])


@lookup("name")
def find_topic(ctx: Ctx, p: Props) -> Found | None:
    """CreateTopic returns an existing topic of that name: checked here, never adopted."""
    arn = f"arn:aws:sns:{ctx.region}:{ctx.account_id}:{p['name']}"
    return Found(arn, _topic_tags(ctx, arn))


register("aws:sns/topic:Topic", Handler(create_topic, delete_topic, update_topic, frozenset({"kmsMasterKeyId"}),
                                        tagger("sns", "tag_resource", "untag_resource", "ResourceArn", arn=True),
                                        lookup=find_topic, named=True))


def create_subscription(ctx: Ctx, p: Props) -> Created:
    arn = ctx.client("sns").subscribe(TopicArn=p["topic"], Protocol=p["protocol"], Endpoint=p["endpoint"],
                                      ReturnSubscriptionArn=True)["SubscriptionArn"]
    return arn, {"arn": arn}


@ignore("NotFound", "InvalidParameter")
def delete_subscription(ctx: Ctx, rid: str, p: Props) -> None:
    ctx.client("sns").unsubscribe(SubscriptionArn=rid)


@lookup("topic", "endpoint")
def find_subscription(ctx: Ctx, p: Props) -> Found | None:
    for sub in ctx.client("sns").list_subscriptions_by_topic(TopicArn=p["topic"])["Subscriptions"]:
        if sub["Protocol"] == p["protocol"] and sub["Endpoint"] == p["endpoint"]:
            return Found(sub["SubscriptionArn"], _topic_tags(ctx, p["topic"]))
    return None


register("aws:sns/topicSubscription:TopicSubscription", Handler(create_subscription, delete_subscription,
                                                                lookup=find_subscription, named=True))


# --- replace-forcing inputs (ForceNew in terraform-provider-aws, bridged by pulumi-aws) ----------------

replaces_on("aws:cloudwatch/logGroup:LogGroup", "name", "namePrefix", "logGroupClass", unique=("name",))
replaces_on("aws:cloudwatch/logResourcePolicy:LogResourcePolicy", "policyName", unique=("policyName",))
replaces_on("aws:cloudwatch/eventRule:EventRule", "name", "namePrefix", "eventBusName", unique=("name",))
replaces_on("aws:cloudwatch/eventTarget:EventTarget", "rule", "targetId", "eventBusName", unique=("rule", "targetId"))
replaces_on("aws:cloudwatch/metricAlarm:MetricAlarm", "name", unique=("name",))
replaces_on("aws:sns/topic:Topic", "name", "namePrefix", "fifoTopic", unique=("name",))
replaces_on("aws:sns/topicSubscription:TopicSubscription", "topic", "protocol", "endpoint",
            unique=("topic", "protocol", "endpoint"))
