"""The audit archive against the emulator: a KMS asymmetric signer and the S3 Object Lock mirror."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from hainfra import audit, cli
from hainfra.audit import signing, witness
from hainfra.audit.record import base_record, recording
from hainfra.aws import EMULATOR_CREDENTIALS
from hainfra.config import StackConfig
from hainfra.engines.sandbox.emulator import Emulator
from hainfra.errors import AuditError, ConfigError


def client(emulator: Emulator, service: str) -> object:
    return boto3.client(service, endpoint_url=emulator.url, region_name="us-east-1", verify=False,
                        **EMULATOR_CREDENTIALS)


def archive_runs(root: Path, config: StackConfig, n: int) -> None:
    signer, mirror = audit.signer_for(config), audit.mirror_for(config)
    for i in range(n):
        with recording(root, base_record(f"run-{i}", "deploy", "aws"), signer=signer, mirror=mirror) as stage:
            stage.outcome, stage.files = "success", {"02-deploy.ipynb": f"nb {i}".encode()}


def problems(root: Path, **kwargs: object) -> str:
    with pytest.raises(AuditError) as info:
        audit.verify(root, **kwargs)
    return str(info.value)


@pytest.mark.parametrize("spec", ["ECC_NIST_P256", "RSA_2048"])
def test_kms_signer_signs_and_verify_checks_offline(emulator: Emulator, tmp_path: Path, spec: str) -> None:
    kms = client(emulator, "kms")
    key = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec=spec)["KeyMetadata"]["KeyId"]
    alias = f"alias/hainfra-audit-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key)
    config = StackConfig.load({"aws_endpoint_url": emulator.url, "audit_signer": f"kms:{alias}"})
    root = tmp_path / "archive"
    archive_runs(root, config, 2)
    signer = audit.signer_for(config)
    assert signer.algorithm in ("ECDSA_SHA_256", "RSASSA_PSS_SHA_256")
    # An emulator's key is pinned apart (any local user can have the emulator sign): trusted only on request.
    assert "not pinned in" in problems(root)
    keys = signing.emulator_keys_dir()
    assert f"every entry signed (key {signer.fingerprint[:16]}" in audit.verify(root, keys=keys)
    lines = (root / "index.jsonl").read_text().splitlines()
    entry = json.loads(lines[1])
    entry["outcome"] = "failed"
    from hainfra.audit import chain

    entry["hash"] = chain.entry_hash(entry)
    (root / "index.jsonl").write_text("\n".join([lines[0], json.dumps(entry), *lines[2:]]) + "\n")
    assert "entry 2 (finished run-0): signature does not verify" in problems(root, keys=keys)


def test_kms_signer_refuses_an_encryption_key(emulator: Emulator) -> None:
    key = client(emulator, "kms").create_key()["KeyMetadata"]["KeyId"]
    config = StackConfig.load({"aws_endpoint_url": emulator.url, "audit_signer": f"kms:{key}"})
    with pytest.raises(ConfigError, match="audit_signer.*SIGN_VERIFY"):
        audit.signer_for(config)


def _locked_bucket(emulator: Emulator, lock: bool = True) -> str:
    bucket = f"hainfra-archive-{uuid.uuid4().hex[:10]}"
    client(emulator, "s3").create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=lock)
    return bucket


def test_object_lock_mirror_holds_what_local_loses(emulator: Emulator, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    bucket = _locked_bucket(emulator)
    params = {"aws_endpoint_url": emulator.url, "archive_s3_uri": f"s3://{bucket}/audit",
              "archive_lock_mode": "GOVERNANCE", "archive_lock_days": 1}
    config = StackConfig.load(params)
    root = tmp_path / "archive"
    archive_runs(root, config, 3)
    assert "compared with the mirror" in audit.verify(root, mirror=audit.mirror_for(config))
    s3 = client(emulator, "s3")
    head = s3.head_object(Bucket=bucket, Key="audit/index/0000000006.json")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    version = s3.list_object_versions(Bucket=bucket, Prefix="audit/index/0000000001.json")["Versions"][0]
    with pytest.raises(ClientError, match="AccessDenied"):  # a locked version cannot be deleted
        s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])

    # Drop the tail locally and delete the witness: the mirror still proves what was there.
    entries = (root / "index.jsonl").read_text().splitlines()
    (root / "index.jsonl").write_text("\n".join(entries[:4]) + "\n")
    witness.path_for(root).unlink()
    argv = ["audit", "verify", "--archive", str(root), "--remote"]
    for key, value in params.items():
        argv += ["-p", key, str(value)]
    assert cli.main(argv) == 1
    out = capsys.readouterr().out
    assert "history loss: the mirror holds entries up to sequence 6 but the local index ends at sequence 4" in out
    shutil.rmtree(root)
    assert "entries 1..6 are gone locally" in problems(root, mirror=audit.mirror_for(config))


def test_mirror_refuses_a_bucket_without_object_lock(emulator: Emulator) -> None:
    bucket = _locked_bucket(emulator, lock=False)
    config = StackConfig.load({"aws_endpoint_url": emulator.url, "archive_s3_uri": f"s3://{bucket}/x"})
    with pytest.raises(ConfigError, match="archive_s3_uri"):
        audit.mirror_for(config)
