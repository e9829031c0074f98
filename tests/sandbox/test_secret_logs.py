"""Logs never print a secret: `hainfra -v up` shows botocore's request and response bodies, not the secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from hainfra.aws import Ctx
from hainfra.config import StackConfig
from hainfra.engines import get_engine

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def test_verbose_up_shows_neither_generated_secret(make_config: Callable[..., StackConfig], hainfra_home: Path,
                                                   tmp_path: Path) -> None:
    config = make_config()
    argv = [sys.executable, "-m", "hainfra.cli", "-v", "up", "--stack", config.stack, "-p", "project", config.project,
            "-p", "aws_endpoint_url", config.aws_endpoint_url, "-p", "asg_min", "2", "-p", "asg_desired", "2"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "HAINFRA_HOME": str(hainfra_home)}
    try:
        done = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        outputs = get_engine("sandbox", config).outputs()
        aws = Ctx(config.aws_endpoint_url, config.region)
        secret = aws.client("secretsmanager").get_secret_value(SecretId=outputs["secret_arn"])["SecretString"]
        token = aws.client("ssm").get_parameter(Name=f"{outputs['ssm_path']}/secure/api-token",
                                                WithDecryption=True)["Parameter"]["Value"]
    finally:
        get_engine("sandbox", config).destroy()
    log = done.stdout + done.stderr
    assert "DEBUG botocore" in log and "GetRandomPassword" in log, "debug logging was not on: the test proves nothing"
    assert len(secret) == 32 and len(token) == 32
    assert secret not in log and token not in log
    assert "[REDACTED]" in log
