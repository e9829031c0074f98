"""IAM, KMS and bucket policy documents (pure functions of ARNs).

Every statement names exact ARNs. The few that cannot are listed in
:data:`WILDCARD_ALLOWED` with the reason; the policy gate and verify read that list.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from hainfra.aws import as_list

Doc = dict[str, Any]

# Actions AWS offers no resource-level scoping for; a "*" resource is unavoidable.
WILDCARD_ALLOWED: dict[str, str] = {
    "SsmAgentCore": "SSM agent channel actions (ssmmessages, ec2messages, UpdateInstanceInformation) "
    "support no resource-level permissions",
    "KeyAdministration": "in a KMS key policy, Resource '*' means this key only",
    "LogsDeliveryUseKey": "in a KMS key policy, Resource '*' means this key only",
    "AlarmsUseKey": "in a KMS key policy, Resource '*' means this key only",
    "AutoScalingUseKey": "in a KMS key policy, Resource '*' means this key only",
    "AutoScalingCreateGrant": "in a KMS key policy, Resource '*' means this key only",
    "GenerateValue": "secretsmanager:GetRandomPassword acts on no resource (it only draws random characters)",
}

# The Auto Scaling service-linked role launches instances for every ASG of the account; with EBS
# encrypted by a customer-managed key it needs these on the key, or launches fail
# ("Client.InternalError: Client error on launch"). AWS EC2 Auto Scaling User Guide, "Required
# AWS KMS key policy for use with encrypted volumes".
AUTOSCALING_ROLE = "AWSServiceRoleForAutoScaling"
EBS_KEY_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey")
# The concrete calls behind EBS_KEY_ACTIONS: what a key policy must cover, however it spells it.
EBS_KEY_CALLS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
                 "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey")

SOURCE_ACCOUNT, SOURCE_ARN = "aws:SourceAccount", "aws:SourceArn"
LOGS_CONTEXT = "kms:EncryptionContext:aws:logs:arn"
# Confused-deputy scoping per service principal: the condition keys that service sends (and so
# that a statement naming it must use), with the documentation behind it. A service not listed
# must at least carry aws:SourceAccount.
SERVICE_SCOPE: dict[str, tuple[tuple[str, ...], str]] = {
    "vpc-flow-logs.amazonaws.com": ((SOURCE_ACCOUNT, SOURCE_ARN),
                                    "VPC User Guide, flow logs IAM role: trust conditioned on the flow log ARN"),
    "events.amazonaws.com": ((SOURCE_ACCOUNT, SOURCE_ARN),
                             "EventBridge User Guide, CloudWatch Logs permissions: the rule ARN is aws:SourceArn"),
    "delivery.logs.amazonaws.com": ((SOURCE_ACCOUNT, SOURCE_ARN),
                                    "CloudWatch Logs, vended log delivery: source account and ARN are sent"),
    "cloudwatch.amazonaws.com": ((SOURCE_ACCOUNT, SOURCE_ARN),
                                 "SNS Developer Guide, encrypted topics: alarms send the alarm ARN"),
    "logging.s3.amazonaws.com": ((SOURCE_ACCOUNT, SOURCE_ARN),
                                 "S3 User Guide, server access logging: source bucket ARN and account"),
    "logs.*.amazonaws.com": ((LOGS_CONTEXT,),
                             "CloudWatch Logs User Guide, KMS encryption: scoped by the log group ARN in the "
                             "encryption context (which names the account)"),
    "lambda.amazonaws.com": ((SOURCE_ACCOUNT,), "Lambda Developer Guide, execution role: Lambda sends the "
                                                "source account when it assumes the role (no function ARN)"),
    "ec2.amazonaws.com": ((), "EC2 sends no source context when an instance profile assumes its role; "
                              "a condition would break instance credentials"),
    "logdelivery.elasticloadbalancing.amazonaws.com": (
        (), "ELB User Guide, access logs: no source condition is documented; scoped by the object path "
            "(this ALB's prefix and this account)"),
}

# ELB's log-delivery account per region opened before August 2022 (ELB User Guide, "Enable access
# logs"); regions opened since use the logdelivery.elasticloadbalancing.amazonaws.com principal.
ELB_LOG_ACCOUNTS: dict[str, str] = {
    "us-east-1": "127311923021", "us-east-2": "033677994240", "us-west-1": "027434742980",
    "us-west-2": "797873946194", "af-south-1": "098369216593", "ap-east-1": "754344448648",
    "ap-south-1": "718504428378", "ap-northeast-1": "582318560864", "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331", "ap-southeast-1": "114774131450", "ap-southeast-2": "783225319266",
    "ca-central-1": "985666609251", "eu-central-1": "054676820928", "eu-west-1": "156460612806",
    "eu-west-2": "652711504416", "eu-west-3": "009996457667", "eu-south-1": "635631232127",
    "eu-north-1": "897822967062", "me-south-1": "076674570225", "sa-east-1": "507241528517",
    "us-gov-west-1": "048591011584", "us-gov-east-1": "190560391635", "cn-north-1": "638102146993",
    "cn-northwest-1": "037604701340",
}
ELB_LOG_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"


def _doc(*statements: Doc) -> Doc:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _source(account_id: str, source_arn: str | list[str] | None = None) -> Doc:
    """Confused-deputy conditions: the calling service acts for this account (and this resource)."""
    condition: Doc = {"StringEquals": {SOURCE_ACCOUNT: account_id}}
    if source_arn:
        condition["ArnLike"] = {SOURCE_ARN: source_arn}
    return condition


def assume_role(service: str, account_id: str | None = None, source_arn: str | None = None) -> Doc:
    """Trust policy for one AWS service principal; pinned to ``account_id`` (and ``source_arn``) when given."""
    statement: Doc = {"Sid": "TrustService", "Effect": "Allow", "Principal": {"Service": service},
                      "Action": "sts:AssumeRole"}
    if account_id:
        statement["Condition"] = _source(account_id, source_arn)
    return _doc(statement)


def flow_log_trust(*, account_id: str, region: str, partition: str = "aws") -> Doc:
    """Flow-logs role trust: only flow logs of this account and region (the flow log id is not known yet)."""
    return assume_role("vpc-flow-logs.amazonaws.com", account_id,
                       f"arn:{partition}:ec2:{region}:{account_id}:vpc-flow-log/*")


def flow_log_policy(log_group_arn: str) -> Doc:
    """VPC flow logs may write to exactly one log group."""
    return _doc({
        "Sid": "WriteFlowLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        "Resource": [log_group_arn, f"{log_group_arn}:*"],
    })


def instance_policy(
    *, ssm_path_arn: str, secret_arn: str, key_arn: str, bucket_arn: str, log_group_arn: str
) -> Doc:
    """What the application instances may do: their own parameters, secret, bucket and logs."""
    return _doc(
        {"Sid": "ReadOwnParameters", "Effect": "Allow",
         "Action": ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"],
         "Resource": [ssm_path_arn, f"{ssm_path_arn}/*"]},
        {"Sid": "ReadOwnSecret", "Effect": "Allow",
         "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
         "Resource": [secret_arn]},
        {"Sid": "UseStackKey", "Effect": "Allow",
         "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": [key_arn]},
        {"Sid": "WriteBackups", "Effect": "Allow",
         "Action": ["s3:PutObject", "s3:GetObject"], "Resource": [f"{bucket_arn}/*"]},
        {"Sid": "ListBackups", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [bucket_arn]},
        {"Sid": "WriteAppLogs", "Effect": "Allow",
         "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [log_group_arn, f"{log_group_arn}:*"]},
        {"Sid": "SsmAgentCore", "Effect": "Allow",
         "Action": ["ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel",
                    "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel",
                    "ssmmessages:OpenDataChannel", "ec2messages:AcknowledgeMessage",
                    "ec2messages:DeleteMessage", "ec2messages:FailMessage",
                    "ec2messages:GetEndpoint", "ec2messages:GetMessages", "ec2messages:SendReply"],
         "Resource": "*"},
    )


def autoscaling_role_arn(account_id: str, partition: str = "aws") -> str:
    """The account's Auto Scaling service-linked role (created by AWS with the first group)."""
    return f"arn:{partition}:iam::{account_id}:role/aws-service-role/autoscaling.amazonaws.com/{AUTOSCALING_ROLE}"


def key_policy(*, account_id: str, region: str, partition: str = "aws", log_group_names: list[str],
               alarm_names: list[str]) -> Doc:
    """KMS key policy: the account administers it; named users of the key get exactly what they need.

    - CloudWatch Logs: only for this stack's log groups (encryption context names each group).
    - CloudWatch alarms (publishing to the encrypted topic): only this stack's alarms.
    - Auto Scaling's service-linked role: what encrypted EBS volumes need at launch.
    EventBridge gets nothing: its default bus uses an AWS-owned key and its Logs target is
    encrypted by CloudWatch Logs, so a grant would only widen the policy.
    """
    log_arns = sorted(f"arn:{partition}:logs:{region}:{account_id}:log-group:{n}" for n in log_group_names)
    alarm_arns = sorted(f"arn:{partition}:cloudwatch:{region}:{account_id}:alarm:{n}" for n in alarm_names)
    asg_role = {"AWS": autoscaling_role_arn(account_id, partition)}
    return _doc(
        {"Sid": "KeyAdministration", "Effect": "Allow",
         "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "LogsDeliveryUseKey", "Effect": "Allow",
         "Principal": {"Service": f"logs.{region}.amazonaws.com"},
         "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
         "Resource": "*",
         "Condition": {"ArnEquals": {LOGS_CONTEXT: log_arns}}},
        {"Sid": "AlarmsUseKey", "Effect": "Allow",
         "Principal": {"Service": "cloudwatch.amazonaws.com"},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
         "Condition": _source(account_id, alarm_arns)},
        {"Sid": "AutoScalingUseKey", "Effect": "Allow", "Principal": asg_role,
         "Action": list(EBS_KEY_ACTIONS), "Resource": "*"},
        {"Sid": "AutoScalingCreateGrant", "Effect": "Allow", "Principal": asg_role,
         "Action": "kms:CreateGrant", "Resource": "*",
         "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
    )


def _covers(patterns: list[str], call: str) -> bool:
    return any(fnmatch.fnmatchcase(call.lower(), p.lower()) for p in patterns)


def _principals(st: Doc, kind: str) -> list[str]:
    principal = st.get("Principal")
    if principal == "*":
        return ["*"]
    value = (principal or {}).get(kind, []) if isinstance(principal, dict) else []
    return value if isinstance(value, list) else [value]


def _statements(doc: Doc) -> list[Doc]:
    return [st for st in as_list(doc.get("Statement")) if isinstance(st, dict)]


def autoscaling_grant_gaps(doc: Doc) -> list[str]:
    """What a key policy lacks for Auto Scaling to launch instances with EBS encrypted by the key.

    Empty means the service-linked role (default or custom-suffix) may use the key and create
    grants for AWS resources. Deny statements are not modelled: the stack never writes any.
    """
    role_statements = [st for st in _statements(doc) if st.get("Effect") == "Allow" and any(
        p.split("/")[-1].startswith(AUTOSCALING_ROLE) for p in _principals(st, "AWS"))]
    if not role_statements:
        return [f"no statement for the {AUTOSCALING_ROLE} service-linked role"]
    actions = [a for st in role_statements if not st.get("Condition") for a in as_list(st.get("Action"))]
    gaps = [f"{call} not allowed" for call in EBS_KEY_CALLS if not _covers(actions, call)]
    grant = [st for st in role_statements if _covers(as_list(st.get("Action")), "kms:CreateGrant")]
    if not grant:
        gaps.append("kms:CreateGrant not allowed")
    elif not all(str((st.get("Condition") or {}).get("Bool", {}).get("kms:GrantIsForAWSResource", "")).lower()
                 == "true" for st in grant):
        gaps.append("kms:CreateGrant not limited by kms:GrantIsForAWSResource=true")
    return gaps


def _condition_keys(st: Doc) -> set[str]:
    return {key.lower() for block in (st.get("Condition") or {}).values() if isinstance(block, dict) for key in block}


def required_scope(service: str) -> tuple[str, ...]:
    """Condition keys a statement naming ``service`` must carry (see :data:`SERVICE_SCOPE`)."""
    for pattern, (keys, _why) in SERVICE_SCOPE.items():
        if fnmatch.fnmatchcase(service, pattern):
            return keys
    return (SOURCE_ACCOUNT,)


def unscoped_service_statements(doc: Doc) -> list[str]:
    """Allow statements naming a service principal without the confused-deputy conditions it needs."""
    problems = []
    for st in _statements(doc):
        if st.get("Effect") != "Allow":
            continue
        keys = _condition_keys(st)
        for service in _principals(st, "Service"):
            missing = [k for k in required_scope(service) if k.lower() not in keys]
            if missing:
                problems.append(f"{st.get('Sid', 'statement')}: {service} without {', '.join(missing)}")
    return problems


def tls_only_bucket_policy(bucket_arn: str) -> Doc:
    """Deny every request to the bucket that does not use TLS."""
    return _doc({
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    })


def events_to_logs_policy(log_group_arn: str, rule_arn: str, account_id: str) -> Doc:
    """Resource policy letting one EventBridge rule of this account write into exactly one log group."""
    return _doc({
        "Sid": "EventBridgeToLogs", "Effect": "Allow",
        "Principal": {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]},
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"{log_group_arn}:*",
        "Condition": {"StringEquals": {SOURCE_ACCOUNT: account_id}, "ArnEquals": {SOURCE_ARN: rule_arn}},
    })


def log_delivery_policy(*, log_group_arn: str, account_id: str, region: str, partition: str = "aws") -> Doc:
    """Vended log delivery (WAF logs) may write streams of exactly one log group, for this account only.

    The statement AWS documents for logs sent to CloudWatch Logs ("Enable logging from AWS services"),
    narrowed from every group of the account to this one.
    """
    return _doc({
        "Sid": "AWSLogDeliveryWrite", "Effect": "Allow", "Principal": {"Service": "delivery.logs.amazonaws.com"},
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"{log_group_arn}:log-stream:*",
        "Condition": _source(account_id, f"arn:{partition}:logs:{region}:{account_id}:*"),
    })


PRINCIPAL_ACCOUNT = "aws:PrincipalAccount"
# The Amazon Linux 2023 package repositories live in one AWS-owned bucket per region; dnf reads them with
# unsigned requests, which carry no principal, so an endpoint policy can admit them only by bucket
# (Amazon Linux 2023 User Guide, package repositories; AWS re:Post "access AL2023 repos via an S3 endpoint").
AL2023_REPOS_BUCKET = "al2023-repos-{region}-de612dc2"
REPOSITORY_SID = "AmazonLinuxRepositories"


def endpoint_policy(*, account_id: str) -> Doc:
    """VPC endpoint policy: any action, but only by principals of this account (not AWS's default full access)."""
    return _doc({"Sid": "AccountPrincipalsOnly", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*",
                 "Condition": {"StringEquals": {PRINCIPAL_ACCOUNT: account_id}}})


def s3_endpoint_policy(*, account_id: str, region: str, partition: str = "aws") -> Doc:
    """S3 gateway endpoint: this account's principals (the backup bucket, SSM's buckets), plus read-only,
    anonymous access to the region's Amazon Linux repositories (``dnf install`` in the user data)."""
    doc = endpoint_policy(account_id=account_id)
    doc["Statement"].append({
        "Sid": REPOSITORY_SID, "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:{partition}:s3:::{AL2023_REPOS_BUCKET.format(region=region)}/*"})
    return doc


def _account_values(st: Doc) -> set[str]:
    """Accounts a statement's aws:PrincipalAccount condition admits (StringEquals/StringLike)."""
    found: set[str] = set()
    for op, block in (st.get("Condition") or {}).items():
        if op in ("StringEquals", "StringLike") and isinstance(block, dict):
            found |= {str(v) for k, value in block.items() if k.lower() == PRINCIPAL_ACCOUNT.lower()
                      for v in as_list(value)}
    return found


def _repository_read(st: Doc) -> bool:
    """The one anonymous statement allowed: s3:GetObject on Amazon Linux repository buckets only."""
    resources = [str(r) for r in as_list(st.get("Resource"))]
    return (st.get("Sid") == REPOSITORY_SID and as_list(st.get("Action")) == ["s3:GetObject"] and bool(resources)
            and all(r.split(":::", 1)[-1].startswith("al2023-repos-") for r in resources))


def endpoint_policy_gaps(policy: Doc | None, account_id: str | None = None) -> list[str]:
    """Why an endpoint policy admits principals beyond the account (empty: it does not).

    ``None``/empty is AWS's default full-access policy. ``account_id`` None (the gate on any program)
    accepts any single account named by aws:PrincipalAccount.
    """
    if not policy:
        return ["no policy: AWS's default lets any principal of any account use the endpoint"]
    gaps = []
    for st in _statements(policy):
        if st.get("Effect") != "Allow" or _repository_read(st):
            continue
        anyone = st.get("Principal") == "*" or "*" in _principals(st, "AWS")
        accounts = _account_values(st)
        if anyone and (not accounts or (account_id is not None and accounts != {account_id})):
            gaps.append(f"{st.get('Sid', 'statement')}: any principal, "
                        + (f"accounts {sorted(accounts)}" if accounts else f"no {PRINCIPAL_ACCOUNT} condition"))
    return gaps


def log_bucket_policy(*, bucket_arn: str, account_id: str, region: str, alb_prefix: str | None,
                      source_bucket_arn: str, access_log_prefix: str, partition: str = "aws") -> Doc:
    """Log bucket: TLS only; ELB writes this ALB's access logs; S3 writes the backup bucket's access logs.

    ALB access logs need SSE-S3 on this bucket (ELB cannot use a KMS key), so it is not on the stack key.
    ``alb_prefix`` None: no ALB writes here (the DR region's log bucket), so ELB gets no grant.
    """
    elb = ({"AWS": f"arn:{partition}:iam::{ELB_LOG_ACCOUNTS[region]}:root"} if region in ELB_LOG_ACCOUNTS
           else {"Service": ELB_LOG_SERVICE})
    tls = tls_only_bucket_policy(bucket_arn)["Statement"][0]
    alb = [{"Sid": "AlbAccessLogs", "Effect": "Allow", "Principal": elb, "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/{alb_prefix}/AWSLogs/{account_id}/*"}] if alb_prefix else []
    return _doc(
        tls, *alb,
        {"Sid": "S3ServerAccessLogs", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
         "Action": "s3:PutObject", "Resource": f"{bucket_arn}/{access_log_prefix}*",
         "Condition": _source(account_id, source_bucket_arn)},
    )


def s3_object_created_pattern(bucket_name: str) -> Doc:
    """EventBridge pattern: S3 Object Created events of one bucket."""
    return {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {"bucket": {"name": [bucket_name]}}}


def wildcard_statements(doc: Doc) -> list[Doc]:
    """Allow statements whose Resource is '*' and whose Sid is not documented as unavoidable."""
    bad = []
    for st in doc.get("Statement", []):
        resources = st.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        if st.get("Effect") == "Allow" and "*" in resources and st.get("Sid") not in WILDCARD_ALLOWED:
            bad.append(st)
    return bad


# --- the application secret: who may touch it, and what its rotation function may do -------------
SECRET_MANAGER_ACTIONS = ("secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                          "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage")


def principal_arn(caller_arn: str, partition: str = "aws") -> str:
    """The ``aws:PrincipalArn`` of a caller: an STS assumed-role session becomes its role's ARN.

    A role with a path keeps the path in ``aws:PrincipalArn`` but not in its session ARN: such a deployer
    must be listed in ``secret_admin_arns`` (README, "The secret's resource policy").
    """
    head, _, rest = caller_arn.partition(":sts::")
    if not rest:
        return caller_arn
    account, _, resource = rest.partition(":")
    kind, _, name = resource.partition("/")
    if kind == "assumed-role":
        return f"arn:{partition}:iam::{account}:role/{name.split('/')[0]}"
    return f"arn:{partition}:iam::{account}:{kind}/{name}"  # an IAM user's STS shape (emulators)


def secret_policy(*, allowed_arns: list[str]) -> Doc:
    """Deny every principal but the named ones any Secrets Manager action on the secret.

    An explicit Deny with ``StringNotEquals aws:PrincipalArn`` (the shape AWS and Prowler's
    secretsmanager_has_restrictive_resource_policy expect): the listed principals still need an IAM
    Allow, everyone else is refused whatever their IAM policies say. The list always holds the
    deploying identity and the stack's administrators, so the next deploy or teardown is never locked out.
    """
    return _doc({"Sid": "DenyAllButNamed", "Effect": "Deny", "Principal": "*", "Action": "secretsmanager:*",
                 "Resource": "*", "Condition": {"StringNotEquals": {"aws:PrincipalArn": sorted(set(allowed_arns))}}})


def secret_exempt(doc: Doc) -> list[str] | None:
    """The principals a deny-all-but policy exempts; ``None`` when ``doc`` denies nobody that way."""
    for st in _statements(doc):
        condition = st.get("Condition") or {}
        if st.get("Effect") == "Deny" and "*" in as_list(st.get("Principal")) and \
                {"*", "secretsmanager:*"} & set(as_list(st.get("Action"))) and set(condition) == {"StringNotEquals"}:
            names = {k.lower(): v for k, v in condition["StringNotEquals"].items()}
            if set(names) == {"aws:principalarn"}:
                return [str(v) for v in as_list(names["aws:principalarn"])]
    return None


def rotation_policy(*, secret_arn: str, key_arn: str, log_group_arn: str) -> Doc:
    """The rotation function: its secret's versions, the stack key through Secrets Manager, its own log group."""
    return _doc(
        {"Sid": "RotateOwnSecret", "Effect": "Allow", "Action": list(SECRET_MANAGER_ACTIONS), "Resource": [secret_arn]},
        {"Sid": "GenerateValue", "Effect": "Allow", "Action": "secretsmanager:GetRandomPassword", "Resource": "*"},
        {"Sid": "UseStackKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
         "Resource": [key_arn]},
        {"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [log_group_arn, f"{log_group_arn}:*"]},
    )


REPLICATION_ACTIONS_SOURCE = ("s3:GetReplicationConfiguration", "s3:ListBucket")
REPLICATION_ACTIONS_READ = ("s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
                            "s3:GetObjectVersionTagging", "s3:GetObjectRetention", "s3:GetObjectLegalHold")
REPLICATION_ACTIONS_WRITE = ("s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags",
                             "s3:ObjectOwnerOverrideToBucketOwner")


def dr_key_policy(*, account_id: str, partition: str = "aws") -> Doc:
    """The DR region's key: administered by the account; S3 uses it through the replication role's own grant."""
    return _doc({"Sid": "KeyAdministration", "Effect": "Allow",
                 "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"}, "Action": "kms:*", "Resource": "*"})


def replication_policy(*, source_bucket_arn: str, dest_bucket_arn: str, source_key_arn: str, dest_key_arn: str,
                       source_region: str, dest_region: str) -> Doc:
    """S3 replication role: read the source bucket's versions, write replicas to the DR bucket, nothing else.

    Decrypt only the source key and only when S3 in the source region asks (``kms:ViaService``); encrypt only with
    the DR key, only through S3 in the DR region (the encryption context is the bucket with S3 Bucket Keys on,
    the object without). Replicas become the DR account owner's (owner override), which
    the DR bucket's owner-enforced ownership requires anyway.
    """
    return _doc(
        {"Sid": "ReadSourceConfiguration", "Effect": "Allow", "Action": list(REPLICATION_ACTIONS_SOURCE),
         "Resource": [source_bucket_arn]},
        {"Sid": "ReadSourceVersions", "Effect": "Allow", "Action": list(REPLICATION_ACTIONS_READ),
         "Resource": [f"{source_bucket_arn}/*"]},
        {"Sid": "WriteReplicas", "Effect": "Allow", "Action": list(REPLICATION_ACTIONS_WRITE),
         "Resource": [f"{dest_bucket_arn}/*"]},
        {"Sid": "DecryptSource", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": [source_key_arn],
         "Condition": {"StringLike": {"kms:ViaService": f"s3.{source_region}.amazonaws.com",
                                      "kms:EncryptionContext:aws:s3:arn": [source_bucket_arn, f"{source_bucket_arn}/*"]}}},
        {"Sid": "EncryptReplicas", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
         "Resource": [dest_key_arn],
         "Condition": {"StringLike": {"kms:ViaService": f"s3.{dest_region}.amazonaws.com",
                                      "kms:EncryptionContext:aws:s3:arn": [dest_bucket_arn, f"{dest_bucket_arn}/*"]}}},
    )
