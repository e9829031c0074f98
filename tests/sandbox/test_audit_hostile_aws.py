"""Adversarial review: a KMS key held by the local emulator is no trust anchor.

Every local user can call the emulator (127.0.0.1, credentials "test"/"test") and have it sign;
if its public key were pinned beside the user's real keys, anyone could forge entries that
`audit verify` accepts in *every* archive of that user while the emulator runs."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from hainfra import audit
from hainfra.audit import archive, chain, signing
from hainfra.audit.record import base_record, recording
from hainfra.config import StackConfig
from hainfra.engines.sandbox.emulator import Emulator
from hainfra.errors import AuditError
from tests.sandbox.test_audit_aws import client


class EmulatorForger:
    """Another local user: signs with the emulator's KMS key directly, never through hainfra."""

    def __init__(self, emulator: Emulator, key_id: str, fp: str) -> None:
        self.kms, self.key_id, self.fingerprint, self.algorithm = client(emulator, "kms"), key_id, fp, "ECDSA_SHA_256"

    def sign(self, message: bytes) -> bytes:
        return self.kms.sign(KeyId=self.key_id, Message=message, MessageType="RAW",
                             SigningAlgorithm="ECDSA_SHA_256")["Signature"]


def test_an_emulator_kms_key_is_not_trusted_by_default(emulator: Emulator, tmp_path: Path) -> None:
    kms = client(emulator, "kms")
    key = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
    config = StackConfig.load({"aws_endpoint_url": emulator.url, "audit_signer": f"kms:{key}"})
    tried = audit.signer_for(config)  # the user tried the KMS signer on the sandbox once
    # The user's real archive, signed with the local key.
    root = tmp_path / "archive"
    with recording(root, base_record("real", "deploy", "prod"), signer=signing.get_signer()) as stage:
        stage.outcome = "success"
    assert audit.verify(root).startswith("archive verified")
    # Another local user forges a run and signs it through the emulator.
    forger = EmulatorForger(emulator, key, tried.fingerprint)
    record = base_record(f"forged-{uuid.uuid4().hex[:6]}", "destroy", "prod", outcome="success")
    chain.append(root, {"kind": "started", **record}, forger)
    record, run_sha = archive.write_run(root, record, {"destroy.txt": b"nothing happened"})
    chain.append(root, {"kind": "finished", "run_id": record["run_id"], "stage": "destroy", "stack": "prod",
                        "outcome": "success", "path": str(archive.run_folder(root, record).relative_to(root)),
                        "run_json_sha256": run_sha}, forger)
    with pytest.raises(AuditError, match="not pinned"):
        audit.verify(root)
    # Trusting it stays possible, deliberately: verify against the emulator's pins.
    report = str(audit.check(root, keys=signing.emulator_keys_dir()))
    assert "entry 2 (finished real): signed by key" in report and "entry 4 (finished forged" not in report
