"""The sandbox engine: Pulumi's mock runtime evaluates the program, handlers realise it in the emulator."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd

from hainfra.aws import EMULATOR_CREDENTIALS, Ctx
from hainfra.config import StackConfig
from hainfra.engines import functions
from hainfra.engines.base import Engine, OperationResult, Progress, ProgressEvent, change_row, changes_frame
from hainfra.engines.changes import (
    IMMUTABLE,
    PENDING_ID,
    Diff,
    Planned,
    delete_blockers,
    diff,
    normalise,
    order_steps,
    refuse_data_loss,
    refuse_immutable,
)
from hainfra.engines.protection import lift_deletion_protection
from hainfra.engines.runtime import Registration, evaluate, unwrap_secrets
from hainfra.engines.sandbox import emulator, ownership, sweep, teardown
from hainfra.engines.sandbox.handlers import HELD, REGISTRY, REPLACE_RULES, Handler, ReplaceRule
from hainfra.engines.sandbox.state import State, stack_lock
from hainfra.errors import EmulatorError, LeftoverError, ResourceError, UnsupportedResourceError
from hainfra.naming import owner
from hainfra.plan import evaluate_offline
from hainfra.stack import program

log = logging.getLogger(__name__)
T = TypeVar("T")

def stored_inputs(reg: Registration) -> dict[str, Any]:
    """Inputs as kept in state: ignore_changes keys (generated secrets) only as a fingerprint."""
    plain = normalise(unwrap_secrets(reg.inputs))
    return {k: ("<ignored>" if k in reg.ignore_changes else v) for k, v in plain.items()}


def needs_update(handler: Handler, changed: list[str]) -> list[str]:
    """Changed keys the handler's update must apply (tags go to its tagger when it has one)."""
    return [k for k in changed if not (k == "tags" and handler.tag)]


def replace_rule(type_: str) -> ReplaceRule:
    """The type's replace-forcing inputs; a type without them is refused, never silently updated."""
    rule = REPLACE_RULES.get(type_)
    if rule is None:
        raise UnsupportedResourceError(
            f"the sandbox handler for {type_} declares no replace-forcing inputs, so a change to it cannot be "
            "previewed truthfully; add replaces_on(...) beside its handler (the provider's ForceNew arguments)")
    return rule


class _Realiser:
    """Makes the emulator match the program, one registration at a time (threads: one per resource).

    ``apply=False`` (preview, and the plan of an ``up``) changes nothing: a resource to be created or
    replaced answers with a pending id and no outputs, so whatever is computed from it is unknown
    and replacement propagates to the inputs that depend on it (see :mod:`hainfra.engines.changes`).
    """

    def __init__(self, engine: SandboxEngine, state: State, ctx: Ctx, apply: bool,
                 plan: _Realiser | None = None) -> None:
        self.engine, self.state, self.ctx, self.apply = engine, state, ctx, apply
        self.rows: list[dict[str, Any]] = []
        self.planned: list[Planned] = []
        self.seen: set[str] = set()
        self.creates: list[tuple[str, str, dict[str, Any], bool]] = []  # what the plan creates (ownership)
        # URN -> name of resources replaced delete-first (filled by the plan, handed to the apply)
        self.deleted_first: dict[str, str] = dict(plan.deleted_first) if plan else {}
        self._plan_rows = {r["urn"]: r for r in plan.rows} if plan else {}
        self._lock = threading.Lock()

    def _row(self, action: str, reg: Registration, causes: tuple[str, ...] | list[str] = (),
             diff_: Diff | None = None) -> None:
        planned = self._plan_rows.get(reg.urn)
        if planned and planned["action"] == "replace" and action == "create":  # deleted first by the plan
            action, causes = "replace", planned["changed"].split(", ")
        with self._lock:
            self.rows.append(change_row(action, reg.type, reg.name, reg.urn, list(causes)))
            old = self.state.resources.get(reg.urn) or {}
            self.planned.append(Planned(reg.urn, action, bool(diff_ and diff_.delete_first),
                                        tuple(reg.dependencies), int(old.get("order", 0))))
            if diff_ and diff_.delete_first:
                self.deleted_first[reg.urn] = reg.name

    def register(self, reg: Registration) -> tuple[str, dict[str, Any]]:
        with self._lock:
            self.seen.add(reg.urn)
        handler, rule = REGISTRY[reg.type], replace_rule(reg.type)
        inputs = normalise(unwrap_secrets(reg.inputs))
        stored = stored_inputs(reg)
        old = self.state.resources.get(reg.urn)
        if old and old.get("status") == "created" and old["type"] == reg.type:
            with self._lock:
                first = dict(self.deleted_first)
            d = diff(old["inputs"], stored, force_new=rule.force_new, unique=rule.unique, ignore=reg.ignore_changes,
                     property_deps=reg.property_dependencies, deleted_first=first)
            self._row(d.action, reg, d.causes, d)
            if d.action == "same" and self.apply and sorted(old.get("dependencies", [])) != sorted(reg.dependencies):
                # a new depends_on changes no input, but a destroy must see it
                self.state.put(reg.urn, {**old, "dependencies": list(reg.dependencies)})
            if d.action == "same" or (not self.apply and d.action == "update"):
                return old["id"], old["outputs"]
            if not self.apply:
                if d.action == "replace":  # the new copy is a create: its name must be free too
                    with self._lock:
                        self.creates.append((reg.type, reg.name, inputs, False))
                return f"{PENDING_ID}{reg.name}>", {}
            return self.engine.step(d.action, reg.type, reg.name, reg.urn,
                                    lambda: self._change(handler, reg, old, inputs, stored, d))
        self._row("create", reg)
        if not self.apply:
            with self._lock:
                self.creates.append((reg.type, reg.name, inputs, bool(old and old.get("status") == "pending")))
            return f"{PENDING_ID}{reg.name}>", {}
        return self.engine.step("create", reg.type, reg.name, reg.urn,
                                lambda: self._create(handler, reg, inputs, stored, old))

    def _create(self, handler: Handler, reg: Registration, inputs: dict[str, Any], stored: dict[str, Any],
                old: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
        pending = bool(old and old.get("status") == "pending")
        ctx = ownership.regional(self.ctx, inputs)  # a resource with its own region input lives there
        held = self.state.ids()
        found = ownership.lookup(handler, ctx, {**inputs, HELD: held}) if pending or handler.named else None
        if found and not found.part_of and found.id in held:
            found = None  # e.g. the old half of a replacement, same Name tag: the state holds it, never delete it
        if found and not ownership.may_create(found, self.engine.config.stack, pending):
            raise ownership.refuse([ownership.conflict(reg.type, reg.name, found)], self.engine.config.stack)
        if found and not found.part_of:  # ours, half-made by a killed run: clean it up first
            log.info("removing %s left half-made by an interrupted run", found.id)
            handler.delete(ctx, found.id, inputs)
        entry = {"urn": reg.urn, "type": reg.type, "name": reg.name, "parent": reg.parent, "status": "pending",
                 "inputs": stored, "outputs": {}, "id": "", "dependencies": list(reg.dependencies)}
        self.state.put(reg.urn, entry)
        rid, outputs = handler.create(ctx, inputs)
        self.state.put(reg.urn, {**entry, "status": "created", "id": rid, "outputs": outputs,
                                 "order": self.state.resources[reg.urn]["order"]})
        return rid, outputs

    def _change(self, handler: Handler, reg: Registration, old: dict[str, Any], inputs: dict[str, Any],
                stored: dict[str, Any], d: Diff) -> tuple[str, dict[str, Any]]:
        ctx = ownership.regional(self.ctx, inputs)
        if d.action == "replace":
            if d.delete_first:  # the plan did not delete it first (it could not know): delete, then create
                handler.delete(ctx, old["id"], {**old["inputs"], **old["outputs"]})
                self.state.remove(reg.urn)
            else:  # create-before-delete: the old one is deleted once its dependents have moved
                self.state.retire(reg.urn)
            return self._create(handler, reg, inputs, stored, None)
        changed = list(d.changed)
        outputs = dict(old["outputs"])
        if "tags" in changed and handler.tag:
            handler.tag(ctx, old["id"], {**inputs, **outputs}, old["inputs"].get("tags") or {},
                        inputs.get("tags") or {})
        if needs_update(handler, changed):
            if handler.update is None:  # a handler that lists updatable keys must say how to update them
                raise UnsupportedResourceError(f"the sandbox handler for {reg.type} lists updatable keys but has "
                                               f"no update; cannot change {', '.join(changed)} of {reg.urn}")
            outputs.update(handler.update(ctx, old["id"], old["inputs"], inputs))
        rid = outputs.pop("id", old["id"])  # an in-place change that yields a new id (route table association)
        self.state.put(reg.urn, {**old, "id": rid, "inputs": stored, "outputs": outputs,
                                 "dependencies": list(reg.dependencies)})
        return rid, outputs

    def call(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        return functions.live_answer(self.ctx, token, args)


def _first_failure(failed: dict[str, BaseException], by_urn: dict[str, dict[str, Any]], state: State) -> BaseException:
    """The newest failed delete (a ResourceError naming it), with the others and what stays in the state."""
    urns = sorted(failed, key=lambda urn: (urn not in by_urn, -int(by_urn.get(urn, {}).get("order", 0))))
    first = failed[urns[0]]
    if not isinstance(first, ResourceError):
        return first
    also = f"; also failed: {', '.join(urns[1:])}" if len(urns) > 1 else ""
    return ResourceError(first.urn, f"{first.reason.rstrip('.')}{also}. Independent resources were deleted; the "
                                    f"{len(state.resources)} still in the state (what failed and what it depends on) "
                                    "were kept")


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
        for type_ in sorted({r.type for r in evaluation.custom}):
            replace_rule(type_)

    def _evaluate(self, state: State, ctx: Ctx, apply: bool,
                  plan: _Realiser | None = None) -> tuple[_Realiser, dict[str, Any]]:
        realiser = _Realiser(self, state, ctx, apply, plan)
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

    def _delete(self, ctx: Ctx, state: State, entries: list[dict[str, Any]], rows: list[dict[str, Any]],
                then: dict[str, tuple[set[str], Callable[[], None]]] | None = None) -> None:
        """Delete ``entries`` in parallel along their dependency graph (see :mod:`.teardown`).

        Each resource leaves the state (saved atomically) right after its delete returns, so a kill at
        any instant leaves the state listing everything that may still exist. A failed delete keeps
        what it depends on; independent resources are still deleted; then the first failure is raised.

        Args:
            then: more tasks (name -> URNs whose delete each waits for, work), run beside the deletes.
        """
        then = then or {}
        unknown = sorted({e["type"] for e in entries if e["type"] not in REGISTRY})
        if unknown:
            raise UnsupportedResourceError(f"state holds resources of unknown type {', '.join(unknown)}; "
                                           "nothing was deleted")
        by_urn = {e["urn"]: e for e in entries}
        lock = threading.Lock()

        def delete(urn: str) -> None:
            if urn in then:
                return then[urn][1]()
            entry = by_urn[urn]
            replaced = entry.get("status") == "replaced"  # the old half of a replacement: its row says replace
            mine = self.step("delete-replaced" if replaced else "delete", entry["type"], entry["name"], urn,
                             lambda: self._delete_one(ctx, state, REGISTRY[entry["type"]], entry))
            state.remove(urn)
            if not (replaced and mine):
                with lock:
                    rows.append(change_row("delete" if mine else "not ours", entry["type"], entry["name"], urn))

        blockers = {**delete_blockers(entries), **{name: waits for name, (waits, _) in then.items()}}
        failed = teardown.walk(blockers, delete, parallel=self.parallel,  # deletes first, newest first
                               rank=lambda urn: (1, 0) if urn in then else (0, -int(by_urn[urn].get("order", 0))))
        if failed:
            error = _first_failure(failed, by_urn, state)
            raise error from failed.get(getattr(error, "urn", ""))

    def _delete_and_sweep(self, ctx: Ctx, state: State, rows: list[dict[str, Any]]) -> pd.DataFrame:
        """Delete everything in the state; each sweep check runs as soon as the kinds it counts are deleted.

        A check that finds something that early is run again at the end (see ``sweep.WAITS_FOR``).
        """
        entries = state.in_reverse_order()
        found: dict[tuple[str, str], sweep.Split] = {}

        def check(key: tuple[str, str]) -> Callable[[], None]:
            def run() -> None:
                found[key] = sweep.check(ctx, self.config, key)
            return run

        then = {f"sweep {service} {kind}": (waits, check((service, kind)))
                for (service, kind), waits in sweep.waits(entries).items()}
        try:
            self._delete(ctx, state, entries, rows, then)
        except ResourceError as exc:
            raise ResourceError(exc.urn, f"{exc.reason}. Fix the cause, then `hainfra destroy --stack "
                                         f"{self.config.stack}` again deletes what remains") from exc
        state.outputs = {}
        state.save()
        found.update(sweep.checks(ctx, self.config, [key for key, f in found.items() if f.ours], self.parallel))
        return sweep.frame(found)

    def _delete_one(self, ctx: Ctx, state: State, handler: Handler, entry: dict[str, Any]) -> bool:
        """Delete one resource of the state if it is still this stack's; False (and untouched) if not."""
        pending = entry.get("status") == "pending"
        ctx = ownership.regional(ctx, entry["inputs"])  # the state's inputs record the region it was created in
        props = dict(entry["inputs"]) if pending else {**entry["inputs"], **entry["outputs"], "id": entry["id"]}
        found = ownership.lookup(handler, ctx, {**props, HELD: state.ids()} if pending else props)
        if found and ownership.foreign(found, self.config.stack):
            log.warning("not deleting %s %s: it now belongs to stack %r", entry["type"], found.id, owner(found.tags))
            return False
        if not pending:
            handler.delete(ctx, entry["id"], {**entry["inputs"], **entry["outputs"]})
        elif found and not found.part_of and found.id in state.ids():
            pass  # the old half of a replacement shares the Name tag: the state holds it, its own entry deletes it
        elif found or handler.lookup is None:  # half-made by a killed run (no lookup: the delete is idempotent)
            handler.delete(ctx, "" if found is None or found.part_of else found.id, props)
        return True

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
    def _plan(self, state: State, ctx: Ctx) -> tuple[_Realiser, list[dict[str, Any]]]:
        """What an ``up`` would do, refused before anything changes when it may not be done.

        Returns the planning realiser and the change rows (removed resources as deletes).
        """
        refuse_immutable(state.meta.get("parameters", {}), self.config)
        plan, _ = self._evaluate(state, ctx, apply=False)
        removed = [e for e in state.in_reverse_order() if e["urn"] not in plan.seen]
        rows = plan.rows + [change_row("delete", e["type"], e["name"], e["urn"],
                                       ["left by an interrupted replacement"] if e.get("status") == "replaced" else [])
                            for e in removed]
        plan.planned += [Planned(e["urn"], "delete", old_order=int(e.get("order", 0))) for e in removed]
        refuse_data_loss([(r["type"], r["name"]) for r in rows if r["action"] in ("replace", "delete")],
                         self.config.allow_replace, self.config.stack)
        return plan, rows

    def _apply(self, state: State, ctx: Ctx, plan: _Realiser) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The three phases of :func:`hainfra.engines.changes.order_steps`; the SDK orders the middle one."""
        first = [state.resources[s.urn] for s in order_steps(plan.planned)
                 if s.op == "delete-replaced" and s.urn in plan.deleted_first and s.urn in state.resources]
        self._delete(ctx, state, first, [])
        realiser, outputs = self._evaluate(state, ctx, apply=True, plan=plan)
        removed = [e for e in state.in_reverse_order() if e["urn"] not in realiser.seen]
        rows = list(realiser.rows)
        self._delete(ctx, state, removed, rows)
        state.outputs = outputs
        state.save()
        return rows, outputs

    def preview(self) -> OperationResult:
        started = time.perf_counter()
        self._check_types()
        url = self.endpoint_url
        state = self._state(url)
        _, rows = self._plan(state, self._ctx(url))
        return OperationResult("preview", changes_frame(rows), seconds=time.perf_counter() - started)

    def up(self) -> OperationResult:
        """Plan, delete what must go first, create/update in dependency order, then delete what was replaced.

        State is saved after every step, so a killed ``up`` is resumed by running ``up`` again.
        """
        started = time.perf_counter()
        self._check_types()
        url = self.endpoint_url
        with stack_lock(self.config.stack, "up"):
            state = self._state(url)
            ctx = self._ctx(url)
            plan, _ = self._plan(state, ctx)
            ownership.preflight(ctx, plan.creates, self.config.stack, self.parallel, held=state.ids())
            self.remember()
            state.meta["parameters"] = {key: getattr(self.config, key) for key in IMMUTABLE}
            state.save()
            try:
                rows, outputs = self._apply(state, ctx, plan)
            except ResourceError as exc:
                stack = self.config.stack
                raise ResourceError(exc.urn, f"{exc.reason}. Every step done so far is recorded and the stack is "
                                             f"consistent; fix the cause, then `hainfra up --stack {stack}` resumes "
                                             f"(`hainfra preview --stack {stack}` shows what remains)") from exc
        return OperationResult("up", changes_frame(rows), outputs, time.perf_counter() - started,
                               api_calls=dict(ctx.calls))

    def outputs(self) -> dict[str, Any]:
        """The recorded outputs — an EmulatorError when the emulator holding them is gone or elsewhere."""
        state = State.for_stack(self.config.stack)
        if state.outputs:
            self._state(self.endpoint_url)  # stale outputs name resources that no longer exist: say so
        return dict(state.outputs)

    def refresh(self) -> OperationResult:
        """Drop resources that are gone from the emulator (kinds in ``refresh.GONE_PROBES``) from state."""
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
        """Delete along the dependency graph, in parallel, then sweep the emulator: a leftover is an error.

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
            leftovers = self._delete_and_sweep(ctx, state, rows)
        result = OperationResult("destroy", changes_frame(rows), seconds=time.perf_counter() - started, sweep=leftovers)
        left = leftovers[leftovers["remaining"] > 0]
        if len(left):
            names = "; ".join(f"{r.service} {r.kind}: {r.names}" for r in left.itertuples())
            raise LeftoverError(f"destroy finished but the emulator still holds resources of stack "
                                f"{self.config.stack!r}: {names}")
        return result
