"""Auto Scaling behaviour moto lacks (emulation, documented as such; never evidence about AWS itself).

moto 5.2 launches every instance of a group in the group's first subnet, never replaces an instance
marked Unhealthy, and replaces one terminated through TerminateInstances synchronously, inside that call,
ignoring suspended processes and without registering the new instance with the group's target groups.
In the emulator process this module replaces that with what the Auto Scaling service does:
- **AZ balance on launch**: each new instance goes to the group subnet whose AZ has the fewest InService
  instances of the group (ties: subnet order), and carries its launch template's instance profile;
- **replacement**: a reconciler thread (every ``RECONCILE_SECONDS``) marks instances that are no longer
  running Unhealthy; unless the group's ``ReplaceUnhealthy`` process is suspended it terminates the
  Unhealthy ones, deregisters them from the group's target groups and, unless ``Launch`` is suspended,
  launches replacements up to the desired capacity and registers them.
Not emulated: health-check grace periods, lifecycle hooks, warm pools, instance refresh, the AZRebalance
of an already skewed group, and capacity shortages (an AZ is "lost" in a drill by leaving the group's
subnets, which is also how the drill does it on AWS).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

log = logging.getLogger(__name__)

RECONCILE_SECONDS = 0.5
_launch_lock = threading.RLock()
_started = threading.Event()


def _subnet_for_next(group: Any, zones: str | None) -> str | None:
    """The subnet of ``zones`` (the group's, comma-separated) whose AZ holds the fewest of its InService instances."""
    subnets = [s for s in (zones or "").split(",") if s]
    if not subnets:
        return None
    ec2 = group.autoscaling_backend.ec2_backend
    counts = {s: sum(i.instance.placement.zone == ec2.get_subnet(s).availability_zone
                     for i in group.active_instances()) for s in subnets}
    return min(subnets, key=lambda s: (counts[s], subnets.index(s)))


def _attach_profile(group: Any, instance: Any) -> None:
    """Give the instance its launch template's instance profile at launch, as EC2 does (moto launches
    from a template without it); a later template version never changes a running instance's role."""
    template = group.ec2_launch_template
    if template is None:
        return
    data = template.get_version(group.launch_template_version or "$Default").data
    arn = (data.get("IamInstanceProfile") or {}).get("Arn")
    if arn and instance.id not in group.autoscaling_backend.ec2_backend.iam_instance_profile_associations:
        group.autoscaling_backend.ec2_backend.associate_iam_instance_profile(instance.id,
                                                                             iam_instance_profile_arn=arn)


def install() -> None:
    """Balance launches over the group's AZs and start the replacement reconciler (once per process)."""
    from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup

    launch = FakeAutoScalingGroup.replace_autoscaling_group_instances

    def balanced(self: Any, count_needed: int, propagated_tags: dict[str, str]) -> None:
        with _launch_lock:
            zones = self.vpc_zone_identifier
            try:
                for _ in range(count_needed):
                    self.vpc_zone_identifier = _subnet_for_next(self, zones) or zones
                    launch(self, 1, dict(propagated_tags))
                    _attach_profile(self, self.instance_states[-1].instance)
            finally:
                self.vpc_zone_identifier = zones

    FakeAutoScalingGroup.replace_autoscaling_group_instances = balanced
    # moto's own in-call replacement on TerminateInstances: the reconciler does it, as AWS does, afterwards
    AutoScalingBackend.notify_terminate_instances = lambda self, instance_ids: None
    if not _started.is_set():
        _started.set()
        threading.Thread(target=_loop, name="asg-emulation", daemon=True).start()


def _loop() -> None:
    while True:
        time.sleep(RECONCILE_SECONDS)
        try:
            reconcile_all()
        except Exception:  # noqa: BLE001 - a failed round is logged and retried, never fatal to the server
            log.exception("auto scaling emulation round failed")


def reconcile_all() -> None:
    from moto.autoscaling.models import autoscaling_backends

    for regions in list(dict.values(autoscaling_backends)):
        for backend in list(dict.values(regions)):
            for group in list(backend.autoscaling_groups.values()):
                with _launch_lock:
                    reconcile(backend, group)


def reconcile(backend: Any, group: Any) -> None:
    """One round for one group: health from EC2 state, replacement, target-group registration."""
    suspended = {p["ProcessName"] for p in group.suspended_processes}
    for state in group.instance_states:
        if state.instance.state != "running":
            state.health_status = "Unhealthy"
    unhealthy = [s for s in group.instance_states if s.health_status == "Unhealthy"]
    if unhealthy and "ReplaceUnhealthy" not in suspended:
        ids = [s.instance.id for s in unhealthy]
        running = [s.instance.id for s in unhealthy if s.instance.state == "running"]
        if running:
            backend.ec2_backend.terminate_instances(running)
        group.instance_states = [s for s in group.instance_states if s not in unhealthy]
        for arn in group.target_group_arns:
            target_group = backend.elbv2_backend.target_groups.get(arn)
            registered = [{"Id": i} for i in ids if target_group is not None and i in target_group.targets]
            if registered:
                target_group.deregister(registered)
    missing = (group.desired_capacity or 0) - len(group.instance_states)
    if missing > 0 and "Launch" not in suspended:
        group.replace_autoscaling_group_instances(missing, group.get_propagated_tags())
        backend.update_attached_target_groups(group.name)
