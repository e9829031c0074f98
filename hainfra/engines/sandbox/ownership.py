"""Who owns a resource: the one place the sandbox engine decides whether it may create or delete.

A stack owns what it created and nothing else (as Terraform and Pulumi: never adopt on create).
Each handler declares ``lookup`` (see ``engines/sandbox/handlers``); these functions turn what a
lookup found into a decision, so no handler hand-writes an ownership check.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from hainfra.engines.sandbox.handlers import REGISTRY, Ctx, Found, Handler
from hainfra.errors import OwnershipError
from hainfra.naming import STACK_TAG, owner


@dataclass(frozen=True)
class Conflict:
    """A resource the stack wants that exists and is not its own."""

    type: str
    name: str
    found: str
    owner: str

    def describe(self, stack: str) -> str:
        who = (f"stack {self.owner!r} in another state folder (or state lost)" if self.owner == stack
               else f"stack {self.owner!r}" if self.owner != "unknown" else "an unknown owner (no Stack tag)")
        return f"{self.type} {self.found!r} (resource {self.name}) exists and belongs to {who}"


def foreign(found: Found, stack: str) -> bool:
    """Tagged for another stack.

    No ``Stack`` tag is not foreign: an untaggable type, or a create killed between the call that
    makes the resource and the one that tags it (S3 buckets) — its name carries the stack, and the
    callers only accept it when this stack's state records it (pending or created).
    """
    return STACK_TAG in (found.tags or {}) and owner(found.tags) != stack


def may_create(found: Found | None, stack: str, pending: bool) -> bool:
    """True: create (after removing ``found``, our own half-made resource, when ``pending``)."""
    if found is None:
        return True
    if found.part_of:  # a setting of a parent: the parent must be ours
        return not foreign(found, stack)
    return pending and not foreign(found, stack)


def refuse(conflicts: list[Conflict], stack: str) -> OwnershipError:
    lines = "\n  ".join(c.describe(stack) for c in conflicts)
    return OwnershipError(
        f"stack {stack!r} would take over {len(conflicts)} existing resource(s) it does not own; nothing was "
        f"changed:\n  {lines}\nFix: choose another stack name (-p stack / --stack), or destroy the owner's stack "
        "from its own state folder; hainfra never adopts a resource it did not create")


def conflict(type_: str, name: str, found: Found) -> Conflict:
    return Conflict(type_.split(":")[-1], name, found.id, owner(found.tags))


def preflight(ctx: Ctx, wanted: Iterable[tuple[str, str, dict[str, Any], bool]], stack: str, parallel: int = 8,
              held: frozenset[str] | set[str] = frozenset()) -> None:
    """Before ``up`` changes anything: every uniquely named resource it will create must be free (or ours, pending).

    Args:
        wanted: (type token, logical name, inputs, recorded as pending) of each resource the run would create
            (a replacement's new copy included).
        held: physical ids the stack's state holds: ours, e.g. the old copy a delete-first replacement removes.
    """
    checks = [(t, n, p, pending) for t, n, p, pending in wanted if REGISTRY[t].named and REGISTRY[t].lookup]

    def check(item: tuple[str, str, dict[str, Any], bool]) -> Conflict | None:
        type_, name, props, pending = item
        found = lookup(REGISTRY[type_], ctx, props)
        if found is None or found.id in held or may_create(found, stack, pending):
            return None
        return conflict(type_, name, found)

    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="hainfra-owner") as pool:
        conflicts = [c for c in pool.map(check, checks) if c]
    if conflicts:
        raise refuse(conflicts, stack)


def lookup(handler: Handler, ctx: Ctx, props: dict[str, Any]) -> Found | None:
    """What ``handler`` finds for ``props``, looked up in the resource's own ``region`` when it has one."""
    return handler.lookup(regional(ctx, props), props) if handler.lookup else None


def regional(ctx: Ctx, props: dict[str, Any]) -> Ctx:
    """The context of the region a resource lives in: its own ``region`` input (pulumi-aws 7), else the stack's."""
    return ctx.at(props["region"]) if props.get("region") else ctx
