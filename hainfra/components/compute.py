"""Compute: ALB in the public subnets → target group → Auto Scaling group in the private subnets."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from hainfra import naming
from hainfra.config import StackConfig

APP_PORT = 80
# Amazon Linux 2023 via the public SSM parameter: no AMI id hard-coded per region.
AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"

USER_DATA = """#!/bin/bash
dnf install -y nginx && systemctl enable --now nginx
"""


@dataclass(kw_only=True)
class ComputeArgs:
    config: StackConfig
    vpc_id: pulumi.Input[str]
    public_subnet_ids: Sequence[pulumi.Input[str]]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    instance_profile_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    log_bucket: pulumi.Input[str]
    # ELB checks it may write to the bucket when access logs are switched on: the policy comes first.
    log_bucket_policy: pulumi.Resource | None = None


class Compute(pulumi.ComponentResource):
    """Internet-facing ALB and an ASG spanning every private subnet, ELB health checks."""

    def __init__(self, name: str, args: ComputeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hainfra:compute:Compute", name, None, opts)
        c = args.config
        child = pulumi.ResourceOptions(parent=self)
        n = lambda kind: naming.name(c, kind)  # noqa: E731
        https = bool(c.certificate_arn)

        # --- security groups: world → ALB (80/443), ALB → app only ------------------------
        alb_sg = aws.ec2.SecurityGroup(
            n("alb-sg"), name=n("alb-sg"), description="ALB: HTTP(S) from the internet", vpc_id=args.vpc_id,
            ingress=[aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=p, to_port=p, cidr_blocks=["0.0.0.0/0"],
                                                      description=f"public {p}") for p in (80, 443)],
            egress=[aws.ec2.SecurityGroupEgressArgs(protocol="tcp", from_port=APP_PORT, to_port=APP_PORT,
                                                    cidr_blocks=[c.vpc_cidr], description="to app tier")],
            tags=naming.tags(c, n("alb-sg")), opts=child)
        self.app_sg = aws.ec2.SecurityGroup(
            n("app-sg"), name=n("app-sg"), description="App: HTTP from the ALB only", vpc_id=args.vpc_id,
            ingress=[aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=APP_PORT, to_port=APP_PORT,
                                                      security_groups=[alb_sg.id], description="from ALB")],
            egress=[aws.ec2.SecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/0"],
                                                    description="updates via NAT")],
            tags=naming.tags(c, n("app-sg")), opts=child)

        # --- load balancer ---------------------------------------------------------------------
        self.alb = aws.lb.LoadBalancer(
            n("alb"), name=n("alb"), load_balancer_type="application", internal=False,
            subnets=list(args.public_subnet_ids), security_groups=[alb_sg.id], drop_invalid_header_fields=True,
            # prod: deletion-protected; `hainfra destroy` lifts it first, inside the same audited run.
            enable_deletion_protection=c.is_prod,
            access_logs=aws.lb.LoadBalancerAccessLogsArgs(bucket=args.log_bucket, prefix=naming.alb_log_prefix(c),
                                                          enabled=True),
            tags=naming.tags(c, n("alb")),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.log_bucket_policy] if args.log_bucket_policy else []))
        self.target_group = aws.lb.TargetGroup(
            n("tg"), name=n("tg"), port=APP_PORT, protocol="HTTP", vpc_id=args.vpc_id, target_type="instance",
            health_check=aws.lb.TargetGroupHealthCheckArgs(path="/", protocol="HTTP", matcher="200-399",
                                                           healthy_threshold=3, unhealthy_threshold=3, interval=30),
            tags=naming.tags(c, n("tg")), opts=child)
        forward = [aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=self.target_group.arn)]
        redirect = [aws.lb.ListenerDefaultActionArgs(type="redirect", redirect=aws.lb.ListenerDefaultActionRedirectArgs(
            port="443", protocol="HTTPS", status_code="HTTP_301"))]
        aws.lb.Listener(n("listener-http"), load_balancer_arn=self.alb.arn, port=80, protocol="HTTP",
                        default_actions=redirect if https else forward, tags=naming.tags(c, n("listener-http")),
                        opts=child)
        if https:
            aws.lb.Listener(n("listener-https"), load_balancer_arn=self.alb.arn, port=443, protocol="HTTPS",
                            certificate_arn=c.certificate_arn, ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06",
                            default_actions=forward, tags=naming.tags(c, n("listener-https")), opts=child)

        # --- launch template: IMDSv2, hop limit 1, encrypted EBS, no public IP -------------------
        ami = aws.ssm.get_parameter_output(name=AMI_PARAMETER).value
        self.launch_template = aws.ec2.LaunchTemplate(
            n("lt"), name=n("lt"), image_id=ami, instance_type=c.instance_type,
            iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=args.instance_profile_arn),
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1),
            block_device_mappings=[aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name="/dev/xvda", ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    encrypted="true", kms_key_id=args.key_arn, volume_size=8, volume_type="gp3",
                    delete_on_termination="true"))],
            network_interfaces=[aws.ec2.LaunchTemplateNetworkInterfaceArgs(
                associate_public_ip_address="false", security_groups=[self.app_sg.id], delete_on_termination="true")],
            user_data=base64.b64encode(USER_DATA.encode()).decode(),
            tags=naming.tags(c, n("lt")), opts=child)

        # --- auto scaling group across every private subnet -----------------------------------
        self.asg = aws.autoscaling.Group(
            n("asg"), name=n("asg"), min_size=c.asg_min, desired_capacity=c.asg_desired, max_size=c.asg_max,
            vpc_zone_identifiers=list(args.private_subnet_ids), target_group_arns=[self.target_group.arn],
            health_check_type="ELB", health_check_grace_period=300,
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(id=self.launch_template.id, version="$Latest"),
            tags=[aws.autoscaling.GroupTagArgs(key=k, value=v, propagate_at_launch=True)
                  for k, v in naming.tags(c, n("asg")).items()],
            opts=child)
        self.register_outputs({"alb_dns_name": self.alb.dns_name, "asg_name": self.asg.name})
