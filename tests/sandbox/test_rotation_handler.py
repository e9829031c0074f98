"""hainfra's rotation function against the emulator's Secrets Manager.

moto runs Lambda code only in Docker (this machine has no Docker daemon); the emulator runs hainfra's
rotation function in-process from the function's own deployment zip (``lambda_emulation``), so
RotateSecret drives the deployed code through the four steps. Hostile requests call the handler's
``rotate`` directly with a client of the emulator, as Secrets Manager would call it.
"""

from __future__ import annotations

import ast
import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from hainfra import lambdas
from hainfra.aws import Ctx
from hainfra.engines.sandbox.emulator import Emulator
from hainfra.lambdas import rotate_secret
from hainfra.lambdas.rotate_secret import CURRENT, PENDING, RotationError

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}


@pytest.fixture
def ctx(emulator: Emulator) -> Ctx:
    return Ctx(emulator.url, "us-east-1")


def _function(ctx: Ctx, code: bytes, handler: str = "rotate_secret.handler") -> str:
    name = f"rotate-{uuid.uuid4().hex[:8]}"
    role = ctx.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    return ctx.client("lambda").create_function(FunctionName=name, Runtime=lambdas.RUNTIME, Role=role,
                                                Handler=handler, Code={"ZipFile": code})["FunctionArn"]


@pytest.fixture
def secret(ctx: Ctx) -> Iterator[str]:
    sm = ctx.client("secretsmanager")
    value = sm.get_random_password(PasswordLength=32, ExcludePunctuation=True)["RandomPassword"]
    arn = sm.create_secret(Name=f"rotation-test/{uuid.uuid4().hex[:8]}", SecretString=value)["ARN"]
    yield arn
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def test_package_is_deterministic_and_holds_the_module_alone() -> None:
    first, second = lambdas.package(lambdas.ROTATE_SECRET), lambdas.package(lambdas.ROTATE_SECRET)
    assert first == second and lambdas.code_hash(first) == lambdas.code_hash(second)
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert archive.namelist() == ["rotate_secret.py"]
        assert archive.getinfo("rotate_secret.py").date_time == (1980, 1, 1, 0, 0, 0)
        code = archive.read("rotate_secret.py").decode()
    imported = {a.name for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Import) for a in n.names} | \
        {n.module for n in ast.walk(ast.parse(code)) if isinstance(n, ast.ImportFrom)}
    assert not {m for m in imported if m and m.startswith("hainfra")}, "the zip holds this file alone"
    assert lambdas.zip_files({"a.py": "x"}) != lambdas.zip_files({"a.py": "y"})


def test_rotate_secret_runs_the_deployed_code_through_four_steps(ctx: Ctx, secret: str) -> None:
    sm = ctx.client("secretsmanager")
    before = sm.get_secret_value(SecretId=secret)["SecretString"]
    fn = _function(ctx, lambdas.package(lambdas.ROTATE_SECRET))
    sm.rotate_secret(SecretId=secret, RotationLambdaARN=fn, RotationRules={"AutomaticallyAfterDays": 30})
    after = sm.get_secret_value(SecretId=secret)["SecretString"]
    assert after != before and rotate_secret.valid_value(after)
    assert sm.get_secret_value(SecretId=secret, VersionStage="AWSPREVIOUS")["SecretString"] == before
    described = sm.describe_secret(SecretId=secret)
    assert described["RotationEnabled"] and described["RotationRules"]["AutomaticallyAfterDays"] == 30
    assert not [v for v, labels in described["VersionIdsToStages"].items() if PENDING in labels and CURRENT
                not in labels], "no rotation left pending"
    # the schedule's next run: again a fresh, valid value (moto forgets the function unless it is named again)
    sm.rotate_secret(SecretId=secret, RotationLambdaARN=fn)
    assert sm.get_secret_value(SecretId=secret)["SecretString"] not in (before, after)


def test_a_broken_function_fails_the_rotation_and_keeps_the_value(ctx: Ctx, secret: str) -> None:
    """A deployed function whose testSecret refuses: RotateSecret fails, AWSCURRENT keeps the old value."""
    sm = ctx.client("secretsmanager")
    before = sm.get_secret_value(SecretId=secret)["SecretString"]
    broken = lambdas.source(lambdas.ROTATE_SECRET).replace("PasswordLength=VALUE_LENGTH", "PasswordLength=8", 1)
    assert broken != lambdas.source(lambdas.ROTATE_SECRET)
    fn = _function(ctx, lambdas.zip_files({"rotate_secret.py": broken}))
    with pytest.raises(ClientError, match="failed"):
        sm.rotate_secret(SecretId=secret, RotationLambdaARN=fn, RotationRules={"AutomaticallyAfterDays": 30})
    assert sm.get_secret_value(SecretId=secret)["SecretString"] == before


def test_a_foreign_function_still_needs_docker(ctx: Ctx, secret: str) -> None:
    """Only hainfra's own packaged rotation runs in-process: other code is never faked as run."""
    fn = _function(ctx, lambdas.zip_files({"other.py": "def handler(e, c):\n    return None\n"}), "other.handler")
    answer = ctx.client("lambda").invoke(FunctionName=fn, Payload=b"{}")
    payload = answer["Payload"].read()
    assert answer.get("FunctionError") or b"docker" in payload.lower(), payload


def _pending(sm: Any, secret: str) -> str:
    """Enable rotation with a function, leaving one pending version the way RotateSecret makes it."""
    fn = _function(ctx=Ctx(sm.meta.endpoint_url, "us-east-1"), code=lambdas.package(lambdas.ROTATE_SECRET))
    sm.rotate_secret(SecretId=secret, RotationLambdaARN=fn, RotationRules={"AutomaticallyAfterDays": 30})
    token = str(uuid.uuid4())
    sm.put_secret_value(SecretId=secret, ClientRequestToken=token, SecretString="x" * 32, VersionStages=[PENDING])
    return token


@pytest.mark.parametrize("event,message", [
    ({"Step": "dropTable"}, "invalid rotation request"),
    ({"Step": "createSecret", "ClientRequestToken": ""}, "invalid rotation request"),
])
def test_malformed_requests_are_refused(ctx: Ctx, secret: str, event: dict, message: str) -> None:
    with pytest.raises(RotationError, match=message):
        rotate_secret.rotate(ctx.client("secretsmanager"), {"SecretId": secret, **event})


def test_unknown_token_or_disabled_rotation_refused(ctx: Ctx, secret: str) -> None:
    sm = ctx.client("secretsmanager")
    with pytest.raises(RotationError, match="not enabled for rotation"):
        rotate_secret.rotate(sm, {"Step": "createSecret", "SecretId": secret, "ClientRequestToken": "t"})
    _pending(sm, secret)
    with pytest.raises(RotationError, match="has no stage"):
        rotate_secret.rotate(sm, {"Step": "createSecret", "SecretId": secret, "ClientRequestToken": "unknown"})


def test_test_step_refuses_a_value_that_breaks_the_rules_and_finish_is_idempotent(ctx: Ctx, secret: str) -> None:
    sm = ctx.client("secretsmanager")
    token = _pending(sm, secret)  # pending "xxxx…": valid alphabet and length
    current = sm.get_secret_value(SecretId=secret)["SecretString"]
    sm.put_secret_value(SecretId=secret, ClientRequestToken=str(uuid.uuid4()), SecretString="short!",
                        VersionStages=[PENDING])  # a retried rotation whose pending value is bad
    bad = next(v for v, s in sm.describe_secret(SecretId=secret)["VersionIdsToStages"].items() if PENDING in s)
    with pytest.raises(RotationError, match="generation rules"):
        rotate_secret.rotate(sm, {"Step": "testSecret", "SecretId": secret, "ClientRequestToken": bad})
    assert sm.get_secret_value(SecretId=secret)["SecretString"] == current
    assert token != bad


def test_redaction_knows_the_value_a_rotation_replaced(ctx: Ctx, secret: str) -> None:
    """After a rotation the old value stays valid (AWSPREVIOUS): the archive's redaction must know both."""
    from hainfra.runbook.runner import secret_versions

    sm = ctx.client("secretsmanager")
    before = sm.get_secret_value(SecretId=secret)["SecretString"]
    assert secret_versions(sm, secret) == [before]
    sm.rotate_secret(SecretId=secret, RotationLambdaARN=_function(ctx, lambdas.package(lambdas.ROTATE_SECRET)),
                     RotationRules={"AutomaticallyAfterDays": 30})
    assert secret_versions(sm, secret) == [sm.get_secret_value(SecretId=secret)["SecretString"], before]
