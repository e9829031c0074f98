"""The Pulumi engine: the Automation API (inline program, LocalWorkspace) against real AWS.

It needs the Pulumi CLI and the AWS plugin. Every Automation API call runs on a worker
thread with its own event loop: an inline program inside a Jupyter kernel otherwise
meets "Future attached to a different loop" (pulumi/pulumi#11529).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from hainfra import naming
from hainfra.aws import EMULATOR_CREDENTIALS
from hainfra.config import StackConfig
from hainfra.engines.base import Engine, OperationResult, Progress, ProgressEvent, change_row, changes_frame
from hainfra.errors import EngineError, HainfraError, ResourceError, StackLockedError
from hainfra.home import home
from hainfra.stack import program

log = logging.getLogger(__name__)
T = TypeVar("T")

INSTALL_HELP = ("the Pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/, e.g. "
                "`curl -fsSL https://get.pulumi.com | sh`), then `pulumi plugin install resource aws`; "
                "or use engine=sandbox, which needs neither")
# Provider endpoint keys (pulumi-aws `endpoints`) for the services the stack uses, as pulumilocal sets them.
ENDPOINT_SERVICES = ("autoscaling", "cloudwatch", "cloudwatchevents", "cloudwatchlogs", "ec2", "elbv2", "events",
                     "iam", "kms", "logs", "s3", "secretsmanager", "sns", "ssm", "sts")
OP_ACTIONS = {"same": "same", "create": "create", "update": "update", "delete": "delete", "replace": "replace",
              "create-replacement": "replace", "delete-replaced": "replace", "read": "same", "refresh": "same"}


def default_backend() -> str:
    return f"file://{home() / 'pulumi-state'}"


def config_map(config: StackConfig) -> dict[str, tuple[str, bool]]:
    """Stack configuration as ``{path key: (value, secret)}`` (set with ``path=True``)."""
    values: dict[str, tuple[str, bool]] = {"aws:region": (config.region, False)}
    for key, value in naming.tags(config, "").items():
        if key != "Name":
            values[f"aws:defaultTags.tags.{key}"] = (value, False)
    if config.aws_endpoint_url:
        url = config.aws_endpoint_url.rstrip("/")
        for i, service in enumerate(ENDPOINT_SERVICES):
            values[f"aws:endpoints[{i}].{service}"] = (url, False)
        values.update({
            "aws:skipCredentialsValidation": ("true", False), "aws:skipRequestingAccountId": ("true", False),
            "aws:skipMetadataApiCheck": ("true", False), "aws:s3UsePathStyle": ("true", False),
            "aws:accessKey": (EMULATOR_CREDENTIALS["aws_access_key_id"], False),
            "aws:secretKey": (EMULATOR_CREDENTIALS["aws_secret_access_key"], True),
        })
        if url.startswith("https://127.0.0.1") or url.startswith("https://localhost"):
            values["aws:insecure"] = ("true", False)  # the sandbox emulator's throw-away certificate
    return values


def progress_from_event(event: Any) -> ProgressEvent | None:
    """An Automation API engine event as a hainfra progress event (None for the rest)."""
    for attr, status in (("resource_pre_event", "start"), ("res_outputs_event", "done"), ("res_op_failed_event", "failed")):
        inner = getattr(event, attr, None)
        if inner is not None:
            meta = inner.metadata
            if meta.type == "pulumi:pulumi:Stack":
                return None
            op = getattr(meta.op, "value", meta.op)
            return ProgressEvent(OP_ACTIONS.get(op, op), meta.type, meta.urn.split("::")[-1], status)
    return None


def map_error(exc: BaseException, stack: str, diagnostics: list[tuple[str, str]]) -> HainfraError:
    """Automation API failures as hainfra errors naming the fix."""
    from pulumi.automation import CommandError, ConcurrentUpdateError  # function-local: start-up time

    text = str(exc)
    if isinstance(exc, ConcurrentUpdateError):
        return StackLockedError(f"stack {stack!r} is locked by another update; wait for it, or if none runs, "
                                f"`pulumi cancel --stack {stack}` clears the lock")
    if "NoCredentialProviders" in text or "no valid credential sources" in text or "failed to refresh cached creden" in text:
        return EngineError("AWS credentials are missing: set AWS_PROFILE (and run `aws sso login`) or "
                           "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, then retry")
    if "passphrase must be set" in text or "PULUMI_CONFIG_PASSPHRASE" in text:
        return EngineError("the secrets passphrase is missing: set PULUMI_CONFIG_PASSPHRASE or the "
                           "pulumi_config_passphrase parameter")
    for urn, message in diagnostics:
        if urn:
            return ResourceError(urn, message.strip())
    if isinstance(exc, CommandError):
        return EngineError(f"pulumi failed: {text.strip()[-2000:]}")
    return EngineError(f"pulumi failed: {type(exc).__name__}: {text}")


class PulumiEngine(Engine):
    """Real AWS through the Automation API; same program and outputs as the sandbox."""

    name = "pulumi"

    def __init__(self, config: StackConfig, progress: Progress | None = None, backend_url: str | None = None,
                 secrets_provider: str | None = None) -> None:
        super().__init__(config, progress)
        self.backend_url = backend_url or config.pulumi_backend_url or default_backend()
        self.secrets_provider = secrets_provider or config.pulumi_secrets_provider
        self._diagnostics: list[tuple[str, str]] = []

    # --- plumbing ----------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        passphrase = self.config.pulumi_config_passphrase or os.environ.get("PULUMI_CONFIG_PASSPHRASE")
        env = {"PULUMI_CONFIG_PASSPHRASE": passphrase} if passphrase is not None else {}
        if self.config.aws_endpoint_url:
            env.update(AWS_ACCESS_KEY_ID=EMULATOR_CREDENTIALS["aws_access_key_id"],
                       AWS_SECRET_ACCESS_KEY=EMULATOR_CREDENTIALS["aws_secret_access_key"])
        return env

    def _stack(self) -> Any:
        if shutil.which("pulumi") is None:
            raise EngineError(INSTALL_HELP)
        from pulumi import automation as auto  # function-local: start-up time (gRPC stack)

        if self.backend_url.startswith("file://"):
            os.makedirs(self.backend_url[len("file://"):], exist_ok=True)
        opts = auto.LocalWorkspaceOptions(
            project_settings=auto.ProjectSettings(name=self.config.project, runtime="python",
                                                  backend=auto.ProjectBackend(url=self.backend_url)),
            secrets_provider=self.secrets_provider, env_vars=self._env())
        stack = auto.create_or_select_stack(stack_name=self.config.stack, project_name=self.config.project,
                                            program=lambda: program(self.config), opts=opts)
        stack.set_all_config({k: auto.ConfigValue(value=v, secret=s) for k, (v, s) in config_map(self.config).items()},
                             path=True)
        return stack

    def _on_event(self, event: Any) -> None:
        diag = getattr(event, "diagnostic_event", None)
        if diag is not None and getattr(diag, "severity", "") == "error":
            self._diagnostics.append((diag.urn or "", diag.message))
        progress = progress_from_event(event)
        if progress is not None:
            self.progress(progress)

    def _run(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(stack)`` on a worker thread; Ctrl-C cancels the update cleanly."""
        result: dict[str, Any] = {}
        self._diagnostics = []

        def work() -> None:
            asyncio.set_event_loop(asyncio.new_event_loop())
            try:
                result["stack"] = self._stack()
                result["value"] = fn(result["stack"])
            except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
                result["error"] = exc

        thread = threading.Thread(target=work, name=f"hainfra-pulumi-{self.config.stack}")
        thread.start()
        try:
            while thread.is_alive():
                thread.join(0.2)
        except KeyboardInterrupt:
            if "stack" in result:
                result["stack"].cancel()
            thread.join()
            raise
        if "error" in result:
            error = result["error"]
            raise error if isinstance(error, HainfraError) else map_error(error, self.config.stack, self._diagnostics)
        return result["value"]

    def _rows(self, events: list[Any]) -> list[dict[str, Any]]:
        rows = []
        for event in events:
            pre = getattr(event, "resource_pre_event", None)
            if pre is None or pre.metadata.type == "pulumi:pulumi:Stack":
                continue
            op = getattr(pre.metadata.op, "value", pre.metadata.op)
            rows.append(change_row(OP_ACTIONS.get(op, op), pre.metadata.type, pre.metadata.urn.split("::")[-1],
                                   pre.metadata.urn, list(pre.metadata.diffs or [])))
        return rows

    # --- the interface ------------------------------------------------------------------------------
    def preview(self) -> OperationResult:
        started = time.perf_counter()
        events: list[Any] = []

        def run(stack: Any) -> None:
            stack.preview(on_event=lambda e: (events.append(e), self._on_event(e)))

        self._run(run)
        return OperationResult("preview", changes_frame(self._rows(events)), seconds=time.perf_counter() - started)

    def up(self) -> OperationResult:
        started = time.perf_counter()
        events: list[Any] = []
        up = self._run(lambda stack: stack.up(on_event=lambda e: (events.append(e), self._on_event(e))))
        outputs = {k: v.value for k, v in up.outputs.items()}
        return OperationResult("up", changes_frame(self._rows(events)), outputs, time.perf_counter() - started)

    def outputs(self) -> dict[str, Any]:
        return self._run(lambda stack: {k: v.value for k, v in stack.outputs().items()})

    def refresh(self) -> OperationResult:
        """Compare state with AWS; the rows are the resources that drifted."""
        started = time.perf_counter()
        events: list[Any] = []
        self._run(lambda stack: stack.refresh(on_event=lambda e: (events.append(e), self._on_event(e))))
        rows = [r for r in self._rows(events) if r["action"] != "same"]
        return OperationResult("refresh", changes_frame(rows), seconds=time.perf_counter() - started)

    def destroy(self, forget: bool = False) -> OperationResult:
        """``pulumi destroy`` then remove the stack; ``forget``: only remove it (``pulumi stack rm --force``).

        A deletion-protected ALB (prod) has its protection lifted first, in this same run.
        """
        from hainfra.engines.protection import lift_deletion_protection  # function-local: start-up time

        started = time.perf_counter()
        events: list[Any] = []
        lifted: list[dict[str, Any]] = []

        def run(stack: Any) -> None:
            if not forget:
                outputs = {k: v.value for k, v in stack.outputs().items()}
                lifted.extend(lift_deletion_protection(outputs, self.aws_client_kwargs()))
                stack.destroy(on_event=lambda e: (events.append(e), self._on_event(e)))
            stack.workspace.remove_stack(self.config.stack, force=forget)

        self._run(run)
        return OperationResult("destroy", changes_frame(lifted + self._rows(events)),
                               seconds=time.perf_counter() - started)

    def aws_client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"region_name": self.config.region}
        if self.config.aws_endpoint_url:
            kwargs.update(endpoint_url=self.config.aws_endpoint_url, **EMULATOR_CREDENTIALS)
        return kwargs
