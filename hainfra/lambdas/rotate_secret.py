"""Single-user rotation of a generated secret value: hainfra's Secrets Manager rotation function.

Deployed as a Lambda function (handler ``rotate_secret.handler``, built by :func:`hainfra.lambdas.package`).
This file is zipped alone and runs with only the Lambda runtime's boto3: it imports nothing from hainfra.

Secrets Manager calls the function four times per rotation, each with ``Step``, ``SecretId`` and
``ClientRequestToken`` (the id of the version being made), following the protocol of the AWS rotation
templates ("Rotation by Lambda function", Secrets Manager User Guide):

1. ``createSecret``: store a newly generated value as version ``token`` labelled AWSPENDING (idempotent:
   an existing AWSPENDING version for the token is kept, as a retried call must not draw another value).
2. ``setSecret``: nothing to do: the value is the credential itself (no database user to update), read by
   the application from Secrets Manager.
3. ``testSecret``: the pending value satisfies the generation rules.
4. ``finishSecret``: move AWSCURRENT to the pending version (AWSPREVIOUS follows automatically) and take
   AWSPENDING off it, so the next rotation never sees this one as still in progress.
"""

from __future__ import annotations

import logging
import os
import string
from typing import Any

# Its own logger at INFO (Lambda's root handler prints it); never the root logger's level, which would change
# the logging of any process importing this module (hainfra imports it for VALUE_LENGTH).
log = logging.getLogger("rotate_secret")
log.setLevel(logging.INFO)

VALUE_LENGTH = 32  # the generated value: 32 letters and digits (GetRandomPassword, no punctuation)
VALUE_ALPHABET = frozenset(string.ascii_letters + string.digits)
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
PENDING, CURRENT = "AWSPENDING", "AWSCURRENT"
# The regional endpoint, set on the function (AWS's templates read the same variable); boto3's default if unset.
ENDPOINT_ENV = "SECRETS_MANAGER_ENDPOINT"


class RotationError(ValueError):
    """The request or the secret is not in a state this step may act on (Secrets Manager retries later)."""


def handler(event: dict[str, Any], context: Any) -> None:
    """Lambda entry point: one rotation step for the secret named in ``event``."""
    import boto3  # the Lambda runtime provides it; imported here so the module loads without it

    client = boto3.client("secretsmanager", endpoint_url=os.environ.get(ENDPOINT_ENV) or None)
    rotate(client, event)


def rotate(client: Any, event: dict[str, Any]) -> None:
    """Run the step ``event["Step"]`` with ``client`` (a Secrets Manager client)."""
    arn, token, step = event.get("SecretId"), event.get("ClientRequestToken"), event.get("Step")
    if step not in STEPS or not arn or not token:
        raise RotationError(f"invalid rotation request: Step={step!r} (one of {', '.join(STEPS)}), "
                            "SecretId and ClientRequestToken required")
    metadata = client.describe_secret(SecretId=arn)
    if not metadata.get("RotationEnabled"):
        raise RotationError(f"secret {arn} is not enabled for rotation")
    stages = metadata.get("VersionIdsToStages", {})
    if token not in stages:
        raise RotationError(f"secret version {token} has no stage for rotation of secret {arn}")
    if CURRENT in stages[token]:
        log.info("secret version %s already AWSCURRENT for %s: nothing to do", token, arn)
        return
    if PENDING not in stages[token]:
        raise RotationError(f"secret version {token} is not AWSPENDING for rotation of secret {arn}")
    {"createSecret": create_secret, "setSecret": set_secret, "testSecret": test_secret,
     "finishSecret": finish_secret}[step](client, arn, token)


def create_secret(client: Any, arn: str, token: str) -> None:
    client.get_secret_value(SecretId=arn, VersionStage=CURRENT)  # fails when there is nothing to rotate
    try:
        client.get_secret_value(SecretId=arn, VersionId=token, VersionStage=PENDING)
        log.info("createSecret: version %s of %s already holds a pending value", token, arn)
        return
    except client.exceptions.ResourceNotFoundException:
        pass
    value = client.get_random_password(PasswordLength=VALUE_LENGTH, ExcludePunctuation=True)["RandomPassword"]
    client.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=value, VersionStages=[PENDING])
    log.info("createSecret: stored a new pending value as version %s of %s", token, arn)


def set_secret(client: Any, arn: str, token: str) -> None:
    """Single-user rotation of a generated value: the secret is the credential; no other system to update."""
    log.info("setSecret: nothing to set for %s (the value is read from Secrets Manager)", arn)


def valid_value(value: str) -> bool:
    """Whether ``value`` satisfies the generation rules (length and alphabet)."""
    return len(value) == VALUE_LENGTH and set(value) <= VALUE_ALPHABET


def test_secret(client: Any, arn: str, token: str) -> None:
    """The pending value satisfies the generation rules. RotateSecret with RotateImmediately=false calls this step
    alone, on a pending version that may hold no value or a copy of the current one: then there is nothing to test."""
    try:
        pending = client.get_secret_value(SecretId=arn, VersionId=token, VersionStage=PENDING)["SecretString"]
    except client.exceptions.ResourceNotFoundException:
        log.info("testSecret: version %s of %s holds no value (a configuration test): nothing to test", token, arn)
        return
    if not valid_value(pending):
        raise RotationError(f"pending version {token} of {arn} does not satisfy the generation rules")
    log.info("testSecret: version %s of %s is valid", token, arn)


def finish_secret(client: Any, arn: str, token: str) -> None:
    stages = client.describe_secret(SecretId=arn).get("VersionIdsToStages", {})
    current = next((version for version, labels in stages.items() if CURRENT in labels), None)
    if current != token:
        client.update_secret_version_stage(SecretId=arn, VersionStage=CURRENT, MoveToVersionId=token,
                                           RemoveFromVersionId=current)
        log.info("finishSecret: version %s of %s is now AWSCURRENT (was %s)", token, arn, current)
    if PENDING in stages.get(token, []):
        client.update_secret_version_stage(SecretId=arn, VersionStage=PENDING, RemoveFromVersionId=token)
