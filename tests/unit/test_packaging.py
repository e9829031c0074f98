"""What a non-editable install needs: notebooks and data as package data, one Airflow venv path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hainfra import regions
from hainfra.runbook import runner

ROOT = Path(__file__).resolve().parents[2]


def test_notebooks_and_the_az_table_are_package_data() -> None:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["hainfra"]
    assert "notebooks/*.ipynb" in data and "data/*.json" in data
    # In a checkout hainfra/notebooks points at notebooks/: the files edited are the files shipped.
    assert runner.NOTEBOOKS.resolve() == ROOT / "notebooks"
    assert sorted(p.name for p in runner.NOTEBOOKS.glob("*.ipynb")) == sorted(runner.STAGES.values())
    assert regions.TABLE.parent.parent == ROOT / "hainfra" and regions.zones("us-east-1")


def test_the_test_script_and_the_airflow_tests_use_one_venv_path() -> None:
    script = (ROOT / "scripts" / "test.sh").read_text()
    tests = (ROOT / "tests" / "airflow" / "test_dags.py").read_text()
    assert re.search(r'HAINFRA_AIRFLOW_VENV:-\$\{XDG_CACHE_HOME:-\$HOME/\.cache\}/hainfra/airflow-venv', script)
    assert 'CACHE / "hainfra" / "airflow-venv"' in tests and '"XDG_CACHE_HOME"' in tests
    assert "'.[airflow]'" in script and "export HAINFRA_AIRFLOW_VENV" in script
    assert '> "$airflow_venv/.hainfra-installed"' in script and '".hainfra-installed"' in tests
