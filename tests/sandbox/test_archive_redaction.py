"""The stack's own secret values (Secrets Manager, SecureString) are redacted from the archive even when a
notebook prints them: read from the emulator at archive time, no notebook run needed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from hainfra.aws import Ctx
from hainfra.config import StackConfig
from hainfra.runbook import runner


class _Deployed:
    def __init__(self, config: StackConfig, outputs: dict[str, str]) -> None:
        self.config, self._outputs = config, outputs

    def outputs(self) -> dict[str, str]:
        return self._outputs

    def aws_client_kwargs(self) -> dict[str, str]:
        return {"region_name": self.config.region, "endpoint_url": self.config.aws_endpoint_url}


def test_stack_secrets_printed_by_a_notebook_never_reach_the_archive(
        make_config: Callable[..., StackConfig], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = make_config()
    ctx = Ctx(config.aws_endpoint_url, config.region)
    secret, secure, plain = (f"gen-{uuid.uuid4().hex}", f"ssm-{uuid.uuid4().hex}", f"plain-{uuid.uuid4().hex}")
    arn = ctx.client("secretsmanager").create_secret(Name=f"{config.stack}/app", SecretString=secret)["ARN"]
    path = f"/{config.stack}"
    ctx.client("ssm").put_parameter(Name=f"{path}/db/password", Value=secure, Type="SecureString")
    ctx.client("ssm").put_parameter(Name=f"{path}/app/port", Value=plain, Type="String")
    monkeypatch.setattr(runner, "get_engine", lambda name, c: _Deployed(c, {"secret_arn": arn, "ssm_path": path}))

    printed = f"secret={secret}\nparam={secure}\nport={plain}\n"
    notebook = tmp_path / "02-deploy.ipynb"
    notebook.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "execution_count": 1, "id": "c1", "metadata": {}, "source": "steps.show()",
         "outputs": [{"output_type": "stream", "name": "stdout", "text": printed}]}]}))
    record: dict = {"run_id": "r", "stage": "deploy", "stack": config.stack, "failing_cell": {"evalue": secret}}
    files = runner._archived_files(record, output_path=notebook, input_path=notebook, secrets=[], config=config)

    archived = b"".join(files.values()) + json.dumps(record).encode()
    assert secret.encode() not in archived and secure.encode() not in archived
    assert plain.encode() in archived  # a String parameter is configuration, shown as it is
    assert record["redactions"] >= 3 and "redaction_incomplete" not in record
