"""hainfra: runbook notebooks and a Python package for a highly available AWS tier on Pulumi."""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())


def plan(config):  # type: ignore[no-untyped-def]
    """The offline resource inventory of a stack; see :func:`hainfra.plan.plan`."""
    from hainfra.plan import plan as _plan

    return _plan(config)
