"""eventually / consistently on a fake clock: nothing here really sleeps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gatewright.core import APIConnectionError, BadRequest, RateLimited, ServiceUnavailable
from gatewright.testkit.eventually import (
    ConsistentlyFailed,
    EventuallyFailed,
    EventuallyTimeout,
    Outcome,
    consistently,
    eventually,
    profile_timeout,
    set_timeout_scale,
)


class FakeClock:
    """A clock that only moves when `sleep` is called (plus an optional cost per probe)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


def _sequence(*items: Any) -> Callable[[], Any]:
    it = iter(items)

    def probe() -> Any:
        item = next(it)
        if isinstance(item, BaseException):
            raise item
        return item

    return probe


def _status_error(cls: type[Any], status: int, headers: dict[str, str] | None = None) -> Any:
    response = httpx.Response(status, headers=headers, request=httpx.Request("GET", "http://x"))
    return cls("nope", status_code=status, code="c", request_id="rid", body={}, response=response)


def test_done_returns_the_value_at_once(fake_clock: FakeClock) -> None:
    out = eventually(lambda: Outcome.done({"id": 1}), clock=fake_clock, sleep=fake_clock.sleep)
    assert out == {"id": 1}
    assert fake_clock.sleeps == []


def test_pending_polls_with_bounded_backoff(fake_clock: FakeClock) -> None:
    probe = _sequence(*[Outcome.pending("not yet")] * 10, Outcome.done("ok"))
    assert eventually(probe, timeout=60, clock=fake_clock, sleep=fake_clock.sleep) == "ok"
    assert fake_clock.sleeps[:4] == pytest.approx([0.01, 0.02, 0.04, 0.08])
    assert max(fake_clock.sleeps) == 1.0  # capped by max_interval
    assert len(fake_clock.sleeps) == 10


def test_bools_work_as_probes(fake_clock: FakeClock) -> None:
    probe = _sequence(False, False, True)
    assert eventually(probe, clock=fake_clock, sleep=fake_clock.sleep) is True


def test_failed_stops_at_once_with_its_message(fake_clock: FakeClock) -> None:
    probe = _sequence(Outcome.pending("syncing"), Outcome.failed("sync failed: bad manifest"))
    with pytest.raises(EventuallyFailed, match="gave up waiting for app sync: sync failed"):
        eventually(probe, description="app sync", clock=fake_clock, sleep=fake_clock.sleep)
    assert len(fake_clock.sleeps) == 1


def test_timeout_says_what_it_waited_for_and_last_saw(fake_clock: FakeClock) -> None:
    def probe() -> Outcome[str]:
        return Outcome.pending("sync status should be Synced, is OutOfSync", "OutOfSync")

    with pytest.raises(EventuallyTimeout) as info:
        eventually(
            probe, timeout=5.0, description="app to sync", clock=fake_clock, sleep=fake_clock.sleep
        )
    message = str(info.value)
    assert message.startswith("timed out waiting for app to sync: last saw sync status should")
    assert "'OutOfSync'" in message
    assert "after 5.0 s" in message
    assert "polls" in message
    assert sum(fake_clock.sleeps) == pytest.approx(5.0)  # never sleeps past the deadline


def test_transient_errors_keep_polling(fake_clock: FakeClock) -> None:
    probe = _sequence(
        APIConnectionError("refused"),
        _status_error(RateLimited, 429),
        _status_error(ServiceUnavailable, 502),
        httpx.ConnectError("refused"),
        Outcome.done(7),
    )
    assert eventually(probe, clock=fake_clock, sleep=fake_clock.sleep) == 7


def test_retry_after_stretches_the_wait(fake_clock: FakeClock) -> None:
    probe = _sequence(_status_error(RateLimited, 429, {"Retry-After": "2"}), True)
    eventually(probe, clock=fake_clock, sleep=fake_clock.sleep)
    assert fake_clock.sleeps == [2.0]


def test_transient_error_is_the_last_thing_seen_on_timeout(fake_clock: FakeClock) -> None:
    def probe() -> bool:
        raise APIConnectionError("connection refused")

    with pytest.raises(EventuallyTimeout, match="last saw transient error APIConnectionError"):
        eventually(probe, timeout=1.0, clock=fake_clock, sleep=fake_clock.sleep)


def test_other_errors_are_fatal_at_once(fake_clock: FakeClock) -> None:
    probe = _sequence(_status_error(BadRequest, 400))
    with pytest.raises(BadRequest) as info:
        eventually(probe, description="org created", clock=fake_clock, sleep=fake_clock.sleep)
    assert "while waiting for org created" in "".join(info.value.__notes__)
    assert fake_clock.sleeps == []


def test_profiles_scale() -> None:
    try:
        set_timeout_scale(3)
        assert profile_timeout("settle") == 15.0
        assert profile_timeout("converge") == 90.0
    finally:
        set_timeout_scale(None)
    with pytest.raises(ValueError, match="unknown timeout profile"):
        profile_timeout("forever")


def test_profile_scale_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWRIGHT_TIMEOUT_SCALE", "0.5")
    assert profile_timeout("ready") == 15.0


def test_consistently_holds(fake_clock: FakeClock) -> None:
    polls = consistently(lambda: True, for_=1.0, clock=fake_clock, sleep=fake_clock.sleep)
    assert polls == 21
    assert sum(fake_clock.sleeps) == pytest.approx(1.0)


def test_consistently_breaks(fake_clock: FakeClock) -> None:
    probe = _sequence(True, True, Outcome.pending("budget spent went to 12"))
    with pytest.raises(ConsistentlyFailed, match=r"expected no spend to hold for 2\.0 s, but"):
        consistently(
            probe,
            duration=2.0,
            description="no spend",
            clock=fake_clock,
            sleep=fake_clock.sleep,
        )


def test_consistently_stops_at_the_first_violation(fake_clock: FakeClock) -> None:
    probe = _sequence(True, Outcome.failed("key revoked"), True)
    with pytest.raises(ConsistentlyFailed, match="saw key revoked"):
        consistently(probe, for_=10.0, clock=fake_clock, sleep=fake_clock.sleep)
    assert sum(fake_clock.sleeps) == pytest.approx(0.05)  # one interval, not the whole window


def test_consistently_keeps_the_old_spelling_and_needs_a_window() -> None:
    assert consistently(lambda: True, duration=0.0) == 1
    with pytest.raises(ValueError, match="for_="):
        consistently(lambda: True)
