"""The one Engine interface both engines implement, and the shapes they return."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from hainfra.config import StackConfig

ACTIONS = ("create", "update", "replace", "delete", "same")
CHANGE_COLUMNS = ["action", "type", "name", "urn", "changed"]


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a long operation, for the terminal or a notebook."""

    action: str
    type: str
    name: str
    status: str  # "start" | "done" | "failed"
    seconds: float = 0.0
    message: str = ""


Progress = Callable[[ProgressEvent], None]


@dataclass
class OperationResult:
    """What preview, up and destroy return: per-resource changes, outputs, timing."""

    operation: str
    changes: pd.DataFrame
    outputs: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    sweep: pd.DataFrame | None = None
    policy_override: str = ""
    api_calls: dict[str, int] = field(default_factory=dict)

    @property
    def summary(self) -> dict[str, int]:
        counts = self.changes["action"].value_counts().to_dict() if len(self.changes) else {}
        return {a: int(counts.get(a, 0)) for a in ACTIONS if counts.get(a)}

    @property
    def no_changes(self) -> bool:
        return set(self.summary) <= {"same"}

    def describe(self) -> str:
        parts = ", ".join(f"{n} {a}" for a, n in self.summary.items()) or "nothing"
        verdict = " (no changes)" if self.no_changes and self.operation != "destroy" else ""
        return f"{self.operation}: {parts}{verdict} in {self.seconds:.1f}s"


def change_row(action: str, type_: str, name: str, urn: str, changed: list[str] | None = None) -> dict[str, Any]:
    """One row of a changes table (preview, up, destroy), the same shape for both engines."""
    return {"action": action, "type": type_, "name": name, "urn": urn, "changed": ", ".join(changed or [])}


def changes_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


class Engine(abc.ABC):
    """Runs ``hainfra.stack.program(config)`` somewhere: the sandbox emulator or real AWS."""

    name: str

    def __init__(self, config: StackConfig, progress: Progress | None = None) -> None:
        self.config = config
        self.progress = progress or (lambda event: None)

    @abc.abstractmethod
    def preview(self) -> OperationResult:
        """Planned change per resource; no side effects."""

    @abc.abstractmethod
    def up(self) -> OperationResult:
        """Create or update the stack; returns outputs.

        No policy gate here (engines sit below policy): deploy through
        :func:`hainfra.policy.gated_up`, which runs the gate first and records an override.
        """

    @abc.abstractmethod
    def outputs(self) -> dict[str, Any]:
        """Outputs of the deployed stack (empty when nothing is deployed)."""

    @abc.abstractmethod
    def destroy(self, forget: bool = False) -> OperationResult:
        """Delete every resource of the stack.

        Args:
            forget: drop the stack's state without deleting anything (its resources are gone
                with an emulator, or will be removed by hand).
        """

    @property
    def emulated(self) -> bool:
        """True when the stack lives in an AWS emulator, not in AWS (verify skips what emulators cannot do)."""
        return bool(self.config.aws_endpoint_url)

    def refresh(self) -> OperationResult:
        """Reconcile state with what exists (resources deleted out of band), so ``up`` recreates them."""
        from hainfra.errors import EngineError

        raise EngineError(f"the {self.name} engine cannot refresh")

    def aws_client_kwargs(self) -> dict[str, Any]:
        """How verify's boto3 clients reach this engine's AWS (emulator or real)."""
        return {"region_name": self.config.region}
