"""Compute: ALB in the public subnets → target group → Auto Scaling group in the private subnets."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from hainfra import naming
from hainfra.cidr import ANYWHERE, HTTP, HTTPS
from hainfra.components.edge import sandbox_certificate
from hainfra.config import StackConfig

APP_PORT = HTTP
# TLS 1.3 and 1.2 only (Security Hub ELB.17, checkov CKV_AWS_103), FIPS-validated ciphers and the hybrid
# post-quantum key exchange (ML-KEM + ECDHE; clients without it fall back to ECDHE): what auditors now ask for
# (Prowler elbv2_listener_fips_tls_enabled, elbv2_listener_pqc_tls_enabled).
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-FIPS-PQ-2025-09"
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
        self._c, self._args = args.config, args
        self._child = pulumi.ResourceOptions(parent=self)
        alb_sg = self._security_groups()
        self._load_balancer(alb_sg)
        self._listeners()
        self._launch_template()
        self._group()
        self.register_outputs({"alb_dns_name": self.alb.dns_name, "asg_name": self.asg.name})

    def _n(self, kind: str) -> str:
        return naming.name(self._c, kind)

    def _security_groups(self) -> aws.ec2.SecurityGroup:
        """World → ALB (80/443), ALB → app only; returns the ALB's group."""
        c, n = self._c, self._n
        alb_sg = aws.ec2.SecurityGroup(
            n("alb-sg"), name=n("alb-sg"), description="ALB: HTTP(S) from the internet", vpc_id=self._args.vpc_id,
            ingress=[aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=p, to_port=p, cidr_blocks=[ANYWHERE],
                                                      description=f"public {p}") for p in (HTTP, HTTPS)],
            egress=[aws.ec2.SecurityGroupEgressArgs(protocol="tcp", from_port=APP_PORT, to_port=APP_PORT,
                                                    cidr_blocks=[c.vpc_cidr], description="to app tier")],
            tags=naming.tags(c, n("alb-sg")), opts=self._child)
        self.app_sg = aws.ec2.SecurityGroup(
            n("app-sg"), name=n("app-sg"), description="App: HTTP from the ALB only", vpc_id=self._args.vpc_id,
            ingress=[aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=APP_PORT, to_port=APP_PORT,
                                                      security_groups=[alb_sg.id], description="from ALB")],
            egress=[aws.ec2.SecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0, cidr_blocks=[ANYWHERE],
                                                    description="updates via NAT")],
            tags=naming.tags(c, n("app-sg")), opts=self._child)
        return alb_sg

    def _load_balancer(self, alb_sg: aws.ec2.SecurityGroup) -> None:
        c, n, a = self._c, self._n, self._args
        self.alb = aws.lb.LoadBalancer(
            n("alb"), name=n("alb"), load_balancer_type="application", internal=False,
            subnets=list(a.public_subnet_ids), security_groups=[alb_sg.id], drop_invalid_header_fields=True,
            # prod: deletion-protected; `hainfra destroy` lifts it first, inside the same audited run.
            enable_deletion_protection=c.is_prod,
            access_logs=aws.lb.LoadBalancerAccessLogsArgs(bucket=a.log_bucket, prefix=naming.alb_log_prefix(c),
                                                          enabled=True),
            tags=naming.tags(c, n("alb")),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[a.log_bucket_policy] if a.log_bucket_policy else []))
        self.target_group = aws.lb.TargetGroup(
            n("tg"), name=n("tg"), port=APP_PORT, protocol="HTTP", vpc_id=a.vpc_id, target_type="instance",
            health_check=aws.lb.TargetGroupHealthCheckArgs(path="/", protocol="HTTP", matcher="200-399",
                                                           healthy_threshold=3, unhealthy_threshold=3, interval=30),
            tags=naming.tags(c, n("tg")), opts=self._child)

    def _listeners(self) -> None:
        """With a certificate, HTTPS forwards and HTTP only redirects to it (301); without, HTTP forwards."""
        c, n = self._c, self._n
        forward = [aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=self.target_group.arn)]
        redirect = [aws.lb.ListenerDefaultActionArgs(type="redirect", redirect=aws.lb.ListenerDefaultActionRedirectArgs(
            port=str(HTTPS), protocol="HTTPS", status_code="HTTP_301"))]
        certificate: pulumi.Input[str] | None = c.certificate_arn or None
        if c.self_signed_certificate:  # prod rehearsed in an emulator (config refuses it on AWS)
            certificate = sandbox_certificate(c, self).arn
        https = certificate is not None
        aws.lb.Listener(n("listener-http"), load_balancer_arn=self.alb.arn, port=HTTP, protocol="HTTP",
                        default_actions=redirect if https else forward, tags=naming.tags(c, n("listener-http")),
                        opts=self._child)
        if https:
            aws.lb.Listener(n("listener-https"), load_balancer_arn=self.alb.arn, port=HTTPS, protocol="HTTPS",
                            certificate_arn=certificate, ssl_policy=TLS_POLICY,
                            default_actions=forward, tags=naming.tags(c, n("listener-https")), opts=self._child)

    def _launch_template(self) -> None:
        """IMDSv2, hop limit 1, encrypted EBS, no public IP; detailed (1-minute) monitoring in prod."""
        c, n, a = self._c, self._n, self._args
        ami = aws.ssm.get_parameter_output(name=AMI_PARAMETER).value
        self.launch_template = aws.ec2.LaunchTemplate(
            n("lt"), name=n("lt"), image_id=ami, instance_type=c.app_instance_types[0],
            iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=a.instance_profile_arn),
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1),
            monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=c.is_prod),
            block_device_mappings=[aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name="/dev/xvda", ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    encrypted="true", kms_key_id=a.key_arn, volume_size=8, volume_type="gp3",
                    delete_on_termination="true"))],
            network_interfaces=[aws.ec2.LaunchTemplateNetworkInterfaceArgs(
                associate_public_ip_address="false", security_groups=[self.app_sg.id], delete_on_termination="true")],
            user_data=base64.b64encode(USER_DATA.encode()).decode(),
            tags=naming.tags(c, n("lt")), opts=self._child)

    def _group(self) -> None:
        """Across every private subnet; with several instance types, a mixed-instances policy (all on-demand)."""
        c, n, a = self._c, self._n, self._args
        template = {"launch_template": aws.autoscaling.GroupLaunchTemplateArgs(
            id=self.launch_template.id, version="$Latest")}
        if len(c.app_instance_types) > 1:
            template = {"mixed_instances_policy": mixed_instances(self.launch_template.id, c.app_instance_types)}
        self.asg = aws.autoscaling.Group(
            n("asg"), name=n("asg"), min_size=c.asg_min, desired_capacity=c.asg_desired, max_size=c.asg_max,
            vpc_zone_identifiers=list(a.private_subnet_ids), target_group_arns=[self.target_group.arn],
            health_check_type="ELB", health_check_grace_period=300,
            tags=[aws.autoscaling.GroupTagArgs(key=k, value=v, propagate_at_launch=True)
                  for k, v in naming.tags(c, n("asg")).items()],
            opts=self._child, **template)


def mixed_instances(template_id: pulumi.Input[str], types: Sequence[str]) -> aws.autoscaling.GroupMixedInstancesPolicyArgs:
    """Every type in order of preference, all on-demand: a type short of capacity in an AZ no longer stops a launch.

    On-demand only (no Spot): the application tier is the stack's HA story, so no capacity is
    ever reclaimed by AWS; ``prioritized`` launches the first type that has capacity.
    """
    return aws.autoscaling.GroupMixedInstancesPolicyArgs(
        launch_template=aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateArgs(
            launch_template_specification=aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateLaunchTemplateSpecificationArgs(
                launch_template_id=template_id, version="$Latest"),
            overrides=[aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs(instance_type=t)
                       for t in types]),
        instances_distribution=aws.autoscaling.GroupMixedInstancesPolicyInstancesDistributionArgs(
            on_demand_allocation_strategy="prioritized", on_demand_base_capacity=0,
            on_demand_percentage_above_base_capacity=100))
