"""The shared AWS helpers, the verify detail they feed, and errors that replaced asserts."""

from __future__ import annotations

import pytest

from hainfra import aws
from hainfra.engines.runtime import Registration
from hainfra.errors import EngineError, UnsupportedResourceError


def test_ctx_uses_the_one_emulator_credential_only_with_an_endpoint() -> None:
    emulated = aws.Ctx.from_kwargs({"region_name": "eu-west-1", "endpoint_url": "https://127.0.0.1:1"})
    assert emulated.region == "eu-west-1" and emulated.endpoint_url == "https://127.0.0.1:1"
    assert emulated._session.get_credentials().access_key == aws.EMULATOR_CREDENTIALS["aws_access_key_id"]
    assert aws.Ctx.from_kwargs({"region_name": "us-east-1"}).endpoint_url is None


def test_aws_shape_helpers() -> None:
    assert aws.tags_of([{"Key": "Stack", "Value": "s1"}]) == {"Stack": "s1"} and aws.tags_of(None) == {}
    assert aws.policy_doc('{"Statement": []}') == {"Statement": []} and aws.policy_doc({"a": 1}) == {"a": 1}
    assert aws.policy_doc("not json") == {} and aws.policy_doc(None) == {}
    assert aws.as_list("s3:*") == ["s3:*"] and aws.as_list(["a", "b"]) == ["a", "b"] and aws.as_list(None) == []


def test_instance_access_detail_names_attached_policies_even_when_secrets_are_readable() -> None:
    from hainfra.verify.security import access_found

    attached = [{"PolicyName": "AdministratorAccess", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}]
    found = access_found({"arn:secret"}, attached)
    assert found == "arn:secret; attached policies ['AdministratorAccess']"  # `+` bound before `or`: lost it
    assert access_found(set(), attached) == "none; attached policies ['AdministratorAccess']"
    assert access_found({"b", "a"}, []) == "a, b"


def test_a_handler_listing_updatable_keys_without_update_is_an_error_not_an_assert() -> None:
    from hainfra.engines.changes import Diff
    from hainfra.engines.sandbox.engine import _Realiser
    from hainfra.engines.sandbox.handlers import Handler

    handler = Handler(lambda ctx, p: ("id", {}), lambda ctx, rid, p: None, updatable=frozenset({"size"}))
    reg = Registration(urn="urn:z", type="aws:x/y:Z", name="z", parent="", custom=True, inputs={"size": 2})
    realiser = _Realiser(None, None, None, apply=True)  # type: ignore[arg-type]
    with pytest.raises(UnsupportedResourceError, match="aws:x/y:Z lists updatable keys but has no update"):
        realiser._change(handler, reg, {"id": "id", "inputs": {"size": 1}, "outputs": {}}, {"size": 2}, {"size": 2},
                         Diff("update", ("size",), ("size",)))


def test_undocumented_stack_output_is_an_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from hainfra import stack
    from hainfra.config import StackConfig
    from hainfra.plan import evaluate_offline

    monkeypatch.setattr(stack, "OUTPUTS", {k: v for k, v in stack.OUTPUTS.items() if k != "vpc_id"})
    with pytest.raises(EngineError, match=r"undocumented \['vpc_id'\]"):
        evaluate_offline(StackConfig.load({"stack": "outputs-check"}))
