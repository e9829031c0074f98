"""One Pulumi ComponentResource per AWS concern, wired together by :mod:`hainfra.stack`."""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws

SERVICES = ("acm", "autoscaling", "cloudwatch", "ec2", "iam", "kms", "lambda_", "lb", "s3", "secretsmanager", "sns", "ssm", "wafv2")
_loading = threading.Lock()
_loaded: list[str] = []


def load_services() -> None:
    """Load the pulumi_aws service modules the stack uses, once per process, before any evaluation.

    pulumi_aws loads its service modules lazily (importlib's LazyLoader), which is not thread-safe:
    two threads racing through a first use see a half-initialised module, so they are loaded here,
    under a lock. Not at import time: verify, teardown and the checks import the components' pure
    helpers and never need these ~0.7 s of modules (start-up time). The cyclic garbage collector is
    paused meanwhile: the modules build ~5,000 classes and ~100,000 typing objects, none of them
    garbage, and collecting while they are built costs another ~0.3 s; then they are frozen (``gc.freeze``:
    no later collection scans them, which saves ~0.5 s at interpreter exit alone; bench/plan.py).
    """
    with _loading:
        if _loaded:
            return
        collecting = gc.isenabled()
        gc.disable()
        try:
            for service in SERVICES:
                getattr(aws, service)._utilities  # noqa: B018 - a plain attribute executes the lazy module
        finally:
            gc.freeze()  # what was just built lives as long as the process: never scan it again, nor at exit
            if collecting:
                gc.enable()
        _loaded.extend(SERVICES)


def document(fn: Callable[..., dict[str, Any]], **inputs: Any) -> pulumi.Output[str]:
    """Render a pure policy-document function once all its (Output) inputs are known."""
    return pulumi.Output.all(**inputs).apply(lambda values: json.dumps(fn(**values), sort_keys=True))
