"""Entry point of the sandbox emulator: moto's server, with S3 bucket-policy conditions honoured.

moto 5.2 evaluates bucket policies without request context, skips condition operators
other than StringEquals, and treats a statement whose conditions fail as an explicit
deny — so the stack's TLS-only policy (Deny when aws:SecureTransport is false) would
deny every request. The emulator serves
TLS only, so every request has aws:SecureTransport=true; with that context and the IAM
rule that a statement whose conditions do not hold does not apply, the policy behaves
as on AWS. What moto lacks and a check or drill needs (the instance agent, Auto Scaling
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
