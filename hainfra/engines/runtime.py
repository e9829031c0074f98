"""Evaluate a Pulumi program with Pulumi's own SDK mock runtime.

The SDK resolves every input before it registers a resource, so a :class:`Realiser`
sees resources in dependency order, independent ones concurrently (one executor
thread each). Used offline (plan, policy) and by the sandbox engine (realise via boto3).

Pulumi's runtime settings are process-global context variables and a Jupyter kernel
already runs an event loop, so every evaluation runs on its own thread with its own
loop and a reset root stack: two evaluations in one process never see each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func

log = logging.getLogger(__name__)
STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass
class Registration:
    """One resource as the program declared it, with what the realiser answered."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    dependencies: list[str] = field(default_factory=list)
    ignore_changes: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)  # input key -> URNs it came from
    id: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    order: int = 0


class Realiser(Protocol):
    """Turns a declared resource into (id, outputs); answers provider function calls."""

    def register(self, reg: Registration) -> tuple[str, dict[str, Any]]: ...

    def call(self, token: str, args: dict[str, Any]) -> dict[str, Any]: ...


@dataclass
class Evaluation:
    registrations: list[Registration]
    outputs: dict[str, Any]

    @property
    def custom(self) -> list[Registration]:
        return [r for r in self.registrations if r.custom]


class _Monitor(pulumi_mocks.MockMonitor):
    """MockMonitor that also hands the realiser parent, dependencies and ignore_changes."""

    def __init__(self, mocks: _Mocks) -> None:
        super().__init__(mocks)
        self.local = threading.local()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        self.local.request = request
        return super().RegisterResource(request)


class _Mocks(pulumi_mocks.Mocks):
    def __init__(self, realiser: Realiser) -> None:
        self.realiser = realiser
        self.monitor: _Monitor | None = None
        self.registrations: list[Registration] = []
        self.errors: list[BaseException] = []
        self._order = itertools.count(1)
        self._lock = threading.Lock()

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
        assert self.monitor is not None
        request = self.monitor.local.request
        reg = Registration(
            urn=self.monitor.make_urn(request.parent, args.typ, args.name),
            type=args.typ, name=args.name, parent=request.parent, custom=bool(args.custom),
            inputs=plain_assets(dict(args.inputs)), dependencies=list(request.dependencies),
            ignore_changes=list(request.ignoreChanges),
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
        )
        if reg.custom:
            try:
                reg.id, reg.outputs = self.realiser.register(reg)
            except BaseException as exc:
                with self._lock:
                    self.errors.append(exc)
                raise
        with self._lock:
            reg.order = next(self._order)
            self.registrations.append(reg)
        return reg.id, {**args.inputs, **reg.outputs}  # the SDK's own types (an archive stays an Archive)

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict, list]:
        try:
            return self.realiser.call(args.token, dict(args.args)), []
        except BaseException as exc:
            with self._lock:
                self.errors.append(exc)
            raise


def evaluate(
    program: Callable[[], Any],
    realiser: Realiser,
    *,
    project: str,
    stack: str,
    preview: bool = False,
    parallel: int = 8,
) -> Evaluation:
    """Run ``program`` under the mock runtime on a private thread and event loop.

    Raises:
        The first exception the realiser or the program raised (e.g. a ResourceError).
    """
    mocks = _Mocks(realiser)
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            with _private_loop(parallel) as loop:
                try:
                    _run_program(loop, program, mocks, result, project=project, stack=stack, preview=preview)
                except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
                    result["error"] = exc
        finally:
            pulumi_settings.reset_options()  # last: cancelled tasks may still read the settings while closing

    thread = threading.Thread(target=run, name=f"hainfra-eval-{stack}")
    thread.start()
    thread.join()
    if mocks.errors:
        raise mocks.errors[0]
    if "error" in result:
        raise result["error"]
    return Evaluation(sorted(mocks.registrations, key=lambda r: r.order), result.get("outputs") or {})


@contextlib.contextmanager
def _private_loop(parallel: int) -> Iterator[asyncio.AbstractEventLoop]:
    """A new event loop for this thread, its executor's threads each with their own loop (the mock monitor
    needs one); on the way out every task is cancelled and every loop closed, so nothing leaks into the
    next evaluation."""
    worker_loops: list[asyncio.AbstractEventLoop] = []

    def worker_init() -> None:
        worker_loop = asyncio.new_event_loop()
        asyncio.set_event_loop(worker_loop)
        worker_loops.append(worker_loop)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    executor = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="hainfra-res", initializer=worker_init)
    loop.set_default_executor(executor)
    try:
        yield loop
    finally:
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.run_until_complete(asyncio.sleep(0))
        executor.shutdown(wait=True)
        for worker_loop in worker_loops:
            worker_loop.close()
        asyncio.set_event_loop(None)
        loop.close()


def _run_program(loop: asyncio.AbstractEventLoop, program: Callable[[], Any], mocks: _Mocks, result: dict[str, Any],
                 *, project: str, stack: str, preview: bool) -> None:
    """Point Pulumi's process-global settings at ``mocks`` and run ``program``; its outputs land in ``result``."""
    pulumi_settings.reset_options(project=project, stack=stack, preview=preview)
    monitor = _Monitor(mocks)
    mocks.monitor = monitor
    pulumi_mocks.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor, logger=log)

    async def body() -> None:
        declared = program()
        result["outputs"] = await pulumi.Output.from_input(declared or {}).future()

    loop.run_until_complete(run_pulumi_func(body))


def plain_assets(value: Any) -> Any:
    """Pulumi assets and archives as plain data, so inputs stay JSON (state, plan, policy, the Terraform export):
    an archive is ``{"assets": {name: ...}}`` (or ``{"path": ...}``), a text asset ``{"text": ...}``."""
    if isinstance(value, dict):
        return {k: plain_assets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_assets(v) for v in value]
    if isinstance(value, pulumi.AssetArchive):
        return {"assets": {k: plain_assets(v) for k, v in value.assets.items()}}
    if isinstance(value, pulumi.StringAsset):
        return {"text": value.text}
    if isinstance(value, (pulumi.FileArchive, pulumi.FileAsset)):
        return {"path": value.path}
    return value


SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def unwrap_secrets(value: Any) -> Any:
    """Pulumi's wire format wraps secret values; handlers and policy rules want the plain value."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return unwrap_secrets(value.get("value"))
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value
