"""The one Engine interface both engines implement, and the shapes they return."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from hainfra.config import StackConfig

ACTIONS = ("create", "update", "replace", "delete", "same", "not ours")
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

    def up(self, policy_override: str | None = None) -> OperationResult:
        """Run the policy gate, then create or update the stack; returns outputs.

        Args:
            policy_override: reason to deploy despite mandatory policy findings (recorded).
        """
        from hainfra.policy import gate

        gate(self.config, override=policy_override)
        result = self._up()
        result.policy_override = policy_override or ""
        return result

    @abc.abstractmethod
    def _up(self) -> OperationResult:
        """Create or update the stack (after the gate passed); calls :meth:`remember` before its first change."""

    def remember(self) -> None:
        """Record the stack's resolved configuration (no secrets) for later commands and notebooks."""
        from hainfra.remembered import remember

        remember(self.config)

    @abc.abstractmethod
    def outputs(self) -> dict[str, Any]:
        """Outputs of the deployed stack (empty when nothing is deployed)."""

    @abc.abstractmethod
    def destroy(self) -> OperationResult:
        """Delete every resource of the stack."""

    def aws_client_kwargs(self) -> dict[str, Any]:
        """How verify's boto3 clients reach this engine's AWS (emulator or real)."""
        return {"region_name": self.config.region}
