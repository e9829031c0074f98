"""Prowler on a prod stack deployed in the sandbox: every FAIL explained, the lists not stale, and an
out-of-band change (the default NACL re-opened, the WAF association removed) producing the FAILs an auditor would see.

Needs Prowler (``scripts/test.sh`` installs it in its own cached virtualenv); skips with the reason otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from hainfra import scan
from hainfra.aws import Ctx, empty_prefix
from hainfra.config import StackConfig
from hainfra.engines import get_engine
from hainfra.engines.sandbox.emulator import Emulator
from hainfra.scan.findings import ACCEPTED, ARTEFACTS, OPEN_WORK

pytestmark = [pytest.mark.slow, pytest.mark.skipif(scan.find() is None, reason=scan.not_installed())]
NACL_CHECKS = ("ec2_networkacl_allow_ingress_any_port", "ec2_networkacl_allow_ingress_tcp_port_22",
               "ec2_networkacl_allow_ingress_tcp_port_3389")
ALLOW_ALL_IN = {"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": False, "CidrBlock": "0.0.0.0/0"}


@dataclass
class Scanned:
    config: StackConfig
    home: Path
    outputs: dict
    results: pd.DataFrame
    aws: Ctx


@pytest.fixture(scope="module")
def prod(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scanned]:
    home = tmp_path_factory.mktemp("scan-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HAINFRA_HOME", str(home))
        config = StackConfig.load({"stack": "audit", "project": "audit", "environment": "prod",
                                   "aws_endpoint_url": emulator.url})
        engine = get_engine("sandbox", config)
        outputs = engine.up().outputs
        aws = Ctx(emulator.url, config.region)
        try:
            yield Scanned(config, home, outputs, scan.scan(config, engine=engine), aws)
        finally:
            # prod buckets are not force-destroyed (logs and backups are never lost silently): empty them as an
            # operator would; the scan's reads left access logs, so the backup bucket stops logging first
            aws.client("s3").put_bucket_logging(Bucket=outputs["bucket_name"], BucketLoggingStatus={})
            for bucket in (outputs["bucket_name"], outputs["log_bucket_name"]):
                empty_prefix(aws, bucket, "")
            engine.destroy()


def _fails(results: pd.DataFrame) -> pd.DataFrame:
    return results[results["status"] == "FAIL"]


def test_fresh_prod_stack_has_no_unexplained_fail(prod: Scanned) -> None:
    print(scan.summary(prod.results))  # the scan time and counts, for the closing note
    assert scan.unexplained(prod.results).empty, scan.unexplained(prod.results)[["check", "resource", "message"]]
    assert prod.results.attrs["counts"].get("PASS", 0) >= 50
    assert prod.results.attrs["dropped"] >= 0 and set(prod.results["status"]) <= {"PASS", "FAIL", "MANUAL"}


def test_every_known_entry_still_matches_a_fail(prod: Scanned) -> None:
    """A stale entry (the FAIL is gone: fixed, or the emulator learnt it) must be removed."""
    failing = set(_fails(prod.results)["check"])
    assert set(ARTEFACTS) - failing == set(), "stale ARTEFACTS entries"
    assert set(OPEN_WORK) - failing == set(), "stale OPEN_WORK entries: remove what has landed"
    assert set(ACCEPTED) - failing == set(), "stale ACCEPTED entries"


def test_only_the_stacks_resources_and_the_default_nacl_passes(prod: Scanned) -> None:
    assert prod.results["resource"].str.len().gt(0).all()
    default = _default_acl(prod)
    rows = prod.results[prod.results["check"].isin(NACL_CHECKS) & prod.results["resource"].str.contains(default)]
    assert set(rows["check"]) == set(NACL_CHECKS) and set(rows["status"]) == {"PASS"}, rows.to_string()


def test_reopened_default_nacl_fails_the_matching_checks(prod: Scanned, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAINFRA_HOME", str(prod.home))
    default = _default_acl(prod)
    prod.aws.client("ec2").create_network_acl_entry(NetworkAclId=default, **ALLOW_ALL_IN)
    try:
        results = scan.scan(prod.config, checks=NACL_CHECKS)
    finally:
        prod.aws.client("ec2").delete_network_acl_entry(NetworkAclId=default, RuleNumber=100, Egress=False)
    failed = scan.unexplained(results)
    assert set(failed[failed["resource"].str.contains(default)]["check"]) == set(NACL_CHECKS), results.to_string()


def test_removed_waf_association_fails_the_matching_check(prod: Scanned, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAINFRA_HOME", str(prod.home))
    waf, alb = prod.aws.client("wafv2"), prod.outputs["alb_arn"]
    acl = waf.get_web_acl_for_resource(ResourceArn=alb)["WebACL"]["ARN"]
    attached = scan.scan(prod.config, checks=("elbv2_waf_acl_attached",))
    waf.disassociate_web_acl(ResourceArn=alb)
    try:
        detached = scan.scan(prod.config, checks=("elbv2_waf_acl_attached",))
    finally:
        waf.associate_web_acl(WebACLArn=acl, ResourceArn=alb)
    assert set(attached[attached["check"] == "elbv2_waf_acl_attached"]["status"]) == {"PASS"}, attached.to_string()
    failed = scan.unexplained(detached)
    assert list(failed["check"]) == ["elbv2_waf_acl_attached"], detached.to_string()


def test_outputs_are_kept_for_the_archive_without_secrets(prod: Scanned) -> None:
    folder = Path(prod.results.attrs["folder"])
    files = scan.archive_files(folder)
    names = {Path(n).name for n in files}
    assert {"prowler.csv", "prowler.ocsf.json"} <= names, names
    secret = prod.aws.client("secretsmanager").get_secret_value(SecretId=prod.outputs["secret_arn"])["SecretString"]
    assert not any(secret.encode() in data for data in files.values())


def _default_acl(prod: Scanned) -> str:
    return prod.aws.client("ec2").describe_network_acls(Filters=[
        {"Name": "vpc-id", "Values": [prod.outputs["vpc_id"]]},
        {"Name": "default", "Values": ["true"]}])["NetworkAcls"][0]["NetworkAclId"]
