"""Provider functions: one table answers the offline plan and the sandbox (hainfra/engines/functions.py)."""

from __future__ import annotations

import pytest

from hainfra.engines import functions
from hainfra.errors import EngineError, UnsupportedResourceError
from hainfra.plan import OfflineRealiser


def test_the_offline_plan_answers_from_the_table_and_never_invents_a_secret() -> None:
    realiser = OfflineRealiser("eu-west-1")
    assert realiser.call(functions.AZS, {"state": "available"})["names"] == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert realiser.call(functions.PASSWORD, {"passwordLength": 32}) == {"randomPassword": functions.OFFLINE_PASSWORD}
    assert realiser.call(functions.PARAMETER, {"name": "/x"})["name"] == "/x"


@pytest.mark.parametrize(("region", "expected"), [("us-east-1", "aws"), ("us-gov-west-1", "aws-us-gov"),
                                                  ("cn-north-1", "aws-cn")])
def test_partition_is_one_pure_answer_for_both_engines(region: str, expected: str) -> None:
    offline = functions.offline_answer(functions.PARTITION, {}, region, ())
    assert offline["partition"] == expected
    assert functions.offline_answer(functions.CALLER, {}, region, ())["arn"].startswith(f"arn:{expected}:iam::")
    live = functions.FUNCTIONS[functions.PARTITION].live(_RegionOnly(region), {})  # no client is asked
    assert live == offline


class _RegionOnly:
    """A Ctx stand-in that fails if the partition lookup ever reaches for a client."""

    def __init__(self, region: str) -> None:
        self.region = region

    def client(self, service: str) -> None:
        raise AssertionError(f"partition needs no {service} client")


def test_an_unknown_function_names_the_one_table_to_extend() -> None:
    token = "aws:index/getRegion:getRegion"
    with pytest.raises(EngineError, match="offline plan cannot answer provider function aws:index/getRegion.*"
                                          "FUNCTIONS in hainfra/engines/functions.py"):
        OfflineRealiser("us-east-1").call(token, {})
    with pytest.raises(UnsupportedResourceError, match="sandbox cannot answer provider function .*FUNCTIONS"):
        functions.live_answer(_RegionOnly("us-east-1"), token, {})  # type: ignore[arg-type]

