"""Entry point of the sandbox emulator: moto's server, with S3 bucket-policy conditions honoured.

moto 5.2 evaluates bucket policies without request context, skips condition operators
other than StringEquals, and treats a statement whose conditions fail as an explicit
deny — so the stack's TLS-only policy (Deny when aws:SecureTransport is false) would
deny every request. The emulator serves
TLS only, so every request has aws:SecureTransport=true; with that context and the IAM
rule that a statement whose conditions do not hold does not apply, the policy behaves
as on AWS. What moto lacks and a check or drill needs (the instance agent, Auto Scaling
replacement and AZ balance, a verifiable TLS certificate) is installed by
``hainfra.engines.sandbox.emulation`` and documented there as emulation.
"""

from __future__ import annotations

import sys
from typing import Any


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


def main(argv: list[str] | None = None) -> None:
    from moto.server import main as moto_main

    from hainfra.engines.sandbox import emulation

    patch_moto()
    moto_main(emulation.install(argv if argv is not None else sys.argv[1:]))


if __name__ == "__main__":
    main()
