"""Start-up time work keeps behaviour: lazy pulumi_aws services, the region list, kernels fit only their run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import boto3

from hainfra.config import known_regions
from hainfra.runbook.kernels import Ahead, warm_line

REPO = Path(__file__).resolve().parents[2]


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_verify_and_the_steps_import_without_pulumi_aws_service_modules() -> None:
    """verify/teardown kernels and the CLI never pay for the ~0.7 s of modules only an evaluation needs."""
    out = _python("import sys, hainfra.runbook.steps, hainfra.verify, hainfra.cli\n"
                  "print(sorted(m for m in sys.modules if m.startswith(('pulumi_aws.ec2.', 'pulumi_aws.s3.'))))")
    assert out == "[]"


def test_two_first_evaluations_at_once_on_threads_both_succeed() -> None:
    """The services load under a lock on first use: two threads racing through it see whole modules."""
    code = """
import gc, json, threading
from hainfra.config import StackConfig
from hainfra.plan import plan
results, errors = {}, []
def run(name):
    try:
        results[name] = len(plan(StackConfig.load({"stack": name, "project": name})))
    except BaseException as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=run, args=(n,)) for n in ("race-a", "race-b")]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps({"errors": errors, "counts": sorted(results.values()), "collecting": gc.isenabled()}))
"""
    out = json.loads(_python(code))
    assert out["errors"] == []
    assert len(out["counts"]) == 2 and out["counts"][0] == out["counts"][1] > 50, out
    assert out["collecting"], "the garbage collector is enabled again after loading"


def test_region_list_is_botocores_ec2_list() -> None:
    session = boto3.session.Session()
    expected = {r for partition in ("aws", "aws-us-gov", "aws-cn")
                for r in session.get_available_regions("ec2", partition_name=partition)}
    assert known_regions() == expected and "eu-west-1" in expected and "cn-north-1" in expected


def test_a_kernel_started_ahead_serves_only_a_run_with_the_same_environment_and_kernel() -> None:
    """Secrets reach the kernel in its environment: a kernel started with other secrets is never reused."""
    ahead = Ahead("deploy", SimpleNamespace(has_kernel=True), {"HAINFRA_PULUMI_CONFIG_PASSPHRASE": "one-secret"},
                  "python3")
    assert ahead.fits({"HAINFRA_PULUMI_CONFIG_PASSPHRASE": "one-secret"}, "python3")
    assert not ahead.fits({"HAINFRA_PULUMI_CONFIG_PASSPHRASE": "another-secret"}, "python3")
    assert not ahead.fits({"HAINFRA_PULUMI_CONFIG_PASSPHRASE": "one-secret"}, "other-kernel")
    ahead.released = True
    assert not ahead.fits({"HAINFRA_PULUMI_CONFIG_PASSPHRASE": "one-secret"}, "python3"), "asked to exit already"
    assert not Ahead("deploy", SimpleNamespace(has_kernel=False), {}, "python3").fits({}, "python3"), "died"


def test_the_warm_up_line_leaves_no_name_behind_and_names_the_stage() -> None:
    namespace: dict[str, object] = {}
    exec(warm_line("teardown").replace("_hainfra_k.warm('teardown')", "None"), namespace)  # noqa: S102
    assert set(namespace) == {"__builtins__"}
    assert "warm('teardown')" in warm_line("teardown")
