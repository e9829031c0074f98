"""Engines: one interface (:class:`~hainfra.engines.base.Engine`), two implementations.

``ENGINES`` maps a name to the factory; :func:`get_engine` is the one way to get one.
This is the only module outside ``engines/sandbox`` that imports the sandbox (the
layering test enforces it); each import is function-local so that importing hainfra
does not load the sandbox's boto3 handlers (start-up time).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from hainfra.config import StackConfig
from hainfra.engines.base import Engine, OperationResult, Progress, ProgressEvent
from hainfra.errors import ConfigError


def _sandbox(config: StackConfig, **kwargs: Any) -> Engine:
    from hainfra.engines.sandbox.engine import SandboxEngine  # function-local: start-up time

    return SandboxEngine(config, **kwargs)


def _pulumi(config: StackConfig, **kwargs: Any) -> Engine:
    from hainfra.engines.pulumi import PulumiEngine  # function-local: start-up time

    return PulumiEngine(config, **kwargs)


ENGINES: dict[str, Callable[..., Engine]] = {"sandbox": _sandbox, "pulumi": _pulumi}


def private_emulator(port: int | None = None) -> AbstractContextManager[Any]:
    """A new AWS emulator for the sandbox engine: started on enter (``.url``), stopped on exit."""
    from hainfra.engines.sandbox.emulator import Emulator  # function-local: start-up time

    return Emulator(port=port)


def serve_emulator(port: int, announce: Callable[[str], None]) -> int:
    """Run a long-lived emulator (``hainfra sandbox serve``) until SIGTERM/Ctrl-C; 1 if it dies on its own."""
    from hainfra.engines.sandbox.emulator import serve  # function-local: start-up time

    return serve(port, announce)


def served_emulator() -> str | None:
    """The URL of the running ``hainfra sandbox serve`` emulator for this folder, if one answers."""
    from hainfra.engines.sandbox import emulator  # function-local: start-up time

    url = emulator.recorded_url()
    return url if url and emulator.probe(url) == emulator.ANSWERS else None


def get_engine(name: str | None, config: StackConfig, **kwargs: Any) -> Engine:
    """The engine ``name`` (default: ``config.engine``) for ``config``."""
    name = name or config.engine
    if name not in ENGINES:
        raise ConfigError.one("engine", name, f"use one of {', '.join(ENGINES)}")
    return ENGINES[name](config, **kwargs)


__all__ = ["ENGINES", "Engine", "OperationResult", "Progress", "ProgressEvent", "get_engine", "private_emulator",
           "serve_emulator", "served_emulator"]
