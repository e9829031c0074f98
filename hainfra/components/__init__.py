"""One Pulumi ComponentResource per AWS concern, wired together by :mod:`hainfra.stack`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi


def document(fn: Callable[..., dict[str, Any]], **inputs: Any) -> pulumi.Output[str]:
    """Render a pure policy-document function once all its (Output) inputs are known."""
    return pulumi.Output.all(**inputs).apply(lambda values: json.dumps(fn(**values), sort_keys=True))
