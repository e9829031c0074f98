"""The ownership decisions (pure): what a lookup found → may the stack create or delete it."""

from __future__ import annotations

from hainfra.engines.sandbox.handlers import Found
from hainfra.engines.sandbox.ownership import Conflict, foreign, may_create


def test_create_never_adopts() -> None:
    assert may_create(None, "a", pending=False)
    assert not may_create(Found("x", {"Stack": "a"}), "a", pending=False), "ours by tag but not in our state"
    assert not may_create(Found("x", {"Stack": "b"}), "a", pending=True), "pending, but another stack's"
    assert not may_create(Found("x", {}), "a", pending=False), "untagged and not ours to take"
    assert may_create(Found("x", {"Stack": "a"}), "a", pending=True), "our own half-made resource"
    assert may_create(Found("x", {}), "a", pending=True), "killed before tagging: our state records it"


def test_settings_of_a_parent_follow_the_parent() -> None:
    assert may_create(Found("bucket", {"Stack": "a"}, part_of="bucket"), "a", pending=False)
    assert not may_create(Found("bucket", {"Stack": "b"}, part_of="bucket"), "a", pending=False)


def test_only_a_stack_tag_makes_a_resource_foreign() -> None:
    assert foreign(Found("x", {"Stack": "b"}), "a")
    assert not foreign(Found("x", {"Stack": "a"}), "a")
    assert not foreign(Found("x", None), "a") and not foreign(Found("x", {"Name": "n"}), "a")


def test_conflict_names_the_owner_and_the_second_state_folder_case() -> None:
    assert "stack 'b'" in Conflict("Bucket", "n", "x", "b").describe("a")
    assert "another state folder" in Conflict("Bucket", "n", "x", "a").describe("a")
    assert "unknown owner" in Conflict("Bucket", "n", "x", "unknown").describe("a")
