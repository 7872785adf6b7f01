"""`Harness`: the per-test bundle behind the `gw` fixture.

    def test_login(gw):
        identity = IdentityClient(**gw.client_kwargs("identity"))
        with gw.flow.when("the admin logs in"):
            ...

`gw.client_kwargs(service)` returns keyword arguments every Gatewright client constructor accepts
(`base_url`, `event_hooks`, `request_id_factory`, optionally `token`), so each exchange is
recorded and every request carries a greppable request ID. testkit never imports a client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gatewright.testkit.cleanup import Cleanup
from gatewright.testkit.naming import Names, RequestIds
from gatewright.testkit.recorder import ExchangeRecorder
from gatewright.testkit.stack import LocalStack
from gatewright.testkit.steps import Flow, Step
from gatewright.testkit.target import Target


@dataclass
class TestContext:
    """Everything the harness keeps for one test (created on first use by a fixture)."""

    __test__ = False  # not a test class, despite its name

    nodeid: str
    names: Names
    flow: Flow
    recorder: ExchangeRecorder
    cleanup: Cleanup
    request_ids: RequestIds
    artifacts_dir: Path
    worker: str
    extra: dict[str, Any] = field(default_factory=dict)


class Harness:
    """The `gw` fixture: names, flow, recorder, cleanup and the target, in one object."""

    def __init__(self, context: TestContext, target_getter: Callable[[], Target]) -> None:
        self.context = context
        self._target_getter = target_getter

    @property
    def target(self) -> Target:
        """The services and credentials (resolved lazily: a test that never asks needs none)."""
        return self._target_getter()

    @property
    def names(self) -> Names:
        return self.context.names

    @property
    def flow(self) -> Flow:
        return self.context.flow

    @property
    def recorder(self) -> ExchangeRecorder:
        return self.context.recorder

    @property
    def cleanup(self) -> Cleanup:
        return self.context.cleanup

    @property
    def request_ids(self) -> RequestIds:
        return self.context.request_ids

    @property
    def artifacts_dir(self) -> Path:
        return self.context.artifacts_dir

    def url(self, service: str) -> str:
        return self.target.url(service)

    def client_kwargs(
        self, service: str, *, token: str | None = None, target: Target | None = None
    ) -> dict[str, Any]:
        """kwargs for a sync client of `service`: base URL, recording hooks, request IDs.

        `target` picks another stack than the run's (e.g. a `private_stack`)."""
        kwargs: dict[str, Any] = {
            "base_url": (target or self.target).url(service),
            "event_hooks": self.recorder.sync_hooks(),
            "request_id_factory": self.request_ids,
        }
        if token is not None:
            kwargs["token"] = token
        return kwargs

    def async_client_kwargs(
        self, service: str, *, token: str | None = None, target: Target | None = None
    ) -> dict[str, Any]:
        """kwargs for an async client of `service`."""
        kwargs = self.client_kwargs(service, token=token, target=target)
        kwargs["event_hooks"] = self.recorder.async_hooks()
        return kwargs

    @contextmanager
    def private_stack(self, services: Sequence[str]) -> Iterator[LocalStack]:
        """A local stack of this test's own, for flows that stop and restart services.

        Stopping a service of the shared stack would disturb the tests running beside this one,
        so such a flow gets its own processes (logs under this test's artifacts). Against a
        deployment there is nothing to restart: the test is skipped with that reason.
        """
        if self.target.source != "local stack":
            pytest.skip(
                f"this flow restarts services, which needs a local stack, not {self.target.source}"
            )
        stack = LocalStack(services, log_dir=self.artifacts_dir / "services")
        stack.start()
        try:
            yield stack
        finally:
            stack.stop()

    # Shortcuts so a flow reads as prose: `with gw.given("..."):`.
    def given(self, text: str) -> AbstractContextManager[Step]:
        return self.flow.given(text)

    def when(self, text: str) -> AbstractContextManager[Step]:
        return self.flow.when(text)

    def then(self, text: str) -> AbstractContextManager[Step]:
        return self.flow.then(text)
