"""The seed's end-to-end flow, hop by hop: instance -> SSM parameter -> S3 (SSE-KMS, TLS) -> EventBridge
-> S3-events log group, plus an application-log event written by the instance.

One script is sent with SSM Run Command (``AWS-RunShellScript``) to one InService instance of the group.
It runs with the instance role's credentials: on AWS the SSM agent on the instance, in the sandbox the
emulator's instance agent (``hainfra.engines.sandbox.agent``, emulation). The script prints a marker
after each step, so the check can name the hop that broke; the rest is proven from outside (object
present and encrypted with the stack key, Object Created event delivered, app-log event present).
The same code and script run against AWS and the emulator.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from hainfra.aws import empty_prefix
from hainfra.verify.base import Row, VerifyContext, check, check_row, skip
from hainfra.verify.dataflow import PROBE_PREFIX, broken_hop, event_for_key

DOCUMENT = "AWS-RunShellScript"
EXECUTION_TIMEOUT = 120  # seconds the script may run on the instance
TERMINAL = {"Success", "Failed", "TimedOut", "Cancelled"}
FIX = {
    "command": "check the instance is InService and managed by SSM (agent running, role attached)",
    "parameter": "restore the stack's SSM parameter and the role's ssm:GetParameter grant (`hainfra up`)",
    "s3-put": "check the bucket policy and the role's s3:PutObject grant on the bucket",
    "sse-kms": "restore the bucket's default SSE-KMS encryption with the stack key (`hainfra up`)",
    "eventbridge": "fix the S3 -> EventBridge -> Logs hop named in 'found' (`hainfra up`)",
    "app-log": "restore the application log group and the role's logs:PutLogEvents grant (`hainfra up`)",
}
# hop -> the hop it needs (the script runs its steps in this order and stops at the first failure)
NEEDS = {"command": None, "parameter": "command", "s3-put": "parameter", "sse-kms": "s3-put",
         "eventbridge": "s3-put", "app-log": "s3-put"}


@dataclass(frozen=True)
class Probe:
    nonce: str
    key: str
    stream: str
    since_ms: int

    @classmethod
    def new(cls) -> Probe:
        nonce = uuid.uuid4().hex
        return cls(nonce, f"{PROBE_PREFIX}instance-{nonce}.txt", f"hainfra-probe-{nonce}",
                   int(time.time() * 1000) - 5000)


def script(v: VerifyContext, p: Probe) -> list[str]:
    """The commands the instance runs; ``HOP <name>`` markers name each step that succeeded."""
    region, group = v.config.region, v.outputs["app_log_group"]
    param = f"{v.outputs['ssm_path']}/config/backup-bucket"
    return [
        "set -eu",
        f"echo 'HOP command {p.nonce}'",
        f"bucket=$(aws ssm get-parameter --region {region} --name {param} --query Parameter.Value --output text)",
        "echo \"HOP parameter $bucket\"",
        f"echo 'hainfra flow probe {p.nonce}' | aws s3 cp - \"s3://$bucket/{p.key}\" --region {region}",
        f"echo 'HOP s3-put {p.key}'",
        f"aws logs create-log-stream --region {region} --log-group-name {group} --log-stream-name {p.stream}",
        f"aws logs put-log-events --region {region} --log-group-name {group} --log-stream-name {p.stream} "
        f"--log-events \"timestamp=$(($(date +%s)*1000)),message=hainfra-flow-{p.nonce}\" > /dev/null",
        f"echo 'HOP app-log {p.stream}'",
    ]


def in_service_instance(v: VerifyContext) -> str | None:
    group = v.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[v.outputs["asg_name"]])
    ids = sorted(i["InstanceId"] for g in group["AutoScalingGroups"] for i in g["Instances"]
                 if i["LifecycleState"] == "InService" and i["HealthStatus"] == "Healthy")
    return ids[0] if ids else None


def run_command(v: VerifyContext, instance: str, commands: list[str]) -> dict[str, Any]:
    """Send the script and wait (bounded) for the invocation to finish; returns the invocation."""
    ssm = v.client("ssm")
    command = ssm.send_command(InstanceIds=[instance], DocumentName=DOCUMENT, Comment="hainfra verify flow",
                               Parameters={"commands": commands, "executionTimeout": [str(EXECUTION_TIMEOUT)]},
                               TimeoutSeconds=max(30, int(v.wait_seconds)))["Command"]["CommandId"]
    deadline = time.monotonic() + EXECUTION_TIMEOUT + v.wait_seconds
    invocation: dict[str, Any] = {"Status": "Pending", "StatusDetails": "not delivered"}
    while time.monotonic() < deadline:
        try:
            invocation = ssm.get_command_invocation(CommandId=command, InstanceId=instance)
        except ClientError:  # InvocationDoesNotExist for a moment after SendCommand on AWS
            pass
        if invocation["Status"] in TERMINAL:
            break
        time.sleep(0.3 if v.emulated else 3)
    return invocation


def _poll(v: VerifyContext, probe: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + v.wait_seconds
    while not probe():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5 if v.emulated else 3)
    return True


def _marker(out: str, hop: str) -> bool:
    return any(line.startswith(f"HOP {hop} ") for line in out.splitlines())


def _script_hop(hop: str, inv: dict[str, Any]) -> tuple[bool, str]:
    out, err = inv.get("StandardOutputContent", ""), inv.get("StandardErrorContent", "")
    if _marker(out, hop):
        return True, f"step done (command {inv['Status']})"
    why = err.strip().splitlines()[-3:] or [inv.get("StatusDetails", "")]
    return False, f"command {inv['Status']} ({inv.get('StatusDetails')}): {' | '.join(why)[-400:]}"


def _object_encrypted(v: VerifyContext, p: Probe) -> tuple[bool, str]:
    try:
        head = v.client("s3").head_object(Bucket=v.outputs["bucket_name"], Key=p.key)
    except ClientError as exc:
        return False, f"object unreadable: {exc.response['Error']['Code']}"
    sse, key = head.get("ServerSideEncryption"), head.get("SSEKMSKeyId")
    return sse == "aws:kms" and v.is_stack_key(key), f"{sse or 'no encryption'} {key or ''}".strip()


def _event_delivered(v: VerifyContext, p: Probe) -> tuple[bool, str]:
    if event_for_key(v, p.key, p.since_ms):
        return True, f"Object Created event for {p.key} in {v.outputs['s3_events_log_group']}"
    return False, broken_hop(v)


def _app_log(v: VerifyContext, p: Probe, inv: dict[str, Any]) -> tuple[bool, str]:
    ok, found = _script_hop("app-log", inv)
    if not ok:
        return ok, found
    logs, group = v.client("logs"), v.outputs["app_log_group"]

    def present() -> bool:
        events = logs.filter_log_events(logGroupName=group, logStreamNames=[p.stream], startTime=p.since_ms,
                                        filterPattern=f'"hainfra-flow-{p.nonce}"').get("events", [])
        return bool(events)

    return (True, f"event in {group}/{p.stream}") if _poll(v, present) else (False, f"no event in {group}")


def hops(v: VerifyContext, p: Probe, inv: dict[str, Any]) -> Iterator[tuple[str, str, Callable[[], tuple[bool, str]]]]:
    o = v.outputs
    yield "command", f"the script runs on the instance ({DOCUMENT})", lambda: _script_hop("command", inv)
    yield "parameter", f"reads {o['ssm_path']}/config/backup-bucket", lambda: _script_hop("parameter", inv)
    yield "s3-put", f"writes {p.key} to {o['bucket_name']} over TLS", lambda: _script_hop("s3-put", inv)
    yield "sse-kms", "object encrypted SSE-KMS with the stack key", lambda: _object_encrypted(v, p)
    yield "eventbridge", f"Object Created event in {o['s3_events_log_group']} within {v.wait_seconds:.0f}s", \
        lambda: _event_delivered(v, p)
    yield "app-log", f"a log event in {o['app_log_group']}", lambda: _app_log(v, p, inv)


def _cleanup(v: VerifyContext, p: Probe) -> None:
    empty_prefix(v.aws, v.outputs["bucket_name"], p.key, bypass_governance=v.config.lock_days > 0)
    try:
        v.client("logs").delete_log_stream(logGroupName=v.outputs["app_log_group"], logStreamName=p.stream)
    except ClientError:
        pass  # never created (the flow broke earlier) or the group is gone


@check("dataflow.instance-to-s3")
def instance_flow(v: VerifyContext) -> Iterator[Row]:
    """Each hop of instance -> parameter -> S3 -> EventBridge -> Logs, and the app log, proven; the first
    failing row is the broken hop, later hops that depend on it are skipped as not reached."""
    instance = in_service_instance(v)
    if not instance:
        yield check_row(f"1 command -> {v.outputs['asg_name']}", False, "a healthy InService instance",
                        "none", FIX["command"])
        return
    probe = Probe.new()
    try:
        invocation = run_command(v, instance, script(v, probe))
        passed: set[str] = set()
        for n, (hop, expected, prove) in enumerate(hops(v, probe, invocation), start=1):
            resource = f"{n} {hop}" + (f" ({instance})" if hop == "command" else "")
            if NEEDS[hop] and NEEDS[hop] not in passed:
                yield skip(resource, expected, f"not reached: hop {NEEDS[hop]} failed")
                continue
            ok, found = prove()
            passed.update([hop] if ok else [])
            yield check_row(resource, ok, expected, found, FIX[hop])
    finally:
        _cleanup(v, probe)
