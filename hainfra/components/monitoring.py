"""Monitoring: log groups, the S3 → EventBridge → CloudWatch Logs flow, the alarm topic and alarms."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from hainfra import documents, naming
from hainfra.components import document
from hainfra.config import StackConfig


@dataclass(kw_only=True)
class ObservabilityArgs:
    config: StackConfig
    key_arn: pulumi.Input[str]
    bucket_name: pulumi.Input[str]
    account_id: str


class Observability(pulumi.ComponentResource):
    """App log group, S3-events log group fed by an EventBridge rule, and the SNS alarm topic."""

    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hainfra:monitoring:Observability", name, None, opts)
        c = args.config
        child = pulumi.ResourceOptions(parent=self)
        self.app_log_group = aws.cloudwatch.LogGroup(
            naming.name(c, "app-logs"), name=naming.log_group_name(c, "app"), retention_in_days=c.retention_days,
            kms_key_id=args.key_arn, tags=naming.tags(c, naming.name(c, "app-logs")), opts=child)
        self.events_log_group = aws.cloudwatch.LogGroup(
            naming.name(c, "s3-events"), name=naming.log_group_name(c, "s3-events"),
            retention_in_days=c.retention_days, kms_key_id=args.key_arn,
            tags=naming.tags(c, naming.name(c, "s3-events")), opts=child)
        self.rule = aws.cloudwatch.EventRule(
            naming.name(c, "s3-created"), name=naming.name(c, "s3-created"),
            description="Backup bucket Object Created events to CloudWatch Logs",
            event_pattern=pulumi.Output.from_input(args.bucket_name).apply(
                lambda b: json.dumps(documents.s3_object_created_pattern(b), sort_keys=True)),
            tags=naming.tags(c, naming.name(c, "s3-created")), opts=child)
        aws.cloudwatch.LogResourcePolicy(
            naming.name(c, "s3-events-policy"), policy_name=naming.name(c, "s3-events-policy"),
            policy_document=document(documents.events_to_logs_policy, log_group_arn=self.events_log_group.arn,
                                     rule_arn=self.rule.arn, account_id=args.account_id),
            opts=child)
        aws.cloudwatch.EventTarget(
            naming.name(c, "s3-created-logs"), rule=self.rule.name, target_id="s3-events-log-group",
            arn=self.events_log_group.arn, opts=child)
        topic_name = naming.name(c, "alarms")
        self.topic = aws.sns.Topic(topic_name, name=topic_name, kms_master_key_id=args.key_arn,
                                   tags=naming.tags(c, topic_name), opts=child)
        if c.alarm_email:
            aws.sns.TopicSubscription(naming.name(c, "alarms-email"), topic=self.topic.arn, protocol="email",
                                      endpoint=c.alarm_email, opts=child)
        self.register_outputs({"app_log_group": self.app_log_group.name, "topic_arn": self.topic.arn})


@dataclass(kw_only=True)
class AlarmsArgs:
    config: StackConfig
    topic_arn: pulumi.Input[str]
    alb_suffix: pulumi.Input[str]
    target_group_suffix: pulumi.Input[str]
    asg_name: pulumi.Input[str]


class Alarms(pulumi.ComponentResource):
    """Alarms on the application tier; every alarm notifies the SNS topic."""

    def __init__(self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hainfra:monitoring:Alarms", name, None, opts)
        c = args.config
        child = pulumi.ResourceOptions(parent=self)
        specs = {
            "alarm-unhealthy-hosts": dict(
                namespace="AWS/ApplicationELB", metric_name="UnHealthyHostCount", statistic="Maximum",
                comparison_operator="GreaterThanThreshold", threshold=0,
                dimensions={"LoadBalancer": args.alb_suffix, "TargetGroup": args.target_group_suffix}),
            "alarm-alb-5xx": dict(
                namespace="AWS/ApplicationELB", metric_name="HTTPCode_ELB_5XX_Count", statistic="Sum",
                comparison_operator="GreaterThanThreshold", threshold=10, dimensions={"LoadBalancer": args.alb_suffix}),
            "alarm-asg-capacity": dict(
                namespace="AWS/AutoScaling", metric_name="GroupInServiceInstances", statistic="Minimum",
                comparison_operator="LessThanThreshold", threshold=c.asg_min,
                dimensions={"AutoScalingGroupName": args.asg_name}),
        }
        for kind in naming.ALARM_KINDS:  # the key policy grants exactly these alarms
            spec = specs[kind]
            alarm_name = naming.name(c, kind)
            aws.cloudwatch.MetricAlarm(
                alarm_name, name=alarm_name, period=60, evaluation_periods=3, treat_missing_data="breaching"
                if kind == "alarm-asg-capacity" else "notBreaching",
                alarm_actions=[args.topic_arn], ok_actions=[args.topic_arn],
                tags=naming.tags(c, alarm_name), opts=child, **spec)
        self.register_outputs({})
