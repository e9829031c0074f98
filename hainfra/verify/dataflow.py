"""End-to-end data flow S3 -> EventBridge -> CloudWatch Logs (the instance flow is in ``verify.flow``)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

from botocore.exceptions import ClientError

from hainfra.aws import empty_prefix
from hainfra.verify.base import Row, VerifyContext, check, check_row

PROBE_PREFIX = "hainfra-probe/"


def event_for_key(v: VerifyContext, key: str, since_ms: int) -> bool:
    """Poll the S3-events log group (bounded by wait_seconds) for an Object Created event of ``key``."""
    logs = v.client("logs")
    deadline = time.monotonic() + v.wait_seconds
    while True:
        events = logs.filter_log_events(logGroupName=v.outputs["s3_events_log_group"], startTime=since_ms,
                                        filterPattern=f'"{key}"').get("events", [])
        for event in events:
            try:
                body = json.loads(event["message"])
            except ValueError:
                continue
            if body.get("detail-type") == "Object Created" and body.get("detail", {}).get("object", {}).get("key") == key:
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5 if v.emulated else 3)


def broken_hop(v: VerifyContext) -> str:
    """Name the first hop of S3 -> EventBridge -> Logs that is misconfigured."""
    o = v.outputs
    try:
        conf = v.client("s3").get_bucket_notification_configuration(Bucket=o["bucket_name"])
    except ClientError as exc:
        return f"bucket notifications unreadable: {exc.response['Error']['Code']}"
    if "EventBridgeConfiguration" not in conf:
        return "bucket notifications off: EventBridge delivery is disabled on the bucket"
    events = v.client("events")
    try:
        rule = events.describe_rule(Name=o["event_rule_name"])
    except ClientError:
        return f"rule {o['event_rule_name']} missing"
    if rule.get("State") != "ENABLED":
        return f"rule {o['event_rule_name']} is {rule.get('State')}"
    pattern = json.loads(rule.get("EventPattern") or "{}")
    if o["bucket_name"] not in json.dumps(pattern.get("detail", {})) or "Object Created" not in pattern.get("detail-type", []):
        return f"rule {o['event_rule_name']} does not match Object Created events of {o['bucket_name']}"
    group_arn = f"arn:aws:logs:{v.config.region}:{v.aws.account_id}:log-group:{o['s3_events_log_group']}"
    targets = [t["Arn"].rstrip(":*") for t in events.list_targets_by_rule(Rule=o["event_rule_name"])["Targets"]]
    if group_arn not in targets:
        return f"rule target missing: expected {group_arn}, found {targets or 'none'}"
    policies = v.client("logs").describe_resource_policies()["resourcePolicies"]
    if not any("events.amazonaws.com" in p["policyDocument"] and o["s3_events_log_group"] in p["policyDocument"]
               for p in policies):
        return "log group resource policy does not let events.amazonaws.com write to the group"
    return "every hop is configured; the event did not arrive in time (raise wait_seconds)"


@check("dataflow.s3-to-cloudwatch")
def s3_to_cloudwatch(v: VerifyContext) -> Iterator[Row]:
    o = v.outputs
    key = f"{PROBE_PREFIX}{uuid.uuid4().hex}.txt"
    since = int(time.time() * 1000) - 5000
    s3 = v.client("s3")
    try:
        s3.put_object(Bucket=o["bucket_name"], Key=key, Body=f"hainfra verify probe {key}".encode())
        arrived = event_for_key(v, key, since)
    finally:
        removed = empty_prefix(v.aws, o["bucket_name"], key, bypass_governance=v.config.lock_days > 0)
    found = f"event for {key} in {o['s3_events_log_group']}" if arrived else broken_hop(v)
    yield check_row(f"{o['bucket_name']} -> {o['s3_events_log_group']}", arrived,
                    f"Object Created event for the probe within {v.wait_seconds:.0f}s", found,
                    "fix the hop named in 'found'")
    yield check_row(f"probe {key}", removed >= 1, "probe and all its versions deleted", f"{removed} version(s) deleted",
                    "delete the probe's versions by hand")
