"""Engines: one interface (:class:`~hainfra.engines.base.Engine`), two implementations.

``ENGINES`` maps a name to the factory; :func:`get_engine` is the one way to get one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hainfra.config import StackConfig
from hainfra.engines.base import Engine, OperationResult, Progress, ProgressEvent
from hainfra.errors import ConfigError


def _sandbox(config: StackConfig, **kwargs: Any) -> Engine:
    from hainfra.engines.sandbox.engine import SandboxEngine

    return SandboxEngine(config, **kwargs)


def _pulumi(config: StackConfig, **kwargs: Any) -> Engine:
    from hainfra.engines.pulumi import PulumiEngine

    return PulumiEngine(config, **kwargs)


ENGINES: dict[str, Callable[..., Engine]] = {"sandbox": _sandbox, "pulumi": _pulumi}


def get_engine(name: str | None, config: StackConfig, **kwargs: Any) -> Engine:
    """The engine ``name`` (default: ``config.engine``) for ``config``."""
    name = name or config.engine
    if name not in ENGINES:
        raise ConfigError.one("engine", name, f"use one of {', '.join(ENGINES)}")
    return ENGINES[name](config, **kwargs)


__all__ = ["ENGINES", "Engine", "OperationResult", "Progress", "ProgressEvent", "get_engine"]
