"""The scheduler: a trigger during a reconcile runs exactly one more (never lost), one
Application never overlaps itself, and different Applications run in parallel.

The reconcile function blocks on events the test controls; the test waits on events too (in a
worker thread, so the loop keeps running), never on time.
"""

from __future__ import annotations

import asyncio
import threading

from gatewright.gitops.service.scheduler import Scheduler

WAIT = 10.0  # a bound for a broken build, not a synchronization


async def wait(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, WAIT), "the scheduler never got there"


async def test_a_refresh_during_a_reconcile_runs_once_more_and_never_overlaps() -> None:
    first_started, release, second_done = threading.Event(), threading.Event(), threading.Event()
    calls: list[str] = []
    active, most = [0], [0]
    lock = threading.Lock()

    def run(name: str, trigger: str) -> bool:
        with lock:
            calls.append(trigger)
            active[0] += 1
            most[0] = max(most[0], active[0])
        try:
            if len(calls) == 1:
                first_started.set()
                release.wait(WAIT)
            else:
                second_done.set()
        finally:
            with lock:
                active[0] -= 1
        return True

    scheduler = Scheduler(run, lambda: [("platform", 3600)], max_parallel=4)
    scheduler.trigger("platform", "create")
    scheduler.start()
    try:
        await wait(first_started)
        scheduler.trigger("platform", "refresh")  # both arrive mid-reconcile:
        scheduler.trigger("platform", "refresh")  # one more run covers them
        release.set()
        await wait(second_done)
    finally:
        await scheduler.stop()
    assert calls == ["create", "refresh"]
    assert most[0] == 1


async def test_different_applications_reconcile_in_parallel() -> None:
    both = threading.Barrier(2, timeout=WAIT)
    done = threading.Event()
    seen: list[str] = []

    def run(name: str, trigger: str) -> bool:
        both.wait()  # only returns once the other Application's reconcile runs too
        seen.append(name)
        if len(seen) == 2:
            done.set()
        return True

    scheduler = Scheduler(run, lambda: [("a", 3600), ("b", 3600)], max_parallel=2)
    scheduler.start()
    try:
        await wait(done)
    finally:
        await scheduler.stop()
    assert sorted(seen) == ["a", "b"]
