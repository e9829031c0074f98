"""IAM, KMS and bucket policy documents (pure functions of ARNs).

Every statement names exact ARNs. The few that cannot are listed in
:data:`WILDCARD_ALLOWED` with the reason; the policy gate and verify read that list.
"""

from __future__ import annotations

from typing import Any

Doc = dict[str, Any]

# Actions AWS offers no resource-level scoping for; a "*" resource is unavoidable.
WILDCARD_ALLOWED: dict[str, str] = {
    "SsmAgentCore": "SSM agent channel actions (ssmmessages, ec2messages, UpdateInstanceInformation) "
    "support no resource-level permissions",
    "KeyAdministration": "in a KMS key policy, Resource '*' means this key only",
    "LogsDeliveryUseKey": "in a KMS key policy, Resource '*' means this key only",
    "AlarmsUseKey": "in a KMS key policy, Resource '*' means this key only",
    "EventsUseKey": "in a KMS key policy, Resource '*' means this key only",
}


def _doc(*statements: Doc) -> Doc:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def assume_role(service: str, account_id: str | None = None) -> Doc:
    """Trust policy for one AWS service principal; pinned to ``account_id`` when given (confused deputy)."""
    statement: Doc = {"Sid": "TrustService", "Effect": "Allow", "Principal": {"Service": service},
                      "Action": "sts:AssumeRole"}
    if account_id:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account_id}}
    return _doc(statement)


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


def key_policy(*, account_id: str, region: str, partition: str = "aws", log_group_prefixes: list[str]) -> Doc:
    """KMS key policy: the account administers it; Logs, CloudWatch alarms and EventBridge may use it."""
    log_arns = [f"arn:{partition}:logs:{region}:{account_id}:log-group:{p}*" for p in log_group_prefixes]
    return _doc(
        {"Sid": "KeyAdministration", "Effect": "Allow",
         "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "LogsDeliveryUseKey", "Effect": "Allow",
         "Principal": {"Service": f"logs.{region}.amazonaws.com"},
         "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
         "Resource": "*",
         "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_arns}}},
        {"Sid": "AlarmsUseKey", "Effect": "Allow",
         "Principal": {"Service": "cloudwatch.amazonaws.com"},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"},
        {"Sid": "EventsUseKey", "Effect": "Allow",
         "Principal": {"Service": "events.amazonaws.com"},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"},
    )


def tls_only_bucket_policy(bucket_arn: str) -> Doc:
    """Deny every request to the bucket that does not use TLS."""
    return _doc({
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    })


def events_to_logs_policy(log_group_arn: str) -> Doc:
    """Resource policy letting EventBridge write into exactly one log group."""
    return _doc({
        "Sid": "EventBridgeToLogs", "Effect": "Allow",
        "Principal": {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]},
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"{log_group_arn}:*",
    })


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
