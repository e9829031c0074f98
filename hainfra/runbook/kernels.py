"""Notebook kernels for the runbook's stages, the next one started ahead (start-up time).

A stage's fixed cost is a new kernel (~0.5 s) and its first cell's imports (~1 s, bench/runbook.py).
The runbook starts the next stage's kernel while the current stage runs, and that kernel loads what
the stage's cells will need as it boots (:func:`warm`, IPython's ``exec_lines``; hainfra does nothing
at import time), so the next stage finds it ready. No cell of a stage runs before its write-ahead ``started`` entry:
papermill executes the cells in the ready kernel only then.

Every kernel started here is shut down when its stage ends or when the runbook stops (failure,
Ctrl-C); the kernels of a SIGKILLed runner exit on their own (ipykernel polls its parent process).
"""

from __future__ import annotations

import gc
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Arguments of every stage's kernel (the one list: a prefetched kernel must equal a fresh one).
KERNEL_ARGUMENTS = ("--IPKernelApp.log_level=ERROR",  # no transport warnings on the terminal
                    "--HistoryManager.hist_file=:memory:")  # what nbclient passes: no history database
# A released kernel has had its stage's archiving time to exit; then it gets this long per signal (x2).
# Its cells are done and their outputs received, and a kernel's interpreter exit (joining the thread pools
# of boto3 and the engine) takes 1-3 s that nobody needs to wait for (bench/runbook.py).
EXIT_SECONDS = 0.4

# What a stage's cells load beyond what every stage's first cell needs (see :func:`warm`).
EVALUATING = ("configure", "deploy", "drill")  # they evaluate the program: pulumi_aws's service modules
DRAWING = ("configure",)  # the topology picture: matplotlib


def warm(stage: str) -> None:
    """Load what ``stage``'s cells will need, as its kernel boots: imports and offline tables, no work.

    Every first cell imports the steps and checks its parameters (papermill's notebook inspection, the
    region list); the stages that evaluate or draw load that too. Nothing here touches a stack. Best
    effort: whatever fails here fails again, visibly and archived, in the cell that needs it.
    """
    try:
        import papermill  # noqa: F401 - the first cell's parameter check inspects the notebook with it

        import hainfra.runbook.steps  # noqa: F401
        from hainfra.config import known_regions

        known_regions()
        if stage in EVALUATING:
            from hainfra.components import load_services

            load_services()
        if stage in DRAWING:
            import matplotlib.pyplot  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.debug("warming the %s kernel: %s", stage, exc)
    gc.freeze()  # the modules live as long as the kernel: no later collection (nor its exit) scans them again


def warm_line(stage: str) -> str:
    """The kernel's ``exec_lines``: :func:`warm`, leaving no name in the notebook's namespace."""
    return f"import hainfra.runbook.kernels as _hainfra_k; _hainfra_k.warm({stage!r}); del _hainfra_k"


def kernel_manager_class(env: dict[str, str]) -> type:
    """A kernel manager class that starts its kernel with ``env`` added to the environment."""
    from jupyter_client.manager import AsyncKernelManager  # function-local: start-up time

    class SecretEnvKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            kw["env"] = {**os.environ, **(kw.get("env") or {}), **env}
            await super().start_kernel(**kw)

    return SecretEnvKernelManager


def kernel_name(notebook: Path) -> str:
    """The kernel a notebook asks for (papermill's choice when none is given)."""
    spec = json.loads(notebook.read_text()).get("metadata", {}).get("kernelspec") or {}
    return str(spec.get("name") or "python3")


@dataclass
class Ahead:
    """A kernel started ahead for one stage: its manager and what it was started with."""

    stage: str
    manager: Any
    env: dict[str, str]
    name: str
    released: bool = False

    def fits(self, env: dict[str, str], name: str) -> bool:
        """Usable for a stage that needs ``env`` and kernel ``name`` (else a fresh kernel is started)."""
        return self.env == env and self.name == name and bool(self.manager.has_kernel) and not self.released

    def release(self) -> None:
        """Ask the kernel to exit now that its cells ran; :meth:`Kernels.stop` waits for it later.

        The kernel exits (~1 s) while the stage is rendered and archived instead of before.
        """
        from jupyter_core.utils import run_sync

        if self.manager.has_kernel and not self.released:
            self.released = True
            try:
                run_sync(self.manager.request_shutdown)()
            except Exception as exc:  # noqa: BLE001 - stop() still ends it (SIGTERM, then SIGKILL)
                log.debug("kernel of %s: %s", self.stage, exc)


class Kernels:
    """The kernels a runbook started ahead: ``start`` one per stage, ``take`` it; ``close`` stops the rest."""

    def __init__(self) -> None:
        self._ahead: dict[str, Ahead] = {}

    def start(self, stage: str, notebook: Path, env: dict[str, str]) -> None:
        """Start ``stage``'s kernel now (returns once the process is launched, not once it is ready)."""
        from jupyter_core.utils import run_sync  # function-local: start-up time

        name = kernel_name(notebook)
        manager = kernel_manager_class(env)(kernel_name=name)
        run_sync(manager.start_kernel)(extra_arguments=[*KERNEL_ARGUMENTS, f"--IPKernelApp.exec_lines={warm_line(stage)}"],
                                       cwd=str(Path.cwd()))
        self._ahead[stage] = Ahead(stage, manager, dict(env), name)

    def take(self, stage: str) -> Ahead | None:
        return self._ahead.get(stage)

    def stop(self, stage: str) -> None:
        """Shut ``stage``'s kernel down (papermill does not: it did not start it)."""
        from jupyter_core.utils import run_sync

        ahead = self._ahead.pop(stage, None)
        if ahead is None or not ahead.manager.has_kernel:
            return
        try:
            if ahead.released:  # asked to exit while its stage was archived; what is left gets SIGTERM, then SIGKILL
                run_sync(ahead.manager.finish_shutdown)(waittime=EXIT_SECONDS)
                run_sync(ahead.manager.cleanup_resources)()
            else:
                run_sync(ahead.manager.shutdown_kernel)()
        except Exception as exc:  # noqa: BLE001 - a kernel that is already gone is what we wanted
            log.debug("kernel of %s: %s", stage, exc)

    def close(self) -> None:
        for stage in list(self._ahead):
            self.stop(stage)

    def __enter__(self) -> Kernels:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
