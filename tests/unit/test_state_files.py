"""State files survive kills and corruption; the state folder is found like git finds ``.git``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hainfra.cli import main
from hainfra.engines.sandbox.state import State, atomic_write, previous, read_state
from hainfra.errors import StateError
from hainfra.home import find_home, home, stack_dir

URN = "urn:pulumi:s::p::aws:ec2/vpc:Vpc::v"


def _entry(n: int) -> dict:
    return {"urn": URN, "type": "aws:ec2/vpc:Vpc", "name": "v", "id": f"vpc-{n}", "status": "created",
            "inputs": {"padding": "x" * 20000}, "outputs": {}}


def test_each_save_keeps_the_previous_version() -> None:
    state = State.for_stack("s")
    state.put(URN, _entry(1))
    state.put(URN, _entry(2))
    assert read_state(state.path)["resources"][URN]["id"] == "vpc-2"
    assert json.loads(previous(state.path).read_text())["resources"][URN]["id"] == "vpc-1"
    assert not [p for p in state.path.parent.iterdir() if p.name.endswith("tmp")], "no temp file left behind"


def test_sigkill_while_writing_never_leaves_a_broken_file(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    script = (
        "import sys, json\nfrom pathlib import Path\nfrom hainfra.engines.sandbox.state import atomic_write\n"
        "n = 0\nwhile True:\n"
        "    n += 1\n"
        f"    atomic_write(Path({str(target)!r}), json.dumps({{'n': n, 'pad': 'x' * 400000}}).encode())\n"
    )
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": os.getcwd()})
        deadline = time.monotonic() + 30
        while not previous(target).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        current, prev = read_state(target), read_state(previous(target))  # both whole JSON, never torn
        assert current["n"] >= prev["n"] >= 1


@pytest.mark.parametrize("content, problem", [
    (b'{"resources": {"urn:x": {"id"', "not JSON"),
    (b"", "empty"),
    (b"[]", "JSON list"),
    (b'{"resources": []}', "resources is not an object"),
])
def test_unreadable_state_is_an_error_naming_the_file_and_the_fix(content: bytes, problem: str,
                                                                  capsys: pytest.CaptureFixture) -> None:
    path = stack_dir("broken") / "state.json"
    path.write_bytes(content)
    with pytest.raises(StateError, match=problem) as info:
        State.for_stack("broken")
    assert str(path) in str(info.value) and "mv " in str(info.value)

    assert main(["outputs", "--stack", "broken"]) == 1
    err = capsys.readouterr().err
    assert str(path) in err and "Traceback" not in err


def test_corrupt_state_with_a_good_previous_version_says_how_to_restore_it() -> None:
    state = State.for_stack("s")
    state.put(URN, _entry(1))
    state.put(URN, _entry(2))
    state.path.write_text(state.path.read_text()[:100])  # truncated, as by a full disk
    with pytest.raises(StateError) as info:
        State.for_stack("s")
    restore = f"cp {previous(state.path)} {state.path}"
    assert restore in str(info.value)
    subprocess.run(restore, shell=True, check=True)
    assert State.for_stack("s").resources[URN]["id"] == "vpc-1"


def test_state_that_cannot_be_written_is_an_error_naming_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    state = State.for_stack("s")

    def refuse(*args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", refuse)  # what a read-only folder does to the temp file
    with pytest.raises(StateError, match="cannot write the state file .*state.json: Permission denied"):
        state.put(URN, _entry(1))


def test_state_folder_that_cannot_be_made_exits_1_with_the_fix(monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "mkdir", refuse)  # what a read-only HAINFRA_HOME does
    assert main(["outputs", "--stack", "ro"]) == 1
    err = capsys.readouterr().err
    assert f"cannot create the state folder {home()}/stacks/ro: Permission denied" in err and "HAINFRA_HOME" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through read-only permissions (the monkeypatched "
                                              "tests above cover the mapping)")
def test_read_only_state_folder_exits_1_with_the_fix(hainfra_home: Path, capsys: pytest.CaptureFixture) -> None:
    stack_dir("ro")
    (hainfra_home / "stacks" / "ro").chmod(0o555)
    try:
        assert main(["destroy", "--stack", "ro", "--forget"]) == 1
    finally:
        (hainfra_home / "stacks" / "ro").chmod(0o755)
    assert "cannot write" in capsys.readouterr().err


def test_atomic_write_replaces_without_a_window(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    atomic_write(target, b'{"a": 1}')
    atomic_write(target, b'{"a": 2}')
    assert read_state(target) == {"a": 2} and read_state(previous(target)) == {"a": 1}


# --- the state folder is found like .git ------------------------------------------------------------
def test_home_found_from_a_subfolder_of_the_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "pyproject.toml").write_text("")
    assert find_home(project / "notebooks") == project / ".hainfra", "made at the project root, not in notebooks/"
    (project / ".hainfra").mkdir()
    monkeypatch.delenv("HAINFRA_HOME")
    monkeypatch.chdir(project / "notebooks")
    assert home() == project / ".hainfra"


def test_home_search_stops_at_the_project_root(tmp_path: Path) -> None:
    (tmp_path / ".hainfra").mkdir()  # another project's (or a parent's) folder is never used
    project = tmp_path / "inner"
    (project / "sub").mkdir(parents=True)
    (project / ".git").mkdir()
    assert find_home(project / "sub") == project / ".hainfra"
    assert find_home(tmp_path / "elsewhere-not-made") == tmp_path / ".hainfra"


def test_explicit_hainfra_home_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".hainfra").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HAINFRA_HOME", str(tmp_path / "pinned"))
    assert home() == tmp_path / "pinned"
