"""What the emulator adds to moto (emulation, documented as such): TLS a client can verify, the
instance agent, the Auto Scaling behaviour a drill needs, hainfra's rotation function run in-process, and four fidelity fixes (a bucket's
EventBridge notification setting is read back; Object Lock can be enabled on a bucket holding objects; deleting a NAT gateway frees its Elastic IP; a
launch template version made by CreateLaunchTemplateVersion launches instances).

``install(argv)`` is the one hook moto_server calls before serving. The server's TLS certificate is
made here (``server_certificate``: its own CA, for 127.0.0.1 and localhost) so scripts run by the agent
verify TLS with ``AWS_CA_BUNDLE`` instead of turning verification off.
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import ipaddress
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hainfra.engines.sandbox import agent, asg_emulation, lambda_emulation

HOSTS = ("127.0.0.1", "localhost")


def certificate() -> tuple[bytes, bytes]:
    """A self-signed certificate for the loopback names (its own CA) and its private key, as PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hainfra sandbox emulator")])
    now = dt.datetime.now(dt.timezone.utc)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOSTS[0])),
                                                        x509.DNSName(HOSTS[1])]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(ski, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


@functools.cache
def server_certificate() -> tuple[bytes, bytes]:
    """This emulator's certificate and key (made once per process; the key never touches a lasting file)."""
    return certificate()


def ca_bundle() -> str:
    """A file holding the emulator's certificate, for ``AWS_CA_BUNDLE`` (removed when the emulator exits)."""
    folder = Path(tempfile.mkdtemp(prefix="hainfra-emulator-ca-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "emulator.crt"
    path.write_bytes(server_certificate()[0])
    return str(path)


def report_eventbridge_notifications() -> None:
    """GetBucketNotificationConfiguration reports ``EventBridgeConfiguration`` when it is on.

    moto stores it and delivers the events, but leaves it out of the read-back, so every reader
    (verify's broken-hop diagnosis among them) would see EventBridge delivery as off.
    """
    from moto.s3.responses import S3Response

    get_notification = S3Response.get_bucket_notification

    def get_with_event_bridge(self: Any) -> Any:
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if config is None or config.event_bridge is None:
            return get_notification(self)
        serialized = self.serialized

        def add_event_bridge(result: Any) -> Any:
            result.result["EventBridgeConfiguration"] = {}
            return serialized(result)

        self.serialized = add_event_bridge
        try:
            return get_notification(self)
        finally:
            del self.serialized

    S3Response.get_bucket_notification = get_with_event_bridge


def release_nat_addresses() -> None:
    """Deleting a NAT gateway frees its Elastic IP, as on AWS (moto keeps it associated, so a NAT
    recreated with the same allocation — `up` after a drill deleted one — would be refused)."""
    from moto.ec2.models.nat_gateways import NatGatewayBackend

    delete_nat = NatGatewayBackend.delete_nat_gateway

    def delete_and_release(self: Any, nat_gateway_id: str) -> Any:
        nat = delete_nat(self, nat_gateway_id)
        for eip in self.addresses:
            if eip.eni is not None and eip.eni is getattr(nat, "_eni", None):
                self.disassociate_address(address=eip.public_ip)
        return nat

    NatGatewayBackend.delete_nat_gateway = delete_and_release


def launch_from_api_made_versions() -> None:
    """An Auto Scaling group launches from a template version made by CreateLaunchTemplateVersion, as on
    AWS (moto keeps that version's user data unwrapped and fails an assertion: a group recreated after
    an instance_type change, e.g. by a day-2 replacement, could never launch)."""
    from moto.core.types import Base64EncodedString
    from moto.ec2.models.launch_templates import LaunchTemplateVersion

    def user_data(self: Any) -> Any:
        value = self.data.get("UserData")
        return Base64EncodedString(value) if isinstance(value, str) else value

    LaunchTemplateVersion.user_data = property(user_data)


def lock_existing_buckets() -> None:
    """PutObjectLockConfiguration works on a versioned bucket that already holds objects, as on AWS since
    November 2023 (moto still demands an empty bucket, so enabling Object Lock on a live backup bucket — or
    changing its default retention — would fail only here); and, as on AWS, a bucket with Object Lock keeps
    its versioning (moto let it be suspended)."""
    from moto.s3.exceptions import InvalidBucketState
    from moto.s3.models import S3Backend

    def put_lock(self: Any, bucket_name: str, lock_enabled: bool, mode: str | None = None, days: int | None = None,
                 years: int | None = None) -> None:
        bucket = self.get_bucket(bucket_name)
        if not bucket.is_versioned:
            raise InvalidBucketState("Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration")
        if lock_enabled:
            bucket.object_lock_enabled = True
        bucket.default_lock_mode, bucket.default_lock_days, bucket.default_lock_years = mode, days, years

    S3Backend.put_object_lock_configuration = put_lock
    put_versioning = S3Backend.put_bucket_versioning

    def keep_versioning(self: Any, bucket_name: str, status: str) -> None:
        """Versioning of a bucket with Object Lock cannot be suspended (AWS refuses; moto allowed it)."""
        if status != "Enabled" and getattr(self.get_bucket(bucket_name), "object_lock_enabled", False):
            raise InvalidBucketState("An Object Lock configuration is present on this bucket, so the versioning "
                                     "state cannot be changed.")
        put_versioning(self, bucket_name, status)

    S3Backend.put_bucket_versioning = keep_versioning


def list_resources_for_web_acl() -> None:
    """wafv2:ListResourcesForWebACL answers from the associations moto keeps (moto has no such call), so a
    scanner that finds an ALB's web ACL this way — Prowler's ``elbv2_waf_acl_attached`` — sees what AWS shows.

    AWS filters by ``ResourceType`` (default APPLICATION_LOAD_BALANCER); an unknown ACL is
    WAFNonexistentItemException, as on AWS.
    """
    from moto.wafv2.exceptions import WAFNonexistentItemException
    from moto.wafv2.responses import WAFV2Response

    kinds = {"APPLICATION_LOAD_BALANCER": ":elasticloadbalancing:", "API_GATEWAY": ":apigateway:",
             "APPSYNC": ":appsync:", "COGNITO_USER_POOL": ":cognito-idp:", "APP_RUNNER_SERVICE": ":apprunner:",
             "VERIFIED_ACCESS_INSTANCE": ":ec2:"}

    def list_resources(self: Any) -> Any:
        body = json.loads(self.body)
        acl = self.wafv2_backend.wacls.get(body["WebACLArn"])
        if acl is None:
            raise WAFNonexistentItemException
        marker = kinds.get(body.get("ResourceType", "APPLICATION_LOAD_BALANCER"), "\0")
        arns = [arn for arn in acl.associated_resources if marker in arn]
        return 200, {"Content-Type": "application/json"}, json.dumps({"ResourceArns": arns})

    WAFV2Response.list_resources_for_web_acl = list_resources


def _option(argv: list[str], short: str, long: str, default: str) -> str:
    for i, arg in enumerate(argv[:-1]):
        if arg in (short, long):
            return argv[i + 1]
    return default


def install(argv: list[str]) -> None:
    """Install the emulation into moto, before it serves (``argv``: moto's arguments, for host and port)."""
    host, port = _option(argv, "-H", "--host", "127.0.0.1"), _option(argv, "-p", "--port", "5000")
    https = "--ssl" in argv
    report_eventbridge_notifications()
    release_nat_addresses()
    launch_from_api_made_versions()
    lock_existing_buckets()
    list_resources_for_web_acl()
    url, bundle = f"{'https' if https else 'http'}://{host}:{port}", ca_bundle() if https else ""
    agent.install(agent.Endpoint(url, bundle))
    lambda_emulation.install(url, bundle)
    asg_emulation.install()
