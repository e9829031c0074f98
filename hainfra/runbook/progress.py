"""Headless progress for a papermill run: each cell as it starts, the kernel's output as it is printed.

papermill can log every cell and every output line; this turns that into short lines for a callback
(the CLI prints them) — ``[deploy 9/12] result = rb.deploy(config, policy_override)`` — and drops the
rest of papermill's chatter. No callback, no streaming: the run is quiet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class _Stream:
    """A file-like sink for papermill's ``stdout_file``: each write goes to the progress callback."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit

    def write(self, text: str) -> int:
        for line in text.splitlines():  # one output message may carry several lines
            if line.strip():
                self.emit(line.rstrip())
        return len(text)

    def flush(self) -> None:
        """Nothing buffered."""


def cell_labels(notebook: Path) -> list[str]:
    """One short label per cell as papermill will number them (its injected cell follows ``parameters``)."""
    import nbformat  # function-local: start-up time

    labels = []
    for cell in nbformat.read(notebook, as_version=4).cells:
        lines = [line.strip() for line in cell.source.splitlines() if line.strip()] or [""]
        if "parameters" in cell.metadata.get("tags", []):
            labels += ["(parameters)", "(injected parameters)"]
        else:
            labels.append(lines[0] if cell.cell_type == "markdown" else lines[-1])  # a heading, or the cell's call
    return labels


class _CellStarts(logging.Handler):
    """Turns papermill's 'Executing Cell N' log lines into progress lines; drops the rest of its chatter."""

    def __init__(self, stage: str, labels: list[str], sink: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self.stage, self.labels, self.sink = stage, labels, sink

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Executing Cell"):
            number = int(message.split()[2].rstrip("-"))
            label = self.labels[number - 1] if number <= len(self.labels) else ""
            self.sink(f"[{self.stage} {number}/{len(self.labels)}] {label}")
        elif record.levelno >= logging.WARNING and message.strip():  # the kernel's stderr
            self.sink(message.rstrip("\n"))


@contextmanager
def streaming(stage: str, notebook: Path, progress: Callable[[str], None] | None) -> Iterator[dict[str, Any]]:
    """papermill keyword arguments that stream cell starts and the kernel's output to ``progress``."""
    if progress is None:
        yield {"log_output": False}
        return
    pm_log = logging.getLogger("papermill")
    handler, level, propagate = _CellStarts(stage, cell_labels(notebook), progress), pm_log.level, pm_log.propagate
    pm_log.addHandler(handler)
    pm_log.setLevel(logging.INFO)
    pm_log.propagate = False  # the CLI's root handler would print papermill's own INFO lines
    try:
        yield {"log_output": True, "stdout_file": _Stream(progress)}
    finally:
        pm_log.removeHandler(handler)
        pm_log.setLevel(level)
        pm_log.propagate = propagate
