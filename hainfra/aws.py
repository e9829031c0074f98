"""The AWS client context and AWS-shape helpers shared by both engines, verify and the runbook.

It sits below every layer that talks to AWS (it imports no other hainfra module), so the
sandbox handlers, verify and the runbook's redaction use one client context, one set of
emulator credentials and one spelling of AWS's list/tag/policy shapes.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import boto3
    import botocore.loaders

# What every emulator (moto, LocalStack) accepts; the one spelling for boto3, env vars and Pulumi config.
EMULATOR_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
# The sandbox emulator serves TLS on loopback with a throw-away certificate.
warnings.filterwarnings("ignore", message="Unverified HTTPS request is being made to host '127.0.0.1'")


def is_loopback(url: str | None) -> bool:
    return bool(url) and url.split("://", 1)[-1].startswith(("127.0.0.1", "localhost"))


_LOADER: list[botocore.loaders.Loader] = []  # one per process, made on first use
_LOADER_LOCK = threading.Lock()


def _session(region: str, credentials: dict[str, str]) -> boto3.session.Session:
    """A boto3 session whose service models come from one process-wide loader.

    Each new session otherwise parses the service models again: the EC2 model alone costs ~0.5 s of
    CPU, paid by every ``Ctx`` (one per up, destroy, verify…). The loader only reads and caches files.
    """
    import boto3  # function-local: start-up time (the offline plan uses this module's helpers, never a client)
    import botocore.loaders
    import botocore.session

    with _LOADER_LOCK:
        if not _LOADER:
            _LOADER.append(botocore.loaders.create_loader())
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER[0])
    return boto3.session.Session(botocore_session=core, region_name=region, **credentials)


class Ctx:
    """boto3 clients bound to one region and (optionally) an emulator endpoint; thread-safe, counts calls."""

    def __init__(self, endpoint_url: str | None, region: str, max_pool: int = 16) -> None:
        from botocore.config import Config  # function-local: start-up time, as in _session

        self.endpoint_url = endpoint_url
        self.region = region
        credentials = EMULATOR_CREDENTIALS if endpoint_url else {}
        self._session = _session(region, credentials)
        self._config = Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=max_pool)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._account: str | None = None
        self.calls: Counter[str] = Counter()
        self._regions: dict[str, Ctx] = {}

    @classmethod
    def from_kwargs(cls, client_kwargs: dict[str, Any]) -> Ctx:
        """A context from an engine's ``aws_client_kwargs()`` (region, maybe an endpoint)."""
        return cls(client_kwargs.get("endpoint_url"), client_kwargs["region_name"])

    def at(self, region: str | None) -> Ctx:
        """This context in ``region`` (a resource's own ``region`` input; empty: this one's), same endpoint.

        The regional contexts share this one's call counter and lock, so an operation's API calls are counted once.
        """
        if not region or region == self.region:
            return self
        with self._lock:
            if region not in self._regions:
                other = Ctx(self.endpoint_url, region, self._config.max_pool_connections)
                other.calls, other._lock, other._account = self.calls, self._lock, self._account
                self._regions[region] = other
            return self._regions[region]

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                client = self._session.client(service, endpoint_url=self.endpoint_url, config=self._config,
                                              verify=not is_loopback(self.endpoint_url))
                client.meta.events.register("before-call", self._count)
                self._clients[service] = client
            return self._clients[service]

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    @property
    def writes(self) -> int:
        """API calls that change something (everything but Describe/List/Get)."""
        return sum(n for op, n in self.calls.items() if not op.split(":")[1].startswith(("Describe", "List", "Get")))

    @property
    def account_id(self) -> str:
        if self._account is None:
            self._account = self.client("sts").get_caller_identity()["Account"]
        return self._account


def empty_prefix(ctx: Ctx, bucket: str, prefix: str, bypass_governance: bool = False) -> int:
    """Delete every version and delete marker under ``prefix``; returns how many.

    ``bypass_governance``: also versions under an Object Lock GOVERNANCE retention (needs
    s3:BypassGovernanceRetention); COMPLIANCE retention is never bypassed.
    """
    s3 = ctx.client("s3")
    removed = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        items = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                 for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if items:
            extra = {"BypassGovernanceRetention": True} if bypass_governance else {}
            answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": items, "Quiet": True}, **extra)
            if answer.get("Errors"):  # a locked version (COMPLIANCE, or GOVERNANCE without bypass)
                first = answer["Errors"][0]
                raise RuntimeError(f"cannot empty bucket {bucket}: {first.get('Key')} ({first.get('VersionId')}): "
                                   f"{first.get('Code')} {first.get('Message')}")
            removed += len(items)
    return removed


def tags_of(items: list[dict[str, str]] | None, key: str = "Key", value: str = "Value") -> dict[str, str]:
    """AWS's ``[{"Key": k, "Value": v}]`` tag list as a dict (KMS spells the keys ``TagKey``/``TagValue``)."""
    return {t[key]: t[value] for t in items or []}


def policy_doc(value: Any) -> dict[str, Any]:
    """An IAM/S3 policy document given as JSON text or already parsed; ``{}`` when empty or unparsable."""
    if isinstance(value, dict):
        return value
    try:
        return json.loads(value) if value else {}
    except (TypeError, ValueError):
        return {}


def as_list(value: Any) -> list[Any]:
    """A policy field that AWS allows as one value or a list (Action, Resource, Statement…), as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
