"""The destroy graph and its walker, without an emulator (issue 17, item 4)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from hainfra.engines.changes import delete_blockers
from hainfra.engines.sandbox.teardown import walk


def entry(urn: str, order: int, deps: tuple[str, ...] = (), parent: str = "") -> dict[str, Any]:
    return {"urn": urn, "order": order, "dependencies": list(deps), "parent": parent}


def test_blockers_are_the_dependants_by_recorded_dependencies_not_creation_order() -> None:
    # "alb" was created first, then updated to use "subnet-c", created by a later up.
    entries = [entry("vpc", 1), entry("alb", 2, ("vpc", "subnet-c")), entry("subnet-c", 3, ("vpc",)),
               entry("kept-elsewhere", 4, ("vpc",))]
    blockers = delete_blockers(entries[:3])
    assert blockers == {"vpc": {"alb", "subnet-c"}, "alb": set(), "subnet-c": {"alb"}}


def test_a_parent_resource_waits_for_its_children() -> None:
    assert delete_blockers([entry("bucket", 1), entry("setting", 2, parent="bucket")])["bucket"] == {"setting"}


def test_the_old_copy_of_a_replacement_waits_for_whatever_uses_its_urn() -> None:
    """A killed create-before-delete replacement: the dependant may still point at the old copy."""
    entries = [entry("sg#replaced-3", 3), entry("sg", 9), entry("instance", 5, ("sg",))]
    blockers = delete_blockers(entries)
    assert blockers["sg#replaced-3"] == {"instance"} and blockers["sg"] == {"instance"}


class Trace:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.start: dict[str, float] = {}
        self.end: dict[str, float] = {}
        self.running = self.most = 0

    def work(self, fail: frozenset[str] = frozenset(), seconds: float = 0.02) -> Callable[[str], None]:
        def run(node: str) -> None:
            with self.lock:
                self.start[node] = time.monotonic()
                self.running += 1
                self.most = max(self.most, self.running)
            time.sleep(seconds)
            with self.lock:
                self.running -= 1
                self.end[node] = time.monotonic()
            if node in fail:
                raise RuntimeError(f"{node} refused")

        return run


def test_walk_runs_each_node_after_its_blockers_with_bounded_concurrency() -> None:
    # a wide fan: 12 leaves, then their parent, then the root
    blockers = {f"leaf{i}": set() for i in range(12)} | {"mid": {f"leaf{i}" for i in range(12)}, "root": {"mid"}}
    trace = Trace()
    assert walk(blockers, trace.work(), parallel=4, rank=str) == {}
    assert set(trace.end) == set(blockers)
    assert all(trace.start[n] >= trace.end[b] for n, before in blockers.items() for b in before)
    assert trace.most == 4, "the leaves overlap, never more than the pool"


def test_walk_with_one_worker_follows_the_rank() -> None:
    order: list[str] = []
    blockers = {"a": set(), "b": set(), "c": {"a"}, "d": set()}
    walk(blockers, order.append, parallel=1, rank=lambda n: {"a": 2, "b": 0, "c": 1, "d": 3}[n])
    assert order == ["b", "a", "c", "d"]


def test_a_failure_holds_back_what_waits_for_it_and_the_rest_still_runs() -> None:
    blockers = {"subnet": set(), "vpc": {"subnet", "sg"}, "sg": set(), "key": {"bucket"}, "bucket": set(),
                "after-vpc": {"vpc"}}
    trace = Trace()
    failed = walk(blockers, trace.work(fail=frozenset({"subnet"})), parallel=3, rank=str)
    assert list(failed) == ["subnet"] and "subnet refused" in str(failed["subnet"])
    assert set(trace.end) == {"subnet", "sg", "bucket", "key"}, "vpc and what waits for it never ran"


def test_a_cycle_is_broken_at_the_best_ranked_node_but_never_across_a_failure() -> None:
    order: list[str] = []
    assert walk({"a": {"b"}, "b": {"a"}, "c": {"a"}}, order.append, parallel=2, rank=str) == {}
    assert order[0] == "a" and sorted(order) == ["a", "b", "c"]

    trace = Trace()
    failed = walk({"x": set(), "a": {"b", "x"}, "b": {"a"}}, trace.work(fail=frozenset({"x"})), parallel=2, rank=str)
    assert list(failed) == ["x"] and set(trace.end) == {"x"}, "a and b wait (directly or not) for the failure"


@pytest.mark.parametrize("parallel", [1, 8])
def test_unknown_blockers_are_ignored(parallel: int) -> None:
    order: list[str] = []
    assert walk({"a": {"not-in-this-change"}}, order.append, parallel=parallel, rank=str) == {}
    assert order == ["a"]
