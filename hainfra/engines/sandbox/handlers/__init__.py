"""Sandbox handlers: one per Pulumi type token, realising a resource through boto3.

``REGISTRY`` maps a type token (``aws:ec2/vpc:Vpc``) to a :class:`Handler`. Inputs
arrive as Pulumi's wire names (camelCase) with every dependency already resolved.

**Ownership: fill in ``lookup`` for every new handler.** A stack owns what it creates
and nothing else, and the engine enforces that in one place (``engines/sandbox/ownership.py``)
from one declaration per type: ``lookup(ctx, props) -> Found | None`` finds the existing
resource these props describe — by ``props["id"]`` when the engine passes it (destroy of a
created resource), else by the physical name (or the unique ``Name`` tag for unnamed EC2
kinds) — and returns its id and tags. Wrap it in :func:`lookup` (missing or not-yet-known
inputs and "not found" errors become ``None``). Then the engine, never the handler:

- before ``up`` changes anything, looks up every resource it will create whose name AWS keeps
  unique (``named=True``: the create would collide or, worse, silently upsert — S3
  CreateBucket, PutRule, PutParameter, CreateTopic, PutResourcePolicy) and stops naming the
  owner from the ``Stack`` tag;
- before a create, cleans up a half-made resource left by a killed run only if it is tagged
  with this stack *and* recorded as pending in this stack's state (else refuses);
- before a delete, skips (and reports "not ours") a resource whose tags name another stack.

Types without tags return the tags of what owns them (an alias: its key's; a route: its
table's); settings written into a parent (bucket versioning, policy…) return the parent
with ``part_of`` set. Create functions never tolerate "already exists": that would adopt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from hainfra.aws import Ctx

Props = dict[str, Any]
Created = tuple[str, Props]


@dataclass(frozen=True)
class Found:
    """An existing resource and the tags that say which stack owns it.

    ``tags`` is ``None`` for a type that carries none (the engine then trusts the name, which
    carries the stack). ``part_of`` names the kind of parent found instead (``bucket``) when
    the resource is a setting written into that parent.
    """

    id: str
    tags: dict[str, str] | None
    part_of: str = ""


Lookup = Callable[[Ctx, Props], "Found | None"]
# Props key the engine sets for a lookup by tag: physical ids its state holds, never "found" as an orphan
# (the old half of a create-before-delete replacement shares the new half's Name tag).
HELD = "__held_ids__"
_NOT_FOUND = ("NoSuchEntity", "NoSuchBucket", "NoSuchTagSet", "ValidationError", "InvalidParameter",
              "InvalidResourceId", "WAFNonexistentItemException")


def unknown(value: Any) -> bool:
    """An input a preview cannot know yet (the id of a resource still to be created)."""
    return value is None or value == "" or (isinstance(value, str) and value.startswith("<new:"))


def lookup(*required: str) -> Callable[[Callable[[Ctx, Props], Found | None]], Lookup]:
    """Decorator for a handler's lookup: ``None`` when a required input is unknown or AWS says not found."""

    def wrap(fn: Callable[[Ctx, Props], Found | None]) -> Lookup:
        def inner(ctx: Ctx, p: Props) -> Found | None:
            if any(unknown(p.get(key)) for key in required):
                return None
            try:
                return fn(ctx, p)
            except ClientError as exc:
                if not_found(exc):
                    return None
                raise

        return inner

    return wrap


@dataclass(frozen=True)
class Handler:
    """How to create, delete, update and tag one resource type.

    ``updatable`` lists the input keys ``update`` can change in place; a change to any
    other key (except tags, handled by ``tag``) replaces the resource. ``lookup`` and
    ``named`` declare ownership (see the module docstring).
    """

    create: Callable[[Ctx, Props], Created]
    delete: Callable[[Ctx, str, Props], None]
    update: Callable[[Ctx, str, Props, Props], Props] | None = None
    updatable: frozenset[str] = field(default_factory=frozenset)
    tag: Callable[[Ctx, str, Props, dict[str, str], dict[str, str]], None] | None = None
    lookup: Lookup | None = None
    named: bool = False  # AWS keeps the name unique: checked for a foreign owner before `up` changes anything


REGISTRY: dict[str, Handler] = {}


def register(token: str, handler: Handler) -> None:
    REGISTRY[token] = handler


@dataclass(frozen=True)
class ReplaceRule:
    """When a change replaces a resource of one type, and whether old and new can coexist.

    ``force_new`` holds the inputs the AWS provider marks ``ForceNew`` (terraform-provider-aws
    schema, which pulumi-aws bridges): a change to one of them, or an input of them that is
    unknown until a replaced dependency exists, replaces the resource. Every other input
    changes in place (the handler's ``update`` or ``tag``).

    ``unique`` holds the inputs AWS keeps unique (a name, a name within a VPC, a subnet's one
    association): when they are all unchanged the replacement cannot be created beside the
    old resource, so the old one (and whatever depends on it) is deleted first.
    """

    force_new: frozenset[str]
    unique: tuple[str, ...] = ()


# Kept apart from REGISTRY (one declaration per type, beside each handler module's handlers).
REPLACE_RULES: dict[str, ReplaceRule] = {}


# pulumi-aws 7's per-resource ``region`` (terraform-provider-aws 6): another region is another resource.
REGION_INPUT = "region"


def replaces_on(token: str, *force_new: str, unique: tuple[str, ...] = ()) -> None:
    """Declare a type's replace-forcing inputs (``ForceNew`` in the provider) and its unique inputs.

    ``region`` forces a new resource for every type (the sandbox realises each resource in its own region).
    """
    REPLACE_RULES[token] = ReplaceRule(frozenset(force_new) | {REGION_INPUT}, unique)


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def not_found(exc: ClientError) -> bool:
    """AWS says the resource does not exist (each service spells it its own way)."""
    code = error_code(exc)
    return "NotFound" in code or code.startswith("NoSuch") or code in _NOT_FOUND


def ignore(*codes: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: a delete that finds the resource already gone is a success."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except ClientError as exc:
                if error_code(exc) in codes or "NotFound" in error_code(exc):
                    return None
                raise

        return inner

    return wrap


def ints(value: Any) -> int:
    """Pulumi's wire format carries numbers as floats."""
    return int(value)


def tag_list(tags: dict[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in sorted(tags.items())]


def tag_diff(old: dict[str, str], new: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """(tags to set, keys to remove)."""
    return {k: v for k, v in new.items() if old.get(k) != v}, [k for k in old if k not in new]


Tagger = Callable[[Ctx, str, Props, dict[str, str], dict[str, str]], None]


def tagger(service: str, tag: str, untag: str, id_arg: str, *, key: str = "Key", value: str = "Value",
           untag_arg: str = "TagKeys", listed: bool = False, arn: bool = False, **fixed: str) -> Tagger:
    """A tag updater for services that tag by id or ARN with a list of key/value pairs.

    Args:
        listed: the id goes in a one-element list (ELBv2's ResourceArns).
        arn: address the resource by its ``arn`` output rather than its id.
        fixed: constant arguments (SSM's ResourceType).
    """

    def update(ctx: Ctx, rid: str, p: Props, old: dict[str, str], new: dict[str, str]) -> None:
        target = (p.get("arn") or rid) if arn else rid
        ident = {id_arg: [target] if listed else target, **fixed}
        put, remove = tag_diff(old, new)
        if put:
            getattr(ctx.client(service), tag)(**ident, Tags=tag_list(put, key, value))
        if remove:
            getattr(ctx.client(service), untag)(**ident, **{untag_arg: remove})

    return update


def _load() -> None:
    # at the bottom, not the top: each handler module imports register/Handler from this package
    from hainfra.engines.sandbox.handlers import (  # noqa: F401
        compute,
        ec2,
        edge,
        functions,
        iam,
        monitoring,
        secrets,
        storage,
    )


_load()
