"""checkov on the Terraform plan export: the prod stack, suppressions, .checkov.yaml, and agreement with the gate.

Needs checkov (``scripts/test.sh`` installs it in its own cached virtualenv); skips with the reason otherwise.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pulumi_aws as aws
import pytest

from hainfra import naming
from hainfra.config import StackConfig
from hainfra.errors import ScannerError
from hainfra.policy import Suppression, check, check_stack, export_stack_tfplan, export_tfplan, mandatory
from hainfra.policy import checkov as scanner
from tests.policy.test_rules import BROKEN_AND_FIXED, TAGS, rules_hit, security_group

pytestmark = pytest.mark.skipif(scanner.find() is None, reason=f"checkov is not installed (set {scanner.ENV} or "
                                f"run scripts/test.sh, which creates {scanner.default_venv()})")
PROD = {"environment": "prod", "asg_min": 3}
# Graph checks a naive export (no references) fails although the stack has what they look for.
RELATIONSHIP_CHECKS = {"CKV2_AWS_6": "aws_s3_bucket", "CKV2_AWS_61": "aws_s3_bucket", "CKV2_AWS_62": "aws_s3_bucket",
                       "CKV_AWS_21": "aws_s3_bucket", "CKV_AWS_145": "aws_s3_bucket", "CKV2_AWS_11": "aws_vpc",
                       "CKV2_AWS_12": "aws_vpc"}

# Cross-validation. For each gate rule: the checkov checks that fail on its broken program and pass on its
# fixed twin (they agree), or why checkov cannot see the violation (they disagree).
AGREE: dict[str, set[str]] = {
    "alb-access-logs": {"CKV_AWS_91"},
    "alb-deletion-protection": {"CKV_AWS_150"},
    "s3-access-logging": {"CKV_AWS_18"},
    "log-retention-prod": {"CKV_AWS_338"},
    "vpc-flow-logs": {"CKV2_AWS_11"},
    "no-world-admin-ports": {"CKV_AWS_24"},
    "default-sg-closed": {"CKV2_AWS_12"},
    "private-no-public-ip": {"CKV_AWS_130"},
    "lt-imdsv2": {"CKV_AWS_79", "CKV_AWS_341"},
    "lt-no-public-ip": {"CKV_AWS_88"},
    "alb-drop-invalid-headers": {"CKV_AWS_131"},
    "http-redirects": {"CKV_AWS_2", "CKV2_AWS_20"},
    "iam-no-wildcard-action": {"CKV_AWS_63", "CKV_AWS_287", "CKV2_AWS_40"},
    "iam-no-wildcard-resource": {"CKV_AWS_355", "CKV_AWS_288"},
    "iam-trust-service": {"CKV_AWS_60"},
    "s3-versioning": {"CKV_AWS_21"},
    "s3-sse-kms": {"CKV_AWS_145"},
    "s3-public-access-block": {"CKV2_AWS_6"},
    "s3-lifecycle": {"CKV2_AWS_61"},
    "secret-cmk": {"CKV_AWS_149"},
    "ssm-secure-string": {"CKV2_AWS_34"},
    "kms-rotation": {"CKV_AWS_7"},
    "log-retention-kms": {"CKV_AWS_66", "CKV_AWS_158"},
    "alb-https": {"CKV_AWS_2", "CKV_AWS_103", "CKV2_AWS_20"},
    "waf-attached": {"CKV2_AWS_28"},
    "waf-logging": {"CKV2_AWS_31"},
    "secret-rotation": {"CKV_AWS_304"},
    "lambda-permission-scoped": {"CKV_AWS_364"},
    "s3-replication": {"CKV_AWS_144"},
}
DISAGREE: dict[str, str] = {
    "lt-detailed-monitoring": "CKV_AWS_126 reads aws_instance.monitoring only, not a launch template's",
    "endpoint-policy": "checkov has no check that a VPC endpoint policy admits only the account's principals",
    "kms-autoscaling-grant": "checkov has no check that a key policy grants the Auto Scaling service-linked role",
    "service-principal-scoped": "checkov's Terraform checks do not read aws:SourceAccount/aws:SourceArn on service "
                                "principals of key, log, trust or bucket policies",
    "s3-gateway-endpoint": "checkov has no check for a VPC's S3 gateway endpoint on its route tables",
    "interface-endpoints": "checkov has no check for interface VPC endpoints",
    "nat-per-az": "checkov has no check for one NAT gateway per AZ (an HA property, not a misconfiguration)",
    "subnet-nacl": "CKV2_AWS_1 reads only aws_network_acl.subnet_ids, so it fails the fixed program's "
                   "aws_network_acl_association too (checkov issue #1571)",
    "world-ingress": "CKV_AWS_260 looks at port 80 only; the broken program opens 443 (an intended exposure "
                     "the gate reports as low and advisory)",
    "lt-ebs-encrypted": "CKV_AWS_8 covers aws_instance and aws_launch_configuration, not aws_launch_template",
    "lt-user-data-secrets": "CKV_AWS_46 searches user_data as written; a launch template's is base64, as "
                            "Terraform requires, so the secret is not seen",
    "asg-elb-health": "CKV2_AWS_15 only considers aws_autoscaling_attachment, not target_group_arns",
    "asg-multi-az": "checkov has no check for an Auto Scaling group's AZ spread",
    "alb-multi-az": "checkov has no check for a load balancer's AZ spread",
    "s3-tls-only": "checkov's Terraform checks do not read a bucket policy's aws:SecureTransport deny",
    "alarm-actions": "checkov has no check that an alarm notifies someone",
    "no-deprecated-types": "BucketV2 and Bucket are both aws_s3_bucket in Terraform: the deprecation is Pulumi's",
    "required-tags": "checkov's tag checks need the Prisma Cloud platform",
    "secret-resource-policy": "checkov has no check that a secret's resource policy denies all but named principals",
    "s3-object-lock": "CKV_AWS_143 reads only aws_s3_bucket.object_lock_configuration, not the separate "
                      "aws_s3_bucket_object_lock_configuration resource's default retention",
    "s3-replication-protected": "checkov has no check that a replication destination is versioned and KMS-encrypted "
                                "(measured: CKV_AWS_21 does not fail this program's unversioned replica)",
    "default-nacl-closed": "checkov has no check on aws_default_network_acl (its NACL port checks read aws_network_acl "
                           "and aws_network_acl_rule only); Prowler sees it live (hainfra scan)",
}


def _failed(report: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    """file name -> {(check id, resource address)} of failed checks."""
    out: dict[str, set[tuple[str, str]]] = {}
    for c in report["results"]["failed_checks"]:
        out.setdefault(Path(c["file_path"]).name, set()).add((c["check_id"], c["resource"]))
    return out


@pytest.fixture(scope="module")
def prod_reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any]]:
    """The prod export, and one checkov run over it and over a naive copy without references."""
    folder = tmp_path_factory.mktemp("prod")
    exported = export_stack_tfplan(StackConfig.load(PROD))
    naive = copy.deepcopy(exported.plan)
    for r in naive["configuration"]["root_module"]["resources"]:
        r["expressions"] = {}
    (folder / "naive.json").write_text(json.dumps(naive))
    return exported, scanner.run([exported.write(folder / "prod.json"), folder / "naive.json"])


@pytest.fixture(scope="module")
def prod_findings() -> Any:
    return check_stack(StackConfig.load(PROD), checkov=True)


@pytest.fixture(scope="module")
def cross_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """One checkov run over every broken and fixed program: file stem -> failed check ids."""
    folder = tmp_path_factory.mktemp("xval")
    paths = [export_tfplan(program).write(folder / f"{rule}--{kind}.json")
             for rule, (broken, fixed) in BROKEN_AND_FIXED.items() for kind, program in (("broken", broken),
                                                                                        ("fixed", fixed))]
    report = scanner.run(paths)
    assert not report["summary"]["parsing_errors"]
    return {name.removesuffix(".json"): {c for c, _ in found} for name, found in _failed(report).items()}


def test_checkov_parses_the_prod_export_and_sees_its_relationships(prod_reports: tuple[Any, dict[str, Any]]) -> None:
    exported, report = prod_reports
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["resource_count"] == 2 * len(exported.addresses)
    passed = {(c["check_id"], c["resource"].split(".")[0]) for c in report["results"]["passed_checks"]
              if c["file_path"].endswith("prod.json")}
    assert set(RELATIONSHIP_CHECKS.items()) <= passed


def test_without_references_the_relationship_checks_fail(prod_reports: tuple[Any, dict[str, Any]]) -> None:
    failed = {check for check, _ in _failed(prod_reports[1]).get("naive.json", set())}
    assert set(RELATIONSHIP_CHECKS) <= failed


def test_prod_has_no_unexplained_checkov_failure(prod_findings: Any) -> None:
    ours = prod_findings[prod_findings["source"] == "checkov"]
    assert prod_findings.attrs["checkov_passed"] > 100 and len(ours) == prod_findings.attrs["checkov_failed"]
    open_ = ours[ours["status"] == "violation"]
    assert open_["reason"].str.match(r"open: fixed by issue 19 ").all(), open_.to_string()
    suppressed = ours[ours["status"] == "suppressed"]
    assert (suppressed["reason"].str.len() > 30).all()
    # No export artefact left: a relationship check that fails is an intended, suppressed exception (the log
    # bucket's SSE-S3 and its unused event notifications), never an open violation.
    assert not set(open_["rule"]) & set(RELATIONSHIP_CHECKS)
    assert mandatory(prod_findings).empty  # checkov's findings are advisory: the gate's verdict is unchanged


def test_open_work_and_suppressions_are_still_needed(prod_findings: Any) -> None:
    """An entry that no longer matches a failure is stale: drop it (keeps the lists honest as issues land)."""
    ours = prod_findings[prod_findings["source"] == "checkov"]
    assert set(scanner.OPEN_WORK) == set(ours[ours["status"] == "violation"]["rule"])
    suppressed = ours[ours["status"] == "suppressed"]
    used = set(zip(suppressed["rule"], suppressed["resource"], strict=True))
    for s in scanner.stack_suppressions(StackConfig.load(PROD)):
        assert any(rule == s.rule and resource.endswith(f" {s.resource}") for rule, resource in used), s


def test_suppression_with_reason_applies_to_checkov_findings() -> None:
    def program() -> None:
        security_group(80, "0.0.0.0/0")
        aws.ec2.SecurityGroup("sg2", ingress=[aws.ec2.SecurityGroupIngressArgs(
            protocol="tcp", from_port=80, to_port=80, cidr_blocks=["0.0.0.0/0"])], tags=TAGS)

    findings = check(program, checkov=True, suppressions=[Suppression("CKV_AWS_260", "sg", "public web entry point")])
    rows = findings[findings["rule"] == "CKV_AWS_260"].set_index("resource")
    assert rows.loc["SecurityGroup sg", "status"] == "suppressed"
    assert rows.loc["SecurityGroup sg", "reason"] == "public web entry point"
    assert rows.loc["SecurityGroup sg2", "status"] == "violation" and rows.loc["SecurityGroup sg2", "source"] == "checkov"


def test_project_checkov_yaml_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".checkov.yaml").write_text("skip-check:\n  - CKV_AWS_260\n")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")  # found from a subfolder, like git finds .git
    findings = check(lambda: security_group(80, "0.0.0.0/0"), checkov=True)
    rows = findings[findings["rule"] == "CKV_AWS_260"]
    assert list(rows["status"]) == ["suppressed"] and ".checkov.yaml" in rows.iloc[0]["reason"]


def test_checkov_failure_is_reported_not_swallowed(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ScannerError, match="checkov"):
        scanner.run(broken)


def test_cross_validation_table_covers_every_rule() -> None:
    assert set(AGREE) | set(DISAGREE) | {"naming-convention"} == set(BROKEN_AND_FIXED) | {"naming-convention"}
    assert not set(AGREE) & set(DISAGREE)


@pytest.mark.parametrize("rule_id", sorted(BROKEN_AND_FIXED))
def test_checkov_and_the_gate_agree_where_both_can_see(rule_id: str, cross_reports: dict[str, set[str]]) -> None:
    broken, fixed = cross_reports.get(f"{rule_id}--broken", set()), cross_reports.get(f"{rule_id}--fixed", set())
    assert rule_id in rules_hit(BROKEN_AND_FIXED[rule_id][0])  # the gate's side
    assert not fixed - broken, f"the fix introduced checkov failures {fixed - broken}"
    if rule_id in AGREE:
        assert broken - fixed == AGREE[rule_id], f"{rule_id}: checkov now differs: {sorted(broken - fixed)}"
    else:
        assert not broken - fixed, (f"{rule_id}: checkov now sees it ({sorted(broken - fixed)}); "
                                    f"move it from DISAGREE ({DISAGREE[rule_id]}) to AGREE")



def test_prod_with_dr_region_replicates_the_backups_and_leaves_nothing_open() -> None:
    """With dr_region CKV_AWS_144 passes on the backup bucket; what the DR buckets add is suppressed with reasons
    (each suppression used), nothing is an open violation."""
    config = StackConfig.load({**PROD, "dr_region": "us-west-2"})
    findings = check_stack(config, checkov=True)
    ours = findings[findings["source"] == "checkov"]
    assert ours[ours["status"] == "violation"].empty, ours[ours["status"] == "violation"].to_string()
    replication = ours[ours["rule"] == "CKV_AWS_144"]
    assert not replication["resource"].str.endswith(f" {naming.name(config, 'backup')}").any(), replication.to_string()
    used = set(zip(ours["rule"], ours["resource"], strict=True))
    for s in scanner.stack_suppressions(config):
        assert any(rule == s.rule and resource.endswith(f" {s.resource}") for rule, resource in used), s
    default = scanner.stack_suppressions(StackConfig.load(PROD))
    assert [s.reason for s in default if s.rule == "CKV_AWS_144" and s.resource == naming.name(
        StackConfig.load(PROD), "backup")] == [scanner.DR_OPT_IN]
