"""The secret's rotation and resource policy (issue 19), read live."""

from __future__ import annotations

import json
from collections.abc import Iterator

from hainfra import documents, lambdas, naming
from hainfra.verify.base import Row, VerifyContext, check, check_row


@check("secrets.rotation")
def rotation(v: VerifyContext) -> Iterator[Row]:
    """Rotation on, every ``secret_rotation_days``, by hainfra's function with hainfra's code."""
    meta = v.client("secretsmanager").describe_secret(SecretId=v.outputs["secret_arn"])
    days = (meta.get("RotationRules") or {}).get("AutomaticallyAfterDays")
    yield check_row(meta["Name"], bool(meta.get("RotationEnabled")) and days == v.config.secret_rotation_days,
                    f"rotation enabled, every {v.config.secret_rotation_days} d",
                    f"enabled={bool(meta.get('RotationEnabled'))}, every {days} d", "run `hainfra up`")
    fn_name = naming.name(v.config, naming.ROTATION_FUNCTION_KIND)
    fn = v.client("lambda").get_function(FunctionName=fn_name)["Configuration"]
    yield check_row(f"{meta['Name']} function", meta.get("RotationLambdaARN") == fn["FunctionArn"],
                    fn["FunctionArn"], meta.get("RotationLambdaARN") or "none", "run `hainfra up`")
    expected = lambdas.code_hash(lambdas.package(lambdas.ROTATE_SECRET))
    yield check_row(fn_name, fn.get("CodeSha256") == expected, f"hainfra's rotation code ({expected})",
                    fn.get("CodeSha256", "none"), "run `hainfra up` (the function's code was changed outside hainfra)")
    policy = json.loads(v.client("lambda").get_policy(FunctionName=fn_name)["Policy"])
    invokers = [st for st in policy.get("Statement", [])
                if (st.get("Principal") or {}).get("Service") == "secretsmanager.amazonaws.com"]
    scoped = bool(invokers) and all(
        st.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn") == v.outputs["secret_arn"] and
        st.get("Condition", {}).get("StringEquals", {}).get("AWS:SourceAccount") == v.aws.account_id
        for st in invokers)
    yield check_row(f"{fn_name} permission", scoped, "only Secrets Manager, for this secret and account",
                    json.dumps([st.get("Condition") for st in invokers]), "run `hainfra up`")


@check("secrets.resource-policy")
def resource_policy(v: VerifyContext) -> Iterator[Row]:
    """Everyone but the instance role, the rotation function and the administrators is denied the secret."""
    sm = v.client("secretsmanager")
    doc = json.loads(sm.get_resource_policy(SecretId=v.outputs["secret_arn"]).get("ResourcePolicy") or "{}")
    exempt = documents.secret_exempt(doc)
    name = f"{naming.secret_name(v.config)} policy"
    yield check_row(name, exempt is not None, "Deny secretsmanager:* to every principal not named",
                    "present" if exempt is not None else "no deny-all-but statement", "run `hainfra up`")
    if exempt is None:
        return
    needed = {v.outputs["instance_role_arn"], *v.config.secret_admin_arns}
    missing = sorted(needed - set(exempt))
    yield check_row(f"{name}: exempt", not missing and len(exempt) <= len(needed) + 2,
                    "the instance role, the rotation role, the deployer and secret_admin_arns only",
                    ", ".join(sorted(exempt)) + (f"; missing {missing}" if missing else ""), "run `hainfra up`")
