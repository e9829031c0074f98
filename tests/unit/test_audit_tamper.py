"""Tampering with archived runs, without running notebooks (the archive logic is the same for any file)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from hainfra import audit, cli
from hainfra.audit.archive import write_new
from hainfra.errors import AuditError
from tests.unit.test_audit import record_runs


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    record_runs(root, 2, stack="tamper")
    return root


def _folder(root: Path, n: int = 0) -> Path:
    entry = [json.loads(line) for line in (root / "index.jsonl").read_text().splitlines()][2 * n + 1]
    return root / entry["path"]


def _flip_byte(path: Path, offset: int = 3) -> None:
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    data = bytearray(path.read_bytes())
    data[min(offset, len(data) - 1)] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("target", ["02-deploy.ipynb", "02-deploy.html", "run.json"])
def test_editing_any_archived_byte_is_detected_and_named(root: Path, target: str) -> None:
    _flip_byte(_folder(root) / target)
    with pytest.raises(AuditError, match=target.replace(".", r"\.")):
        audit.verify(root)
    assert cli.main(["audit", "verify", "--archive", str(root)]) == 1


def test_an_edited_or_removed_index_entry_is_detected(root: Path) -> None:
    index = root / "index.jsonl"
    lines = index.read_text().splitlines()
    entry = json.loads(lines[0])
    entry["stage"] = "teardown"
    index.write_text("\n".join([json.dumps(entry, sort_keys=True), *lines[1:]]) + "\n")
    with pytest.raises(AuditError, match="entry 1.*edited"):
        audit.verify(root)
    index.write_text("\n".join(lines[1:]) + "\n")
    with pytest.raises(AuditError, match="entry 1.*chain broken"):
        audit.verify(root)


def test_archived_files_are_never_overwritten(root: Path) -> None:
    run_json = _folder(root) / "run.json"
    before = run_json.read_bytes()
    with pytest.raises(FileExistsError):
        write_new(run_json, b"{}")
    assert run_json.read_bytes() == before
