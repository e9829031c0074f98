"""Entry point of the sandbox emulator: moto's server, with S3 bucket-policy conditions honoured.

moto 5.2 evaluates bucket policies without request context, skips condition operators
other than StringEquals, and treats a statement whose conditions fail as an explicit
deny — so the stack's TLS-only policy (Deny when aws:SecureTransport is false) would
deny every request. The emulator serves
TLS only, so every request has aws:SecureTransport=true; with that context and the IAM
rule that a statement whose conditions do not hold does not apply, the policy behaves
as on AWS. Server access logging: moto's target-bucket check reads ``Principal.Service`` of every
statement and crashes (HTTP 500) on ``"Principal": "*"`` (the TLS-only deny); statements whose
principal is not a mapping are skipped, as they grant logging nothing. ELB deletion protection:
moto deletes a protected load balancer; here it refuses with OperationNotPermitted as AWS does.
Gateway VPC endpoints: moto adds the prefix-list route only for route tables given at creation, so a
table added later (a new AZ) gets no route and the endpoint can never be deleted; here ModifyVpcEndpoint
adds and removes the routes as AWS does, and deleting an endpoint whose route table is already gone
succeeds (AWS drops a table's routes with it; moto raised InvalidRoute.NotFound).
What moto lacks and a check or drill needs (the instance agent, Auto Scaling
replacement and AZ balance, the server certificate scripts verify) is installed by
``hainfra.engines.sandbox.emulation`` and documented there as emulation.

Serving (see ``serve_concurrently`` and ``die_with_owner``): each connection does its TLS
handshake on its own thread, so an idle client cannot block the others, and a private
emulator exits as soon as the process that started it is gone, also after a SIGKILL.
"""

from __future__ import annotations

import os
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

OWNER_ENV = "HAINFRA_EMULATOR_OWNER"  # pid of the process the emulator dies with (unset: long-lived)


def _bool_equals(expected: Any, actual: str) -> bool:
    values = expected if isinstance(expected, list) else [expected]
    return str(actual).lower() in [str(v).lower() for v in values]


def patch_moto() -> None:
    from moto.iam.access_control import IAMPolicy, IAMPolicyStatement, PermissionResult
    from moto.iam.policy_conditions import CONDITION_OPERATIONS
    from moto.s3.models import FakeBucket

    CONDITION_OPERATIONS.setdefault("Bool", _bool_equals)  # moto knows only StringEquals and skips the rest

    check_conditions = IAMPolicyStatement._check_conditions
    is_action_permitted = IAMPolicyStatement.is_action_permitted

    def statement_permission(self: Any, action: str, resource: str = "*", principal: str | None = None,
                             incoming_condition_values: dict[str, str] | None = None) -> Any:
        if self._statement.get("Condition") and not check_conditions(self, incoming_condition_values):
            return PermissionResult.NEUTRAL
        return is_action_permitted(self, action, resource, principal, incoming_condition_values)

    def bucket_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        return IAMPolicy(self.policy.decode()).is_action_permitted(
            action, resource, incoming_condition_values={"aws:SecureTransport": "true"})

    IAMPolicyStatement.is_action_permitted = statement_permission
    FakeBucket.get_permission = bucket_permission
    _patch_logging_check(FakeBucket)
    _patch_deletion_protection()
    _patch_gateway_routes()
    _patch_replication_readback()


def _patch_replication_readback() -> None:
    """moto stores a bucket's replication rules whole but answers GetBucketReplication with delete-marker
    replication "Disabled" and without SourceSelectionCriteria: read back what was put (it copies no object)."""
    from moto.core.responses import ActionResult
    from moto.s3.exceptions import ReplicationConfigurationNotFoundError
    from moto.s3.responses import S3Response

    def get_bucket_replication(self: Any) -> Any:
        self.data["Action"] = "GetBucketReplication"
        replication = self.backend.get_bucket_replication(self.bucket_name)
        if not replication:
            raise ReplicationConfigurationNotFoundError(bucket_name=self.bucket_name)
        rules = [{"ID": rule["ID"], "Priority": rule["Priority"], "Status": rule["Status"],
                  "DeleteMarkerReplication": rule.get("DeleteMarkerReplication") or {"Status": "Disabled"},
                  "Filter": {"Prefix": (rule.get("Filter") or {}).get("Prefix") or ""},
                  "Destination": rule["Destination"],
                  **({"SourceSelectionCriteria": rule["SourceSelectionCriteria"]}
                     if rule.get("SourceSelectionCriteria") else {})}
                 for rule in replication["Rule"]]
        return self.serialized(ActionResult({"ReplicationConfiguration": {"Role": replication["Role"], "Rules": rules}}))

    S3Response.get_bucket_replication = get_bucket_replication


def _patch_logging_check(bucket_cls: Any) -> None:
    import json

    original = bucket_cls._log_permissions_enabled_policy

    def logging_allowed(target_bucket: Any, target_prefix: str | None) -> bool:
        if target_bucket.policy:
            doc = json.loads(target_bucket.policy.decode())
            statements = [st for st in doc.get("Statement", []) if isinstance(st.get("Principal"), dict)]
            saved = target_bucket.policy
            target_bucket.policy = json.dumps({**doc, "Statement": statements}).encode()
            try:
                return original(target_bucket, target_prefix)
            finally:
                target_bucket.policy = saved
        return original(target_bucket, target_prefix)

    bucket_cls._log_permissions_enabled_policy = staticmethod(logging_allowed)


def _patch_deletion_protection() -> None:
    from moto.elbv2.exceptions import ELBClientError
    from moto.elbv2.models import ELBv2Backend

    delete = ELBv2Backend.delete_load_balancer

    def guarded_delete(self: Any, arn: str) -> None:
        lb = self.load_balancers.get(arn)
        if lb is not None and str(lb.attrs.get("deletion_protection.enabled", "false")).lower() == "true":
            raise ELBClientError("OperationNotPermitted", f"Load balancer '{arn}' cannot be deleted because "
                                                          "deletion protection is enabled")
        delete(self, arn)

    ELBv2Backend.delete_load_balancer = guarded_delete


def _patch_gateway_routes() -> None:
    from moto.ec2.models.vpcs import VPCBackend

    modify = VPCBackend.modify_vpc_endpoint

    def routed_modify(self: Any, **kwargs: Any) -> None:
        vpc_id = kwargs["vpc_id"]  # moto's name for the endpoint id
        prefix = self.describe_vpc_endpoints(vpc_end_point_ids=[vpc_id])[0].destination_prefix_list_id
        modify(self, **kwargs)
        if prefix:
            for table in kwargs.get("add_route_tables") or []:
                self.create_route(table, None, gateway_id=vpc_id, destination_prefix_list_id=prefix)
            for table in kwargs.get("remove_route_tables") or []:
                self.delete_route(table, prefix)

    VPCBackend.modify_vpc_endpoint = routed_modify
    delete = VPCBackend.delete_vpc_endpoints

    def tolerant_delete(self: Any, vpce_ids: list[str] | None = None) -> None:
        for vpce_id in vpce_ids or []:
            endpoint = self.vpc_end_points.get(vpce_id)
            if endpoint is not None and endpoint.vpc_endpoint_type.lower() != "interface":
                for table in endpoint.route_table_ids:
                    try:
                        self.delete_route(table, endpoint.destination_prefix_list_id)
                    except Exception:  # noqa: BLE001 - the table (and so the route) is already gone
                        pass
                endpoint.route_table_ids = []
        delete(self, vpce_ids)

    VPCBackend.delete_vpc_endpoints = tolerant_delete


# --- serving: start-up, TLS, threads ---------------------------------------------------------------
class LazyHandshakeContext(ssl.SSLContext):
    """A server context whose sockets defer the TLS handshake to the first read.

    werkzeug wraps the *listening* socket, so with Python's default every ``accept()`` in the
    single accept loop waits for the client's ClientHello: one client that connects and sends
    nothing stalls every other request. Deferred, the handshake runs on the connection's own
    request thread (OpenSSL completes it inside the first ``SSL_read``).
    """

    def wrap_socket(self, sock: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs["do_handshake_on_connect"] = False
        return super().wrap_socket(sock, *args, **kwargs)


def tls_context() -> ssl.SSLContext:
    """The emulator's certificate for 127.0.0.1/localhost (``emulation.server_certificate``, which
    scripts run by the instance agent verify); its key file is removed once loaded."""
    from hainfra.engines.sandbox import emulation

    cert_pem, key_pem = emulation.server_certificate()
    context = LazyHandshakeContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory(prefix="hainfra-tls-") as tmp:
        cert_file, key_file = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        cert_file.write_bytes(cert_pem)
        key_file.touch(mode=0o600)
        key_file.write_bytes(key_pem)
        context.load_cert_chain(cert_file, key_file)
    return context


def serve_concurrently() -> None:
    """Make moto's ``--ssl`` server use ``tls_context`` (werkzeug looks the adhoc factory up at start)."""
    import werkzeug.serving

    werkzeug.serving.generate_adhoc_ssl_context = tls_context


def die_with_owner(owner: int, interval: float = 0.2) -> threading.Thread:
    """Exit as soon as ``owner`` is no longer this process's parent (it died, even by SIGKILL).

    A watchdog rather than ``prctl(PR_SET_PDEATHSIG)``: that signal fires when the *thread*
    that forked us ends, which would kill an emulator started from a worker thread.
    """
    def watch() -> None:
        while os.getppid() == owner:
            time.sleep(interval)
        os._exit(0)  # nothing to flush: the emulator holds only memory

    thread = threading.Thread(target=watch, name="owner-watchdog", daemon=True)
    thread.start()
    return thread


def main(argv: list[str] | None = None) -> None:
    from moto.server import main as moto_main

    from hainfra.engines.sandbox import emulation

    argv = argv if argv is not None else sys.argv[1:]
    if os.environ.get(OWNER_ENV):
        die_with_owner(int(os.environ[OWNER_ENV]))
    patch_moto()
    emulation.install(argv)
    serve_concurrently()
    moto_main(argv)


if __name__ == "__main__":
    main()

