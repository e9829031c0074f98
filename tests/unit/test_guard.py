"""The notebooks' self-check and the papermill engine's argument handling (no kernel needed)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from hainfra.errors import ConfigError
from hainfra.runbook import engine, guard, runner

ROOT = Path(__file__).resolve().parents[2]


def _namespace(stage: str, injected: dict, scratch: dict | None = None) -> dict:
    """A kernel namespace after papermill ran the parameters cell and injected ``injected``."""
    declared = {"stack": "dev", "params": {}, "config_file": "", "policy_override": "", "wait_seconds": 30.0,
                "confirm": ""}
    ns = {k: v for k, v in declared.items() if k in runner.notebook_parameters(stage)}
    source = "# Parameters\n" + "".join(f"{k} = {v!r}\n" for k, v in injected.items())
    return {**ns, **(scratch or {}), **injected, "In": ["", "stack: str = 'dev'", source, "import x"]}


def test_a_misspelled_injected_name_fails_with_the_hainfra_run_message() -> None:
    with pytest.raises(ConfigError) as in_notebook:
        guard.checked_config("configure", _namespace("configure", {"stack": "s", "az_cout": 4}))
    with pytest.raises(ConfigError) as from_cli:
        runner.split_parameters("configure", "s", {"az_cout": 4})
    assert str(in_notebook.value) == str(from_cli.value)
    assert "az_cout=4: unknown parameter for stage configure; did you mean 'az_count'?" in str(in_notebook.value)


def test_wrong_types_fail_for_stage_and_config_parameters() -> None:
    with pytest.raises(ConfigError, match="wait_seconds='soon': must be float"):
        guard.checked_config("verify", _namespace("verify", {"wait_seconds": "soon"}))
    with pytest.raises(ConfigError, match="az_count"):
        guard.checked_config("configure", _namespace("configure", {"az_count": "many"}))
    with pytest.raises(ConfigError, match="params=.*pass a mapping"):
        guard.checked_config("configure", _namespace("configure", {"params": "az_count=3"}))


def test_stack_config_fields_are_top_level_parameters_and_win_over_params() -> None:
    ns = _namespace("deploy", {"stack": "s", "az_count": 4, "params": {"az_count": 2, "region": "us-west-2"}})
    config = guard.checked_config("deploy", ns)
    assert (config.stack, config.az_count, config.region) == ("s", 4, "us-west-2")


def test_only_injected_names_are_checked_not_an_operators_scratch_variables() -> None:
    ns = _namespace("configure", {"stack": "s"}, scratch={"my_notes": "x", "config": object()})
    assert guard.checked_config("configure", ns).stack == "s"
    interactive = {"stack": "i", "params": {"az_count": 2}, "config_file": "", "In": ["", "x = 1"], "x": 1}
    assert guard.checked_config("configure", interactive).az_count == 2


def test_injected_names_reads_the_last_injected_cell() -> None:
    history = ["# Parameters\nold = 1\n", "print(1)", "# Parameters\nstack = 's'\naz_count = 3\n", "rb.x()"]
    assert guard.injected_names(history) == ["stack", "az_count"]
    assert guard.injected_names(["x = 1"]) == []


def test_the_engine_finds_the_stage_from_metadata_or_file_name() -> None:
    assert engine.stage_of({"hainfra": {"stage": "verify"}}, "/tmp/anything.ipynb") == "verify"
    assert engine.stage_of({}, "/ops/copies/02-deploy.ipynb") == "deploy"
    with pytest.raises(ConfigError, match="notebook=.*runbook notebooks"):
        engine.stage_of({}, "/tmp/report.ipynb")


def test_the_engine_flattens_papermill_parameters() -> None:
    args = engine.stage_arguments({"stack": "s", "params": {"region": "eu-west-1"}, "az_count": 4,
                                   "config_file": "c.yaml"})
    assert args == {"stack": "s", "params_file": "c.yaml", "params": {"region": "eu-west-1", "az_count": 4}}


def test_every_packaged_notebook_names_its_stage() -> None:
    import nbformat

    for stage, name in runner.STAGES.items():
        nb = nbformat.read(runner.NOTEBOOKS / name, as_version=4)
        assert engine.stage_of(nb.metadata, None) == stage
        assert f'rb.checked_config("{stage}", globals())' in nb.cells[2].source


def test_the_papermill_entry_point_names_the_engine() -> None:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    target = meta["project"]["entry-points"]["papermill.engine"]["hainfra"]
    module, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    assert cls is engine.HainfraEngine and callable(cls.execute_notebook)


def test_a_misspelled_name_inside_params_fails_the_same_way() -> None:
    with pytest.raises(ConfigError) as in_notebook:
        guard.checked_config("deploy", _namespace("deploy", {"stack": "s", "params": {"regoin": "eu-west-1"}}))
    with pytest.raises(ConfigError) as from_cli:
        runner.split_parameters("deploy", "s", {"regoin": "eu-west-1"})
    assert str(in_notebook.value) == str(from_cli.value) and "did you mean 'region'?" in str(in_notebook.value)


def test_progress_labels_follow_papermills_cell_numbers() -> None:
    from hainfra.runbook.progress import cell_labels

    labels = cell_labels(runner.NOTEBOOKS / runner.STAGES["deploy"])
    assert labels[:4] == ["# Deploy", "(parameters)", "(injected parameters)",
                          'config = rb.checked_config("deploy", globals())']
    assert "result = rb.deploy(config, policy_override)" in labels
