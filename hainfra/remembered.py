"""A stack remembers its resolved configuration, like Pulumi's ``Pulumi.<stack>.yaml``.

``up`` (either engine, CLI or deploy notebook) writes ``.hainfra/stacks/<stack>/config.yaml``:
every parameter as resolved, except secrets and the emulator URL (a private emulator's URL
dies with its run). Later commands and notebooks for the stack start from it, so
``up -p az_count 2`` followed by a plain ``verify`` or ``preview`` means the same stack; an
explicit parameter still wins (and ``preview`` shows it as a change).

Precedence, lowest first: defaults < remembered < YAML file < ``HAINFRA_*`` environment < parameters.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from hainfra.config import SECRET_FIELDS, StackConfig
from hainfra.errors import ConfigError
from hainfra.home import home

log = logging.getLogger(__name__)
FILE_NAME = "config.yaml"
NOT_REMEMBERED = SECRET_FIELDS | {"stack", "aws_endpoint_url"}


def path(stack: str) -> Path:
    return home() / "stacks" / stack / FILE_NAME


def read(stack: str) -> dict[str, Any]:
    """The remembered parameters of ``stack`` (empty when it never ran ``up``)."""
    file = path(stack)
    if not file.is_file():
        return {}
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError.one("remembered configuration", str(file),
                              f"cannot be read ({exc}); fix or delete the file, then pass the parameters again") from exc
    if not isinstance(data, dict):
        raise ConfigError.one("remembered configuration", str(file), "must hold a mapping; fix or delete the file")
    return {k: v for k, v in data.items() if k not in NOT_REMEMBERED}


def remember(config: StackConfig) -> Path:
    """Record ``config`` (no secrets) as the stack's configuration; written atomically, readable YAML."""
    file = path(config.stack)
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    values = {k: v for k, v in config.as_dict().items() if k not in NOT_REMEMBERED}
    text = (f"# Stack {config.stack!r}: configuration recorded by `hainfra up` (no secrets).\n"
            f"# Later commands for this stack start from it; `-p KEY VALUE` overrides. Show: "
            f"hainfra config show --stack {config.stack}\n" + yaml.safe_dump(values, sort_keys=True))
    tmp = file.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, file)
    log.debug("remembered the configuration of stack %s in %s", config.stack, file)
    return file


def load(stack: str, params: Mapping[str, Any] | None = None, file: str | Path | None = None,
         env: Mapping[str, str] | None = None) -> StackConfig:
    """The configuration of ``stack``: its remembered parameters, overridden by file, environment and ``params``."""
    return StackConfig.load({**(params or {}), "stack": stack}, file=file, env=env,
                            remembered=read(stack), remembered_from=str(path(stack)))
