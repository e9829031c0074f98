"""What the runbook notebooks call: one short function per cell, all logic lives in hainfra."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from hainfra import regions, verify
from hainfra.aws import is_loopback
from hainfra.cidr import plan_subnets
from hainfra.config import MASK, SECRET_FIELDS, StackConfig, describe
from hainfra.engines import OperationResult, ProgressEvent, get_engine
from hainfra.errors import ConfigError, DrillFailed, HainfraError, VerifyFailed
from hainfra.plan import plan as plan_resources
from hainfra.plan import short_type
from hainfra.policy import check_stack, gated_up
from hainfra.runbook import guard
from hainfra.stack import OUTPUTS

log = logging.getLogger(__name__)
# Archived notebooks show every row and column (all resources, the whole verify table), never "...".
pd.set_option("display.max_rows", None, "display.max_columns", None, "display.max_colwidth", None,
              "display.width", None)


def load_config(stack: str, params: dict[str, Any] | None = None, config_file: str = "") -> StackConfig:
    """Strictly validated config for a notebook run (unknown names and wrong types are errors).

    Starts from the stack's remembered configuration (:mod:`hainfra.remembered`).
    """
    if not isinstance(params, dict):
        raise ConfigError.one("params", params, "pass a mapping of parameter names to values")
    if not isinstance(config_file, str):  # stack and params are checked as plain data by StackConfig.load
        raise ConfigError.one("config_file", f"<{type(config_file).__name__}>", "pass the path of a YAML file as a string")
    from hainfra import remembered

    return remembered.load(stack, params, file=config_file or None)


def checked_config(stage: str, namespace: dict[str, Any]) -> StackConfig:
    """Each notebook's first cell: validate what the run injected, also under plain papermill."""
    return guard.checked_config(stage, namespace)


def config_table(config: StackConfig) -> pd.DataFrame:
    rows = describe()
    values = config.as_dict()
    return pd.DataFrame([{"parameter": r["parameter"],
                          "value": MASK if r["parameter"] in SECRET_FIELDS and values[r["parameter"]] else values[r["parameter"]],
                          "description": r["description"]} for r in rows])


def subnet_plan(config: StackConfig) -> pd.DataFrame:
    return pd.DataFrame([{"tier": s.tier, "az": f"AZ {s.az_index + 1}", "cidr": s.cidr}
                         for s in plan_subnets(config.vpc_cidr, config.az_count)])


def live_zones(config: StackConfig) -> list[str] | None:
    """The region's available AZs as the engine's AWS reports them; None when it cannot be reached."""
    import boto3  # function-local: start-up time
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        kwargs = get_engine(None, config).aws_client_kwargs()
        ec2 = boto3.client("ec2", config=Config(connect_timeout=5, read_timeout=15, retries={"max_attempts": 1}),
                           verify=not is_loopback(kwargs.get("endpoint_url")), **kwargs)
        found = ec2.describe_availability_zones(Filters=[{"Name": "state", "Values": ["available"]}])
    except (HainfraError, BotoCoreError, ClientError) as exc:
        log.info("AZs not checked against the engine: %s", exc)
        return None
    return sorted(z["ZoneName"] for z in found["AvailabilityZones"] if z.get("ZoneType", "availability-zone")
                  == "availability-zone")


def zone_check(config: StackConfig) -> pd.DataFrame:
    """The AZs the stack will span: checked against the engine when reachable, else from the shipped table.

    Refuses (ConfigError) a region whose engine reports fewer available AZs than ``az_count``.
    """
    live = live_zones(config)
    if live is not None and len(live) < config.az_count:
        raise ConfigError.one("az_count", config.az_count, f"region {config.region} has only {len(live)} available AZs "
                              f"({', '.join(live)}) for this engine; lower az_count or choose another region")
    if live is not None:
        zones, status = live, "available (checked against the engine)"
    else:
        zones = list(regions.zones(config.region) or [])
        status = f"unverified (engine not reachable; {regions.source()})" if zones else "unverified (not in the table)"
    return pd.DataFrame([{"az": f"AZ {i + 1}", "zone": zone, "status": status}
                         for i, zone in enumerate(zones[: config.az_count])] or
                        [{"az": "-", "zone": "-", "status": status}])


def resource_plan(config: StackConfig) -> pd.DataFrame:
    df = plan_resources(config)
    return df[["type", "name", "parent", "az"]]


def policy_findings(config: StackConfig) -> pd.DataFrame:
    return check_stack(config)[["rule", "severity", "mandatory", "status", "resource", "message", "reason"]]


def tfplan_export(config: StackConfig) -> pd.DataFrame:
    """The stack as a Terraform plan JSON for checkov or any Terraform scanner: one row per resource.

    Written to the stack's folder (``df.attrs['path']``); ``references`` are the relationships a
    scanner's graph checks follow.
    """
    from hainfra.home import stack_dir
    from hainfra.policy import export_stack_tfplan

    path = stack_dir(config.stack) / "tfplan.json"
    exported = export_stack_tfplan(config, str(path))
    expressions = {r["address"]: r["expressions"] for r in exported.plan["configuration"]["root_module"]["resources"]}
    df = pd.DataFrame([{"terraform": address, "pulumi": resource.label,
                        "references": ", ".join(sorted(set(_references(expressions[address]))))}
                       for address, resource in exported.addresses.items()])
    df.attrs["path"] = str(path)
    return df


def _references(expressions: Any) -> list[str]:
    """Referenced resource addresses (``aws_x.name``) anywhere in a resource's expressions."""
    if isinstance(expressions, dict):
        refs = expressions.get("references")
        if isinstance(refs, list):
            return [r for r in refs if r.count(".") == 1]
        return [x for v in expressions.values() for x in _references(v)]
    if isinstance(expressions, list):
        return [x for v in expressions for x in _references(v)]
    return []


def checkov_findings(config: StackConfig) -> pd.DataFrame:
    """checkov's findings on that export, when checkov is installed; otherwise one ``skip`` row saying why."""
    from hainfra.policy import check_stack, checkov

    columns = ["rule", "status", "resource", "message", "reason"]
    if checkov.find() is None:
        return pd.DataFrame([{"rule": "checkov", "status": "skip", "resource": "", "reason": "",
                              "message": f"checkov is not installed (optional): set {checkov.ENV}, put it on PATH "
                                         "or run scripts/test.sh"}], columns=columns)
    findings = check_stack(config, checkov=True)
    return findings[findings["source"] == "checkov"][columns].reset_index(drop=True)


def topology(config: StackConfig) -> Any:
    """A picture of the stack: AZ columns, public and private subnets, NATs, ALB, ASG."""

    import matplotlib.pyplot as plt  # function-local: start-up time (only the configure notebook draws)
    from matplotlib.patches import FancyBboxPatch

    plan = plan_subnets(config.vpc_cidr, config.az_count)
    n = config.az_count
    fig, ax = plt.subplots(figsize=(2.6 * n + 1, 5.2))
    ax.set_xlim(0, n * 2.6 + 0.4)
    ax.set_ylim(0, 6)
    ax.axis("off")

    def box(x: float, y: float, w: float, h: float, text: str, colour: str, top: bool = False) -> None:
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", fc=colour, ec="#333"))
        ax.text(x + w / 2, y + h - 0.2 if top else y + h / 2, text, ha="center", va="center", fontsize=8)

    box(0.1, 0.1, n * 2.6 + 0.2, 5.4, "", "#f7f7f7")
    ax.text(0.3, 5.3, f"VPC {config.vpc_cidr}  ({config.region}, stack {config.stack})", fontsize=9, weight="bold")
    box(0.3, 4.45, n * 2.6 - 0.2, 0.5, "Application Load Balancer (public subnets, all AZs)", "#cfe2ff")
    for s in plan:
        x = 0.3 + s.az_index * 2.6
        if s.tier == "public":
            box(x, 3.05, 2.3, 1.1, f"public {s.cidr}", "#d1e7dd", top=True)
            if s.az_index < config.nat_count:
                box(x + 0.5, 3.15, 1.3, 0.35, "NAT gateway", "#ffe69c")
        else:
            box(x, 1.0, 2.3, 1.6, f"private {s.cidr}", "#f8d7da", top=True)
        ax.text(x + 1.15, 0.35, f"AZ {s.az_index + 1}", ha="center", fontsize=9)
    box(0.3, 1.3, n * 2.6 - 0.2, 0.45,
        f"Auto Scaling group {config.asg_min}-{config.asg_desired}-{config.asg_max} x {config.instance_type}", "#e2d9f3")
    for i in range(n):
        x = 0.3 + i * 2.6 + 1.15
        nat_x = 0.3 + min(i, config.nat_count - 1) * 2.6 + 1.15
        ax.annotate("", xy=(nat_x, 3.15), xytext=(x, 2.6), arrowprops={"arrowstyle": "->", "color": "#996"})
    fig.tight_layout()
    plt.close(fig)
    return fig


def _notebook_progress(event: ProgressEvent) -> None:
    if event.status in ("done", "failed"):
        mark = "!!" if event.status == "failed" else "ok"
        print(f"{mark} {event.action:8} {short_type(event.type):38} {event.name} {event.message}", flush=True)


def engine_for(config: StackConfig) -> Any:
    return get_engine(None, config, progress=_notebook_progress)


def preview(config: StackConfig) -> pd.DataFrame:
    result = engine_for(config).preview()
    print(result.describe())
    return result.changes[result.changes["action"] != "same"][["action", "type", "name", "changed"]]


def deploy(config: StackConfig, policy_override: str = "") -> OperationResult:
    result = gated_up(engine_for(config), policy_override or None)
    print(result.describe())
    return result


def outputs_table(result: OperationResult) -> pd.DataFrame:
    return pd.DataFrame([{"output": k, "value": v, "description": OUTPUTS.get(k, "")} for k, v in result.outputs.items()])


def run_verify(config: StackConfig, wait_seconds: float = 30.0) -> pd.DataFrame:
    results = verify.run(config, wait_seconds=wait_seconds)
    print(verify.summary(results))
    return results


def fail_on_mandatory(results: pd.DataFrame) -> None:
    """Fail the notebook (and so the papermill run) when a mandatory check failed."""
    failed = verify.mandatory_failures(results)
    if len(failed):
        lines = "\n".join(f"  {r.check} {r.resource}: expected {r.expected}, found {r.found}" for r in failed.itertuples())
        raise VerifyFailed(f"{len(failed)} mandatory check(s) failed:\n{lines}")


def prowler_scan(config: StackConfig, enabled: bool = False) -> pd.DataFrame:
    """Prowler's findings on the live stack (the verify notebook's optional ``scan``); a skip row says why not."""
    from hainfra import scan

    if not enabled or scan.find() is None:
        why = scan.not_installed() if enabled else "off: set the notebook parameter scan=True (needs Prowler)"
        return pd.DataFrame([{"check": "prowler", "status": "skip", "reason": why}])
    results = scan.scan(config)
    print(scan.summary(results))
    return results


def fail_on_unexplained(results: pd.DataFrame) -> None:
    """Fail the notebook when Prowler found a FAIL that is neither an emulator artefact nor open work."""
    from hainfra import scan

    if "explained" not in results:  # the scan did not run (its skip row says why)
        return
    found = scan.unexplained(results)
    if len(found):
        lines = "\n".join(f"  {r.check} {r.resource}: {r.message}" for r in found.itertuples())
        raise VerifyFailed(f"Prowler: {len(found)} FAIL(s) neither an emulator artefact nor open work:\n{lines}")


def run_drill(config: StackConfig, scenario: str = "instance", confirm: str = "",
              bound_seconds: float | None = None) -> Any:
    """Inject one failure and prove recovery; returns the DrillResult (timings in ``.timings``)."""
    from hainfra import drill

    result = drill.run(config, scenario, confirm=confirm, bound_seconds=bound_seconds)
    print(result.describe())
    return result


def fail_on_drill(result: Any) -> None:
    """Fail the notebook (and so the papermill run) when the stack did not recover."""
    if not result.passed:
        failed = result.timings[~result.timings["ok"]]
        lines = "\n".join(f"  {r.phase} at {r.seconds}s: {r.detail}" for r in failed.itertuples())
        raise DrillFailed(f"drill {result.scenario} failed: {result.detail}\n{lines}")


def teardown(config: StackConfig, confirm: str = "") -> pd.DataFrame:
    """Destroy the stack; outside the sandbox only when ``confirm`` equals the stack name."""
    if config.engine != "sandbox" and confirm != config.stack:
        raise ConfigError.one("confirm", confirm, f"teardown of a real stack needs confirm={config.stack!r}")
    result = engine_for(config).destroy()
    print(result.describe())
    return result.sweep if result.sweep is not None else result.changes


def styled(results: pd.DataFrame) -> Any:
    """The verify table, colour-coded by status."""
    return verify.styled(results)
