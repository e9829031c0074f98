"""Run checkov (optional; hainfra does not depend on it) on a program's Terraform plan export.

checkov is found at ``$HAINFRA_CHECKOV``, on ``PATH``, or in the virtualenv ``scripts/test.sh``
creates (``${XDG_CACHE_HOME:-~/.cache}/hainfra/checkov-venv``): it pins many packages, so it
never shares hainfra's environment. Its findings join the gate's DataFrame with
``source="checkov"``; a project ``.checkov.yaml`` is honoured, and hainfra's
:class:`~hainfra.policy.Suppression` (rule = check id, resource = logical name, a reason)
suppresses a checkov finding exactly as it suppresses a gate finding.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from hainfra.errors import ConfigError, ScannerError
from hainfra.home import find_tool, owned, tool_venv
from hainfra.policy.tfplan import Export

log = logging.getLogger(__name__)
ENV = "HAINFRA_CHECKOV"
PROJECT_CONFIGS = (".checkov.yaml", ".checkov.yml")
TIMEOUT_SECONDS = 600


# What checkov still reports on hainfra's prod stack that other open issues fix (shown, never hidden).
OPEN_WORK: dict[str, str] = {}
# The reason CKV_AWS_144 (cross-region replication) is suppressed on the backup bucket without dr_region.
DR_OPT_IN = "DR replication is opt-in: set dr_region (the gate's s3-replication finding says so in prod)"


def stack_suppressions(config: Any) -> list[Any]:
    """checkov findings on hainfra's own stack that are intended, each with its written reason."""
    from hainfra import naming
    from hainfra.documents import WILDCARD_ALLOWED
    from hainfra.policy import Suppression

    def n(kind: str) -> str:
        return naming.name(config, kind)

    return [
        Suppression("CKV_AWS_260", n("alb-sg"), "internet-facing ALB: HTTP/HTTPS from anywhere is the product "
                    "(the gate's world-ingress suppression); with a certificate (always in prod) port 80 only redirects to "
                    "HTTPS"),
        Suppression("CKV2_AWS_76", n("alb"), "Log4j is covered: the web ACL runs AWSManagedRulesKnownBadInputsRuleSet "
                    "(its Log4JRCE rules); checkov also demands AWSManagedRulesAnonymousIpList, whose "
                    "HostingProviderIPList rule blocks every client hosted in a cloud (API callers, monitors): a "
                    "product decision for the operator, not a default"),
        Suppression("CKV_AWS_382", n("app-sg"), "instances reach SSM, S3, CloudWatch Logs and OS mirrors through "
                    "their AZ's NAT; AWS service ranges change, so egress cannot be pinned to CIDRs; ingress is "
                    "the ALB's security group only"),
        Suppression("CKV_AWS_290", n("app-role"), f"statement SsmAgentCore: {WILDCARD_ALLOWED['SsmAgentCore']}; "
                    "every other statement names exact ARNs"),
        Suppression("CKV_AWS_355", n("app-role"), f"statement SsmAgentCore: {WILDCARD_ALLOWED['SsmAgentCore']}"),
        Suppression("CKV2_AWS_34", n("param-bucket"), "plain String parameter holding the backup bucket's name: "
                    "no secret; the secret lives in the SecureString parameter and Secrets Manager"),
        Suppression("CKV_AWS_145", n("logs"), "log bucket: ALB access logs and S3 server access logs can only be "
                    "delivered to a bucket encrypted with SSE-S3, not SSE-KMS (the gate's s3-sse-kms rule requires "
                    "AES256 on log targets)"),
        Suppression("CKV2_AWS_62", n("logs"), "log bucket: its objects are AWS log deliveries that nothing "
                    "consumes as events; the backup bucket, which holds application data, sends its events"),
        Suppression("CKV_AWS_116", n(naming.ROTATION_FUNCTION_KIND), "the rotation function is invoked synchronously "
                    "by Secrets Manager; a dead-letter queue catches only asynchronous invocations, and a failed step "
                    "leaves the rotation pending on the secret, retried by Secrets Manager"),
        Suppression("CKV_AWS_117", n(naming.ROTATION_FUNCTION_KIND), "the rotation function calls only the Secrets "
                    "Manager API over TLS with its role; in a VPC it would need a NAT or an interface endpoint and "
                    "ec2:CreateNetworkInterface on '*'. It has no network surface: no function URL, and only Secrets "
                    "Manager, for this secret and account, may invoke it (lambda-permission-scoped)"),
        Suppression("CKV_AWS_272", n(naming.ROTATION_FUNCTION_KIND), "hainfra deploys its own packaged code, zipped "
                    "deterministically; verify's secrets.rotation compares the deployed CodeSha256 with it. AWS Signer "
                    "code signing would sign the same bytes the deployer already controls"),
        *_storage_suppressions(config, n),
        *(Suppression("CKV2_AWS_1", n(f"nacl-{tier}"), "checkov reads only aws_network_acl.subnet_ids, not "
                      "aws_network_acl_association (checkov issue #1571); every subnet is associated, which "
                      "the gate's subnet-nacl rule checks") for tier in ("public", "private")),
    ]


def _storage_suppressions(config: Any, n: Callable[[str], str]) -> list[Any]:
    """Replication (CKV_AWS_144) and the DR region's buckets: what ``dr_region`` adds or leaves open, with reasons."""
    from hainfra.policy import Suppression

    logs = ("logs", "logs-dr") if config.dr_enabled else ("logs",)
    found = [Suppression("CKV_AWS_144", n(kind), "log bucket: S3 and ELB deliver access logs within a region and "
                         "each region's logs stay there; the backups are what dr_region replicates") for kind in logs]
    if not config.dr_enabled:
        return [*found, Suppression("CKV_AWS_144", n("backup"), DR_OPT_IN)]
    return [*found,
            Suppression("CKV_AWS_145", n("logs-dr"), "the DR region's log bucket takes the replica's S3 server access "
                        "logs, which S3 delivers only to a bucket encrypted with SSE-S3"),
            Suppression("CKV2_AWS_62", n("logs-dr"), "log bucket: its objects are AWS log deliveries nothing consumes "
                        "as events"),
            Suppression("CKV2_AWS_62", n("backup-dr"), "the replica is written only by S3 replication; the source "
                        "backup bucket sends the events of every backup (verify's dataflow check)")]


def default_venv() -> Path:
    """Where ``scripts/test.sh`` installs checkov (its own virtualenv, outside the repository)."""
    return tool_venv("checkov")


def find() -> Path | None:
    """The checkov executable: ``$HAINFRA_CHECKOV``, then ``PATH``, then the cached virtualenv."""
    return find_tool("checkov", ENV)


def project_config(start: Path | None = None) -> Path | None:
    """The nearest ``.checkov.yaml`` of ours from ``start`` (default: the current folder) upwards.

    One owned by another user is passed over with a warning: it could skip every check or make
    checkov load ``external-checks-dir`` code as us (see :func:`hainfra.home.owned`).
    """
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        for name in PROJECT_CONFIGS:
            path = candidate / name
            if path.is_file() and owned(path):
                return path
            if path.is_file():
                log.warning("ignoring %s: it belongs to another user", path)
    return None


def run(plan_path: Path | list[Path], config_file: Path | None = None,
        executable: Path | None = None) -> dict[str, Any]:
    """checkov's JSON report for Terraform plan file(s) (``terraform_plan`` framework only).

    Several files share one checkov start (seconds each); findings carry their ``file_path``.
    """
    paths = plan_path if isinstance(plan_path, list) else [plan_path]
    exe = executable or find()
    if exe is None:
        raise ConfigError.one("checkov", None, f"checkov is not installed: set {ENV}, put checkov on PATH, or "
                              f"run scripts/test.sh (it creates {default_venv()})")
    cmd = [str(exe), *(x for p in paths for x in ("--file", str(p))), "--framework", "terraform_plan",
           "--output", "json", "--skip-download"]
    if config_file:
        cmd += ["--config-file", str(config_file)]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False,
                              cwd=paths[0].parent, env=env)
    except subprocess.TimeoutExpired as exc:
        raise ScannerError(f"checkov did not finish within {TIMEOUT_SECONDS}s on {paths[0]}") from exc
    # checkov exits 1 when a check failed; anything else, or no JSON, is a broken run.
    if proc.returncode not in (0, 1):
        raise ScannerError(f"checkov failed (exit {proc.returncode}): {proc.stderr.strip()[-800:]}")
    return _report(proc.stdout, proc.stderr)


def _report(stdout: str, stderr: str) -> dict[str, Any]:
    try:
        data = json.loads(stdout)
    except ValueError as exc:
        raise ScannerError(f"checkov printed no JSON report: {(stdout or stderr).strip()[-800:]}") from exc
    if isinstance(data, list):  # one entry per framework
        data = next((d for d in data if d.get("check_type") == "terraform_plan"), data[0] if data else {})
    if data.get("summary", {}).get("parsing_errors") or not data.get("results", data.get("summary")):
        raise ScannerError(f"checkov could not parse the plan: {json.dumps(data)[:800]}")
    return data


def _skip_checks(config_file: Path | None) -> list[str]:
    if not config_file:
        return []
    doc = yaml.safe_load(config_file.read_text()) or {}
    skips = doc.get("skip-check") or []
    return [skips] if isinstance(skips, str) else [str(s) for s in skips]


def findings(report: dict[str, Any], exported: Export, suppressions: Iterable[Any] = (),
             open_work: dict[str, str] | None = None, config_file: Path | None = None) -> pd.DataFrame:
    """checkov's failed and skipped checks as policy rows (``source="checkov"``, never mandatory).

    Args:
        suppressions: :class:`~hainfra.policy.Suppression` objects; a check id + logical name match
            marks the row ``suppressed`` with its reason.
        open_work: check id → the open issue that will fix it; shown in ``reason``, still a violation.
        config_file: the ``.checkov.yaml`` used; each of its ``skip-check`` ids is listed as suppressed.
    """
    from hainfra.policy import COLUMNS

    by_key = {(s.rule, s.resource): s for s in suppressions}
    rows = []
    results = report.get("results", {})
    for status, items in (("violation", results.get("failed_checks", [])),
                          ("suppressed", results.get("skipped_checks", []))):
        for c in items:
            resource = exported.addresses.get(c.get("resource", ""))
            name = resource.name if resource else c.get("resource", "")
            suppressed = by_key.get((c["check_id"], name))
            reason = c.get("suppress_comment") or ""
            if status == "violation" and suppressed:
                status_, reason = "suppressed", suppressed.reason
            else:
                status_ = status
                reason = reason or (open_work or {}).get(c["check_id"], "")
            rows.append({"rule": c["check_id"], "severity": (c.get("severity") or "unknown").lower(),
                         "mandatory": False, "status": status_,
                         "resource": resource.label if resource else c.get("resource", ""),
                         "message": c.get("check_name", ""), "fix": c.get("guideline") or "",
                         "controls": c["check_id"], "reason": reason, "source": "checkov"})
    for check_id in _skip_checks(config_file):
        rows.append({"rule": check_id, "severity": "unknown", "mandatory": False, "status": "suppressed",
                     "resource": "*", "message": "skipped for every resource by the project's checkov config",
                     "fix": "", "controls": check_id, "reason": f"skip-check in {config_file}", "source": "checkov"})
    for r in exported.skipped:
        rows.append({"rule": "tfplan-export", "severity": "unknown", "mandatory": False, "status": "skip",
                     "resource": r.label, "message": f"{r.type} has no Terraform twin: checkov did not see it",
                     "fix": "add it to hainfra.policy.tfplan.TF_TYPES", "controls": "", "reason": "",
                     "source": "checkov"})
    df = pd.DataFrame(rows, columns=COLUMNS)
    df.attrs["passed"] = len(results.get("passed_checks", []))
    df.attrs["failed"] = len(results.get("failed_checks", []))
    return df


def scan(exported: Export, suppressions: Iterable[Any] = (), open_work: dict[str, str] | None = None,
         config_file: Path | None = None, workdir: Path | None = None) -> pd.DataFrame:
    """Write ``exported`` to a plan file, run checkov on it, return its findings as policy rows."""
    config_file = config_file or project_config()
    if not exported.addresses:  # nothing checkov could read: say what was skipped, run nothing
        return findings({"results": {}}, exported, suppressions, open_work, config_file)
    with tempfile.TemporaryDirectory(prefix="hainfra-checkov-", dir=workdir) as tmp:
        plan_path = exported.write(Path(tmp) / "tfplan.json")
        report = run(plan_path, config_file)
    log.info("checkov: %s", report.get("summary"))
    return findings(report, exported, suppressions, open_work, config_file)
