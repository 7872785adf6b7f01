"""`gatewright.testkit.pactconsumer`: interactions served once, the pact written once.

Needs pact-python (the `contracts` extra); skips without it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

pact = pytest.importorskip("pact")

from pact.error import MismatchesError  # noqa: E402  # after the importorskip

from gatewright.testkit.pactconsumer import (  # noqa: E402
    Interactions,
    bearer,
    error_body,
    timestamp,
)


def _things(interaction: Interactions) -> None:
    @interaction
    def _get_thing(p: Any) -> None:
        (
            p.upon_receiving("a request for thing 7")
            .given("a thing exists")
            .with_request("GET", "/things/7")
            .with_header("Authorization", bearer("tok_example"))
            .will_respond_with(200)
            .with_body({"id": "7", "created_at": timestamp()}, "application/json")
        )

    @interaction
    def _missing(p: Any) -> None:
        (
            p.upon_receiving("a request for a missing thing")
            .with_request("GET", "/things/8")
            .will_respond_with(404)
            .with_body(error_body("not_found_error", "thing_not_found"), "application/json")
        )


def test_serve_answers_every_interaction_then_writes_one_pact(tmp_path: Path) -> None:
    interaction = Interactions("testkit-consumer", "testkit-provider")
    _things(interaction)
    with interaction.serve(tmp_path) as url:
        got = httpx.get(f"{url}/things/7", headers={"Authorization": "Bearer any-token"})
        missing = httpx.get(f"{url}/things/8")
    assert got.json() == {"id": "7", "created_at": "2026-01-01T00:00:00Z"}
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "thing_not_found"
    written = json.loads((tmp_path / "testkit-consumer-testkit-provider.json").read_text())
    described = sorted(i["description"] for i in written["interactions"])
    assert described == ["a request for a missing thing", "a request for thing 7"]


def test_an_interaction_never_requested_fails_and_writes_nothing(tmp_path: Path) -> None:
    interaction = Interactions("testkit-consumer", "testkit-provider")
    _things(interaction)
    with pytest.raises(MismatchesError), interaction.serve(tmp_path) as url:
        httpx.get(f"{url}/things/7", headers={"Authorization": "Bearer any-token"})
    assert list(tmp_path.iterdir()) == []
