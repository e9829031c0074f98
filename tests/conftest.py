"""Shared fixtures: an isolated HAINFRA_HOME and HAINFRA_CONFIG_HOME per test and one moto emulator per session."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hainfra.config import StackConfig
from hainfra.engines.sandbox.emulator import Emulator


@pytest.fixture(autouse=True)
def hainfra_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "hainfra-home"
    for key in list(__import__("os").environ):
        if key.startswith("HAINFRA_") and key not in ("HAINFRA_CHECKOV", "HAINFRA_PROWLER"):  # tool locations
            monkeypatch.delenv(key)
    monkeypatch.setenv("HAINFRA_HOME", str(home))
    # The audit signing key, pinned keys and witnesses: per test, never the user's ~/.config/hainfra.
    monkeypatch.setenv("HAINFRA_CONFIG_HOME", str(tmp_path / "hainfra-config"))
    # Commands recorded without --archive (up, destroy) land in the test's folder, never ./archive.
    monkeypatch.setenv("HAINFRA_ARCHIVE", str(tmp_path / "archive"))
    return home


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def make_config(emulator: Emulator, request: pytest.FixtureRequest) -> Callable[..., StackConfig]:
    """A sandbox config on the session emulator; each test gets its own stack and project names."""
    # Unique per test (names share one emulator, and the offline evaluation is memoised per config).
    base = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:10]

    def make(**params: Any) -> StackConfig:
        params.setdefault("stack", f"s-{base}")
        params.setdefault("project", f"p{base}"[:20])
        params.setdefault("asg_min", 2)
        params.setdefault("asg_desired", 2)
        return StackConfig.load({"aws_endpoint_url": emulator.url, **params})

    return make
