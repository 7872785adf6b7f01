"""Given / When / Then steps: a `Flow` records each step with its timings and outcome.

    with gw.flow.given("an org owned by the admin"):
        org = identity.orgs.create(name=gw.names.name("org"))
    with gw.flow.when("the admin invites a member"):
        ...
    with gw.flow.then("the member can log in"):
        ...

Steps nest; exchanges recorded while a step is active belong to the innermost one. A step whose
body raises is kept with its exception: `failed` for an assertion (including `eventually`
timeouts), `error` for anything else, `skipped` for `pytest.skip`/`xfail`.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from gatewright.testkit.redact import redact_text

StepStatus = Literal["running", "passed", "failed", "error", "skipped"]
Keyword = Literal["Given", "When", "Then", "And"]


@dataclass
class Step:
    """One Given/When/Then step."""

    index: int
    keyword: str
    text: str
    depth: int = 0
    parent: int | None = None
    started_at: str = ""
    ended_at: str = ""
    elapsed_ms: float | None = None
    status: StepStatus = "running"
    error: str | None = None
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    @property
    def label(self) -> str:
        return f"{self.keyword} {self.text}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, redacted."""
        return {
            "index": self.index,
            "keyword": self.keyword,
            "text": redact_text(self.text),
            "depth": self.depth,
            "parent": self.parent,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "elapsed_ms": self.elapsed_ms,
            "status": self.status,
            "error": redact_text(self.error) if self.error else None,
        }


def _classify(exc: BaseException) -> StepStatus:
    # pytest's skip/xfail/fail outcomes are BaseExceptions from _pytest.outcomes.
    name = type(exc).__name__
    if name in {"Skipped", "XFailed"}:
        return "skipped"
    if isinstance(exc, AssertionError) or name == "Failed":
        return "failed"
    return "error"


def is_failure(exc: BaseException) -> bool:
    """Whether an exception fails a step (not a skip or xfail)."""
    return _classify(exc) != "skipped"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Flow:
    """The steps of one test, in order."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.steps: list[Step] = []
        self._clock = clock
        self._stack = threading.local()
        self._lock = threading.Lock()

    def _active(self) -> list[Step]:
        stack: list[Step] | None = getattr(self._stack, "steps", None)
        if stack is None:
            stack = []
            self._stack.steps = stack
        return stack

    @property
    def current(self) -> Step | None:
        """The innermost running step in this thread, or None outside any step."""
        stack = self._active()
        return stack[-1] if stack else None

    @contextmanager
    def step(self, keyword: str, text: str) -> Iterator[Step]:
        """Run the `with` body as one step."""
        stack = self._active()
        parent = stack[-1] if stack else None
        with self._lock:
            step = Step(
                index=len(self.steps),
                keyword=keyword,
                text=text,
                depth=len(stack),
                parent=parent.index if parent else None,
                started_at=_now(),
            )
            self.steps.append(step)
        stack.append(step)
        start = self._clock()
        try:
            yield step
        except BaseException as exc:
            step.status = _classify(exc)
            step.exception = exc
            step.error = "".join(traceback.format_exception_only(exc)).strip()
            raise
        else:
            step.status = "passed"
        finally:
            step.elapsed_ms = round((self._clock() - start) * 1000, 1)
            step.ended_at = _now()
            stack.pop()

    def given(self, text: str) -> AbstractContextManager[Step]:
        """A precondition: `with flow.given("an org owned by the admin"): ...`."""
        return self.step("Given", text)

    def when(self, text: str) -> AbstractContextManager[Step]:
        """The action under test."""
        return self.step("When", text)

    def then(self, text: str) -> AbstractContextManager[Step]:
        """An expected outcome."""
        return self.step("Then", text)

    def and_(self, text: str) -> AbstractContextManager[Step]:
        """Another step of the same kind as the previous one."""
        return self.step("And", text)

    def record_failure(
        self, keyword: str, text: str, exc: BaseException, *, started_at: str = ""
    ) -> Step:
        """Keep a failure that happened outside every step (a fixture, say) as a step of its
        own, so the report still names where it happened and what led to it."""
        with self._lock:
            step = Step(
                index=len(self.steps),
                keyword=keyword,
                text=text,
                started_at=started_at or _now(),
                ended_at=_now(),
                status=_classify(exc),
                error="".join(traceback.format_exception_only(exc)).strip(),
                exception=exc,
            )
            self.steps.append(step)
        return step

    def subtree(self, index: int) -> set[int]:
        """The indices of a step and of every step nested in it."""
        found = {index}
        for s in self.steps[index + 1 :]:  # children always come after their parent
            if s.parent in found:
                found.add(s.index)
        return found

    def ended_a_step(self, exc: BaseException) -> bool:
        """Whether this exception already ended a recorded step."""
        return any(s.exception is exc for s in self.steps)

    @property
    def failed_step(self) -> Step | None:
        """The step where the (last) failure happened, if any."""
        failing = [s for s in self.steps if s.status in ("failed", "error")]
        if not failing:
            return None
        # Children come after their parent, so the last failing step is where the exception
        # started (its parents only re-raised it).
        return failing[-1]

    def to_list(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.steps]
