"""Execute the runbook notebooks with papermill and archive every run.

``STAGES`` maps a stage to its notebook. Parameters are checked strictly before any
cell runs (papermill by itself only warns): a name that is neither a notebook parameter
nor a StackConfig field, or a value of the wrong type, is a ConfigError (exit 2).
"""

from __future__ import annotations

import ast
import difflib
import functools
import logging
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from hainfra import __version__, audit, redact, remembered, scan
from hainfra.audit import archive
from hainfra.audit import record as audit_record
from hainfra.aws import Ctx
from hainfra.config import ENV_PREFIX, FIELDS, SECRET_FIELDS, SECRET_FROM_ENV, StackConfig, read_yaml
from hainfra.data import check_data, load_yaml
from hainfra.engines import get_engine, private_emulator, served_emulator
from hainfra.errors import ConfigError
from hainfra.runbook.kernels import KERNEL_ARGUMENTS, Ahead, Kernels, kernel_manager_class, kernel_name
from hainfra.runbook.progress import streaming

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
# Package data: in a checkout `hainfra/notebooks` is a symlink to `notebooks/`; a wheel holds the files.
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
STAGES: dict[str, str] = {
    "configure": "01-configure.ipynb",
    "deploy": "02-deploy.ipynb",
    "verify": "03-verify.ipynb",
    "drill": "05-drill.ipynb",
    "teardown": "04-teardown.ipynb",
}
OPTIONAL_STAGES = ("drill",)  # a runbook runs these only when asked (``drill=SCENARIO``)
COMMON_PARAMETERS = ("stack", "params", "config_file")


@functools.cache
def notebook_parameters(stage: str) -> dict[str, dict[str, Any]]:
    """The parameters a stage's notebook declares: name -> {type, default} (papermill inspection)."""
    import papermill  # function-local: start-up time

    return papermill.inspect_notebook(str(NOTEBOOKS / STAGES[stage]))


def _coerce_stage_param(name: str, value: Any, declared: dict[str, Any]) -> Any:
    kind = declared.get("inferred_type_name", "None")
    if kind == "None":  # no annotation: the default's type decides
        try:
            kind = type(ast.literal_eval(declared.get("default", "None"))).__name__
        except (ValueError, SyntaxError):
            kind = "None"
    python = {"str": str, "float": (int, float), "int": int, "bool": bool, "dict": dict}.get(kind)
    if python is None:
        return value
    if isinstance(value, str) and kind != "str":
        value = load_yaml(value, f"parameter {name}", name)
        if check_data(name, value):  # .nan, .inf
            raise ConfigError(check_data(name, value))
    if not isinstance(value, python) or (kind != "bool" and isinstance(value, bool)):
        raise ConfigError.one(name, value, f"must be {kind}")
    return float(value) if kind == "float" else value


def _suggest(name: str, known: set[str]) -> str:
    """'did you mean …?' when a known name is close, else the list (the same hint `plan` gives)."""
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(known))}"


def split_parameters(stage: str, stack: str, params: dict[str, Any]) -> tuple[dict[str, Any], StackConfig]:
    """(papermill parameters, validated config) for ``params``; refuses unknown names and wrong types."""
    declared = notebook_parameters(stage)
    stage_params: dict[str, Any] = {}
    config_params: dict[str, Any] = {}
    problems = [p for name, value in params.items() for p in check_data(str(name), value)]
    for name, value in params.items():
        if problems:
            break  # a value that is not plain data is never looked at further
        if name in FIELDS:
            config_params[name] = value
        elif name in declared and name not in COMMON_PARAMETERS:
            try:
                stage_params[name] = _coerce_stage_param(name, value, declared[name])
            except ConfigError as exc:
                problems += exc.problems
        else:
            problems.append((name, value, f"unknown parameter for stage {stage}; "
                             f"{_suggest(name, set(declared) - set(COMMON_PARAMETERS) | set(FIELDS))}"))
    if problems:
        raise ConfigError(problems)
    config = remembered.load(stack, config_params)
    typed = {k: getattr(config, k) for k in config_params}  # CLI strings become typed values
    return {"stack": stack, "params": _without_secrets(typed), **stage_params}, config


def _without_secrets(params: dict[str, Any]) -> dict[str, Any]:
    """Secret fields as the placeholder: their values travel in the kernel's environment (:func:`kernel_env`)."""
    return {k: (SECRET_FROM_ENV if k in SECRET_FIELDS and v else v) for k, v in params.items()}


def kernel_env(config: StackConfig) -> dict[str, str]:
    """The run's secrets as ``HAINFRA_<NAME>`` variables for the kernel (never its command line or cell)."""
    return {f"{ENV_PREFIX}{name.upper()}": getattr(config, name) for name in SECRET_FIELDS if getattr(config, name)}


def run_secrets(config: StackConfig, params: dict[str, Any]) -> list[str]:
    """Values to redact that the run knows before it starts: secret fields, secret-looking other parameters."""
    values = [getattr(config, name) for name in SECRET_FIELDS if getattr(config, name)]
    return values + redact.secret_values({k: v for k, v in params.items() if k not in FIELDS})


def _refuse_weak_secrets(secrets: list[str]) -> None:
    """Exit 2 before anything runs when a secret is too short to be redacted reliably."""
    try:
        redact.Redactor(secrets)
    except ValueError as exc:
        raise ConfigError.one("secret parameter", redact.REDACTED, f"{exc}; use a longer secret") from None


def merge_parameters(params: dict[str, Any] | None, params_file: str | None) -> dict[str, Any]:
    """Parameters from a YAML file (``-f``, plain data only), overridden by explicit ones (``-p``)."""
    from_file = read_yaml(Path(params_file)) if params_file else {}
    return {**from_file, **(params or {})}


def _git() -> dict[str, Any]:
    def run(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()

    try:
        return {"commit": run("rev-parse", "HEAD") or None, "dirty": bool(run("status", "--porcelain"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def secret_versions(sm: Any, secret_arn: str) -> list[str]:
    """The secret's current value and, once it has rotated, the previous one (still valid for readers mid-flight,
    and possibly printed before the rotation)."""
    values = [sm.get_secret_value(SecretId=secret_arn)["SecretString"]]
    try:
        values.append(sm.get_secret_value(SecretId=secret_arn, VersionStage="AWSPREVIOUS")["SecretString"])
    except sm.exceptions.ResourceNotFoundException:
        pass  # never rotated yet
    return values


def stack_secrets(config: StackConfig) -> tuple[list[str], str]:
    """Secret values the stack holds (Secrets Manager value, SecureString values), for redaction.

    Returns the values and, when they could not be read, why: the record must say its redaction
    was incomplete rather than look complete (redaction still covers every secret parameter).
    """
    try:
        engine = get_engine(None, config)
        outputs = engine.outputs()
        if not outputs:
            return [], ""
        aws = Ctx.from_kwargs(engine.aws_client_kwargs())
        values = secret_versions(aws.client("secretsmanager"), outputs["secret_arn"])
        params = aws.client("ssm").get_parameters_by_path(Path=outputs["ssm_path"], Recursive=True, WithDecryption=True)
        values += [p["Value"] for p in params["Parameters"] if p["Type"] == "SecureString"]
        redact.remember(*values)
        return values, ""
    except Exception as exc:  # noqa: BLE001 - any failure is recorded in the run, never hidden
        log.warning("could not read the stack's secret values for redaction: %s", exc)
        return [], f"stack secrets unavailable for redaction: {type(exc).__name__}: {exc}"


@functools.cache
def _html_exporter() -> Any:
    """One exporter per process: it loads its templates once (a runbook renders every stage)."""
    from nbconvert import HTMLExporter  # function-local: start-up time (only when archiving)

    exporter = HTMLExporter()
    exporter.log.setLevel(logging.ERROR)  # its accessibility note on the topology picture is not actionable here
    return exporter


def _render_html(notebook_json: str) -> bytes:
    import nbformat  # function-local: start-up time (only when archiving)

    body, _ = _html_exporter().from_notebook_node(nbformat.reads(notebook_json, as_version=4))
    return body.encode()


def run_stage(stage: str, *, stack: str, params: dict[str, Any] | None = None, params_file: str | None = None,
              archive_root: str | Path = "archive", run_group: str | None = None, cell_timeout: float | None = None,
              extra_secrets: list[str] | None = None, notebook: str | Path | None = None,
              progress: Callable[[str], None] | None = None, kernel: Ahead | None = None) -> dict[str, Any]:
    """Execute one stage's notebook, recorded write-ahead and archived (also on failure). Returns the run record.

    ``notebook`` runs an operator's copy instead of the packaged notebook (the papermill engine);
    ``progress`` receives cell starts and the kernel's output lines as they happen; ``kernel`` is one
    started ahead for this stage (:mod:`hainfra.runbook.kernels`; its owner shuts it down), used when it
    was started with this run's environment.

    Ctrl-C archives the partial notebook as ``interrupted`` and re-raises; if the archive cannot be
    written the run is spooled and ArchiveWriteError names the spool folder.
    """
    if stage not in STAGES:
        raise ConfigError.one("stage", stage, f"use one of {', '.join(STAGES)}")
    merged = merge_parameters(params, params_file)
    parameters, config = split_parameters(stage, stack, merged)
    _refuse_weak_secrets(run_secrets(config, merged) + list(extra_secrets or []))
    input_path = Path(notebook) if notebook else NOTEBOOKS / STAGES[stage]
    record = _stage_record(stage, stack, config, parameters, input_path, run_group)
    secrets = run_secrets(config, merged) + list(extra_secrets or [])
    with tempfile.TemporaryDirectory() as tmp, audit_record.recording(
            archive_root, record, signer=audit.signer_for(config), mirror=audit.mirror_for(config),
            secrets=secrets) as recorded:
        output_path = Path(tmp) / STAGES[stage]
        recorded.render = functools.partial(_archived_files, output_path=output_path, input_path=input_path,
                                            secrets=secrets, config=config, began=time.time())
        env = kernel_env(config)
        ready = kernel if kernel is not None and kernel.fits(env, kernel_name(input_path)) else None
        recorded.outcome, recorded.failing_cell = _execute(stage, input_path, output_path, parameters, cell_timeout,
                                                           env, progress, ready)
    return recorded.result or {}


def _stage_record(stage: str, stack: str, config: StackConfig, parameters: dict[str, Any], input_path: Path,
                  run_group: str | None) -> dict[str, Any]:
    return audit_record.base_record(
        audit_record.new_run_id(stage), stage, stack, run_group=run_group, engine=config.engine, parameters=parameters,
        policy_override=parameters.get("policy_override", ""), input_notebook=_shown(input_path),
        input_notebook_sha256=archive.sha256_file(input_path), git=_git(), hainfra_version=__version__,
        config=audit_record.redacted_config(config))


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:  # an installed package or an operator's copy
        return str(path)


def _execute(stage: str, input_path: Path, output_path: Path, parameters: dict[str, Any], cell_timeout: float | None,
             env: dict[str, str], progress: Callable[[str], None] | None = None,
             kernel: Ahead | None = None) -> tuple[str, dict[str, Any] | None]:
    """Run the notebook with papermill: (outcome, failing cell). Ctrl-C propagates (archived as interrupted).

    ``env`` (the run's secrets) is added to the kernel's environment, never to its command line or cell;
    ``progress`` receives cell starts and the kernel's output as they happen; ``kernel``, started ahead,
    runs the cells instead of a new one.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    started = {"km": kernel.manager} if kernel else {"kernel_manager_class": kernel_manager_class(env)}
    try:
        with streaming(stage, input_path, progress) as stream:
            papermill.execute_notebook(str(input_path), str(output_path), parameters=parameters, progress_bar=False,
                                       cwd=str(Path.cwd()), execution_timeout=int(cell_timeout) if cell_timeout else None,
                                       extra_arguments=list(KERNEL_ARGUMENTS), **started, **stream)
    except PapermillExecutionError as exc:
        return "failed", {"execution_count": exc.exec_count, "cell_index": exc.cell_index, "ename": exc.ename,
                          "evalue": exc.evalue}
    except Exception as exc:  # noqa: BLE001 - a timeout or kernel death is still archived
        outcome = "timeout" if "timeout" in type(exc).__name__.lower() or "Timeout" in str(exc) else "failed"
        return outcome, {"ename": type(exc).__name__, "evalue": str(exc)}
    finally:
        if kernel is not None:  # it exits while the stage is archived (its owner waits for it)
            kernel.release()
    return "success", None


def _archived_files(record: dict[str, Any], *, output_path: Path, input_path: Path, secrets: list[str],
                    config: StackConfig, began: float | None = None) -> dict[str, bytes]:
    """The redacted notebook, its HTML (opening with the record's header) and the Prowler scans made since
    ``began`` (the verify notebook's optional section; none without ``began``); adds counts to ``record``."""
    notebook = output_path.read_text() if output_path.exists() else input_path.read_text()
    held, unavailable = stack_secrets(config)
    if unavailable:
        record["redaction_incomplete"] = unavailable
    redactor = redact.Redactor(secrets + held)
    notebook, redactions = redactor.notebook(notebook)
    record["verify_counts"] = verify_counts(notebook)
    clean, record_redactions = redactor.data(record)  # parameters, failing cell, anything a user typed
    record.clear()
    record.update(clean)
    rendering = time.perf_counter()
    page = audit_record.with_header(_render_html(notebook).decode(), record)
    html, html_redactions = redactor.text(page)
    record["redactions"] = redactions + html_redactions + record_redactions
    record["timings"] = {"render": round(time.perf_counter() - rendering, 3)}  # bench/runbook.py's breakdown
    name = input_path.stem
    files = {f"{name}.ipynb": notebook.encode(), f"{name}.html": html.encode()}
    for folder in (scan.scans_since(config.stack, began) if began is not None else []):
        for file_name, data in scan.archive_files(folder).items():
            text, count = redactor.text(data.decode(errors="replace"))
            files[file_name] = text.encode()
            record["redactions"] += count
    return files


def verify_counts(notebook_json: str) -> dict[str, int] | None:
    """pass/fail/skip counts from the verify summary a notebook printed (None if it printed none)."""
    from hainfra.verify import SUMMARY

    found = SUMMARY.findall(notebook_json)
    if not found:
        return None
    _, passed, failed, skipped = found[-1]
    return {"pass": int(passed), "fail": int(failed), "skip": int(skipped)}


def run_runbook(*, stack: str, params: dict[str, Any] | None = None, params_file: str | None = None,
                keep: bool = False, archive_root: str | Path = "archive", timeout: float = 1800.0,
                drill: str = "", progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """configure → deploy → verify [→ drill] → teardown, stopping at the first failure (``keep``: no teardown).

    ``drill`` names a drill scenario to run after verify (the optional 05-drill stage).

    On the sandbox one private emulator serves the whole runbook unless ``aws_endpoint_url`` is given.
    Each stage's kernel is started while the stage before it runs (:mod:`hainfra.runbook.kernels`).
    """
    merged = merge_parameters(params, params_file)
    stage_names = {name for stage in STAGES for name in notebook_parameters(stage)} - set(COMMON_PARAMETERS)
    unknown = [(k, v, f"unknown parameter; {_suggest(k, stage_names | set(FIELDS))}")
               for k, v in merged.items() if k not in FIELDS and k not in stage_names]
    if unknown:
        raise ConfigError(unknown)
    for stage in STAGES:  # every stage's parameters are valid before the first cell runs (exit 2)
        _, config = split_parameters(stage, stack, _stage_params(stage, merged))
    engine = merged.get("engine", "sandbox")
    private = engine == "sandbox" and not merged.get("aws_endpoint_url")
    if private and keep:  # a private emulator dies with the run: a kept stack needs one that stays
        merged["aws_endpoint_url"], private = long_lived_emulator(), False
    stages = [s for s in STAGES if not (s == "teardown" and keep) and not (s in OPTIONAL_STAGES and not drill)]
    deadline = time.monotonic() + timeout
    group = f"runbook-{uuid.uuid4().hex[:8]}"
    records: list[dict[str, Any]] = []
    # Loaded while the first stage runs (this process only waits for its kernel then), not when it is archived.
    threading.Thread(target=_html_exporter, name="hainfra-warm-html", daemon=True).start()
    with Kernels() as kernels:
        kernels.start(stages[0], NOTEBOOKS / STAGES[stages[0]], kernel_env(config))  # boots while the emulator starts
        with private_emulator() if private else nullcontext() as emu:
            if emu is not None:
                merged["aws_endpoint_url"] = emu.url
            if drill:
                merged["scenario"] = drill
            for stage, following in zip(stages, [*stages[1:], None], strict=True):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    log.error("runbook timeout (%ss) reached before %s", timeout, stage)
                    records.append({"stage": stage, "outcome": "timeout", "run_id": "-"})
                    break
                if following:
                    kernels.start(following, NOTEBOOKS / STAGES[following], kernel_env(config))
                record = run_stage(stage, stack=stack, params=_stage_params(stage, merged), archive_root=archive_root,
                                   run_group=group, cell_timeout=remaining, progress=progress,
                                   kernel=kernels.take(stage))
                kernels.stop(stage)
                records.append(record)
                if record["outcome"] != "success":
                    break
    return records


def _stage_params(stage: str, merged: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in merged.items() if k in FIELDS or k in notebook_parameters(stage)}


def long_lived_emulator() -> str:
    """The running `hainfra sandbox serve` emulator, for a runbook that keeps its stack.

    Raises:
        ConfigError: none answers — before any stage runs, with the command to run first.
    """
    url = served_emulator()
    if url:
        return url
    raise ConfigError.one("keep", True, "a stack kept on the sandbox must live in an emulator that outlives this "
                                        "run; start one first with `hainfra sandbox serve &` (or pass "
                                        "-p aws_endpoint_url URL), then run the runbook again")


def describe(record: dict[str, Any]) -> str:
    cell = record.get("failing_cell") or {}
    failure = f" — cell {cell.get('execution_count')}: {cell.get('ename')}: {cell.get('evalue')}" if cell else ""
    return f"{record['stage']:9} {record['outcome']:8} {record['run_id']}{failure}"


def signed_by(records: list[dict[str, Any]]) -> str:
    keys = sorted({r["signer"] for r in records if r.get("signer")})
    return f"Signed by key {', '.join(keys)} (pinned in {audit.signing.keys_dir()})" if keys else ""


def summary(records: list[dict[str, Any]], archive_root: str | Path) -> str:
    lines = ["Runbook:"] + [f"  {describe(r)}" for r in records]
    ok = records and all(r["outcome"] == "success" for r in records)
    lines.append(f"Outcome: {'success' if ok else 'FAILED'}")
    if records and records[0].get("stack"):
        lines.append(f"Archive: {Path(archive_root).resolve()}/{records[0]['stack']}/ "
                     f"(index {Path(archive_root).resolve() / 'index.jsonl'})")
        lines.append(signed_by(records))
    return "\n".join(line for line in lines if line)
