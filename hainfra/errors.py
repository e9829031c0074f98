"""The hainfra error hierarchy: one root, small logic-free subclasses.

Every message names the field or resource and says how to fix it. The CLI maps
these to exit codes (see ``hainfra.cli``).
"""

from __future__ import annotations


class HainfraError(Exception):
    """Root of every error hainfra raises on purpose."""

    exit_code = 1


class ConfigError(HainfraError):
    """A configuration value or parameter is invalid; raised before any resource exists."""

    exit_code = 2

    def __init__(self, problems: list[tuple[str, object, str]]) -> None:
        self.problems = problems
        self.field = problems[0][0]
        lines = [f"{field}={value!r}: {fix}" for field, value, fix in problems]
        super().__init__("invalid configuration:\n  " + "\n  ".join(lines))

    @classmethod
    def one(cls, field: str, value: object, fix: str) -> ConfigError:
        return cls([(field, value, fix)])


class EngineError(HainfraError):
    """An engine operation failed (deploy, destroy, preview)."""


class UnsupportedResourceError(EngineError):
    """The sandbox has no handler for a resource type."""


class ResourceError(EngineError):
    """A single resource failed; carries its URN and the provider's message."""

    def __init__(self, urn: str, message: str) -> None:
        self.urn = urn
        super().__init__(f"{urn}: {message}")


class StackLockedError(EngineError):
    """Another operation holds the stack's lock."""


class StateError(EngineError):
    """A local state file cannot be read, parsed or written; names the file and the recovery."""


class EmulatorError(EngineError):
    """The AWS emulator is missing, unreachable, or not the one the state refers to."""


class LeftoverError(EngineError):
    """Destroy finished but the account still holds resources of the stack."""


class PolicyViolation(HainfraError):
    """The preflight policy gate found a mandatory violation."""


class VerifyFailed(HainfraError):
    """A mandatory verify check failed."""


class DrillFailed(HainfraError):
    """A drill's stack did not recover within its bound."""


class RunbookError(HainfraError):
    """A runbook stage (notebook) failed."""


class AuditError(HainfraError):
    """The audit archive is inconsistent or tampered with."""


class ArchiveWriteError(AuditError):
    """The archive could not be written; the executed notebook and its record wait in a spool folder."""

    def __init__(self, message: str, spool: str | None = None) -> None:
        self.spool = spool
        super().__init__(message)


class ExportError(HainfraError):
    """A program cannot be exported as a Terraform plan (a resource type has no Terraform twin)."""


class ScannerError(HainfraError):
    """An external scanner (checkov) is missing, failed, or produced output hainfra cannot read."""
