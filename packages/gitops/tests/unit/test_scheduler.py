"""The scheduler: a trigger during a reconcile runs exactly one more (never lost), one
Application never overlaps itself, different Applications run in parallel, and the timed
triggers (poll, drift check, retry with backoff) come when they are due.

The reconcile function blocks on events the test controls; the test waits on events too (in a
worker thread, so the loop keeps running), never on time. Timed triggers run on a fake
monotonic clock: the plan (`Slot`) is checked at given instants, and the loop itself against a
clock that moves on every reading, so nothing ever waits for real time to pass.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from gatewright.gitops.service import scheduler as scheduler_module
from gatewright.gitops.service.scheduler import (
    DRIFT_CHECK,
    POLL,
    RETRY,
    Outcome,
    Scheduler,
    Slot,
    Timing,
    backoff_seconds,
)

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

    scheduler = Scheduler(run, lambda: [Timing("platform", 3600)], max_parallel=4)
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


async def test_a_trigger_from_a_route_thread_is_handed_to_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The refresh and webhook routes run in FastAPI's thread pool. An asyncio.Event set from
    # such a thread does not wake a loop asleep in its selector (here for an hour: nothing is
    # due), so the trigger must be applied on the loop's own thread, which wakes it.
    monkeypatch.setattr(scheduler_module, "IDLE_WAKE_SECONDS", 3600.0)
    polled, refreshed = threading.Event(), threading.Event()

    def run(name: str, trigger: str) -> bool:
        (refreshed if trigger == "refresh" else polled).set()
        return True

    scheduler = Scheduler(run, lambda: [Timing("platform", 3600)], max_parallel=4)
    applied_on: list[int] = []
    apply = scheduler._trigger

    def spy(name: str, reason: str) -> None:
        applied_on.append(threading.get_ident())
        apply(name, reason)

    monkeypatch.setattr(scheduler, "_trigger", spy)
    scheduler.start()
    try:
        await wait(polled)  # the first poll of a new Application; then nothing is due

        def route() -> bool:  # a route, in a worker thread
            scheduler.trigger("platform", "refresh")
            return refreshed.wait(WAIT)

        assert await asyncio.to_thread(route), "the trigger never reached the loop"
        assert applied_on == [threading.get_ident()]  # this test runs on the loop's thread
    finally:
        await scheduler.stop()


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

    scheduler = Scheduler(run, lambda: [Timing("a", 3600), Timing("b", 3600)], max_parallel=2)
    scheduler.start()
    try:
        await wait(done)
    finally:
        await scheduler.stop()
    assert sorted(seen) == ["a", "b"]


# -- timed triggers ----------------------------------------------------------------------------
def test_the_drift_check_comes_between_polls_and_the_poll_stays_on_its_interval() -> None:
    timing = Timing("platform", poll_interval_seconds=60, drift_check_interval_seconds=10)
    slot = Slot()
    slot.finished(0.0, timing, "create", Outcome())  # the create fetched
    assert slot.due(9.9, timing) is None
    assert slot.due(10.0, timing) == DRIFT_CHECK
    slot.finished(10.5, timing, DRIFT_CHECK, Outcome())
    assert slot.due(20.4, timing) is None
    assert slot.due(20.5, timing) == DRIFT_CHECK
    slot.finished(50.5, timing, DRIFT_CHECK, Outcome())
    assert slot.due(59.9, timing) is None  # a drift check never moves the poll
    assert slot.due(60.0, timing) == POLL
    slot.wanted = "refresh"
    assert slot.due(0.0, timing) == "refresh"  # a trigger runs at once, whatever is planned


def test_without_a_shorter_drift_interval_only_the_poll_comes() -> None:
    for drift in (None, 60, 600):
        timing = Timing("platform", poll_interval_seconds=60, drift_check_interval_seconds=drift)
        slot = Slot()
        slot.finished(0.0, timing, POLL, Outcome())
        assert slot.due(59.9, timing) is None
        assert slot.wake_at() == 60.0
        assert slot.due(60.0, timing) == POLL


def test_backoff_doubles_from_one_second_and_stops_at_the_poll_interval() -> None:
    assert [backoff_seconds(n, 60.0) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff_seconds(1, 0.5) == 0.5  # never later than a poll would be


def test_a_failed_fetch_is_retried_on_its_backoff_and_a_success_restores_the_plan() -> None:
    timing = Timing("platform", poll_interval_seconds=60, drift_check_interval_seconds=10)
    slot = Slot()
    slot.finished(100.0, timing, POLL, Outcome(retry_in=backoff_seconds(1, 60)))
    assert slot.due(100.9, timing) is None
    assert slot.due(101.0, timing) == RETRY
    assert slot.next_drift is None  # nothing is compared against a revision that may be stale
    slot.finished(101.0, timing, RETRY, Outcome(retry_in=backoff_seconds(2, 60)))
    assert slot.due(102.9, timing) is None
    assert slot.due(103.0, timing) == RETRY
    slot.wanted = "refresh"
    assert slot.due(101.5, timing) == "refresh"  # a refresh does not wait for the backoff
    slot.wanted = None
    slot.finished(103.0, timing, RETRY, Outcome())  # git is back
    assert slot.due(112.9, timing) is None
    assert slot.due(113.0, timing) == DRIFT_CHECK
    assert slot.due(163.0, timing) == POLL


class SteppingClock:
    """A monotonic clock that moves `step` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        now = self.now
        self.now += self.step
        return now


async def test_the_loop_runs_polls_drift_checks_and_retries_as_they_fall_due() -> None:
    done = threading.Event()
    seen: list[str] = []
    # The first poll fails to fetch, the retry succeeds; drift checks follow between polls.
    outcomes = iter([Outcome(retry_in=1.0)])

    def run(name: str, trigger: str) -> Outcome:
        seen.append(trigger)
        if len(seen) == 7:
            done.set()
        return next(outcomes, Outcome())

    # Every read of the clock is 10 s later: the loop and each run's end read it in turn.
    timing = Timing("platform", poll_interval_seconds=60, drift_check_interval_seconds=10)
    scheduler = Scheduler(run, lambda: [timing], max_parallel=1, monotonic=SteppingClock(10))
    scheduler.start()
    try:
        await wait(done)
    finally:
        await scheduler.stop()
    # Starts at t (loop's reading), ends at t+10 (the run's end): poll at 0 fails (retry due
    # 11) · retry at 20 fetches (poll due 90, drift check 40) · drift checks at 40, 60, 80 ·
    # poll at 100 · drift check at 120.
    assert seen[:7] == [POLL, RETRY, DRIFT_CHECK, DRIFT_CHECK, DRIFT_CHECK, POLL, DRIFT_CHECK]
