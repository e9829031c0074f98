"""hainfra — a highly available AWS network and application tier, run as notebooks.

Walk a stack through configure → deploy → verify → teardown: every stage is a papermill run of a
runbook notebook, archived with who/when/what/outcome and no secret in it. The default engine is a
local AWS emulator (no account, no Pulumi CLI); `-p engine pulumi` deploys to real AWS.

Exit codes: 0 success, 1 deploy/verify/stage failure, 2 bad configuration or parameters, 3 unexpected
error (traceback in ``$HAINFRA_HOME/hainfra.log``), 130 interrupted, 141 output pipe closed.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from hainfra import __version__, redact
from hainfra.errors import HainfraError

log = logging.getLogger("hainfra")


def _table(df: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    if df is None or not len(df):
        return "(none)"
    return df[list(columns) if columns else df.columns].to_string(index=False)


def _params(args: argparse.Namespace) -> dict[str, Any]:
    """``-p`` and ``--secret-file`` parameters; a secret given with ``-p`` is used, with a warning."""
    from hainfra.config import ENV_PREFIX, SECRET_FIELDS, read_secret_file

    params: dict[str, Any] = dict(args.param or [])
    for name in SECRET_FIELDS & set(params):
        log.warning("-p %s puts a secret on the command line, visible in `ps` and shell history; "
                    "set $%s%s or pass --secret-file %s FILE instead", name, ENV_PREFIX, name.upper(), name)
    for name, path in getattr(args, "secret_file", None) or []:
        params[name] = read_secret_file(name, path)
    return params


def _config(args: argparse.Namespace) -> Any:
    from hainfra import remembered

    params = _params(args)
    params["stack"] = args.stack
    if getattr(args, "engine", None):
        params["engine"] = args.engine
    return remembered.load(args.stack, params, file=args.config)


def _silence_stdout() -> None:
    """The reader of our output left (`| head`): send the rest to /dev/null instead of failing."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def say(line: str) -> None:
    """A progress line, now; a closed pipe never interrupts the operation it reports on."""
    try:
        print(line, flush=True)
    except BrokenPipeError:
        _silence_stdout()


def print_progress(event: Any) -> None:
    """Per-resource progress on the terminal."""
    from hainfra.plan import short_type

    marks = {"create": "+", "update": "~", "replace": "+-", "delete": "-"}
    if event.status == "done":
        say(f"  {marks.get(event.action, '*'):2} {event.action:8} {short_type(event.type):40} {event.name}"
            f"  ({event.seconds:.2f}s)")
    elif event.status == "failed":
        say(f"  !! {event.action:8} {short_type(event.type):40} {event.name}: {event.message}")


def _engine(args: argparse.Namespace, config: Any = None) -> Any:
    from hainfra.engines import get_engine

    return get_engine(None, config or _config(args), progress=print_progress)


# --- subcommands: each returns an exit code -----------------------------------------------------
def cmd_plan(args: argparse.Namespace) -> int:
    from hainfra.cidr import plan_subnets
    from hainfra.plan import az_note, plan

    config = _config(args)
    df = plan(config)
    print(f"Stack {config.stack}: {len(df)} resources across {config.az_count} AZs in {config.region} "
          f"(evaluated offline in {df.attrs['seconds']:.2f}s)")
    print(f"{az_note(config)}\n")
    print(_table(df, ["type", "name", "parent", "az"]))
    print("\nSubnet plan:")
    print(_table(pd.DataFrame([s.__dict__ for s in plan_subnets(config.vpc_cidr, config.az_count)])))
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    result = _engine(args).preview()
    print(_table(result.changes[result.changes["action"] != "same"], ["action", "type", "name", "changed"]))
    print(result.describe())
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from hainfra.audit.record import command_recording
    from hainfra.policy import gated_up

    config = _config(args)
    with command_recording(config, "up", args.archive, policy_override=args.skip_policy or "") as recorded:
        result = gated_up(_engine(args, config), args.skip_policy)
        text = "\n".join([result.describe()] + [f"  {key:22} {value}" for key, value in result.outputs.items()])
        recorded.outcome, recorded.files = "success", {"up.txt": text.encode()}
    print(text)
    print(f"recorded in {args.archive} as {recorded.record['run_id']} (signed by key {recorded.signer.fingerprint})")
    return 0


def cmd_outputs(args: argparse.Namespace) -> int:
    outputs = _engine(args).outputs()
    if not outputs:
        print(f"stack {args.stack} has no outputs: it is not deployed")
        return 1
    for key, value in outputs.items():
        print(f"  {key:22} {value}")
    return 0


def cmd_destroy(args: argparse.Namespace) -> int:
    from hainfra.audit.record import command_recording

    config = _config(args)
    with command_recording(config, "destroy", args.archive) as recorded:
        result = _engine(args, config).destroy(forget=args.forget)
        text = result.describe()
        if result.sweep is not None:
            text += (f"\nsweep: {int(result.sweep['remaining'].sum())} resources of the stack left in "
                     f"{len(result.sweep)} service checks")
        recorded.outcome, recorded.files = "success", {"destroy.txt": text.encode()}
    print(text)
    print(f"recorded in {args.archive} as {recorded.record['run_id']} (signed by key {recorded.signer.fingerprint})")
    return 0


def cmd_sandbox_serve(args: argparse.Namespace) -> int:
    from hainfra.engines import serve_emulator

    def announce(url: str) -> None:
        print(f"AWS emulator (moto) listening at {url}", flush=True)
        print(f"  use it with: -p aws_endpoint_url {url}   (recorded for later commands)", flush=True)

    code = serve_emulator(args.port, announce)
    if code:
        print("the emulator process ended unexpectedly", file=sys.stderr)
    return code


def cmd_verify(args: argparse.Namespace) -> int:
    from hainfra import verify

    config = _config(args)
    results = verify.run(config, wait_seconds=args.wait)
    print(_table(results, ["status", "check", "resource", "expected", "found"]))
    failed = verify.mandatory_failures(results)
    print(verify.summary(results))
    return 1 if len(failed) else 0


def cmd_scan(args: argparse.Namespace) -> int:
    from hainfra import scan

    results = scan.scan(_config(args))
    print(_table(results[results["status"] == "FAIL"], ["check", "severity", "resource", "reason"]))
    print(scan.summary(results))
    return 1 if len(scan.unexplained(results)) else 0


def cmd_drill(args: argparse.Namespace) -> int:
    """A drill changes the stack (terminates, deletes, converges): recorded like up and destroy."""
    from hainfra import drill
    from hainfra.audit.record import command_recording

    config = _config(args)
    with command_recording(config, "drill", args.archive, scenario=args.scenario) as recorded:
        result = drill.run(config, args.scenario, confirm=args.confirm or "", bound_seconds=args.bound)
        text = f"{_table(result.timings)}\n{result.describe()}"
        recorded.outcome = "success" if result.passed else "failed"
        recorded.files = {"drill.txt": text.encode()}
    print(text)
    print(f"recorded in {args.archive} as {recorded.record['run_id']}")
    return 0 if result.passed else 1


def cmd_config_show(args: argparse.Namespace) -> int:
    from hainfra import remembered

    file = remembered.path(args.stack)
    if not file.is_file():
        print(f"stack {args.stack} has no remembered configuration ({file}): `hainfra up` records one")
        return 1
    print(f"# {file}")
    print(file.read_text(), end="")
    return 0


def cmd_policy(args: argparse.Namespace) -> int:
    from hainfra import policy

    config = _config(args)
    if args.export_tfplan:
        exported = policy.export_stack_tfplan(config, args.export_tfplan)
        print(f"wrote the Terraform plan of {len(exported.addresses)} resources to {args.export_tfplan}")
    findings = policy.check_stack(config, checkov=args.checkov)
    print(_table(findings, ["source", "rule", "severity", "mandatory", "status", "resource", "message", "reason"])
          if len(findings) else "no findings")
    if args.checkov:
        print(f"\ncheckov: {findings.attrs['checkov_passed']} passed, {findings.attrs['checkov_failed']} failed "
              "(failures are advisory: listed above with their open issue or suppression reason)")
    return 1 if len(policy.mandatory(findings)) else 0


def _progress(args: argparse.Namespace) -> Callable[[str], None] | None:
    """Cell starts and the notebook's per-resource lines as they happen, unless --quiet."""
    if args.quiet:
        return None
    return lambda line: say(f"  {line}")


def cmd_run(args: argparse.Namespace) -> int:
    from hainfra.runbook import runner

    record = runner.run_stage(args.stage, stack=args.stack, params=_params(args), params_file=args.config,
                              archive_root=args.archive, progress=_progress(args))
    print(runner.describe(record))
    print(runner.signed_by([record]))
    return 0 if record["outcome"] == "success" else 1


def cmd_runbook(args: argparse.Namespace) -> int:
    from hainfra.runbook import runner

    records = runner.run_runbook(stack=args.stack, params=_params(args), params_file=args.config,
                                 keep=args.keep, archive_root=args.archive, timeout=args.timeout,
                                 drill=args.drill or "", progress=_progress(args))
    print(runner.summary(records, args.archive))
    return 0 if records and all(r["outcome"] == "success" for r in records) else 1


def cmd_notebooks_copy(args: argparse.Namespace) -> int:
    from hainfra.runbook import notebooks

    for path in notebooks.copy(args.dir, force=args.force):
        print(path)
    print(f"open them with: jupyter lab {args.dir}")
    return 0


def cmd_audit_list(args: argparse.Namespace) -> int:
    from hainfra import audit

    print(_table(audit.runs(args.archive)))
    return 0


def cmd_audit_show(args: argparse.Namespace) -> int:
    from hainfra import audit

    print(json.dumps(audit.show(args.run, args.archive), indent=2))
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hainfra import audit

    mirror = None
    if args.remote:
        from hainfra.config import StackConfig
        from hainfra.errors import ConfigError

        mirror = audit.mirror_for(StackConfig.load(dict(args.param or []), file=args.config))
        if mirror is None:
            raise ConfigError.one("archive_s3_uri", "", "--remote needs the mirror: -p archive_s3_uri s3://BUCKET/PREFIX")
    report = audit.checked(args.archive, keys=Path(args.keys) if args.keys else None, mirror=mirror)
    print(report)
    return 0 if report.ok else 1


def cmd_audit_repair(args: argparse.Namespace) -> int:
    from hainfra import audit

    print(audit.repair(args.archive))
    return 0


EPILOG = """\
examples:
  hainfra plan --stack dev -p az_count 3          what would be created (offline)
  hainfra runbook --stack dev                     configure, deploy, verify, teardown on the emulator
  hainfra run deploy --stack dev -f params.yaml   one stage, archived under ./archive
  hainfra notebooks copy ./ops                    editable copies of the notebooks for Jupyter
  hainfra audit verify                            check the archive's hash chain

exit codes: 0 success, 1 deploy/verify/stage failure, 2 bad configuration or parameters,
3 unexpected error (traceback in $HAINFRA_HOME/hainfra.log), 130 interrupted, 141 output pipe closed
"""


class Registered(Sequence[str]):
    """CLI choices read from a library registry on first use (``in``, iteration, ``--help``).

    The registry stays the one list of names, and a command that never uses the option never
    imports the registry's module (the drill scenarios pull in pulumi_aws: ~1.6 s of start-up).
    """

    def __init__(self, module: str, attribute: str) -> None:
        self.module, self.attribute = module, attribute

    @functools.cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(getattr(importlib.import_module(self.module), self.attribute))

    def __getitem__(self, index: Any) -> Any:
        return self.names[index]

    def __len__(self) -> int:
        return len(self.names)


STAGES = Registered("hainfra.runbook.runner", "STAGES")
ENGINES = Registered("hainfra.config", "ENGINES")
SCENARIOS = Registered("hainfra.drill.scenarios", "SCENARIOS")  # the scenarios module fills drill.SCENARIOS


# --- parser -----------------------------------------------------------------------------------------
def _param_args(p: argparse.ArgumentParser) -> None:
    """-f/--config FILE and -p KEY VALUE: spelled the same on every command."""
    p.add_argument("-f", "--config", "--file", dest="config", metavar="FILE", help="YAML file of parameters")
    p.add_argument("-p", "--param", nargs=2, action="append", metavar=("KEY", "VALUE"), help="parameter (repeatable)")


def _stack_args(p: argparse.ArgumentParser, engine: bool = True) -> None:
    p.add_argument("--stack", required=True, help="stack name")
    _param_args(p)
    _secret_file_arg(p)
    if engine:
        p.add_argument("--engine", choices=ENGINES, metavar="ENGINE",
                       help="%(choices)s (default: the engine parameter)")


def _secret_file_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--secret-file", nargs=2, action="append", metavar=("NAME", "PATH"),
                   help="a secret parameter read from a file, never on the command line (repeatable)")


def _archive_arg(p: argparse.ArgumentParser) -> None:
    """One audit archive for notebooks and commands: ``--archive``, else ``$HAINFRA_ARCHIVE``, else ./archive."""
    import os

    default = os.environ.get("HAINFRA_ARCHIVE") or "archive"
    p.add_argument("--archive", default=default, help=f"audit archive folder (default: $HAINFRA_ARCHIVE or ./archive: {default})")


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand and option, in help order: one ``add`` per command reads as the CLI's table of
    contents, so this stays one function past ~60 lines rather than scatter that table."""
    parser = argparse.ArgumentParser(prog="hainfra", description=__doc__.split("\n\nExit")[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--version", action="version", version=f"hainfra {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, fn: Callable[[argparse.Namespace], int], help_: str, parent: Any = sub,
            engine: bool = True, stack: bool = True) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=help_)
        if stack:
            _stack_args(p, engine)
        p.set_defaults(func=fn)
        return p

    add("plan", cmd_plan, "offline resource inventory (no cloud, no CLI)", engine=False)
    add("preview", cmd_preview, "planned change per resource")
    up = add("up", cmd_up, "deploy or update the stack")
    up.add_argument("--skip-policy", metavar="REASON", help="deploy despite mandatory policy findings (audited)")
    _archive_arg(up)
    add("outputs", cmd_outputs, "outputs of the deployed stack")
    destroy = add("destroy", cmd_destroy, "delete the stack and prove nothing is left")
    destroy.add_argument("--forget", action="store_true",
                         help="drop the stack's state, deleting nothing (e.g. its emulator is gone)")
    _archive_arg(destroy)
    verify = add("verify", cmd_verify, "check the live stack")
    verify.add_argument("--wait", type=float, default=30.0, help="seconds to wait for asynchronous deliveries")
    add("scan", cmd_scan, "run an installed Prowler on the live stack (HAINFRA_PROWLER, PATH or the "
        "scripts/test.sh virtualenv); exit 1 on a FAIL that is neither an emulator artefact nor open work")
    pol = add("policy", cmd_policy, "preflight policy findings", engine=False)
    pol.add_argument("--export-tfplan", metavar="FILE", help="also write the stack as a Terraform plan JSON (checkov)")
    pol.add_argument("--checkov", action="store_true", help="also run an installed checkov on that plan and merge "
                     "its findings (HAINFRA_CHECKOV, PATH or the scripts/test.sh virtualenv)")
    drill = add("drill", cmd_drill, "inject a failure and prove recovery (timings)")
    drill.add_argument("--scenario", default="instance", choices=SCENARIOS, metavar="SCENARIO",
                       help="%(choices)s (default: %(default)s)")
    drill.add_argument("--confirm", metavar="STACK", help="required outside the sandbox: the stack name")
    drill.add_argument("--bound", type=float, help="seconds each recovery may take (default 30 sandbox, 900 AWS)")
    _archive_arg(drill)

    config = sub.add_parser("config", help="a stack's remembered configuration").add_subparsers(
        dest="config_command", required=True)
    show = add("show", cmd_config_show, "print the configuration `up` recorded for the stack", parent=config,
               stack=False)
    show.add_argument("--stack", required=True, help="stack name")

    sandbox = sub.add_parser("sandbox", help="the local AWS emulator").add_subparsers(dest="sandbox", required=True)
    serve = add("serve", cmd_sandbox_serve, "run a long-lived emulator", parent=sandbox, stack=False)
    serve.add_argument("--port", type=int, default=5000)

    for name, fn, help_ in (("run", cmd_run, "execute one runbook notebook"),
                            ("runbook", cmd_runbook, "configure, deploy, verify, [drill,] teardown")):
        p = add(name, fn, help_, engine=False, stack=False)
        if name == "run":
            p.add_argument("stage", choices=STAGES, metavar="STAGE", help="%(choices)s")
        p.add_argument("--stack", required=True, help="stack name")
        _param_args(p)
        _secret_file_arg(p)
        _archive_arg(p)
        p.add_argument("-q", "--quiet", action="store_true", help="no per-cell and per-resource progress")
        if name == "runbook":
            p.add_argument("--keep", action="store_true", help="keep the stack (no teardown)")
            p.add_argument("--timeout", type=float, default=1800.0, help="whole-run timeout in seconds")
            p.add_argument("--drill", choices=SCENARIOS, metavar="SCENARIO",
                           help="run the 05-drill stage after verify: %(choices)s")

    nbs = sub.add_parser("notebooks", help="the runbook notebooks").add_subparsers(dest="notebooks", required=True)
    copy = add("copy", cmd_notebooks_copy, "editable copies of the notebooks for Jupyter", parent=nbs, stack=False)
    copy.add_argument("dir", help="folder to copy into (created if missing)")
    copy.add_argument("--force", action="store_true", help="overwrite notebooks already there")

    audit = sub.add_parser("audit", help="the run archive").add_subparsers(dest="audit", required=True)
    for name, fn, help_ in (("list", cmd_audit_list, "archived runs"), ("show", cmd_audit_show, "one run's record"),
                            ("verify", cmd_audit_verify, "check hashes, signatures and the anchored head"),
                            ("repair", cmd_audit_repair, "move a torn last index line aside (never deleted)")):
        p = add(name, fn, help_, parent=audit, stack=False)
        _archive_arg(p)
        if name == "show":
            p.add_argument("run", help="run id")
        if name == "verify":
            p.add_argument("--keys", help="folder of pinned public keys (default: the config folder's audit-keys)")
            p.add_argument("--remote", action="store_true", help="also compare with the S3 mirror (archive_s3_uri)")
            _param_args(p)  # archive_s3_uri, region, aws_endpoint_url
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # debug logs show request bodies: keep secrets out of them
        handler.addFilter(redact.LogFilter())
    try:
        return args.func(args)
    except HainfraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `hainfra plan | head`: the reader left; say nothing more
        _silence_stdout()  # no second error when Python flushes at exit
        return 141
    except Exception:  # noqa: BLE001 - the one place that catches everything
        from hainfra.home import home

        trace, path = redact.scrub_log_text(traceback.format_exc()), home() / "hainfra.log"
        try:
            home().mkdir(parents=True, exist_ok=True)
            with path.open("a") as fh:
                fh.write(trace)
            where = f"traceback in {path}"
        except OSError as exc:  # an unusable home must not turn exit 3 into a crash of the handler
            print(trace, file=sys.stderr)
            where = f"traceback above: cannot write {path}: {exc.strerror or exc}"
        print(f"unexpected error: {trace.splitlines()[-1]} ({where})", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
