"""Secrets, IAM scope, monitoring and tag checks."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain

from botocore.exceptions import ClientError

from hainfra import naming
from hainfra.aws import as_list, policy_doc, tags_of
from hainfra.config import REQUIRED_TAGS
from hainfra.lambdas import rotate_secret
from hainfra.verify.base import Row, VerifyContext, check, check_row
from hainfra.verify.tagged import more_tagged_resources


@check("secrets.secret")
def secret(v: VerifyContext) -> Iterator[Row]:
    sm = v.client("secretsmanager")
    arn = v.outputs["secret_arn"]
    meta = sm.describe_secret(SecretId=arn)
    yield check_row(meta["Name"], v.is_stack_key(meta.get("KmsKeyId")), "encrypted with the stack key",
                    f"key {meta.get('KmsKeyId') or 'aws/secretsmanager (AWS-managed)'}",
                    "secretsmanager update-secret --kms-key-id <stack key>")
    try:
        value = sm.get_secret_value(SecretId=arn)["SecretString"]
        shape = f"{len(value)} characters, {'alphanumeric' if value.isalnum() else 'mixed'}"
        ok = rotate_secret.valid_value(value)  # the rules the rotation function generates by
        del value  # the value never leaves this function: only its shape is reported
    except ClientError as exc:
        ok, shape = False, f"unreadable: {exc.response['Error']['Code']}"
    yield check_row(f"{meta['Name']} value", ok, "readable, 32 alphanumeric characters (value not shown)", shape,
                    "run `hainfra up` to store a generated value")


@check("secrets.secure-parameter")
def secure_parameter(v: VerifyContext) -> Iterator[Row]:
    name = f"{v.outputs['ssm_path']}/secure/api-token"
    params = v.client("ssm").describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}])["Parameters"]
    param = params[0] if params else {}
    yield check_row(name, param.get("Type") == "SecureString" and v.is_stack_key(param.get("KeyId")),
                    "SecureString encrypted with the stack key",
                    f"{param.get('Type', 'missing')} with key {param.get('KeyId', '-')}",
                    "ssm put-parameter --type SecureString --key-id <stack key> --overwrite")


def access_found(resources: set[str], attached: list[dict[str, str]]) -> str:
    """What the role can read, and any attached managed policy (which grants beyond the inline document)."""
    found = ", ".join(sorted(resources)) or "none"
    if attached:
        found += f"; attached policies {[p['PolicyName'] for p in attached]}"
    return found


@check("secrets.instance-access")
def instance_access(v: VerifyContext) -> Iterator[Row]:
    """The instance role may read only this stack's secret and parameter path (policy documents are read:
    iam:SimulatePrincipalPolicy is not available everywhere)."""
    iam = v.client("iam")
    role = v.outputs["instance_role_arn"].split("/")[-1]
    statements = [st for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
                  for st in as_list(policy_doc(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])
                                    .get("Statement")) if st.get("Effect") == "Allow"]
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]

    def resources_for(prefix: str) -> set[str]:
        return {r for st in statements if any(a.startswith(prefix) or a == "*" for a in as_list(st.get("Action")))
                for r in as_list(st.get("Resource"))}

    secrets = resources_for("secretsmanager:")
    yield check_row(f"{role} -> secrets", secrets == {v.outputs["secret_arn"]} and not attached,
                    f"only {v.outputs['secret_arn']}", access_found(secrets, attached),
                    "restore the policy from hainfra.documents.instance_policy")
    params = resources_for("ssm:Get")
    path_arn = f"arn:aws:ssm:{v.config.region}:{v.aws.account_id}:parameter{v.outputs['ssm_path']}"
    yield check_row(f"{role} -> parameters", params == {path_arn, f"{path_arn}/*"}, f"only {v.outputs['ssm_path']}/*",
                    ", ".join(sorted(params)) or "none", "restore the policy from hainfra.documents.instance_policy")


@check("monitoring.alarm-actions")
def alarm_actions(v: VerifyContext) -> Iterator[Row]:
    cw = v.client("cloudwatch")
    alarms = [a for a in cw.describe_alarms(AlarmNamePrefix=f"{v.config.project}-alarm-")["MetricAlarms"]
              if naming.owner(tags_of(cw.list_tags_for_resource(ResourceARN=a["AlarmArn"])["Tags"])) == v.config.stack]
    yield check_row("alarms", len(alarms) >= 3, ">= 3 alarms", f"{len(alarms)} alarm(s)", "run `hainfra up`")
    for a in alarms:
        actions = a.get("AlarmActions", [])
        yield check_row(a["AlarmName"], v.outputs["alarm_topic_arn"] in actions, "notifies the alarm topic",
                        ", ".join(actions) or "no action", "cloudwatch put-metric-alarm ... --alarm-actions <topic>")


def _tagged_resources(v: VerifyContext) -> Iterator[tuple[str, dict[str, str]]]:
    """(resource, tags) for the stack's main resources, found by id — not by tag, so a lost tag shows."""
    o = v.outputs
    ec2 = v.client("ec2")
    for vpc in ec2.describe_vpcs(VpcIds=[o["vpc_id"]])["Vpcs"]:
        yield vpc["VpcId"], tags_of(vpc.get("Tags"))
    for sid, subnet in v.subnets.items():
        yield sid, tags_of(subnet.get("Tags"))
    for nat in v.nats:
        yield nat["NatGatewayId"], tags_of(nat.get("Tags"))
    yield o["bucket_name"], tags_of(v.client("s3").get_bucket_tagging(Bucket=o["bucket_name"])["TagSet"])
    yield "secret", tags_of(v.client("secretsmanager").describe_secret(SecretId=o["secret_arn"]).get("Tags"))
    kms_tags = v.client("kms").list_resource_tags(KeyId=v.key_id).get("Tags", [])
    yield "kms key", {t["TagKey"]: t["TagValue"] for t in kms_tags}
    elb = v.client("elbv2")
    for d in elb.describe_tags(ResourceArns=[o["alb_arn"], o["target_group_arn"]])["TagDescriptions"]:
        yield d["ResourceArn"].split(":")[-1], tags_of(d["Tags"])
    group = v.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[o["asg_name"]])
    yield o["asg_name"], tags_of(group["AutoScalingGroups"][0].get("Tags"))
    yield o["instance_role_arn"].split("/")[-1], tags_of(
        v.client("iam").list_role_tags(RoleName=o["instance_role_arn"].split("/")[-1])["Tags"])
    for name in (o["app_log_group"], o["s3_events_log_group"], o["flow_log_group"]):
        yield name, v.client("logs").list_tags_log_group(logGroupName=name).get("tags", {})
    yield "alarm topic", tags_of(v.client("sns").list_tags_for_resource(ResourceArn=o["alarm_topic_arn"])["Tags"])


@check("tags.required")
def required_tags(v: VerifyContext) -> Iterator[Row]:
    expected = naming.tags(v.config, "")
    want = {k: expected[k] for k in REQUIRED_TAGS} | v.config.extra_tags
    for resource, tags in chain(_tagged_resources(v), more_tagged_resources(v)):
        wrong = {k: tags.get(k) for k, value in want.items() if tags.get(k) != value}
        yield check_row(resource, not wrong, ", ".join(f"{k}={val}" for k, val in want.items()),
                        "all present" if not wrong else "wrong or missing: " + ", ".join(
                            f"{k}={val}" for k, val in wrong.items()), "re-tag the resource (or `hainfra up`)")
