"""ELBv2, launch template and Auto Scaling handlers."""

from __future__ import annotations

from typing import Any

from hainfra.aws import Ctx, tags_of
from hainfra.engines.sandbox.handlers import (
    Created,
    Found,
    Handler,
    Props,
    ignore,
    ints,
    lookup,
    register,
    replaces_on,
    tag_list,
    tagger,
    unknown,
)
from hainfra.engines.sandbox.handlers.ec2 import tag_ec2


def elb(ctx: Ctx) -> Any:
    return ctx.client("elbv2")




tag_elb = tagger("elbv2", "add_tags", "remove_tags", "ResourceArns", listed=True)


def _suffix(arn: str, marker: str) -> str:
    """``arn:...:loadbalancer/app/x/123`` → ``app/x/123`` (CloudWatch dimension values)."""
    return arn.split(f":{marker}/", 1)[1] if f":{marker}/" in arn else arn.split(":")[-1]


# --- load balancer -------------------------------------------------------------------------------
def create_lb(ctx: Ctx, p: Props) -> Created:
    lb = elb(ctx).create_load_balancer(
        Name=p["name"], Subnets=p["subnets"], SecurityGroups=p.get("securityGroups") or [],
        Scheme="internal" if p.get("internal") else "internet-facing", Type=p.get("loadBalancerType", "application"),
        Tags=tag_list(p.get("tags") or {}))["LoadBalancers"][0]
    arn = lb["LoadBalancerArn"]
    _lb_attributes(ctx, arn, p)
    return arn, {"arn": arn, "arnSuffix": _suffix(arn, "loadbalancer"), "dnsName": lb["DNSName"],
                 "zoneId": lb.get("CanonicalHostedZoneId", "")}


def _flag(value: Any) -> str:
    return str(str(value).lower() == "true").lower()


def _lb_attributes(ctx: Ctx, arn: str, p: Props) -> None:
    logs = p.get("accessLogs") or {}
    elb(ctx).modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": _flag(p.get("dropInvalidHeaderFields"))},
        {"Key": "deletion_protection.enabled", "Value": _flag(p.get("enableDeletionProtection"))},
        {"Key": "access_logs.s3.enabled", "Value": _flag(logs.get("enabled"))},
        {"Key": "access_logs.s3.bucket", "Value": str(logs.get("bucket") or "")},
        {"Key": "access_logs.s3.prefix", "Value": str(logs.get("prefix") or "")}])


def update_lb(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    if sorted(old.get("subnets") or []) != sorted(new["subnets"]):
        elb(ctx).set_subnets(LoadBalancerArn=rid, Subnets=new["subnets"])
    if sorted(old.get("securityGroups") or []) != sorted(new.get("securityGroups") or []):
        elb(ctx).set_security_groups(LoadBalancerArn=rid, SecurityGroups=new.get("securityGroups") or [])
    _lb_attributes(ctx, rid, new)
    return {}


@ignore("LoadBalancerNotFound")
def delete_lb(ctx: Ctx, rid: str, p: Props) -> None:
    elb(ctx).delete_load_balancer(LoadBalancerArn=rid)


def _elb_tags(ctx: Ctx, arn: str) -> dict[str, str]:
    return tags_of(elb(ctx).describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"])


@lookup()
def find_lb(ctx: Ctx, p: Props) -> Found | None:
    by = {"LoadBalancerArns": [p["id"]]} if not unknown(p.get("id")) else {"Names": [p["name"]]}
    arn = elb(ctx).describe_load_balancers(**by)["LoadBalancers"][0]["LoadBalancerArn"]
    return Found(arn, _elb_tags(ctx, arn))


register("aws:lb/loadBalancer:LoadBalancer", Handler(
    create_lb, delete_lb, update_lb, frozenset({"subnets", "securityGroups", "dropInvalidHeaderFields", "enableDeletionProtection", "accessLogs"}), tag_elb,
    lookup=find_lb, named=True))


# --- target group ---------------------------------------------------------------------------------
def _health(p: Props) -> dict[str, Any]:
    hc = p.get("healthCheck") or {}
    args: dict[str, Any] = {}
    for key, api in (("path", "HealthCheckPath"), ("protocol", "HealthCheckProtocol")):
        if hc.get(key):
            args[api] = hc[key]
    for key, api in (("interval", "HealthCheckIntervalSeconds"), ("healthyThreshold", "HealthyThresholdCount"),
                     ("unhealthyThreshold", "UnhealthyThresholdCount")):
        if hc.get(key):
            args[api] = ints(hc[key])
    if hc.get("matcher"):
        args["Matcher"] = {"HttpCode": hc["matcher"]}
    return args


def create_tg(ctx: Ctx, p: Props) -> Created:
    tg = elb(ctx).create_target_group(
        Name=p["name"], Protocol=p["protocol"], Port=ints(p["port"]), VpcId=p["vpcId"],
        TargetType=p.get("targetType", "instance"), Tags=tag_list(p.get("tags") or {}), **_health(p))["TargetGroups"][0]
    arn = tg["TargetGroupArn"]
    return arn, {"arn": arn, "arnSuffix": _suffix(arn, "targetgroup") if ":targetgroup/" not in arn
                 else "targetgroup/" + arn.split(":targetgroup/", 1)[1]}


def update_tg(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    elb(ctx).modify_target_group(TargetGroupArn=rid, **_health(new))
    return {}


@ignore("TargetGroupNotFound")
def delete_tg(ctx: Ctx, rid: str, p: Props) -> None:
    elb(ctx).delete_target_group(TargetGroupArn=rid)


@lookup()
def find_tg(ctx: Ctx, p: Props) -> Found | None:
    by = {"TargetGroupArns": [p["id"]]} if not unknown(p.get("id")) else {"Names": [p["name"]]}
    arn = elb(ctx).describe_target_groups(**by)["TargetGroups"][0]["TargetGroupArn"]
    return Found(arn, _elb_tags(ctx, arn))


register("aws:lb/targetGroup:TargetGroup", Handler(create_tg, delete_tg, update_tg, frozenset({"healthCheck"}),
                                                   tag_elb, lookup=find_tg, named=True))


# --- listener ----------------------------------------------------------------------------------------
def _actions(p: Props) -> list[dict[str, Any]]:
    actions = []
    for a in p["defaultActions"]:
        if a["type"] == "forward":
            actions.append({"Type": "forward", "TargetGroupArn": a["targetGroupArn"]})
        else:
            r = a["redirect"]
            actions.append({"Type": "redirect", "RedirectConfig": {
                "Port": r.get("port", "443"), "Protocol": r.get("protocol", "HTTPS"), "StatusCode": r["statusCode"]}})
    return actions


def create_listener(ctx: Ctx, p: Props) -> Created:
    args: dict[str, Any] = {"LoadBalancerArn": p["loadBalancerArn"], "Protocol": p["protocol"], "Port": ints(p["port"]),
                            "DefaultActions": _actions(p), "Tags": tag_list(p.get("tags") or {})}
    if p.get("certificateArn"):
        args.update(Certificates=[{"CertificateArn": p["certificateArn"]}], SslPolicy=p.get("sslPolicy"))
    arn = elb(ctx).create_listener(**args)["Listeners"][0]["ListenerArn"]
    return arn, {"arn": arn}


def update_listener(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    args: dict[str, Any] = {"Port": ints(new["port"]), "Protocol": new["protocol"], "DefaultActions": _actions(new)}
    if new.get("certificateArn"):
        args.update(Certificates=[{"CertificateArn": new["certificateArn"]}], SslPolicy=new.get("sslPolicy"))
    elb(ctx).modify_listener(ListenerArn=rid, **args)
    return {}


@ignore("ListenerNotFound")
def delete_listener(ctx: Ctx, rid: str, p: Props) -> None:
    elb(ctx).delete_listener(ListenerArn=rid)


@lookup("loadBalancerArn", "port")
def find_listener(ctx: Ctx, p: Props) -> Found | None:
    for listener in elb(ctx).describe_listeners(LoadBalancerArn=p["loadBalancerArn"])["Listeners"]:
        if listener["Port"] == ints(p["port"]):
            return Found(listener["ListenerArn"], _elb_tags(ctx, listener["ListenerArn"]))
    return None


register("aws:lb/listener:Listener", Handler(create_listener, delete_listener, update_listener,
                                             frozenset({"defaultActions", "port", "protocol", "certificateArn", "sslPolicy"}),
                                             tag_elb, lookup=find_listener))


# --- launch template ------------------------------------------------------------------------------
def _bool(value: Any) -> bool:
    return str(value).lower() == "true"


def launch_template_data(p: Props) -> dict[str, Any]:
    data: dict[str, Any] = {"ImageId": p["imageId"], "InstanceType": p["instanceType"]}
    if p.get("iamInstanceProfile"):
        data["IamInstanceProfile"] = {"Arn": p["iamInstanceProfile"]["arn"]}
    if p.get("metadataOptions"):
        m = p["metadataOptions"]
        data["MetadataOptions"] = {"HttpTokens": m.get("httpTokens", "optional"),
                                   "HttpEndpoint": m.get("httpEndpoint", "enabled"),
                                   "HttpPutResponseHopLimit": ints(m.get("httpPutResponseHopLimit", 1))}
    data["BlockDeviceMappings"] = [
        {"DeviceName": b["deviceName"], "Ebs": {
            "Encrypted": _bool(b["ebs"].get("encrypted")), "VolumeSize": ints(b["ebs"].get("volumeSize", 8)),
            "VolumeType": b["ebs"].get("volumeType", "gp3"), "DeleteOnTermination": _bool(b["ebs"].get("deleteOnTermination")),
            **({"KmsKeyId": b["ebs"]["kmsKeyId"]} if b["ebs"].get("kmsKeyId") else {})}}
        for b in p.get("blockDeviceMappings") or []]
    data["NetworkInterfaces"] = [
        {"DeviceIndex": i, "AssociatePublicIpAddress": _bool(n.get("associatePublicIpAddress")),
         "Groups": n.get("securityGroups") or [], "DeleteOnTermination": _bool(n.get("deleteOnTermination"))}
        for i, n in enumerate(p.get("networkInterfaces") or [])]
    if p.get("userData"):
        data["UserData"] = p["userData"]
    if p.get("monitoring") is not None:
        data["Monitoring"] = {"Enabled": _bool((p["monitoring"] or {}).get("enabled"))}
    return data


def create_lt(ctx: Ctx, p: Props) -> Created:
    lt = ctx.client("ec2").create_launch_template(
        LaunchTemplateName=p["name"], LaunchTemplateData=launch_template_data(p),
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": tag_list(p.get("tags") or {})}])["LaunchTemplate"]
    return lt["LaunchTemplateId"], {"latestVersion": lt["LatestVersionNumber"], "defaultVersion": lt["DefaultVersionNumber"],
                                    "arn": f"arn:aws:ec2:{ctx.region}:{ctx.account_id}:launch-template/{lt['LaunchTemplateId']}"}


def update_lt(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    """A change is a new version, made the default (as Pulumi's update_default_version would)."""
    version = ctx.client("ec2").create_launch_template_version(
        LaunchTemplateId=rid, LaunchTemplateData=launch_template_data(new))["LaunchTemplateVersion"]["VersionNumber"]
    ctx.client("ec2").modify_launch_template(LaunchTemplateId=rid, DefaultVersion=str(version))
    return {"latestVersion": version, "defaultVersion": version}


@ignore("InvalidLaunchTemplateId.NotFound")
def delete_lt(ctx: Ctx, rid: str, p: Props) -> None:
    ctx.client("ec2").delete_launch_template(LaunchTemplateId=rid)


@lookup()
def find_lt(ctx: Ctx, p: Props) -> Found | None:
    by = {"LaunchTemplateIds": [p["id"]]} if not unknown(p.get("id")) else {"LaunchTemplateNames": [p["name"]]}
    found = ctx.client("ec2").describe_launch_templates(**by)["LaunchTemplates"]  # moto: [] for a deleted id
    return Found(found[0]["LaunchTemplateId"], tags_of(found[0].get("Tags"))) if found else None


register("aws:ec2/launchTemplate:LaunchTemplate", Handler(
    create_lt, delete_lt, update_lt,
    frozenset({"imageId", "instanceType", "iamInstanceProfile", "metadataOptions", "blockDeviceMappings",
               "networkInterfaces", "userData", "monitoring"}), tag_ec2, lookup=find_lt, named=True))


# --- auto scaling group ---------------------------------------------------------------------------
def asg(ctx: Ctx) -> Any:
    return ctx.client("autoscaling")


def _asg_tags(name: str, tags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": t["key"], "Value": t["value"],
             "PropagateAtLaunch": bool(t.get("propagateAtLaunch"))} for t in tags]


def _mixed(policy: dict[str, Any]) -> dict[str, Any]:
    """Pulumi's mixedInstancesPolicy as the Auto Scaling API spells it."""
    template = policy["launchTemplate"]
    spec = template["launchTemplateSpecification"]
    dist = policy.get("instancesDistribution") or {}
    keys = {"onDemandAllocationStrategy": "OnDemandAllocationStrategy", "onDemandBaseCapacity": "OnDemandBaseCapacity",
            "onDemandPercentageAboveBaseCapacity": "OnDemandPercentageAboveBaseCapacity",
            "spotAllocationStrategy": "SpotAllocationStrategy"}
    return {"LaunchTemplate": {
        "LaunchTemplateSpecification": {"LaunchTemplateId": spec["launchTemplateId"], "Version": spec.get("version", "$Default")},
        "Overrides": [{"InstanceType": o["instanceType"]} for o in template.get("overrides") or []]},
        "InstancesDistribution": {api: (v if isinstance(v, str) else ints(v)) for k, api in keys.items()
                                  if (v := dist.get(k)) is not None}}


def _asg_args(p: Props) -> dict[str, Any]:
    args: dict[str, Any] = {
        "MinSize": ints(p["minSize"]), "MaxSize": ints(p["maxSize"]),
        "DesiredCapacity": ints(p.get("desiredCapacity", p["minSize"])),
        "VPCZoneIdentifier": ",".join(p["vpcZoneIdentifiers"]),
        "HealthCheckType": p.get("healthCheckType", "EC2"), "HealthCheckGracePeriod": ints(p.get("healthCheckGracePeriod", 300))}
    if p.get("mixedInstancesPolicy"):
        args["MixedInstancesPolicy"] = _mixed(p["mixedInstancesPolicy"])
    else:
        args["LaunchTemplate"] = {"LaunchTemplateId": p["launchTemplate"]["id"], "Version": p["launchTemplate"]["version"]}
    return args


def create_asg(ctx: Ctx, p: Props) -> Created:
    asg(ctx).create_auto_scaling_group(AutoScalingGroupName=p["name"], TargetGroupARNs=p.get("targetGroupArns") or [],
                                       Tags=_asg_tags(p["name"], p.get("tags") or []), **_asg_args(p))
    group = asg(ctx).describe_auto_scaling_groups(AutoScalingGroupNames=[p["name"]])["AutoScalingGroups"][0]
    return p["name"], {"arn": group["AutoScalingGroupARN"]}


def update_asg(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    asg(ctx).update_auto_scaling_group(AutoScalingGroupName=rid, **_asg_args(new))
    before, after = set(old.get("targetGroupArns") or []), set(new.get("targetGroupArns") or [])
    if after - before:
        asg(ctx).attach_load_balancer_target_groups(AutoScalingGroupName=rid, TargetGroupARNs=sorted(after - before))
    if before - after:
        asg(ctx).detach_load_balancer_target_groups(AutoScalingGroupName=rid, TargetGroupARNs=sorted(before - after))
    old_tags = {t["key"]: t for t in old.get("tags") or []}
    new_tags = {t["key"]: t for t in new.get("tags") or []}
    if old_tags != new_tags:
        gone = [t for k, t in old_tags.items() if k not in new_tags]
        if gone:
            asg(ctx).delete_tags(Tags=_asg_tags(rid, gone))
        asg(ctx).create_or_update_tags(Tags=_asg_tags(rid, list(new_tags.values())))
    return {}


@ignore("ValidationError")
def delete_asg(ctx: Ctx, rid: str, p: Props) -> None:
    asg(ctx).delete_auto_scaling_group(AutoScalingGroupName=rid, ForceDelete=True)


@lookup("name")
def find_asg(ctx: Ctx, p: Props) -> Found | None:
    groups = asg(ctx).describe_auto_scaling_groups(AutoScalingGroupNames=[p["name"]])["AutoScalingGroups"]
    return Found(groups[0]["AutoScalingGroupName"], tags_of(groups[0].get("Tags"))) if groups else None


register("aws:autoscaling/group:Group", Handler(
    create_asg, delete_asg, update_asg,
    frozenset({"minSize", "maxSize", "desiredCapacity", "vpcZoneIdentifiers", "launchTemplate", "mixedInstancesPolicy",
               "healthCheckType", "healthCheckGracePeriod", "targetGroupArns", "tags"}), None, lookup=find_asg, named=True))


# --- replace-forcing inputs (ForceNew in terraform-provider-aws, bridged by pulumi-aws) ----------------

replaces_on("aws:lb/loadBalancer:LoadBalancer", "name", "namePrefix", "internal", "loadBalancerType", unique=("name",))
replaces_on("aws:lb/targetGroup:TargetGroup", "name", "namePrefix", "port", "protocol", "protocolVersion", "vpcId",
            "targetType", "ipAddressType", unique=("name",))
replaces_on("aws:lb/listener:Listener", "loadBalancerArn", unique=("loadBalancerArn", "port"))
replaces_on("aws:ec2/launchTemplate:LaunchTemplate", "name", "namePrefix", unique=("name",))
replaces_on("aws:autoscaling/group:Group", "name", "namePrefix", unique=("name",))
