"""Prowler's CSV as rows: keep the stack's resources, explain each known FAIL (pure; no AWS, no Prowler)."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from hainfra.config import StackConfig

MIN_IDENTIFIER = 8  # shorter output values ("dev", a region) would match unrelated resources


@dataclass(frozen=True)
class Artefact:
    """Why a FAIL says nothing about the stack: the emulator's doing, or a known Prowler false positive."""

    reason: str
    emulated_only: bool = True  # False: Prowler reports it on AWS too (its false positive, not ours)

    def applies(self, emulated: bool) -> bool:
        return emulated or not self.emulated_only


# Each entry is justified; the sandbox tests fail when one no longer matches a FAIL (stale) or a FAIL has none.
ARTEFACTS: dict[str, Artefact] = {
    "ec2_instance_imdsv2_enabled": Artefact(
        "emulator: moto's Auto Scaling launches instances without the launch template's metadata options; "
        "verify's compute.launch-template proves IMDSv2 required, hop limit 1 on the template"),
    "ec2_ebs_volume_encryption": Artefact(
        "emulator: moto adds an unencrypted /dev/sda1 root volume to every instance whatever the launch "
        "template's block device mapping says (encrypted, checked by verify and the gate)"),
    "ec2_securitygroup_not_used": Artefact(
        "emulator: moto's Auto Scaling launches instances without the launch template's network interface and its "
        "interface endpoints make no network interfaces, so the app and endpoint security groups look unused"),
    "ec2_instance_managed_by_ssm": Artefact(
        "emulator: moto has no ssm:DescribeInstanceInformation, so no instance is ever seen as managed"),
    "secretsmanager_secret_unused": Artefact(
        "emulator: a secret created seconds ago has no LastAccessedDate yet, which Prowler reads as unused"),
    "ec2_instance_detailed_monitoring_enabled": Artefact(
        "emulator: moto's Auto Scaling launches instances without the launch template's Monitoring setting; "
        "verify's compute.instance-options proves detailed monitoring on the prod template"),
    "iam_role_cross_service_confused_deputy_prevention": Artefact(
        "prowler false positive: it asks for aws:SourceAccount/SourceArn on the ec2.amazonaws.com trust, which "
        "EC2 never sends (AWS documents those keys for service-to-service calls, not instance roles)",
        emulated_only=False),
}

# FAILs that are real but cannot be automated, each with what AWS requires instead (documented, never hidden).
ACCEPTED: dict[str, str] = {
    "s3_bucket_no_mfa_delete": "accepted: AWS lets only the root user, with its MFA device, enable MFA Delete "
                               "(no IAM role or automation can); enable it by hand on the prod backup bucket, or "
                               "rely on versioning + Object Lock (issue 19)",
    "ec2_ebs_volume_protected_by_backup_plan": "accepted: by design the instances are stateless and replaced by "
                                               "Auto Scaling; the stack's data lives in the versioned, "
                                               "lifecycle-managed backup bucket, not on instance volumes",
    "ec2_ebs_volume_snapshots_exists": "accepted: by design the instances are stateless and replaced by Auto "
                                       "Scaling; snapshots of their volumes would back up nothing worth keeping",
    # The log bucket (issue 16) takes ALB access logs, whose delivery AWS constrains:
    "s3_bucket_cross_account_access": "accepted: ALB access logs are written by the region's Elastic Load Balancing "
                                      "account, which AWS requires the log bucket's policy to allow",
    "s3_bucket_kms_encryption": "accepted: ALB access logs can be delivered only to a bucket encrypted with "
                                "SSE-S3 (AWS does not support SSE-KMS there); the backup bucket uses the stack key",
    "s3_bucket_server_access_logging_enabled": "accepted: the log bucket is the access-log target itself; logging "
                                               "it would need yet another bucket (the backup bucket logs to it)",
    "s3_bucket_object_lock": "accepted: the log bucket is the backup bucket's server access log destination, which "
                             "AWS requires to have no Object Lock default retention; the backup bucket is locked "
                             "(GOVERNANCE, backup_lock_days)",
    "s3_bucket_event_notifications_enabled": "accepted: the log bucket's objects are logs nobody reacts to; the "
                                             "backup bucket sends its events (verify's dataflow check)",
    # Issue 19's dr_region:
    "s3_bucket_cross_region_replication": "accepted: DR replication is opt-in: set dr_region (the backup bucket is "
                                          "then replicated to a locked, KMS-encrypted bucket there); the log buckets "
                                          "and the replica itself are never replicated: access logs stay in their "
                                          "region",
    # Issue 19's edge work:
    "vpc_endpoint_connections_trust_boundaries": "accepted: on the S3 gateway endpoint only — dnf reads the Amazon "
                                                 "Linux repository bucket with unsigned requests (no principal to "
                                                 "pin), so one statement allows s3:GetObject on that AWS-owned bucket "
                                                 "alone; every other statement and endpoint admits only the account's "
                                                 "principals (verify's hardening.endpoint-policies)",
    "autoscaling_group_multiple_instance_types": "accepted: Prowler counts the types of the running instances per AZ; "
                                                 "instance_types gives the group a mixed-instances policy (so a type "
                                                 "short of capacity no longer stops a launch), but on-demand "
                                                 "allocation runs the preferred type while it has capacity, so each "
                                                 "AZ runs one type unless capacity forces another",
}

# FAILs that are real and fixed by an open issue (shown with the issue, never hidden).
OPEN_WORK: dict[str, str] = {}


def read_csv(path: Path) -> pd.DataFrame:
    """Prowler's ``;``-separated CSV (one row per check and resource), every column as text."""
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    return pd.DataFrame(rows).fillna("") if rows else pd.DataFrame(columns=["CHECK_ID", "STATUS", "RESOURCE_UID"])


def parse_tags(text: str) -> dict[str, str]:
    """Prowler's unrolled tags ``Key=Value | Key2=Value2`` as a dict."""
    pairs = (item.strip().partition("=") for item in str(text or "").split(" | ") if "=" in item)
    return {k.strip(): v.strip() for k, _, v in pairs}


def stack_identifiers(outputs: dict[str, Any]) -> set[str]:
    """Ids, ARNs and names the stack exports (long enough not to match unrelated resources)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str) and len(value) >= MIN_IDENTIFIER:
            found.add(value)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)

    for key, value in outputs.items():
        if key not in ("stack", "region", "availability_zones"):
            walk(value)
    return found


def _ours(row: pd.Series, config: StackConfig, identifiers: Iterable[str]) -> bool:
    tags = parse_tags(row.get("RESOURCE_TAGS", ""))
    if tags.get("Stack") == config.stack and tags.get("Project") == config.project:
        return True
    uid, name = str(row.get("RESOURCE_UID", "")), str(row.get("RESOURCE_NAME", ""))
    return any(i == name or i == uid or i in uid.replace(":", "/").split("/") for i in identifiers)


def stack_only(df: pd.DataFrame, config: StackConfig, identifiers: set[str]) -> pd.DataFrame:
    """The findings on the stack's own resources: tagged with its Stack and Project, or named by its outputs."""
    if df.empty:
        return df
    return df[df.apply(lambda row: _ours(row, config, identifiers), axis=1)]


def explain(check: str, status: str, emulated: bool) -> str:
    """The reason a FAIL is known (artefact, accepted limit of AWS, open work), or ``""``."""
    if status != "FAIL":
        return ""
    artefact = ARTEFACTS.get(check)
    if artefact and artefact.applies(emulated):
        return artefact.reason
    return ACCEPTED.get(check) or OPEN_WORK.get(check, "")


def reason_kind(reason: str) -> str:
    """``emulator``, ``prowler false positive``, ``accepted``, ``open`` (the reason's prefix), or ``""``."""
    return reason.split(":", 1)[0] if reason else ""


def annotate(df: pd.DataFrame, emulated: bool) -> pd.DataFrame:
    """hainfra's columns: check, status, severity, service, resource, explained, reason, message, compliance."""
    rows = [{"check": r.get("CHECK_ID", ""), "status": r.get("STATUS", ""), "severity": r.get("SEVERITY", ""),
             "service": r.get("SERVICE_NAME", ""), "resource": r.get("RESOURCE_UID") or r.get("RESOURCE_NAME", ""),
             "reason": explain(r.get("CHECK_ID", ""), r.get("STATUS", ""), emulated),
             "message": r.get("STATUS_EXTENDED", ""), "compliance": r.get("COMPLIANCE", "")}
            for r in df.to_dict("records")]
    out = pd.DataFrame(rows, columns=["check", "status", "severity", "service", "resource", "reason", "message",
                                      "compliance"])
    out["explained"] = out["reason"] != ""
    order = {"FAIL": 0, "MANUAL": 1, "PASS": 2}
    return out.sort_values(["status", "check"], key=lambda s: s.map(order).fillna(3) if s.name == "status" else s)
