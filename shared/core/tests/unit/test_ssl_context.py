"""Clients share one verifying SSL context per process instead of loading the CA bundle each."""

from __future__ import annotations

import ssl
from typing import Any

import pytest

from gatewright.core import AsyncAPIClient, SyncAPIClient, shared_ssl_context


async def test_clients_reuse_the_one_ssl_context(monkeypatch: pytest.MonkeyPatch) -> None:
    context = shared_ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED  # verifying, as httpx's default is
    assert context.check_hostname

    def refuse(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        raise AssertionError("a client built an SSL context of its own")

    monkeypatch.setattr(ssl, "create_default_context", refuse)
    for _ in range(3):
        SyncAPIClient("https://identity.example.test").close()
        await AsyncAPIClient("https://identity.example.test").aclose()
        # A view shares the pool, and so the context, of the client it came from.
        SyncAPIClient("https://identity.example.test").with_options(token="t").close()
    assert shared_ssl_context() is context
