"""The launcher's two shims against the real emulator, without Prowler: a stand-in ``prowler`` package
makes the calls Prowler makes (TLS to the emulator's own certificate, s3control with its account prefix)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hainfra import scan
from hainfra.engines.sandbox.emulator import Emulator

STAND_IN = '''
import json, os, sys
import boto3

if os.environ.get("TLS_SHIM_ONLY"):  # the test of the host-prefix shim: only the other one applied
    from launcher import patch_botocore, skip_tls_verification
    patch_botocore((skip_tls_verification,), ())

def prowler():
    assert sys.argv[0] == "prowler", sys.argv
    account = boto3.client("sts").get_caller_identity()["Account"]
    control = boto3.client("s3control")
    control.put_public_access_block(AccountId=account, PublicAccessBlockConfiguration={"BlockPublicAcls": True})
    found = control.get_public_access_block(AccountId=account)["PublicAccessBlockConfiguration"]
    print(json.dumps({"args": sys.argv[1:], "block": found["BlockPublicAcls"]}))
    sys.exit(3)
'''


def _launch(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    package = tmp_path / "prowler"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(STAND_IN)
    return subprocess.run([sys.executable, scan.launcher.__file__, "aws", "--region", "us-east-1"], env={
        **env, "PYTHONPATH": f"{tmp_path}{os.pathsep}{Path(scan.launcher.__file__).parent}"}, capture_output=True, text=True, timeout=120, check=False)


def test_shims_reach_s3control_over_the_emulators_tls_and_keep_prowlers_exit_code(emulator: Emulator,
                                                                                    tmp_path: Path) -> None:
    env = scan.environment({"region_name": "us-east-1", "endpoint_url": emulator.url}, emulated=True)
    proc = _launch(tmp_path, env)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert '"args": ["aws", "--region", "us-east-1"]' in proc.stdout and '"block": true' in proc.stdout


@pytest.mark.parametrize("missing", ["tls", "host prefix"])
def test_without_the_shims_the_same_calls_fail(emulator: Emulator, tmp_path: Path, missing: str) -> None:
    """Proves each shim is needed: botocore rejects the certificate, or cannot resolve the prefixed host."""
    env = scan.environment({"region_name": "us-east-1", "endpoint_url": emulator.url}, emulated=True)
    del env[scan.launcher.EMULATOR_FLAG]
    if missing == "host prefix":
        env["TLS_SHIM_ONLY"] = "1"
    proc = _launch(tmp_path, env)
    assert proc.returncode != 3
    expected = "CERTIFICATE_VERIFY_FAILED" if missing == "tls" else "123456789012.127.0.0.1"
    assert expected in proc.stderr, proc.stderr[-2000:]

