"""Cleanup runs LIFO, collects every failure, and keeps everything with --keep-data."""

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


def test_keep_data_runs_nothing() -> None:
    ran: list[str] = []
    cleanup = Cleanup(keep=True)
    cleanup.add("delete org", lambda: ran.append("org"))
    cleanup.add("delete key", lambda: ran.append("key"))
    cleanup.run_or_raise()
    assert ran == []
    assert cleanup.kept == ["delete key", "delete org"]
