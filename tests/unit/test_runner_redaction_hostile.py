"""Adversarial review: when the stack's secret values cannot be read, the archive must say its redaction was incomplete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hainfra.config import StackConfig
from hainfra.runbook import runner


def test_unreadable_stack_secrets_are_recorded_not_silently_skipped(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def engine_that_cannot_answer(*args: object, **kwargs: object) -> object:
        raise ConnectionError("the emulator at https://127.0.0.1:1 is not answering")

    monkeypatch.setattr(runner, "get_engine", engine_that_cannot_answer)
    notebook = tmp_path / "02-deploy.ipynb"
    notebook.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    record: dict = {"run_id": "r", "stage": "deploy", "stack": "s"}
    runner._archived_files(record, output_path=notebook, input_path=notebook, secrets=[],
                           config=StackConfig.load({}))
    assert "stack secrets" in json.dumps(record).lower(), "run.json must name the redaction it could not do"
