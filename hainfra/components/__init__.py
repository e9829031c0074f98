"""One Pulumi ComponentResource per AWS concern, wired together by :mod:`hainfra.stack`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws

# pulumi_aws loads its service modules lazily (importlib's LazyLoader), which is not
# thread-safe: two threads racing through a first use see a half-initialised module.
# Load the ones the stack uses once, under this module's import lock.
for _module in (aws.autoscaling, aws.cloudwatch, aws.ec2, aws.iam, aws.kms, aws.lambda_, aws.lb, aws.s3, aws.secretsmanager,
                aws.sns, aws.ssm):
    _module._utilities  # noqa: B018 - a plain attribute (not __name__ or __dict__) executes the lazy module


def document(fn: Callable[..., dict[str, Any]], **inputs: Any) -> pulumi.Output[str]:
    """Render a pure policy-document function once all its (Output) inputs are known."""
    return pulumi.Output.all(**inputs).apply(lambda values: json.dumps(fn(**values), sort_keys=True))
