"""Run Prowler under its own interpreter with the two shims an AWS emulator needs (nothing on disk changes).

``python launcher.py <prowler arguments>`` with Prowler's interpreter. This file imports nothing from
hainfra (Prowler's virtualenv does not have it) and patches botocore in memory before Prowler
imports it, only when ``HAINFRA_SCAN_EMULATOR`` is set — against real AWS it is plain Prowler:

- TLS: the sandbox emulator serves a certificate made when it starts (held in memory, loopback only),
  so no CA bundle can vouch for it: every client skips verification.
- s3control: botocore prefixes the host with ``<account-id>.`` for S3 Control calls
  (``123456789012.127.0.0.1``), which does not resolve; the prefix is not injected.

boto3's ``AWS_ENDPOINT_URL`` (set by the caller) points every client at the emulator.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Callable
from typing import Any

EMULATOR_FLAG = "HAINFRA_SCAN_EMULATOR"
ACCOUNT_PREFIX = re.compile(r"^(https?://)\d{12}\.")


def skip_tls_verification(kwargs: dict[str, Any]) -> None:
    """The emulator's certificate is made at its start and held in memory: nothing can vouch for it."""
    kwargs["verify"] = False


def strip_account_prefix(client: Any) -> None:
    """S3 Control's endpoint rules put ``<account-id>.`` before the endpoint host; the emulator has no such name."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    host = endpoint.split("://", 1)[-1]

    def strip(request: Any, **_: Any) -> None:
        url = str(request.url)
        if host and ACCOUNT_PREFIX.match(url) and url.split(".", 1)[1].startswith(host):
            request.url = ACCOUNT_PREFIX.sub(r"\1", url)

    client.meta.events.register_first("before-sign", strip)


def patch_botocore(before: tuple[Callable[[dict[str, Any]], None], ...] = (skip_tls_verification,),
                   after: tuple[Callable[[Any], None], ...] = (strip_account_prefix,)) -> None:
    """Every botocore client is made with ``before`` applied to its arguments, then ``after`` applied to it."""
    import botocore.session

    original = botocore.session.Session.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        for shim in before:
            shim(kwargs)
        client = original(self, *args, **kwargs)
        for shim_ in after:
            shim_(client)
        return client

    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
    warnings.filterwarnings("ignore", message="Unverified HTTPS request")


def main(argv: list[str]) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or ".") == here:  # hainfra's modules must not shadow Prowler's
        sys.path.pop(0)
    if os.environ.get(EMULATOR_FLAG):
        patch_botocore()
    from prowler.__main__ import prowler  # Prowler's console-script entry point

    sys.argv = ["prowler", *argv]
    try:
        prowler()
    except SystemExit as exc:  # Prowler ends with sys.exit(code)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
