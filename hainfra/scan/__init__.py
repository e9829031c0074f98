"""An independent scanner on the live stack: run an installed Prowler, keep the stack's own findings.

Prowler (several hundred checks with CIS/FSBP mappings, OCSF output) is optional and never a
dependency of hainfra: it is found at ``$HAINFRA_PROWLER``, on ``PATH``, or in the virtualenv
``scripts/test.sh`` creates (``${XDG_CACHE_HOME:-~/.cache}/hainfra/prowler-venv``). Against AWS it
runs plainly; against the sandbox emulator it runs through :mod:`hainfra.scan.launcher` with
Prowler's own interpreter (two in-memory shims, Prowler's files untouched) and boto3's
``AWS_ENDPOINT_URL``. Only the services the stack uses are scanned. Each finding on the stack's
resources becomes a row; a known FAIL carries its reason: the emulator's doing or a Prowler false
positive (``ARTEFACTS``), what AWS lets no automation do (``ACCEPTED``), or the open issue that fixes
it (``OPEN_WORK``). Prowler's CSV and OCSF files
stay in the scan's folder (``df.attrs['folder']``) for the archive (:func:`archive_files`).
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from hainfra.aws import EMULATOR_CREDENTIALS, Ctx
from hainfra.config import StackConfig
from hainfra.engines import get_engine
from hainfra.errors import ConfigError, EngineError, ScannerError
from hainfra.home import find_tool, stack_dir, tool_venv
from hainfra.scan import launcher
from hainfra.scan.findings import (
    ACCEPTED,
    ARTEFACTS,
    OPEN_WORK,
    annotate,
    read_csv,
    reason_kind,
    stack_identifiers,
    stack_only,
)

log = logging.getLogger(__name__)
ENV = "HAINFRA_PROWLER"
TIMEOUT_SECONDS = 1800
# Prowler service names of what the stack deploys (checks of other services would only add noise and time).
SERVICES = ("ec2", "vpc", "elbv2", "autoscaling", "iam", "kms", "s3", "secretsmanager", "ssm", "cloudwatch",
            "sns", "eventbridge", "wafv2", "acm")
OUTPUT_FORMATS = ("csv", "json-ocsf")
COLUMNS = ["check", "status", "severity", "service", "resource", "explained", "reason", "message", "compliance"]


@dataclass(frozen=True)
class Prowler:
    """An installed Prowler: its console script and (when it is a Python script) its interpreter."""

    executable: Path
    python: Path | None

    def command(self, emulated: bool) -> list[str]:
        """How to start it; the emulator needs the launcher's shims, hence Prowler's interpreter."""
        if not emulated:
            return [str(self.executable)]
        if self.python is None:
            raise ScannerError(f"{self.executable} is not a Python console script, so hainfra cannot start it with "
                               "the emulator's shims; install Prowler with pip (scripts/test.sh does) and point "
                               f"{ENV} at it")
        return [str(self.python), launcher.__file__]


def default_venv() -> Path:
    """Where ``scripts/test.sh`` installs Prowler (its own virtualenv, outside the repository)."""
    return tool_venv("prowler")


def _interpreter(script: Path) -> Path | None:
    """The Python of a pip console script (its ``#!`` line), if it is one."""
    try:
        with script.open("rb") as fh:
            first = fh.readline(512).decode(errors="replace").strip()
    except OSError:
        return None
    python = Path(first[2:].split()[0]) if first.startswith("#!") and "python" in first else None
    return python if python and python.is_file() else None


def find() -> Prowler | None:
    """Prowler: ``$HAINFRA_PROWLER`` (script or virtualenv), then ``PATH``, then the cached virtualenv."""
    path = find_tool("prowler", ENV)
    return Prowler(path, _interpreter(path)) if path else None


def not_installed() -> str:
    return f"Prowler is not installed (optional): set {ENV}, put prowler on PATH or run scripts/test.sh " \
           f"(it creates {default_venv()})"


def environment(client_kwargs: dict[str, Any], emulated: bool) -> dict[str, str]:
    """Prowler's environment: the engine's region, and for the emulator its endpoint and test credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", launcher.EMULATOR_FLAG))}
    env["AWS_DEFAULT_REGION"] = client_kwargs["region_name"]
    if emulated:
        env.update(AWS_ENDPOINT_URL=client_kwargs["endpoint_url"], AWS_ACCESS_KEY_ID=EMULATOR_CREDENTIALS[
            "aws_access_key_id"], AWS_SECRET_ACCESS_KEY=EMULATOR_CREDENTIALS["aws_secret_access_key"])
        env[launcher.EMULATOR_FLAG] = "1"
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            env.pop(key, None)
    return env


def arguments(region: str, folder: Path, services: tuple[str, ...] = SERVICES,
              checks: tuple[str, ...] = ()) -> list[str]:
    """Prowler's command line: the stack's region and services (or just ``checks``), CSV + OCSF into ``folder``."""
    selection = ["--checks", *checks] if checks else ["--services", *services]
    return ["aws", "--region", region, *selection, "--output-formats", *OUTPUT_FORMATS,
            "--output-directory", str(folder), "--output-filename", "prowler", "--no-banner",
            "--ignore-exit-code-3"]


def run(prowler: Prowler, client_kwargs: dict[str, Any], emulated: bool, folder: Path,
        services: tuple[str, ...] = SERVICES, checks: tuple[str, ...] = ()) -> Path:
    """Run Prowler into ``folder``; returns its CSV file.

    Raises:
        ScannerError: it did not finish in time, failed, or wrote no CSV.
    """
    cmd = prowler.command(emulated) + arguments(client_kwargs["region_name"], folder, services, checks)
    log.info("running %s", " ".join(cmd))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False,
                              env=environment(client_kwargs, emulated), cwd=folder)
    except subprocess.TimeoutExpired as exc:
        raise ScannerError(f"Prowler did not finish within {TIMEOUT_SECONDS}s") from exc
    (folder / "prowler.log").write_text(proc.stdout[-200_000:] + proc.stderr[-200_000:])
    csv = folder / "prowler.csv"
    if proc.returncode != 0 or not csv.is_file():
        raise ScannerError(f"Prowler failed (exit {proc.returncode}; log in {folder / 'prowler.log'}): "
                           f"{(proc.stderr or proc.stdout).strip()[-800:]}")
    return csv


def scan(config: StackConfig, *, engine: Any = None, folder: Path | None = None,
         services: tuple[str, ...] = SERVICES, checks: tuple[str, ...] = ()) -> pd.DataFrame:
    """Prowler's findings on the deployed stack of ``config``: one row per check and resource.

    ``checks`` runs only those Prowler checks instead of every check of ``services``.

    ``df.attrs``: ``folder`` (Prowler's CSV/OCSF output), ``seconds``, ``counts`` (PASS/FAIL on the
    stack's resources), ``dropped`` (findings on other resources of the account).

    Raises:
        ConfigError: Prowler is not installed. EngineError: the stack is not deployed.
    """
    prowler = find()
    if prowler is None:
        raise ConfigError.one("prowler", None, not_installed())
    engine = engine or get_engine(None, config)
    outputs = engine.outputs()
    if not outputs:
        raise EngineError(f"stack {config.stack!r} is not deployed (no outputs); run `hainfra up --stack "
                          f"{config.stack}` first")
    folder = folder or stack_dir(config.stack) / "scan" / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    csv = run(prowler, engine.aws_client_kwargs(), engine.emulated, folder, services, checks)
    seconds = time.perf_counter() - started
    everything = read_csv(csv)
    identifiers = stack_identifiers(outputs) | instance_volumes(Ctx.from_kwargs(engine.aws_client_kwargs()), outputs)
    ours = stack_only(everything, config, identifiers)
    df = annotate(ours, emulated=engine.emulated)[COLUMNS].reset_index(drop=True)
    df.attrs.update(folder=str(folder), seconds=round(seconds, 1), dropped=len(everything) - len(ours),
                    counts=df["status"].value_counts().to_dict())
    log.info("prowler: %s on the stack's resources in %.0fs", df.attrs["counts"], seconds)
    return df


def instance_volumes(aws: Ctx, outputs: dict[str, Any]) -> set[str]:
    """EBS volumes of the stack's instances: untagged (the launch template tags none), yet the stack's."""
    groups = aws.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[outputs["asg_name"]])["AutoScalingGroups"]
    instances = [i["InstanceId"] for g in groups for i in g.get("Instances", [])]
    if not instances:
        return set()
    reservations = aws.client("ec2").describe_instances(InstanceIds=instances)["Reservations"]
    return {m["Ebs"]["VolumeId"] for r in reservations for i in r["Instances"]
            for m in i.get("BlockDeviceMappings", []) if m.get("Ebs", {}).get("VolumeId")}


def unexplained(df: pd.DataFrame) -> pd.DataFrame:
    """FAILs that are neither an emulator artefact nor open work of another issue: the ones to fix now."""
    return df[(df["status"] == "FAIL") & ~df["explained"]]


def summary(df: pd.DataFrame) -> str:
    """One line: counts, the FAILs by reason kind, the scan time and where the output is."""
    counts = df.attrs.get("counts", {})
    kinds = df[df["status"] == "FAIL"]["reason"].map(reason_kind).replace("", "unexplained").value_counts()
    why = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    return (f"prowler: {counts.get('PASS', 0)} PASS, {counts.get('FAIL', 0)} FAIL on the stack's resources"
            f"{f' ({why})' if why else ''} in {df.attrs.get('seconds', 0):.0f}s; output in {df.attrs.get('folder')}")


def archive_files(folder: str | Path) -> dict[str, bytes]:
    """Prowler's output files of one scan, named ``scan/<scan folder>/<file>`` for the run's archive."""
    path = Path(folder)
    if not path.is_dir():
        return {}
    return {f"scan/{path.name}/{p.relative_to(path)}": p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def scans_since(stack: str, started: float) -> list[Path]:
    """Scan folders of ``stack`` written since ``started`` (a ``time.time()``): what a run produced."""
    root = stack_dir(stack) / "scan"
    return sorted(p for p in root.iterdir() if p.is_dir() and p.stat().st_mtime >= started) if root.is_dir() else []


__all__ = ["ACCEPTED", "ARTEFACTS", "COLUMNS", "OPEN_WORK", "Prowler", "archive_files", "find", "scan", "scans_since",
           "summary", "unexplained"]
