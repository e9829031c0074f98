"""The resource graph the policy rules read: declared resources and their references.

Built from an offline evaluation (any Pulumi program) or from a CrossGuard stack; the
rules never care which. References are resolved by value: an input equal to another
resource's id, ARN or name points at that resource.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

# Outputs another resource may reference, besides the id. A VPC's default NACL id points at the VPC: the
# DefaultNetworkAcl that adopts it names no vpc_id, only that id.
REFERENCE_OUTPUTS = ("arn", "name", "bucket", "defaultNetworkAclId")


@dataclass
class Resource:
    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    id: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.type.split(':')[-1]} {self.name}"


class Graph:
    """Resources by type, and a lookup from any id/ARN/name value to its resource."""

    def __init__(self, resources: Iterable[Resource]) -> None:
        self.resources = list(resources)
        self._by_value: dict[str, Resource] = {}
        for r in self.resources:
            for value in (r.id, *(r.outputs.get(k) for k in REFERENCE_OUTPUTS)):
                if isinstance(value, str) and value:
                    self._by_value.setdefault(value, r)

    def of(self, *suffixes: str) -> list[Resource]:
        """Resources whose type token ends with one of ``suffixes`` (e.g. ``ec2/subnet:Subnet``)."""
        return [r for r in self.resources if r.type.endswith(suffixes)]

    def ref(self, value: Any) -> Resource | None:
        return self._by_value.get(value) if isinstance(value, str) else None

    def referencing(self, target: Resource, key: str, *suffixes: str) -> list[Resource]:
        """Resources of ``suffixes`` whose input ``key`` points at ``target``."""
        return [r for r in self.of(*suffixes) if self.ref(r.inputs.get(key)) is target]

    def az_of(self, subnet_value: Any) -> str:
        subnet = self.ref(subnet_value)
        return subnet.inputs.get("availabilityZone", "") if subnet else ""


@cache
def taggable(token: str) -> bool:
    """Whether the pulumi-aws resource behind ``token`` accepts tags (read from the SDK class)."""
    try:
        pkg, module_path, cls_name = token.split(":")
        if pkg != "aws":
            return False
        module = importlib.import_module(f"pulumi_aws.{module_path.split('/')[0]}")
        cls = getattr(module, cls_name)
        return "tags" in inspect.signature(cls._internal_init).parameters
    except (ValueError, ImportError, AttributeError):
        return False
