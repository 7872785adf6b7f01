"""The official `openai` SDK works unchanged against the gateway.

The gateway runs in-process on a real socket with a real modelsim app (also on a real socket) as
its backend; identity and budgets are the fake objects of `gateway_fixtures`, passed through
`create_app(identity=, budgets=)`. Plain and streamed completions go through, and the gateway's
402/403/404/429 surface as the SDK's own exception classes with the gateway's message.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from pydantic import SecretStr

from gatewright.budgets.service.testing import FakeBudgets
from gatewright.gateway import DEFAULT_MAX_OUTPUT_TOKENS, prompt_token_bound
from gatewright.gateway.service import GatewaySettings, create_app
from gatewright.identity import KeyVerification
from gatewright.identity.service.testing import FakeIdentity
from gatewright.modelsim import count_prompt_tokens
from gatewright.modelsim.service import ModelsimSettings
from gatewright.modelsim.service import create_app as create_modelsim

from gateway_fixtures import (  # isort: skip
    SERVICE_TOKEN,
    eventually,
    serve,
)

MESSAGES = [{"role": "user", "content": "say something short"}]
ORG = "org_sdk"


@pytest.fixture(scope="module")
def sdk(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, FakeIdentity, FakeBudgets]]:
    identity, budgets = FakeIdentity(service_token=SERVICE_TOKEN), FakeBudgets()
    identity.api_keys["gwk_sdk"] = KeyVerification(key_id="key_sdk", org_id=ORG)
    identity.api_keys["gwk_narrow"] = KeyVerification(
        key_id="key_narrow", org_id=ORG, models=["other"]
    )
    identity.api_keys["gwk_slow"] = KeyVerification(key_id="key_slow", org_id=ORG, rate_limit_rpm=1)
    sim_settings = ModelsimSettings(data_dir=Path(tmp_path_factory.mktemp("modelsim")))
    settings = GatewaySettings(
        data_dir=Path(tmp_path_factory.mktemp("gateway")),
        service_token=SecretStr(SERVICE_TOKEN),
        register_revocation_hook=False,
    )
    import httpx

    with (
        serve(create_modelsim(sim_settings)) as sim,
        serve(create_app(settings, identity=identity.client, budgets=budgets)) as url,
    ):
        body = {
            "backends": [{"url": sim, "model": "sim-fail-503"}, {"url": sim, "model": "sim-echo"}],
            "input_micro_usd_per_mtok": 1_000_000,
            "output_micro_usd_per_mtok": 1_000_000,
        }
        with httpx.Client(headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}) as http:
            assert http.put(f"{url}/v1/routes/chat", json=body).status_code == 200
        yield url, identity, budgets


def client(url: str, key: str = "gwk_sdk") -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)


def test_plain_completion(sdk: tuple[str, FakeIdentity, FakeBudgets]) -> None:
    url, _, budgets = sdk
    completion = client(url).chat.completions.create(
        model="chat",
        messages=MESSAGES,
        max_tokens=4,  # type: ignore[arg-type]
    )
    assert completion.model == "chat"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == count_prompt_tokens(MESSAGES)
    assert completion.usage.completion_tokens == 4
    assert len((completion.choices[0].message.content or "").split()) == 4
    eventually(lambda: budgets.reservations.committed)
    assert budgets.reservations.committed[-1][1] == count_prompt_tokens(MESSAGES) + 4


def test_a_completion_without_max_tokens_is_not_cut_short(
    sdk: tuple[str, FakeIdentity, FakeBudgets],
) -> None:
    """The SDK sends no max_tokens unless told: the gateway sends the route's maximum output
    (`DEFAULT_MAX_OUTPUT_TOKENS` here), never a silent small cap, and reserves for it."""
    url, _, budgets = sdk
    with client(url) as sdk_client:  # closed here: its pooled connection is not left to gc
        completion = sdk_client.chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]
    assert completion.usage is not None
    assert completion.usage.completion_tokens == DEFAULT_MAX_OUTPUT_TOKENS
    assert budgets.reservations.created[-1]["amount"] == (
        prompt_token_bound({"model": "chat", "messages": MESSAGES}) + DEFAULT_MAX_OUTPUT_TOKENS
    )


def test_streamed_completion(sdk: tuple[str, FakeIdentity, FakeBudgets]) -> None:
    url, _, _ = sdk
    stream = client(url).chat.completions.create(
        model="chat",
        messages=MESSAGES,  # type: ignore[arg-type]
        max_tokens=5,
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage is not None:
            usage = chunk.usage
    assert len(text.split()) == 5
    assert usage is not None
    assert usage.completion_tokens == 5


def test_unknown_model_is_not_found(sdk: tuple[str, FakeIdentity, FakeBudgets]) -> None:
    url, _, _ = sdk
    with pytest.raises(openai.NotFoundError) as info:
        client(url).chat.completions.create(model="nope", messages=MESSAGES)  # type: ignore[arg-type]
    assert "nope" in info.value.message
    assert info.value.code == "model_not_found"


def test_allow_list_is_permission_denied(sdk: tuple[str, FakeIdentity, FakeBudgets]) -> None:
    url, _, _ = sdk
    with pytest.raises(openai.PermissionDeniedError) as info:
        client(url, "gwk_narrow").chat.completions.create(
            model="chat",
            messages=MESSAGES,  # type: ignore[arg-type]
        )
    assert info.value.code == "model_not_allowed"


def test_rate_limit_is_rate_limit_error(sdk: tuple[str, FakeIdentity, FakeBudgets]) -> None:
    url, _, _ = sdk
    slow = client(url, "gwk_slow")
    slow.chat.completions.create(model="chat", messages=MESSAGES, max_tokens=1)  # type: ignore[arg-type]
    with pytest.raises(openai.RateLimitError) as info:
        slow.chat.completions.create(model="chat", messages=MESSAGES, max_tokens=1)  # type: ignore[arg-type]
    assert "requests per minute" in info.value.message
    assert info.value.response.headers["Retry-After"]


def test_budget_exceeded_is_a_402(sdk: tuple[str, FakeIdentity, FakeBudgets]) -> None:
    url, _, budgets = sdk
    budgets.reservations.limit = 1
    try:
        with pytest.raises(openai.APIStatusError) as info:
            client(url).chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]
    finally:
        budgets.reservations.limit = None
    assert info.value.status_code == 402
    assert info.value.code == "budget_exceeded"
    assert "would exceed" in info.value.message  # budgets' own words, passed through


def test_bad_key_is_authentication_error(sdk: tuple[str, FakeIdentity, FakeBudgets]) -> None:
    url, _, _ = sdk
    with pytest.raises(openai.AuthenticationError) as info:
        client(url, "gwk_wrong").chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]
    assert info.value.code == "invalid_api_key"
