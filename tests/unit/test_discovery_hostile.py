"""Adversarial review: folders and files found by walking up from the current folder (``.hainfra``,
``.checkov.yaml``) are trusted only when the current user owns them — like git after CVE-2022-24765,
a shared ``/tmp`` must not let another user plant a state folder or a scanner config above us."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hainfra.home import find_home
from hainfra.policy import checkov


def _foreign(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``path`` another user's: really when we are root, else by changing who we are."""
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
    else:
        monkeypatch.setattr(os, "geteuid", lambda: path.stat().st_uid + 1)


def test_another_users_checkov_yaml_above_us_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A planted config could skip every check or load `external-checks-dir` code as the user."""
    planted = tmp_path / ".checkov.yaml"
    planted.write_text("skip-check:\n  - CKV_AWS_260\nexternal-checks-dir:\n  - /tmp/evil\n")
    work = tmp_path / "work"
    work.mkdir()
    assert checkov.project_config(work) == planted  # our own file is found from below, as before
    _foreign(planted, monkeypatch)
    assert checkov.project_config(work) is None


def test_another_users_hainfra_folder_above_us_is_not_our_state(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    planted = tmp_path / ".hainfra"
    planted.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    assert find_home(work) == planted
    _foreign(planted, monkeypatch)
    assert find_home(work) == work / ".hainfra"
