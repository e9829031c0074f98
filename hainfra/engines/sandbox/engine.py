"""The sandbox engine: Pulumi's mock runtime evaluates the program, handlers realise it in the emulator."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from hainfra.aws import EMULATOR_CREDENTIALS, Ctx
from hainfra.config import StackConfig
from hainfra.engines.base import Engine, OperationResult, Progress, ProgressEvent, change_row, changes_frame
from hainfra.engines.protection import lift_deletion_protection
from hainfra.engines.runtime import Registration, evaluate, unwrap_secrets
from hainfra.engines.sandbox import emulator
from hainfra.engines.sandbox.handlers import REGISTRY, Handler
from hainfra.engines.sandbox.state import State, stack_lock
from hainfra.engines.sandbox.sweep import sweep
from hainfra.errors import EmulatorError, LeftoverError, ResourceError, UnsupportedResourceError
from hainfra.plan import evaluate_offline
from hainfra.stack import program

log = logging.getLogger(__name__)
T = TypeVar("T")

def stored_inputs(reg: Registration) -> dict[str, Any]:
    """Inputs as kept in state: ignore_changes keys (generated secrets) only as a fingerprint."""
    plain = unwrap_secrets(reg.inputs)
    return {k: ("<ignored>" if k in reg.ignore_changes else v) for k, v in plain.items()}


def changed_keys(old: dict[str, Any], new: dict[str, Any], ignore: list[str]) -> list[str]:
    keys = (set(old) | set(new)) - set(ignore)
    return sorted(k for k in keys if json.dumps(old.get(k), sort_keys=True) != json.dumps(new.get(k), sort_keys=True))


def classify(handler: Handler, changed: list[str]) -> str:
    """same / update / replace for a set of changed input keys."""
    if not changed:
        return "same"
    return "update" if all(k in handler.updatable for k in needs_update(handler, changed)) else "replace"


def needs_update(handler: Handler, changed: list[str]) -> list[str]:
    """Changed keys the handler's update must apply (tags go to its tagger when it has one)."""
    return [k for k in changed if not (k == "tags" and handler.tag)]


class _Realiser:
    """Makes the emulator match the program, one registration at a time (threads: one per resource)."""

    def __init__(self, engine: SandboxEngine, state: State, ctx: Ctx, apply: bool) -> None:
        self.engine, self.state, self.ctx, self.apply = engine, state, ctx, apply
        self.rows: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self._lock = threading.Lock()

    def _row(self, action: str, reg: Registration, changed: list[str] | None = None) -> None:
        with self._lock:
            self.rows.append(change_row(action, reg.type, reg.name, reg.urn, changed))

    def register(self, reg: Registration) -> tuple[str, dict[str, Any]]:
        with self._lock:
            self.seen.add(reg.urn)
        handler = REGISTRY[reg.type]
        inputs = unwrap_secrets(reg.inputs)
        stored = stored_inputs(reg)
        old = self.state.resources.get(reg.urn)
        if old and old.get("status") == "created" and old["type"] == reg.type:
            changed = changed_keys(old["inputs"], stored, reg.ignore_changes)
            action = classify(handler, changed)
            self._row(action, reg, changed)
            if action == "same" or not self.apply:
                return old["id"], old["outputs"]
            return self.engine.step(action, reg.type, reg.name, reg.urn,
                                    lambda: self._change(handler, reg, old, inputs, stored, action, changed))
        self._row("create", reg)
        if not self.apply:
            return f"<new:{reg.name}>", {}
        return self.engine.step("create", reg.type, reg.name, reg.urn,
                                lambda: self._create(handler, reg, inputs, stored, old))

    def _create(self, handler: Handler, reg: Registration, inputs: dict[str, Any], stored: dict[str, Any],
                old: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
        if old and old.get("status") == "pending" and handler.find:
            orphan = handler.find(self.ctx, inputs)  # half-made by a killed run: clean it up first
            if orphan:
                log.info("removing %s left half-made by an interrupted run", orphan)
                handler.delete(self.ctx, orphan, inputs)
        entry = {"urn": reg.urn, "type": reg.type, "name": reg.name, "parent": reg.parent, "status": "pending",
                 "inputs": stored, "outputs": {}, "id": ""}
        self.state.put(reg.urn, entry)
        rid, outputs = handler.create(self.ctx, inputs)
        self.state.put(reg.urn, {**entry, "status": "created", "id": rid, "outputs": outputs,
                                 "order": self.state.resources[reg.urn]["order"]})
        return rid, outputs

    def _change(self, handler: Handler, reg: Registration, old: dict[str, Any], inputs: dict[str, Any],
                stored: dict[str, Any], action: str, changed: list[str]) -> tuple[str, dict[str, Any]]:
        if action == "replace":
            handler.delete(self.ctx, old["id"], {**old["inputs"], **old["outputs"]})
            self.state.remove(reg.urn)
            return self._create(handler, reg, inputs, stored, None)
        outputs = dict(old["outputs"])
        if "tags" in changed and handler.tag:
            handler.tag(self.ctx, old["id"], {**inputs, **outputs}, old["inputs"].get("tags") or {},
                        inputs.get("tags") or {})
        if needs_update(handler, changed):
            if handler.update is None:  # a handler that lists updatable keys must say how to update them
                raise UnsupportedResourceError(f"the sandbox handler for {reg.type} lists updatable keys but has "
                                               f"no update; cannot change {', '.join(changed)} of {reg.urn}")
            outputs.update(handler.update(self.ctx, old["id"], old["inputs"], inputs))
        self.state.put(reg.urn, {**old, "inputs": stored, "outputs": outputs})
        return old["id"], outputs

    def call(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        return provider_call(self.ctx, token, args)


def provider_call(ctx: Ctx, token: str, args: dict[str, Any]) -> dict[str, Any]:
    """The provider functions the stack calls, answered by the emulator."""
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        zones = ctx.client("ec2").describe_availability_zones(
            Filters=[{"Name": "state", "Values": [args.get("state", "available")]}])["AvailabilityZones"]
        return {"names": sorted(z["ZoneName"] for z in zones), "zoneIds": [z["ZoneId"] for z in zones]}
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        ident = ctx.client("sts").get_caller_identity()
        return {"accountId": ident["Account"], "arn": ident["Arn"], "userId": ident["UserId"]}
    if token == "aws:index/getPartition:getPartition":
        return {"partition": "aws-cn" if ctx.region.startswith("cn-") else
                "aws-us-gov" if ctx.region.startswith("us-gov-") else "aws", "dnsSuffix": "amazonaws.com"}
    if token == "aws:ssm/getParameter:getParameter":
        param = ctx.client("ssm").get_parameter(Name=args["name"], WithDecryption=bool(args.get("withDecryption")))
        return {"name": args["name"], "value": param["Parameter"]["Value"], "type": param["Parameter"]["Type"]}
    if token == "aws:secretsmanager/getRandomPassword:getRandomPassword":
        keys = {"passwordLength": "PasswordLength", "excludePunctuation": "ExcludePunctuation"}
        kwargs = {api: (int(args[k]) if k == "passwordLength" else args[k]) for k, api in keys.items() if k in args}
        return {"randomPassword": ctx.client("secretsmanager").get_random_password(**kwargs)["RandomPassword"]}
    raise UnsupportedResourceError(f"the sandbox does not implement provider function {token}")


class SandboxEngine(Engine):
    """No cloud account, no CLI: a moto server plays AWS (see DESIGN.md "Engines")."""

    name = "sandbox"

    def __init__(self, config: StackConfig, progress: Progress | None = None, endpoint_url: str | None = None,
                 parallel: int = 8) -> None:
        super().__init__(config, progress)
        self._endpoint_arg = endpoint_url or config.aws_endpoint_url or None
        self.parallel = parallel

    # --- plumbing ------------------------------------------------------------------------------
    @property
    def endpoint_url(self) -> str:
        return emulator.resolve(self._endpoint_arg)

    @property
    def emulated(self) -> bool:
        return True

    def aws_client_kwargs(self) -> dict[str, Any]:
        return {"region_name": self.config.region, "endpoint_url": self.endpoint_url, **EMULATOR_CREDENTIALS}

    def _ctx(self, url: str) -> Ctx:
        return Ctx(url, self.config.region, max_pool=self.parallel * 2)

    def _state(self, url: str) -> State:
        """The stack's state, refusing state written against another (gone) emulator."""
        state = State.for_stack(self.config.stack)
        current = emulator.identity(url)
        recorded = state.meta.get("emulator_id")
        if not state.empty and recorded and recorded != current:
            self._refuse_if_alive_elsewhere(state, url)
            raise EmulatorError(
                f"the state of stack {self.config.stack!r} belongs to emulator {recorded} "
                f"(last at {state.meta.get('endpoint')}), which is gone; this emulator ({url}) is {current} and "
                f"holds none of it. Fix: `hainfra destroy --stack {self.config.stack} --forget` drops the stale state")
        state.meta.update(emulator_id=current, endpoint=url, region=self.config.region, engine=self.name)
        return state

    def _refuse_if_alive_elsewhere(self, state: State, url: str) -> None:
        """The stack's own emulator may still run at its old address: never call it gone then."""
        elsewhere = state.meta.get("endpoint")
        if not elsewhere or elsewhere == url:
            return
        status = emulator.probe(elsewhere)
        if status == emulator.SILENT:
            raise emulator.unreachable_error(elsewhere, status, f"the emulator holding stack {self.config.stack!r}")
        if status == emulator.ANSWERS and emulator.identity(elsewhere) == state.meta.get("emulator_id"):
            raise EmulatorError(
                f"the state of stack {self.config.stack!r} belongs to the emulator still running at {elsewhere}, "
                f"not to {url}. Fix: pass -p aws_endpoint_url {elsewhere}")

    def _check_types(self) -> None:
        """Every declared type needs a handler: refuse before anything is created."""
        evaluation, _ = evaluate_offline(self.config)
        missing = sorted({r.type for r in evaluation.custom if r.type not in REGISTRY})
        if missing:
            raise UnsupportedResourceError(
                f"the sandbox has no handler for {', '.join(missing)}; nothing was created. "
                "Add one in hainfra/engines/sandbox/handlers/ or use engine=pulumi")

    def _evaluate(self, state: State, ctx: Ctx, apply: bool) -> tuple[_Realiser, dict[str, Any]]:
        realiser = _Realiser(self, state, ctx, apply)
        evaluation = evaluate(lambda: program(self.config), realiser, project=self.config.project,
                              stack=self.config.stack, preview=not apply, parallel=self.parallel)
        return realiser, evaluation.outputs

    def step(self, action: str, type_: str, name: str, urn: str, fn: Callable[[], T]) -> T:
        """One resource operation with progress events; a failure becomes a ResourceError naming the URN."""
        self.progress(ProgressEvent(action, type_, name, "start"))
        started = time.perf_counter()
        try:
            result = fn()
        except Exception as exc:
            self.progress(ProgressEvent(action, type_, name, "failed", message=str(exc)))
            raise ResourceError(urn, f"{action} failed: {exc}") from exc
        self.progress(ProgressEvent(action, type_, name, "done", time.perf_counter() - started))
        return result

    def _delete(self, ctx: Ctx, state: State, entries: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
        for entry in entries:
            handler = REGISTRY.get(entry["type"])
            if handler is None:
                raise UnsupportedResourceError(f"state holds {entry['urn']} of unknown type {entry['type']}")

            def delete(entry: dict[str, Any] = entry, handler: Handler = handler) -> None:
                if entry.get("status") == "pending":  # half-made by a killed run: find it by name
                    orphan = handler.find(ctx, entry["inputs"]) if handler.find else None
                    if orphan:
                        handler.delete(ctx, orphan, entry["inputs"])
                else:
                    handler.delete(ctx, entry["id"], {**entry["inputs"], **entry["outputs"]})

            self.step("delete", entry["type"], entry["name"], entry["urn"], delete)
            state.remove(entry["urn"])
            rows.append(change_row("delete", entry["type"], entry["name"], entry["urn"]))

    def _refuse_to_orphan(self, state: State) -> None:
        """``--forget`` drops state only when its emulator is gone: never orphan live resources."""
        endpoint, recorded = state.meta.get("endpoint"), state.meta.get("emulator_id")
        if state.empty or not endpoint:
            return
        status = emulator.probe(endpoint)
        if status == emulator.GONE or (status == emulator.ANSWERS and emulator.identity(endpoint) != recorded):
            return  # nothing listens, or another emulator took the port: the resources are gone with theirs
        if status == emulator.SILENT:
            raise emulator.unreachable_error(endpoint, status, f"the emulator holding stack {self.config.stack!r}")
        raise EmulatorError(
            f"refusing to forget stack {self.config.stack!r}: its emulator at {endpoint} is running and holds its "
            f"{len(state.resources)} resources, which would be orphaned. Fix: `hainfra destroy --stack "
            f"{self.config.stack} -p aws_endpoint_url {endpoint}` deletes them")

    # --- the interface ---------------------------------------------------------------------------
    def preview(self) -> OperationResult:
        started = time.perf_counter()
        self._check_types()
        url = self.endpoint_url
        state = self._state(url)
        realiser, _ = self._evaluate(state, self._ctx(url), apply=False)
        rows = realiser.rows + [change_row("delete", e["type"], e["name"], e["urn"])
                                for e in state.in_reverse_order() if e["urn"] not in realiser.seen]
        return OperationResult("preview", changes_frame(rows), seconds=time.perf_counter() - started)

    def up(self) -> OperationResult:
        started = time.perf_counter()
        self._check_types()
        url = self.endpoint_url
        with stack_lock(self.config.stack, "up"):
            state = self._state(url)
            state.save()
            ctx = self._ctx(url)
            realiser, outputs = self._evaluate(state, ctx, apply=True)
            removed = [e for e in state.in_reverse_order() if e["urn"] not in realiser.seen]
            rows = list(realiser.rows)
            self._delete(ctx, state, removed, rows)
            state.outputs = outputs
            state.save()
        return OperationResult("up", changes_frame(rows), outputs, time.perf_counter() - started,
                               api_calls=dict(ctx.calls))

    def outputs(self) -> dict[str, Any]:
        """The recorded outputs — an EmulatorError when the emulator holding them is gone or elsewhere."""
        state = State.for_stack(self.config.stack)
        if state.outputs:
            self._state(self.endpoint_url)  # stale outputs name resources that no longer exist: say so
        return dict(state.outputs)

    def refresh(self) -> OperationResult:
        """Drop resources that are gone from the emulator (kinds in ``refresh.CHECKS``) from state."""
        from hainfra.engines.sandbox import refresh

        started = time.perf_counter()
        with stack_lock(self.config.stack, "refresh"):
            url = self.endpoint_url
            state, ctx = self._state(url), self._ctx(url)
            rows = []
            for entry in state.in_reverse_order():
                if refresh.gone(ctx, entry):
                    state.remove(entry["urn"])
                    rows.append(change_row("delete", entry["type"], entry["name"], entry["urn"], ["gone"]))
            state.save()
        return OperationResult("refresh", changes_frame(rows), seconds=time.perf_counter() - started)

    def destroy(self, forget: bool = False) -> OperationResult:
        """Delete in reverse creation order, then sweep the emulator: a leftover is an error.

        Args:
            forget: drop state that belongs to an emulator that is gone, deleting nothing.
        """
        started = time.perf_counter()
        with stack_lock(self.config.stack, "destroy"):
            if forget:
                state = State.for_stack(self.config.stack)
                self._refuse_to_orphan(state)
                rows = [change_row("forget", e["type"], e["name"], e["urn"]) for e in state.in_reverse_order()]
                state.drop()
                return OperationResult("destroy", changes_frame(rows), seconds=time.perf_counter() - started)
            url = self.endpoint_url
            state = self._state(url)
            ctx = self._ctx(url)
            rows: list[dict[str, Any]] = lift_deletion_protection(state.outputs, self.aws_client_kwargs())
            self._delete(ctx, state, state.in_reverse_order(), rows)
            state.outputs = {}
            state.save()
            leftovers = sweep(ctx, self.config)
        result = OperationResult("destroy", changes_frame(rows), seconds=time.perf_counter() - started, sweep=leftovers)
        left = leftovers[leftovers["remaining"] > 0]
        if len(left):
            names = "; ".join(f"{r.service} {r.kind}: {r.names}" for r in left.itertuples())
            raise LeftoverError(f"destroy finished but the emulator still holds resources of stack "
                                f"{self.config.stack!r}: {names}")
        return result
