"""The trigger loop: when each Application reconciles, and the promise that no trigger is lost.

One asyncio task owns the schedule. Each Application has a slot: `running` (a reconcile is in
flight), `wanted` (a trigger arrived: create, update, refresh) and `next_due` (its poll). The
loop wakes on a trigger or at the next poll, starts every slot that is due and not running, and
runs it in a worker thread (`run_in_threadpool`), bounded by `max_parallel` across
Applications. A trigger for a slot that is running sets `wanted` again, so when the reconcile
ends the slot runs once more: a refresh that arrives mid-reconcile is handled by the next one,
never dropped (argo-cd#28306), and reconciles of one Application never overlap.

The refresh token itself lives in the database (`store.request_refresh`); the reconcile reads the
newest one when it starts and records it as handled when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

log = logging.getLogger("gatewright.gitops.scheduler")
IDLE_WAKE_SECONDS = 5.0  # re-read the Applications this often even with nothing due


@dataclass
class _Slot:
    running: bool = False
    wanted: str | None = None  # the trigger to run with, None when nothing is pending
    next_due: float = 0.0


class Scheduler:
    """`run(name, trigger) -> bool` reconciles one Application (False: it no longer exists);
    `schedule()` lists `(name, poll_interval_seconds)` of every Application."""

    def __init__(
        self,
        run: Callable[[str, str], bool],
        schedule: Callable[[], list[tuple[str, int]]],
        *,
        max_parallel: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._run = run
        self._schedule = schedule
        self._monotonic = monotonic
        self._slots: dict[str, _Slot] = {}
        self._wake = asyncio.Event()
        self._limit = asyncio.Semaphore(max_parallel)
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False

    def trigger(self, name: str, reason: str) -> None:
        """Reconcile `name` as soon as possible (once more if one is running now)."""
        self._slots.setdefault(name, _Slot()).wanted = reason
        self._wake.set()

    def forget(self, name: str) -> None:
        slot = self._slots.get(name)
        if slot is not None and not slot.running:
            del self._slots[name]

    def start(self) -> None:
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
            intervals = dict(apps)
            for name in list(self._slots):
                if name not in intervals and not self._slots[name].running:
                    del self._slots[name]  # deleted
            next_wake = now + IDLE_WAKE_SECONDS
            for name, interval in apps:
                slot = self._slots.setdefault(name, _Slot(wanted="poll"))
                if slot.running:
                    continue
                if slot.wanted is None and now >= slot.next_due:
                    slot.wanted = "poll"
                if slot.wanted is not None and not self._stopping:
                    slot.running = True
                    task = asyncio.create_task(self._reconcile(name, slot, interval))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                else:
                    next_wake = min(next_wake, slot.next_due)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, next_wake - now)):
                    await self._wake.wait()

    async def _reconcile(self, name: str, slot: _Slot, interval: int) -> None:
        try:
            async with self._limit:
                while slot.wanted is not None:
                    trigger, slot.wanted = slot.wanted, None
                    try:
                        exists = await run_in_threadpool(self._run, name, trigger)
                    except Exception:
                        log.exception("reconcile of %s failed unexpectedly", name)
                        exists = True
                    if not exists:
                        slot.wanted = None
                        break
        finally:
            slot.running = False
            slot.next_due = self._monotonic() + interval
            self._wake.set()
