"""Adversarial review of the sandbox's local files: HAINFRA_HOME that is not a folder."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from hainfra import cli
from hainfra.engines.sandbox import emulator


def _moto_children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if "moto_server" in " ".join(p.cmdline())]


def test_serve_with_hainfra_home_a_file_exits_1_naming_it_and_starts_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    not_a_folder = tmp_path / "home-is-a-file"
    not_a_folder.write_text("")
    monkeypatch.setenv("HAINFRA_HOME", str(not_a_folder))
    before = {p.pid for p in _moto_children()}
    assert cli.main(["sandbox", "serve", "--port", str(emulator.free_port())]) == 1
    err = capsys.readouterr().err
    assert f"{not_a_folder}" in err and "HAINFRA_HOME" in err and "Traceback" not in err
    assert {p.pid for p in _moto_children()} == before, "an emulator was started for a home it cannot record in"


def test_an_unexpected_error_with_an_unusable_home_still_exits_3(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """The catch-all writes its traceback to the home's log; an unusable home must not crash it."""
    not_a_folder = tmp_path / "home-is-a-file"
    not_a_folder.write_text("")
    monkeypatch.setenv("HAINFRA_HOME", str(not_a_folder))

    def boom(args: object) -> int:
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr(cli, "cmd_plan", boom)
    assert cli.main(["plan", "--stack", "s"]) == 3
    err = capsys.readouterr().err
    assert "unexpected error: RuntimeError: something nobody expected" in err
