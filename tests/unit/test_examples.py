"""The scheduling examples stay valid: their hainfra command lines parse with today's CLI."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from hainfra import cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _hainfra_lines(text: str) -> list[list[str]]:
    """Every `hainfra …` invocation in a file, as argv (shell variables replaced by a placeholder)."""
    found = []
    for line in text.splitlines():
        match = re.search(r"(?:^|.*[\s/])hainfra (.+)$", line)  # the last `hainfra`: the command itself
        if match and not line.lstrip().startswith("#"):
            argv = shlex.split(re.sub(r"\$\{\{[^}]*\}\}|\$\w+", "x", match.group(1)))
            found.append(argv)
    return found


@pytest.mark.parametrize("name", ["cron/hainfra.cron", "ci/nightly-drift.yml"])
def test_example_command_lines_parse(name: str) -> None:
    lines = _hainfra_lines((EXAMPLES / name).read_text())
    assert lines, f"{name} runs no hainfra command"
    for argv in lines:
        args = cli.build_parser().parse_args(argv)
        assert args.command == "run" and args.stage == "verify" and args.config  # a drift check with its stack file
