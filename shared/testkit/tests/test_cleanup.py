"""Cleanup runs LIFO, collects every failure, and keeps the data with --keep-data."""

from __future__ import annotations

import pytest

from gatewright.testkit.cleanup import Cleanup, CleanupFailed


def test_lifo_and_errors_collected() -> None:
    ran: list[str] = []
    cleanup = Cleanup()
    cleanup.add("delete org", lambda: ran.append("org"))

    def boom() -> None:
        raise RuntimeError("403 permission_denied")

    cleanup.add("revoke key", boom)
    cleanup.add("remove member", lambda: ran.append("member"))

    async def close() -> None:
        ran.append("async")

    cleanup.add("close client", close)
    with pytest.raises(CleanupFailed, match="revoke key: RuntimeError: 403") as info:
        cleanup.run_or_raise()
    assert ran == ["async", "member", "org"]
    assert len(info.value.errors) == 1
    assert cleanup.done == ["close client", "remove member", "delete org"]
    cleanup.run_or_raise()  # nothing left


def test_keep_data_runs_no_data_action() -> None:
    ran: list[str] = []
    cleanup = Cleanup(keep=True)
    cleanup.add("delete org", lambda: ran.append("org"))
    cleanup.add("delete key", lambda: ran.append("key"))
    cleanup.run_or_raise()
    assert ran == []
    assert cleanup.kept == ["delete key", "delete org"]


def test_releases_run_lifo_among_the_data_actions() -> None:
    ran: list[str] = []
    cleanup = Cleanup()
    cleanup.release("close the client", lambda: ran.append("client"))
    cleanup.add("delete org", lambda: ran.append("org"))
    cleanup.release("close the member's client", lambda: ran.append("member's client"))
    cleanup.run_or_raise()
    assert ran == ["member's client", "org", "client"]
    assert cleanup.kept == []


def test_keep_data_still_runs_the_releases() -> None:
    ran: list[str] = []
    cleanup = Cleanup(keep=True)
    cleanup.release("close the client", lambda: ran.append("client"))
    cleanup.add("delete org", lambda: ran.append("org"))
    cleanup.release("close the member's client", lambda: ran.append("member's client"))
    cleanup.run_or_raise()
    assert ran == ["member's client", "client"]
    assert cleanup.done == ["close the member's client", "close the client"]
    assert cleanup.kept == ["delete org"]
