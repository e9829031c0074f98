"""Network: VPC, subnets, internet + NAT gateways, routes, network ACLs, flow logs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from hainfra import documents, naming
from hainfra.cidr import ADMIN_PORTS, ANYWHERE, HTTP, HTTPS, plan_subnets
from hainfra.components import document
from hainfra.config import StackConfig

EPHEMERAL = (1024, 65535)
# Interface endpoints keep SSM (Session Manager, Run Command) and CloudWatch Logs working from the
# private subnets when a NAT gateway fails; ec2 is the one Security Hub EC2.10 names.
INTERFACE_SERVICES = ("ssm", "ssmmessages", "ec2messages", "logs", "ec2")


def nacl_rules(tier: str, vpc_cidr: str) -> tuple[list[dict], list[dict]]:
    """(ingress, egress) rules per tier (pure). Public: HTTP(S) + return traffic. Private: VPC only + return.

    The ephemeral range (return traffic) spans 3389, so SSH and RDP from the internet
    are denied first by explicit lower-numbered rules (NACLs match the lowest rule number).
    """
    deny_admin = [{"rule_no": 90 + i, "protocol": "tcp", "action": "deny", "cidr_block": ANYWHERE,
                   "from_port": port, "to_port": port} for i, port in enumerate(ADMIN_PORTS)]
    if tier == "public":
        ingress = deny_admin + [
            {"rule_no": 100, "protocol": "tcp", "action": "allow", "cidr_block": ANYWHERE, "from_port": HTTPS, "to_port": HTTPS},
            {"rule_no": 110, "protocol": "tcp", "action": "allow", "cidr_block": ANYWHERE, "from_port": HTTP, "to_port": HTTP},
            {"rule_no": 120, "protocol": "tcp", "action": "allow", "cidr_block": ANYWHERE,
             "from_port": EPHEMERAL[0], "to_port": EPHEMERAL[1]},
            {"rule_no": 130, "protocol": "-1", "action": "allow", "cidr_block": vpc_cidr, "from_port": 0, "to_port": 0},
        ]
    else:
        ingress = deny_admin + [
            {"rule_no": 100, "protocol": "-1", "action": "allow", "cidr_block": vpc_cidr, "from_port": 0, "to_port": 0},
            {"rule_no": 110, "protocol": "tcp", "action": "allow", "cidr_block": ANYWHERE,
             "from_port": EPHEMERAL[0], "to_port": EPHEMERAL[1]},
        ]
    egress = [{"rule_no": 100, "protocol": "-1", "action": "allow", "cidr_block": ANYWHERE, "from_port": 0, "to_port": 0}]
    return ingress, egress


@dataclass(kw_only=True)
class NetworkArgs:
    config: StackConfig
    azs: Sequence[str]
    key_arn: pulumi.Input[str]
    account_id: str
    partition: str = "aws"


class Network(pulumi.ComponentResource):
    """A multi-AZ VPC; with ``nat_strategy=per_az`` each private subnet routes via its own AZ's NAT."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hainfra:network:Network", name, None, opts)
        self._c, self._args = args.config, args
        self._child = pulumi.ResourceOptions(parent=self)
        self._vpc()
        self._subnets()
        self._public_routes()
        self._nat_gateways()
        private_tables = self._private_routes()
        self.endpoints = self._endpoints(private_tables)
        self._nacls()
        self._flow_logs()
        self.register_outputs({
            "vpc_endpoint_ids": [e.id for e in self.endpoints],
            "vpc_id": self.vpc.id,
            "public_subnet_ids": [s.id for s in self.subnets["public"]],
            "private_subnet_ids": [s.id for s in self.subnets["private"]],
            "nat_gateway_ids": [nat.id for nat in self.nats],
            "flow_log_id": self.flow_log.id,
        })

    def _n(self, kind: str, qualifier: str | None = None) -> str:
        return naming.name(self._c, kind, qualifier)

    def _vpc(self) -> None:
        """The VPC, with its default security group and default network ACL adopted and emptied."""
        c, n = self._c, self._n
        self.vpc = aws.ec2.Vpc(n("vpc"), cidr_block=c.vpc_cidr, enable_dns_support=True, enable_dns_hostnames=True,
                               tags=naming.tags(c, n("vpc")), opts=self._child)
        aws.ec2.DefaultSecurityGroup(n("default-sg"), vpc_id=self.vpc.id, ingress=[], egress=[],
                                     tags=naming.tags(c, n("default-sg")), opts=self._child)
        # AWS's default NACL allows everything in and out; every subnet gets its tier's NACL below, so the
        # default one is emptied (only the implicit deny-all remains) and guards whatever falls back to it.
        aws.ec2.DefaultNetworkAcl(n("default-nacl"), default_network_acl_id=self.vpc.default_network_acl_id,
                                  ingress=[], egress=[], tags=naming.tags(c, n("default-nacl")), opts=self._child)

    def _subnets(self) -> None:
        """Public and private subnets per AZ, CIDRs from the pure plan."""
        c = self._c
        self.subnets: dict[str, list[aws.ec2.Subnet]] = {"public": [], "private": []}
        for s in plan_subnets(c.vpc_cidr, c.az_count):
            az = self._args.azs[s.az_index]
            sn = self._n(f"subnet-{s.tier}", az)
            self.subnets[s.tier].append(aws.ec2.Subnet(
                sn, vpc_id=self.vpc.id, cidr_block=s.cidr, availability_zone=az,
                map_public_ip_on_launch=False, tags=naming.tags(c, sn, Tier=s.tier), opts=self._child))

    def _public_routes(self) -> None:
        """Internet gateway; one public route table for every public subnet."""
        c, n = self._c, self._n
        self.igw = aws.ec2.InternetGateway(n("igw"), vpc_id=self.vpc.id, tags=naming.tags(c, n("igw")), opts=self._child)
        public_rt = aws.ec2.RouteTable(n("rt-public"), vpc_id=self.vpc.id, tags=naming.tags(c, n("rt-public")),
                                       opts=self._child)
        aws.ec2.Route(n("route-public"), route_table_id=public_rt.id, destination_cidr_block=ANYWHERE,
                      gateway_id=self.igw.id, opts=self._child)
        for i, subnet in enumerate(self.subnets["public"]):
            aws.ec2.RouteTableAssociation(n("rta-public", self._args.azs[i]), subnet_id=subnet.id,
                                          route_table_id=public_rt.id, opts=self._child)

    def _nat_gateways(self) -> None:
        """NAT gateways: ``nat_count`` is the one HA switch."""
        c, n = self._c, self._n
        self.nats: list[aws.ec2.NatGateway] = []
        for i in range(c.nat_count):
            az = self._args.azs[i]
            eip = aws.ec2.Eip(n("eip-nat", az), domain="vpc", tags=naming.tags(c, n("eip-nat", az)), opts=self._child)
            self.nats.append(aws.ec2.NatGateway(
                n("nat", az), allocation_id=eip.allocation_id, subnet_id=self.subnets["public"][i].id,
                tags=naming.tags(c, n("nat", az)), opts=pulumi.ResourceOptions(parent=self, depends_on=[self.igw])))

    def _private_routes(self) -> list[aws.ec2.RouteTable]:
        """Each AZ's private subnet routes to the NAT in its own AZ (or the single NAT)."""
        c, n = self._c, self._n
        tables: list[aws.ec2.RouteTable] = []
        for i, subnet in enumerate(self.subnets["private"]):
            az = self._args.azs[i]
            rt = aws.ec2.RouteTable(n("rt-private", az), vpc_id=self.vpc.id,
                                    tags=naming.tags(c, n("rt-private", az)), opts=self._child)
            tables.append(rt)
            aws.ec2.Route(n("route-private", az), route_table_id=rt.id, destination_cidr_block=ANYWHERE,
                          nat_gateway_id=self.nats[min(i, c.nat_count - 1)].id, opts=self._child)
            aws.ec2.RouteTableAssociation(n("rta-private", az), subnet_id=subnet.id, route_table_id=rt.id,
                                          opts=self._child)
        return tables

    def _nacls(self) -> None:
        """One network ACL per tier, associated with every subnet of the tier."""
        c, n = self._c, self._n
        for tier, subnets in self.subnets.items():
            ingress, egress = nacl_rules(tier, c.vpc_cidr)
            acl = aws.ec2.NetworkAcl(
                n(f"nacl-{tier}"), vpc_id=self.vpc.id,
                ingress=[aws.ec2.NetworkAclIngressArgs(**r) for r in ingress],
                egress=[aws.ec2.NetworkAclEgressArgs(**r) for r in egress],
                tags=naming.tags(c, n(f"nacl-{tier}"), Tier=tier), opts=self._child)
            for i, subnet in enumerate(subnets):
                aws.ec2.NetworkAclAssociation(n(f"nacla-{tier}", self._args.azs[i]), network_acl_id=acl.id,
                                              subnet_id=subnet.id, opts=self._child)

    def _flow_logs(self) -> None:
        """ALL traffic to a KMS-encrypted group, through a role that may write to that group only."""
        c, n, a = self._c, self._n, self._args
        self.flow_log_group = aws.cloudwatch.LogGroup(
            n("flow-logs"), name=naming.log_group_name(c, "flow-logs"), retention_in_days=c.retention_days,
            kms_key_id=a.key_arn, tags=naming.tags(c, n("flow-logs")), opts=self._child)
        role = aws.iam.Role(
            n("flow-logs-role"), name=n("flow-logs-role"),
            assume_role_policy=document(documents.flow_log_trust, account_id=a.account_id, region=c.region,
                                        partition=a.partition),
            tags=naming.tags(c, n("flow-logs-role")), opts=self._child)
        aws.iam.RolePolicy(n("flow-logs-policy"), name=n("flow-logs-policy"), role=role.name,
                           policy=document(documents.flow_log_policy, log_group_arn=self.flow_log_group.arn),
                           opts=self._child)
        self.flow_log = aws.ec2.FlowLog(
            n("flow-log"), vpc_id=self.vpc.id, traffic_type="ALL", log_destination_type="cloud-watch-logs",
            log_destination=self.flow_log_group.arn, iam_role_arn=role.arn, max_aggregation_interval=60,
            tags=naming.tags(c, n("flow-log")), opts=self._child)

    def _endpoints(self, private_tables: list[aws.ec2.RouteTable]) -> list[aws.ec2.VpcEndpoint]:
        """S3 gateway endpoint on every private route table; interface endpoints when ``endpoints_enabled``.

        Each carries a policy admitting only the account's principals (not AWS's default full access);
        the S3 one also lets dnf read the Amazon Linux repositories (see documents.s3_endpoint_policy).
        """
        c, n, a = self._c, self._n, self._args
        endpoints = [aws.ec2.VpcEndpoint(
            n("vpce-s3"), vpc_id=self.vpc.id, service_name=f"com.amazonaws.{c.region}.s3",
            vpc_endpoint_type="Gateway", route_table_ids=[rt.id for rt in private_tables],
            policy=json.dumps(documents.s3_endpoint_policy(account_id=a.account_id, region=c.region,
                                                           partition=a.partition), sort_keys=True),
            tags=naming.tags(c, n("vpce-s3")), opts=self._child)]
        if not c.endpoints_enabled:
            return endpoints
        sg = aws.ec2.SecurityGroup(
            n("vpce-sg"), name=n("vpce-sg"), description="Interface endpoints: HTTPS from the VPC",
            vpc_id=self.vpc.id,
            ingress=[aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=HTTPS, to_port=HTTPS,
                                                      cidr_blocks=[c.vpc_cidr], description="HTTPS from the VPC")],
            egress=[], tags=naming.tags(c, n("vpce-sg")), opts=self._child)
        policy = json.dumps(documents.endpoint_policy(account_id=a.account_id), sort_keys=True)
        for service in INTERFACE_SERVICES:
            endpoints.append(aws.ec2.VpcEndpoint(
                n("vpce", service), vpc_id=self.vpc.id, service_name=f"com.amazonaws.{c.region}.{service}",
                vpc_endpoint_type="Interface", private_dns_enabled=True, policy=policy,
                subnet_ids=[s.id for s in self.subnets["private"]], security_group_ids=[sg.id],
                tags=naming.tags(c, n("vpce", service)), opts=self._child))
        return endpoints
