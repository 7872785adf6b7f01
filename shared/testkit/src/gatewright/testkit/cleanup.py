"""Per-test cleanup: register undo actions as you create things; they run LIFO at teardown.

    org = identity.orgs.create(...)
    gw.cleanup.add(f"delete org {org.id}", lambda: identity.orgs.delete(org.id))
    gw.cleanup.release("close the identity client", identity.close)

Every action runs even when an earlier one fails; the failures are collected and raised together
as `CleanupFailed`, which pytest reports as an ERROR of the test (a leak is never silent). With
`--keep-data` the data actions (`add`) do not run and are listed in the run summary instead;
the releases of the test's own resources (`release`: clients, connection pools) still run.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gatewright.testkit.redact import redact_text


@dataclass(frozen=True)
class CleanupError:
    description: str
    error: str


class CleanupFailed(Exception):
    """One or more cleanup actions raised."""

    def __init__(self, errors: list[CleanupError]) -> None:
        self.errors = errors
        lines = [f"{len(errors)} cleanup action(s) failed:"]
        lines += [f"  - {e.description}: {e.error}" for e in errors]
        super().__init__("\n".join(lines))


class Cleanup:
    """The cleanup registry of one test."""

    def __init__(self, *, keep: bool = False) -> None:
        self.keep = keep
        # (description, fn, whether it only releases a resource of the test process)
        self._actions: list[tuple[str, Callable[[], Any], bool]] = []
        self._lock = threading.Lock()
        self.done: list[str] = []
        self.kept: list[str] = []

    def add(self, description: str, fn: Callable[[], Any]) -> None:
        """Register `fn` (sync, or returning an awaitable) to undo what `description` made."""
        with self._lock:
            self._actions.append((description, fn, False))

    def release(self, description: str, fn: Callable[[], Any]) -> None:
        """Register `fn` that frees a resource of this process (a client); runs even with
        `--keep-data`, in the same LIFO order as the data actions."""
        with self._lock:
            self._actions.append((description, fn, True))

    def __len__(self) -> int:
        return len(self._actions)

    def run(self) -> list[CleanupError]:
        """Run every action, last registered first; return the failures (also kept on self)."""
        with self._lock:
            actions, self._actions = self._actions, []
        errors: list[CleanupError] = []
        for description, fn, releases in reversed(actions):
            if self.keep and not releases:
                self.kept.append(description)
                continue
            try:
                result = fn()
                if inspect.isawaitable(result):
                    asyncio.run(_await(result))
            except Exception as exc:
                summary = "".join(traceback.format_exception_only(exc)).strip()
                errors.append(CleanupError(description, redact_text(summary)))
            else:
                self.done.append(description)
        return errors

    def run_or_raise(self) -> None:
        """`run()`, raising `CleanupFailed` if anything failed."""
        errors = self.run()
        if errors:
            raise CleanupFailed(errors)


async def _await(awaitable: Any) -> Any:
    return await awaitable
