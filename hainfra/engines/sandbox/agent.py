"""The sandbox instance agent (emulation): runs SSM Run Command ``AWS-RunShellScript`` documents.

moto records SendCommand and reports every invocation ``Success`` without running anything, so the
seed's flow (instance -> SSM parameter -> S3 -> CloudWatch) could not be proven offline. This agent
lives in the emulator process and does what the SSM agent on an instance does: for each targeted
instance (and only those) it takes the instance's role from its instance profile (the launch template's,
as EC2 would), assumes it through STS against the emulator, runs the script with those temporary
credentials in a temporary folder under a timeout, and reports status and output back into moto's
command invocation, where GetCommandInvocation and ListCommands read them (moto has no ListCommandInvocations).

Honest limits — this is emulation, never evidence about AWS itself:
- the script runs on the emulator's host as the emulator's user (not in an instance, no isolation
  beyond the temporary folder and a process group killed on timeout);
- moto authorises nothing by IAM policy: the role's credentials prove which identity the script used,
  not that the role's policy allowed each call (verify reads the policy documents for that);
- only ``commands`` and ``executionTimeout`` of the document are honoured (``workingDirectory`` is
  always a fresh temporary folder).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from hainfra.aws import Ctx

log = logging.getLogger(__name__)

DOCUMENT = "AWS-RunShellScript"
DEFAULT_TIMEOUT = 3600  # AWS-RunShellScript's executionTimeout default (seconds)
OUTPUT_LIMIT = 24_000  # GetCommandInvocation returns the first 24,000 characters of each stream
ASG_TAG = "aws:autoscaling:groupName"


@dataclass(frozen=True)
class Endpoint:
    """Where the agent's scripts reach the emulator: its URL and the CA bundle that verifies its TLS."""

    url: str
    ca_bundle: str
    region: str = "us-east-1"


@dataclass(frozen=True)
class Result:
    status: str  # Success | Failed | TimedOut
    details: str
    code: int
    stdout: str = ""
    stderr: str = ""


class Undeliverable(Exception):
    """The command cannot reach the instance (unknown, stopped or terminated)."""


def install(endpoint: Endpoint) -> None:
    """Make moto's SendCommand hand every invocation to the agent (called once at emulator start)."""
    from moto.ssm.models import SimpleSystemManagerBackend

    send_command = SimpleSystemManagerBackend.send_command

    def send_and_run(self: Any, *args: Any, **kwargs: Any) -> Any:
        requested = list(kwargs.get("instance_ids") or [])  # moto extends the caller's list in place
        command = send_command(self, *args, **kwargs)
        if not kwargs.get("targets"):
            only_targeted(command, requested)
        dispatch(Endpoint(endpoint.url, endpoint.ca_bundle, self.region_name), command)
        return command

    SimpleSystemManagerBackend.send_command = send_and_run


def only_targeted(command: Any, instance_ids: list[str]) -> None:
    """Keep the invocations of the instances the caller named.

    moto resolves an empty ``Targets`` list as "no filter" and adds every instance of the region to a
    command sent with ``InstanceIds`` only; on AWS only the named instances receive it.
    """
    wanted = list(dict.fromkeys(instance_ids))
    command.instance_ids = wanted
    command.invocations = [i for i in command.invocations if i["InstanceId"] in wanted]
    command.target_count = len(wanted)


def dispatch(endpoint: Endpoint, command: Any) -> None:
    """Mark the command and its invocations in progress and run each on its own thread."""
    command.status, command.status_details, command.completed_count = "InProgress", "InProgress", 0
    lock = threading.Lock()
    for invocation in command.invocations:
        invocation.update(Status="InProgress", StatusDetails="InProgress", ResponseCode=-1,
                          ExecutionEndDateTime="", ExecutionElapsedTime="")
        threading.Thread(target=_run_invocation, args=(endpoint, command, invocation, lock), daemon=True,
                         name=f"agent-{invocation['InstanceId']}").start()


def _run_invocation(endpoint: Endpoint, command: Any, invocation: dict[str, Any], lock: threading.Lock) -> None:
    started = dt.datetime.now(dt.timezone.utc)
    try:
        result = execute(endpoint, command.document_name, command.parameters, invocation["InstanceId"])
    except Undeliverable as exc:
        result = Result("Failed", "Undeliverable", -1, "", str(exc))
    except Exception as exc:  # noqa: BLE001 - the agent reports, it never dies silently
        log.exception("agent failed on %s", invocation["InstanceId"])
        result = Result("Failed", "Failed", -1, "", f"sandbox agent error: {type(exc).__name__}: {exc}")
    ended = dt.datetime.now(dt.timezone.utc)
    with lock:
        invocation.update(Status=result.status, StatusDetails=result.details, ResponseCode=result.code,
                          StandardOutputContent=result.stdout[:OUTPUT_LIMIT],
                          StandardErrorContent=result.stderr[:OUTPUT_LIMIT],
                          ExecutionStartDateTime=started.isoformat(), ExecutionEndDateTime=ended.isoformat(),
                          ExecutionElapsedTime=f"PT{(ended - started).total_seconds():.3f}S")
        command.completed_count += 1
        command.error_count += result.status != "Success"
        if command.completed_count == len(command.invocations):
            statuses = {i["Status"] for i in command.invocations}
            command.status = "Success" if statuses == {"Success"} else "TimedOut" if "TimedOut" in statuses else "Failed"
            command.status_details = command.status


def execute(endpoint: Endpoint, document: str | None, parameters: dict[str, list[str]], instance_id: str) -> Result:
    """Run one document on one instance with the instance role's credentials."""
    if document != DOCUMENT:
        return Result("Failed", "Failed", -1, "", f"the sandbox agent runs only {DOCUMENT}, not {document}")
    ctx = Ctx(endpoint.url, endpoint.region)
    role = instance_role(ctx, instance_id)
    credentials = assume(ctx, role, instance_id) if role else {}
    timeout = int((parameters.get("executionTimeout") or [DEFAULT_TIMEOUT])[0])
    return run_script(endpoint, list(parameters.get("commands") or []), credentials, timeout)


def instance_role(ctx: Ctx, instance_id: str) -> str | None:
    """The role of the instance's profile: its own, else its Auto Scaling group's launch template's."""
    try:
        reservations = ctx.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"]
    except ClientError as exc:
        raise Undeliverable(f"instance {instance_id} does not exist ({exc.response['Error']['Code']})") from None
    instance = reservations[0]["Instances"][0]
    if instance["State"]["Name"] != "running":
        raise Undeliverable(f"instance {instance_id} is {instance['State']['Name']}, not running")
    profile = (instance.get("IamInstanceProfile") or {}).get("Arn") or _group_profile(ctx, instance)
    if not profile:
        return None
    roles = ctx.client("iam").get_instance_profile(InstanceProfileName=profile.split("/")[-1])["InstanceProfile"]["Roles"]
    return roles[0]["Arn"] if roles else None


def _group_profile(ctx: Ctx, instance: dict[str, Any]) -> str | None:
    group_name = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}.get(ASG_TAG)
    if not group_name:
        return None
    groups = ctx.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])
    group = (groups["AutoScalingGroups"] or [{}])[0]
    template = group.get("LaunchTemplate") or (group.get("MixedInstancesPolicy") or {}).get(
        "LaunchTemplate", {}).get("LaunchTemplateSpecification")
    if not template:
        return None
    versions = ctx.client("ec2").describe_launch_template_versions(
        LaunchTemplateId=template["LaunchTemplateId"], Versions=[template.get("Version") or "$Default"])
    data = versions["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    return (data.get("IamInstanceProfile") or {}).get("Arn")


def assume(ctx: Ctx, role_arn: str, instance_id: str) -> dict[str, str]:
    """Temporary credentials of the role, from STS on the emulator (as the instance metadata service gives)."""
    creds = ctx.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=instance_id)["Credentials"]
    return {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
            "AWS_SESSION_TOKEN": creds["SessionToken"]}


def script_path() -> str:
    """PATH for scripts: this interpreter's bin folder first (the awscli dependency), then the system's."""
    return os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])


def run_script(endpoint: Endpoint, commands: list[str], credentials: dict[str, str], timeout: int) -> Result:
    """Run ``commands`` with bash in a fresh temporary folder; on timeout kill the whole process group."""
    path = script_path()
    if not shutil.which("aws", path=path):
        return Result("Failed", "Failed", -1, "", f"the sandbox agent found no aws CLI on {path}: "
                      "install the awscli package (a hainfra dependency)")
    with tempfile.TemporaryDirectory(prefix="hainfra-agent-") as work:
        script = Path(work) / "_script.sh"
        script.write_text("\n".join(commands) + "\n")
        env = {"PATH": path, "HOME": work, "AWS_DEFAULT_REGION": endpoint.region, "AWS_ENDPOINT_URL": endpoint.url,
               "AWS_CA_BUNDLE": endpoint.ca_bundle, "AWS_EC2_METADATA_DISABLED": "true", **credentials}
        process = subprocess.Popen(["/bin/bash", str(script)], cwd=work, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
            return Result("TimedOut", "ExecutionTimedOut", -1, out, err + f"\nexecution timed out after {timeout}s")
    ok = process.returncode == 0
    return Result("Success" if ok else "Failed", "Success" if ok else "Failed", process.returncode, out, err)
