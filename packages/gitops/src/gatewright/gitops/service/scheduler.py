"""The trigger loop: when each Application reconciles, and the promise that no trigger is lost.

One asyncio task owns the schedule. Each Application has a slot: `running` (a reconcile is in
flight), `wanted` (a trigger arrived: create, update, refresh) and its timed triggers (below).
The loop wakes on a trigger or at the next timed one, starts every slot that is due and not
running, and runs it in a worker thread (`run_in_threadpool`), bounded by `max_parallel` across
Applications. A trigger for a slot that is running sets `wanted` again, so when the reconcile
ends the slot runs once more: a refresh that arrives mid-reconcile is handled by the next one,
never dropped (argo-cd#28306), and reconciles of one Application never overlap.

`trigger` may be called from any thread: the routes that call it (create, update, refresh) are
plain `def` routes, which FastAPI runs in its thread pool. Off the loop it hands the trigger to
the loop with `call_soon_threadsafe`: an `asyncio.Event` set from another thread does not wake
a loop waiting in its selector, so the trigger would wait for the next idle wake-up.

The refresh token itself lives in the database (`store.request_refresh`); the reconcile reads the
newest one when it starts and records it as handled when it ends.

Timed triggers (decision 14), planned per slot by `Slot.due` / `Slot.finished` on the monotonic
clock:

- `poll` every `poll_interval_seconds`: fetch, then reconcile.
- `drift-check` every `drift_check_interval_seconds` (when set and shorter than the poll):
  compare live state with the last fetched revision, no git traffic, so drift shows within that
  interval. None while git cannot be read: nothing is compared (or applied) against a revision
  that may be stale.
- `retry` after a failed fetch, when the reconcile said (`Outcome.retry_in`, the backoff
  `backoff_seconds` computes and the status shows); a trigger still runs at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from starlette.concurrency import run_in_threadpool

log = logging.getLogger("gatewright.gitops.scheduler")
IDLE_WAKE_SECONDS = 5.0  # re-read the Applications this often even with nothing due
FIRST_RETRY_SECONDS = 1.0
POLL, DRIFT_CHECK, RETRY = "poll", "drift-check", "retry"


def backoff_seconds(attempts: int, cap: float) -> float:
    """The wait after `attempts` failed fetches in a row: 1 s, 2 s, 4 s, ... capped at `cap`."""
    return min(cap, FIRST_RETRY_SECONDS * 2.0 ** max(0, attempts - 1))


class Timing(NamedTuple):
    """What the scheduler needs of one Application."""

    name: str
    poll_interval_seconds: int
    drift_check_interval_seconds: int | None = None


@dataclass(frozen=True)
class Outcome:
    """What one run tells the scheduler: `exists` (False: deleted meanwhile) and `retry_in`
    (git could not be read: fetch again this many seconds from now, not at the next poll)."""

    exists: bool = True
    retry_in: float | None = None


@dataclass
class Slot:
    running: bool = False
    wanted: str | None = None  # the trigger to run with, None when nothing is pending
    next_poll: float = 0.0  # the next fetch: a poll, or a retry while `retrying`
    next_drift: float | None = None  # the next drift check; None: none planned
    retrying: bool = False

    def due(self, now: float, timing: Timing) -> str | None:
        """The trigger to run now, if any."""
        if self.wanted is not None:
            return self.wanted
        if now >= self.next_poll:
            return RETRY if self.retrying else POLL
        if self.next_drift is not None and now >= self.next_drift:
            return DRIFT_CHECK
        return None

    def wake_at(self) -> float:
        return min(self.next_poll, self.next_drift if self.next_drift is not None else math.inf)

    def finished(self, now: float, timing: Timing, trigger: str, outcome: Outcome) -> None:
        """Plan the next fetch and drift check after a run of `trigger` ended at `now`."""
        drift = timing.drift_check_interval_seconds
        if outcome.retry_in is not None:
            self.retrying = True
            self.next_poll = now + outcome.retry_in
            self.next_drift = None
            return
        if trigger != DRIFT_CHECK:  # a fetch happened: the poll interval restarts from here
            self.next_poll = now + timing.poll_interval_seconds
        self.retrying = False
        if drift is not None and drift < timing.poll_interval_seconds:
            self.next_drift = now + drift
        else:
            self.next_drift = None


def _running_on(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether this thread is running `loop`."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


class Scheduler:
    """`run(name, trigger) -> Outcome | bool` reconciles one Application (False: it no longer
    exists); `schedule()` lists the `Timing` of every Application."""

    def __init__(
        self,
        run: Callable[[str, str], Outcome | bool],
        schedule: Callable[[], Sequence[Timing]],
        *,
        max_parallel: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._run = run
        self._schedule = schedule
        self._monotonic = monotonic
        self._slots: dict[str, Slot] = {}
        self._wake = asyncio.Event()
        self._limit = asyncio.Semaphore(max_parallel)
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False

    def trigger(self, name: str, reason: str) -> None:
        """Reconcile `name` as soon as possible (once more if one is running now). Safe from
        any thread (see the module docstring)."""
        loop = self._event_loop
        if loop is not None and not _running_on(loop):
            loop.call_soon_threadsafe(self._trigger, name, reason)
        else:
            self._trigger(name, reason)

    def _trigger(self, name: str, reason: str) -> None:
        self._slots.setdefault(name, Slot()).wanted = reason
        self._wake.set()

    def forget(self, name: str) -> None:
        slot = self._slots.get(name)
        if slot is not None and not slot.running:
            del self._slots[name]

    def start(self) -> None:
        self._event_loop = asyncio.get_running_loop()
        self._loop_task = asyncio.create_task(self._loop(), name="gitops-scheduler")

    async def stop(self) -> None:
        # The flag ends the loop even if a cancellation races a wake-up and is lost.
        self._stopping = True
        self._wake.set()
        tasks = [t for t in (self._loop_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while not self._stopping:
            # Cleared before reading, so a trigger that arrives from here on wakes the wait below.
            self._wake.clear()
            try:
                apps = await run_in_threadpool(self._schedule)
            except Exception:
                log.exception("cannot list Applications; trying again")
                apps = []
            now = self._monotonic()
            names = {t.name for t in apps}
            for name in list(self._slots):
                if name not in names and not self._slots[name].running:
                    del self._slots[name]  # deleted
            next_wake = now + IDLE_WAKE_SECONDS
            for timing in apps:
                slot = self._slots.setdefault(timing.name, Slot(wanted=POLL))
                if slot.running:
                    continue
                trigger = slot.due(now, timing)
                if trigger is not None and not self._stopping:
                    slot.wanted = trigger
                    slot.running = True
                    task = asyncio.create_task(self._reconcile(timing, slot))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                else:
                    next_wake = min(next_wake, slot.wake_at())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, next_wake - now)):
                    await self._wake.wait()

    async def _reconcile(self, timing: Timing, slot: Slot) -> None:
        name, trigger, outcome = timing.name, POLL, Outcome()
        try:
            async with self._limit:
                while slot.wanted is not None:
                    trigger, slot.wanted = slot.wanted, None
                    try:
                        result = await run_in_threadpool(self._run, name, trigger)
                    except Exception:
                        log.exception("reconcile of %s failed unexpectedly", name)
                        result = Outcome()
                    outcome = Outcome(exists=result) if isinstance(result, bool) else result
                    if not outcome.exists:
                        slot.wanted = None
                        break
        finally:
            slot.running = False
            slot.finished(self._monotonic(), timing, trigger, outcome)
            self._wake.set()
