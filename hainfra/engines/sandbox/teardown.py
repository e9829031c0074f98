"""Run deletes along the dependency graph, a few at a time, each one as soon as nothing needs it.

``destroy`` used to delete one resource after another in reverse creation order: slow (every
call waits for the one before), and wrong once an in-place update made an old resource depend on
a newer one. :func:`walk` runs any set of tasks whose order is given as *blockers* (the tasks that
must finish first, see :func:`hainfra.engines.changes.delete_blockers`):

- at most ``parallel`` run at once, on a small thread pool (boto3 clients are thread-safe; the
  sandbox shares one per service through ``Ctx``); among the ready ones the best ``rank`` goes first;
- a task that fails never releases what waits for it, so a failed delete keeps everything it
  depends on; independent tasks still run, and every failure is returned;
- nothing is submitted ahead of a free worker: an interrupt (Ctrl-C) stops the walk after the
  tasks in flight, which finish and record themselves.

Pure scheduling: the tasks do the work and the recording.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

log = logging.getLogger(__name__)


def walk(blockers: Mapping[str, set[str]], work: Callable[[str], None], *, parallel: int,
         rank: Callable[[str], Any]) -> dict[str, BaseException]:
    """Call ``work(node)`` for every node once all of its blockers succeeded.

    Args:
        blockers: node -> the nodes that must finish first (unknown names are ignored).
        work: does one node; an exception marks it failed.
        parallel: the most nodes in flight at once.
        rank: sort key among ready nodes (smallest first).

    Returns:
        Each failed node and its exception; nodes held back by a failure are neither run nor listed.
    """
    waiting = {node: {b for b in before if b in blockers and b != node} for node, before in blockers.items()}
    failed: dict[str, BaseException] = {}
    running: dict[Future[None], str] = {}
    with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="hainfra-walk") as pool:
        while waiting or running:
            ready = sorted((n for n, before in waiting.items() if not before), key=rank)
            if not ready and not running:
                ready = _break_cycle(waiting, failed, rank)
                if not ready:
                    break  # everything left waits for a failed node
            for node in ready[:max(1, parallel) - len(running)]:
                del waiting[node]
                running[pool.submit(work, node)] = node
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                node = running.pop(future)
                error = future.exception()
                if error is not None:
                    failed[node] = error
                    continue
                for before in waiting.values():
                    before.discard(node)
    return failed


def _break_cycle(waiting: dict[str, set[str]], failed: Mapping[str, BaseException],
                 rank: Callable[[str], Any]) -> list[str]:
    """Nodes stuck on each other only (state written by different runs can disagree): free the best ranked.

    Nodes that wait, directly or not, for a failed node stay stuck: that is the failure's guarantee.
    """
    doomed = set(failed)
    grew = True
    while grew:
        grew = False
        for node, before in waiting.items():
            if node not in doomed and before & doomed:
                doomed.add(node)
                grew = True
    stuck = sorted((n for n in waiting if n not in doomed), key=rank)
    if not stuck:
        return []
    log.warning("dependency cycle among %s: deleting %s first (newest)", sorted(stuck), stuck[0])
    waiting[stuck[0]].clear()
    return [stuck[0]]
