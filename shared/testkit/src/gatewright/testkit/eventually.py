"""`eventually` and `consistently`: poll a three-state probe instead of sleeping.

A probe returns an `Outcome` (or a bool):

- `Outcome.done(value, msg)`    -> stop, return `value`;
- `Outcome.pending(msg, value)` -> poll again (backoff 10 ms -> 1 s), remembering what it saw;
- `Outcome.failed(msg)`         -> stop at once with `EventuallyFailed` (no point waiting).

Transient errors raised by the probe keep polling: core `APIConnectionError` (incl. timeouts),
`RateLimited`, `ServiceUnavailable`, any status error 503 with `Retry-After`, and httpx transport
errors. Any other exception is fatal at once. On timeout `EventuallyTimeout` says what it waited
for and what it last saw: "timed out waiting for org to be active: last saw status=pending after
5.0 s, 23 polls".

Timeouts come from named profiles (`settle` 5 s, `converge` 30 s, `ready` 30 s) multiplied by the
scale from `--gw-timeout-scale` / `GATEWRIGHT_TIMEOUT_SCALE` (slow CI: 3).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import httpx

from gatewright.core import APIConnectionError, APIStatusError, RateLimited, ServiceUnavailable
from gatewright.testkit.redact import redact_text, truncate

T = TypeVar("T")

TIMEOUT_SCALE_ENV = "GATEWRIGHT_TIMEOUT_SCALE"
TIMEOUT_PROFILES: dict[str, float] = {"settle": 5.0, "converge": 30.0, "ready": 30.0}

_scale_override: float | None = None

State = Literal["done", "pending", "failed"]


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What a probe saw: done (with the value), pending (with why) or failed (with why)."""

    state: State
    value: T | None = None
    message: str = ""

    @classmethod
    def done(cls, value: T | None = None, message: str = "") -> Outcome[T]:
        return cls("done", value, message)

    @classmethod
    def pending(cls, message: str, value: T | None = None) -> Outcome[T]:
        return cls("pending", value, message)

    @classmethod
    def failed(cls, message: str, value: T | None = None) -> Outcome[T]:
        return cls("failed", value, message)

    def describe(self) -> str:
        if self.message and self.value is not None:
            return f"{self.message} (value: {self.value!r})"
        if self.message:
            return self.message
        return repr(self.value) if self.value is not None else "(nothing)"


class EventuallyTimeout(AssertionError):
    """The probe was still pending when the timeout ran out."""


class EventuallyFailed(AssertionError):
    """The probe said failed: waiting longer would not help."""


class ConsistentlyFailed(AssertionError):
    """The state did not hold for the whole window."""


def set_timeout_scale(scale: float | None) -> None:
    """Set the process-wide scale (the plugin does this from `--gw-timeout-scale`)."""
    global _scale_override
    if scale is not None and scale <= 0:
        raise ValueError(f"timeout scale must be positive, got {scale}")
    _scale_override = scale


def timeout_scale() -> float:
    """The scale in effect: option, else `GATEWRIGHT_TIMEOUT_SCALE`, else 1."""
    if _scale_override is not None:
        return _scale_override
    raw = os.environ.get(TIMEOUT_SCALE_ENV, "")
    try:
        value = float(raw) if raw else 1.0
    except ValueError:
        return 1.0
    return value if value > 0 else 1.0


def profile_timeout(profile: str) -> float:
    """Seconds for a named profile, scaled."""
    try:
        base = TIMEOUT_PROFILES[profile]
    except KeyError:
        known = ", ".join(sorted(TIMEOUT_PROFILES))
        raise ValueError(f"unknown timeout profile {profile!r} (known: {known})") from None
    return base * timeout_scale()


def is_transient(exc: BaseException) -> bool:
    """Whether an error means "ask again later" rather than "this is broken"."""
    if isinstance(exc, APIConnectionError | RateLimited | ServiceUnavailable):
        return True
    if isinstance(exc, APIStatusError):
        response = exc.response
        return exc.status_code == 503 and response is not None and "retry-after" in response.headers
    return isinstance(exc, httpx.TransportError)


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, httpx.Response):
        return None
    raw = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def _coerce(result: Any) -> Outcome[Any]:
    if isinstance(result, Outcome):
        return result
    if result is True:
        return Outcome.done(True)
    if result is False or result is None:
        return Outcome.pending(f"probe returned {result!r}")
    return Outcome.done(result)


def _name(probe: Callable[[], Any], description: str) -> str:
    if description:
        return description
    return getattr(probe, "__qualname__", None) or repr(probe)


def eventually(
    probe: Callable[[], Outcome[T] | bool | Any],
    *,
    timeout: float | None = None,
    profile: str = "settle",
    interval: float = 0.01,
    max_interval: float = 1.0,
    backoff: float = 2.0,
    description: str = "",
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """Poll `probe` until it is done; return the done value.

    `timeout` (seconds, not scaled) wins over `profile` (scaled). The wait between polls starts
    at `interval` and grows by `backoff` up to `max_interval`; a transient error's `Retry-After`
    stretches the next wait (never past the deadline).
    """
    what = _name(probe, description)
    limit = timeout if timeout is not None else profile_timeout(profile)
    start = clock()
    deadline = start + limit
    delay = interval
    polls = 0
    last: Outcome[Any] = Outcome.pending("no poll finished yet")
    while True:
        polls += 1
        wait = delay
        try:
            last = _coerce(probe())
        except Exception as exc:
            if not is_transient(exc):
                exc.add_note(f"(raised while waiting for {what}, poll {polls})")
                raise
            last = Outcome.pending(f"transient error {type(exc).__name__}: {exc}")
            wait = max(wait, _retry_after(exc) or 0.0)
        elapsed = clock() - start
        if last.state == "done":
            return last.value
        if last.state == "failed":
            raise EventuallyFailed(
                redact_text(
                    f"gave up waiting for {what}: {last.describe()} "
                    f"(after {elapsed:.1f} s, {polls} polls)"
                )
            )
        remaining = deadline - clock()
        if remaining <= 0:
            raise EventuallyTimeout(
                redact_text(
                    f"timed out waiting for {what}: last saw {truncate(last.describe(), 500)} "
                    f"after {elapsed:.1f} s, {polls} polls (timeout {limit:.1f} s)"
                )
            )
        sleep(min(wait, remaining))  # the poll interval: the only sleep the harness allows
        delay = min(delay * backoff, max_interval)


def consistently(
    probe: Callable[[], Outcome[T] | bool | Any],
    *,
    for_: float | None = None,
    duration: float | None = None,
    interval: float = 0.05,
    description: str = "",
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Require `probe` to be done on every poll for `for_` seconds; return the poll count.

        consistently(no_spend, for_=1.0, description="the org's spend to stay at 0")

    Pending or failed on any poll raises `ConsistentlyFailed` at once (no point waiting out the
    window once it broke), saying what it saw. Transient errors are not evidence either way:
    polling goes on. The probe runs at least once and once more at the end of the window; the
    only waiting is the polling interval. `duration` is the older spelling of `for_`.
    """
    window = for_ if for_ is not None else duration
    if window is None or window < 0:
        raise ValueError("consistently() needs a window: for_=<seconds> (>= 0)")
    what = _name(probe, description)
    start = clock()
    end = start + window
    polls = 0
    while True:
        polls += 1
        try:
            outcome = _coerce(probe())
        except Exception as exc:
            if not is_transient(exc):
                exc.add_note(f"(raised while checking that {what} holds, poll {polls})")
                raise
            outcome = Outcome.done(None)
        if outcome.state != "done":
            raise ConsistentlyFailed(
                redact_text(
                    f"expected {what} to hold for {window:.1f} s, but after "
                    f"{clock() - start:.1f} s ({polls} polls) saw "
                    f"{truncate(outcome.describe(), 500)}"
                )
            )
        remaining = end - clock()
        if remaining <= 1e-6:  # float sums of intervals land a hair short of the end
            return polls
        sleep(min(interval, remaining))  # the poll interval: the only sleep the harness allows
