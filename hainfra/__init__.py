"""hainfra: runbook notebooks and a Python package for a highly available AWS tier on Pulumi."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from hainfra.config import StackConfig

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())


def plan(config: StackConfig) -> pd.DataFrame:
    """The offline resource inventory of a stack; see :func:`hainfra.plan.plan`."""
    from hainfra.plan import plan as _plan  # function-local: start-up time (`import hainfra` loads no Pulumi)

    return _plan(config)
