"""Drill and flow benchmark on the sandbox: per-phase timings of each drill scenario, the instance flow
check's wall time, and one SSM Run Command through the instance agent (send → terminal status).

These measure hainfra and its emulation, not AWS (on AWS an instance replacement takes minutes).
Run: .venv/bin/python bench/drill.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from hainfra import drill, verify
from hainfra.aws import Ctx
from hainfra.config import StackConfig
from hainfra.engines import get_engine
from hainfra.engines.sandbox.emulator import Emulator


def command_seconds(ctx: Ctx, instance: str, commands: list[str]) -> float:
    ssm = ctx.client("ssm")
    started = time.perf_counter()
    command = ssm.send_command(InstanceIds=[instance], DocumentName="AWS-RunShellScript",
                               Parameters={"commands": commands})["Command"]["CommandId"]
    while ssm.get_command_invocation(CommandId=command, InstanceId=instance)["Status"] in ("Pending", "InProgress"):
        time.sleep(0.05)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ["HAINFRA_HOME"] = tempfile.mkdtemp(prefix="hainfra-bench-drill-")
    with Emulator() as emu:
        config = StackConfig.load({"stack": "bench", "project": "bench", "aws_endpoint_url": emu.url,
                                   "asg_min": 2, "asg_desired": 2})
        engine = get_engine("sandbox", config)
        engine.up()
        ctx = Ctx(emu.url, config.region)
        group = ctx.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[engine.outputs()["asg_name"]])["AutoScalingGroups"][0]
        instance = group["Instances"][0]["InstanceId"]
        empty = [command_seconds(ctx, instance, ["true"]) for _ in range(args.repeat)]
        cli = [command_seconds(ctx, instance, ["aws sts get-caller-identity > /dev/null"]) for _ in range(args.repeat)]
        print(f"agent: empty script {statistics.median(empty):.2f}s, one aws CLI call {statistics.median(cli):.2f}s "
              f"(median of {args.repeat}); CLI/empty = {statistics.median(cli) / statistics.median(empty):.1f}x")
        flow = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            results = verify.run(config, engine=engine, checks=["dataflow.instance-to-s3"], wait_seconds=10)
            flow.append(time.perf_counter() - started)
            assert set(results["status"]) == {"pass"}, results.to_string()
        print(f"flow check (6 hops, 4 aws CLI calls on the instance): median {statistics.median(flow):.2f}s")
        for scenario in ("instance", "az", "nat"):
            result = drill.run(config, scenario, engine=engine)
            phases = ", ".join(f"{r.phase} {r.seconds:.2f}s" for r in result.timings.itertuples())
            print(f"drill {scenario}: {'passed' if result.passed else 'FAILED'}; {phases}")
        engine.destroy()


if __name__ == "__main__":
    main()
