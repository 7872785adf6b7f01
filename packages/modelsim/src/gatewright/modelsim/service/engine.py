"""The deterministic model: behaviour by model name, completion words, response bodies, SSE.

No randomness and no clock: everything in a completion derives from the sha256 of the
request's canonical JSON (`model`, `messages` as validated, the effective `max_tokens`; fields
modelsim ignores, such as `temperature` and `stream`, are left out, so a streamed and a plain
request give the same completion). The tokenizers are `gatewright.modelsim._tokenizer`: words,
`prompt_tokens = sum(len(content_text(m).split()) + 4 for m in messages) + 2`, and a completion
of exactly `max_tokens` (default 16) words, so `finish_reason` is `length`; for `sim-bytes`,
one token per UTF-8 byte of each message's role and text (+ 4 per message, + 2) and a
completion of exactly `max_tokens` bytes.

Behaviours (by model name, so parallel tests never share a switch):

| model | behaviour |
|---|---|
| `sim-echo` | the words of the last user message, cycled to `max_tokens` words (`echo` if none) |
| `sim-fail-503` | 503 `backend_unavailable` |
| `sim-fail-500` | 500 `backend_error` |
| `sim-slow-<ms>` (`ms` suffix allowed) | waits `<ms>` (at most 60 000) then answers; else 400 |
| `sim-timeout` | waits `GATEWRIGHT_SIM_TIMEOUT_SECONDS` (30) then answers |
| `sim-bad-json` | 200 whose body is not JSON (streamed: an event whose data is not JSON) |
| `sim-bytes` | words drawn from `WORDS`, counted one token per UTF-8 byte (prompt and completion) |
| `sim-short-<n>` | at most `n` (1..32768) words drawn from `WORDS`: an early `stop` |
| any other `sim-*` | words drawn from `WORDS` by the request hash |
| anything else | 404 `model_not_found` |
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, Literal

from gatewright.modelsim._tokenizer import (
    DEFAULT_MAX_TOKENS,
    content_text,
    count_bytes,
    count_prompt_bytes,
    count_prompt_tokens,
)
from gatewright.modelsim.models import ChatCompletionRequest
from gatewright.servicekit import ServiceError

OWNER: Final = "gatewright-modelsim"
MAX_SLOW_MS: Final = 60_000
SSE_BATCH: Final = 64  # events per write; the bytes on the wire are the same either way

WORDS: Final = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
    "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
    "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey", "xray",
    "yankee", "zulu", "amber", "birch", "cedar", "dune", "ember", "fjord",
    "grove", "harbor", "island", "jasper", "kelp", "lagoon", "meadow", "nectar",
    "orchid", "pebble", "quartz", "river", "summit", "tundra", "upland", "valley",
    "willow", "yarrow", "zephyr", "anchor", "beacon", "canyon", "delta-wing", "estuary",
    "falcon", "glacier", "horizon", "inlet", "jetty", "kestrel", "lantern", "mistral",
)  # fmt: skip

# What `GET /v1/models` lists: one example of each fixed behaviour.
LISTED_MODELS: Final = (
    "sim-echo",
    "sim-default",
    "sim-fail-500",
    "sim-fail-503",
    "sim-slow-1000",
    "sim-timeout",
    "sim-bad-json",
    "sim-bytes",
    "sim-short-3",
)

BAD_JSON_BODY: Final = b'{"id": "chatcmpl-bad-json", "object": "chat.completion", "choices": [{'
BAD_JSON_STREAM: Final = b'data: {"id": "chatcmpl-bad-json", "choices": [{\n\ndata: [DONE]\n\n'

_SLOW = re.compile(r"^sim-slow-(\d{1,9})(?:ms)?$")
_SHORT = re.compile(r"^sim-short-(\d{1,9})$")
MAX_SHORT: Final = 32_768

Kind = Literal["answer", "echo", "fail", "bad_json"]
Tokens = Literal["words", "bytes"]


@dataclass(frozen=True)
class Behaviour:
    kind: Kind
    delay_seconds: float = 0.0
    status: int = 200
    code: str = ""
    message: str = ""
    tokens: Tokens = "words"  # how usage is counted
    # The most words the answer has (`sim-short-<n>`): a backend that stops before max_tokens.
    cap: int | None = None


def resolve(model: str, *, timeout_seconds: float) -> Behaviour:
    """What `model` does; raises the 400/404 `ServiceError` for a name it cannot serve."""
    if model == "sim-echo":
        return Behaviour("echo")
    if model == "sim-fail-503":
        return Behaviour(
            "fail",
            status=503,
            code="backend_unavailable",
            message="Model sim-fail-503 is unavailable (simulated backend outage).",
        )
    if model == "sim-fail-500":
        return Behaviour(
            "fail",
            status=500,
            code="backend_error",
            message="Model sim-fail-500 failed (simulated backend error).",
        )
    if model == "sim-timeout":
        return Behaviour("answer", delay_seconds=timeout_seconds)
    if model == "sim-bad-json":
        return Behaviour("bad_json")
    if model == "sim-bytes":
        return Behaviour("answer", tokens="bytes")
    if model.startswith("sim-short-"):
        short = _SHORT.match(model)
        if short is None or not 1 <= int(short.group(1)) <= MAX_SHORT:
            raise ServiceError(
                400,
                "invalid_model",
                f"Model {model!r} is not a valid short model: use sim-short-<n> with n from 1 "
                f"to {MAX_SHORT}.",
                details={"model": model, "max_words": MAX_SHORT},
            )
        return Behaviour("answer", cap=int(short.group(1)))
    if model.startswith("sim-slow-"):
        m = _SLOW.match(model)
        if m is None or int(m.group(1)) > MAX_SLOW_MS:
            raise ServiceError(
                400,
                "invalid_model",
                f"Model {model!r} is not a valid slow model: use sim-slow-<ms> with ms from 0 "
                f"to {MAX_SLOW_MS}.",
                details={"model": model, "max_ms": MAX_SLOW_MS},
            )
        return Behaviour("answer", delay_seconds=int(m.group(1)) / 1000)
    if model.startswith("sim-"):
        return Behaviour("answer")
    raise ServiceError(
        404,
        "model_not_found",
        f"modelsim has no model {model!r}: model names start with 'sim-' "
        "(GET /v1/models lists the behaviours).",
        details={"model": model},
    )


@dataclass(frozen=True)
class Completion:
    id: str
    created: int
    model: str
    words: tuple[str, ...]
    prompt_tokens: int
    max_tokens: int
    tokens: Tokens = "words"

    @property
    def content(self) -> str:
        return " ".join(self.words)

    @property
    def completion_tokens(self) -> int:
        return len(self.words) if self.tokens == "words" else count_bytes(self.content)

    @property
    def finish_reason(self) -> str:
        return "length" if self.completion_tokens == self.max_tokens else "stop"

    @property
    def usage(self) -> dict[str, int]:
        completion_tokens = self.completion_tokens
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": self.prompt_tokens + completion_tokens,
        }


def canonical_json(request: ChatCompletionRequest, max_tokens: int) -> bytes:
    """The part of a request that decides its completion, as canonical JSON."""
    doc = {
        "model": request.model,
        "messages": [m.model_dump(mode="json") for m in request.messages],
        "max_tokens": max_tokens,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _echo_words(request: ChatCompletionRequest, n: int) -> tuple[str, ...]:
    last_user = next((m for m in reversed(request.messages) if m.role == "user"), None)
    source = content_text(last_user.content).split() if last_user is not None else []
    source = source or ["echo"]
    return tuple(source[i % len(source)] for i in range(n))


def _hashed_words(digest: bytes, n: int) -> tuple[str, ...]:
    words: list[str] = []
    block = 0
    while len(words) < n:
        stream = hashlib.sha256(digest + block.to_bytes(8, "big")).digest()
        for i in range(0, len(stream), 2):
            words.append(WORDS[int.from_bytes(stream[i : i + 2], "big") % len(WORDS)])
        block += 1
    return tuple(words[:n])


def _byte_words(digest: bytes, n: int) -> tuple[str, ...]:
    """Hashed words whose text (joined by spaces) is exactly `n` bytes: ASCII, cut at `n`."""
    # Every word is at least 4 letters, so n // 2 + 1 words are always more than n bytes.
    text = " ".join(_hashed_words(digest, n // 2 + 1))[:n]
    if text.endswith(" "):
        text = text[:-1] + "-"  # no empty last word, and still n bytes
    return tuple(text.split(" "))


def complete(
    request: ChatCompletionRequest,
    *,
    echo: bool,
    tokens: Tokens = "words",
    cap: int | None = None,
) -> Completion:
    max_tokens = request.effective_max_tokens or DEFAULT_MAX_TOKENS
    digest = hashlib.sha256(canonical_json(request, max_tokens)).digest()
    # A capped model stops early: fewer words than max_tokens, finish_reason `stop`.
    n = max_tokens if cap is None else min(cap, max_tokens)
    if tokens == "bytes":
        words = _byte_words(digest, max_tokens)
        prompt_tokens = count_prompt_bytes(request.messages)
    else:
        words = _echo_words(request, n) if echo else _hashed_words(digest, n)
        prompt_tokens = count_prompt_tokens(request.messages)
    return Completion(
        id="chatcmpl-" + digest.hex()[:24],
        created=1_700_000_000 + int.from_bytes(digest[12:16], "big") % 100_000_000,
        model=request.model,
        words=words,
        prompt_tokens=prompt_tokens,
        max_tokens=max_tokens,
        tokens=tokens,
    )


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def completion_body(c: Completion) -> bytes:
    return _dumps(
        {
            "id": c.id,
            "object": "chat.completion",
            "created": c.created,
            "model": c.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": c.content},
                    "finish_reason": c.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": c.usage,
        }
    )


def _event(doc: Any) -> bytes:
    return b"data: " + _dumps(doc) + b"\n\n"


def sse_events(c: Completion, *, include_usage: bool) -> Iterator[bytes]:
    """The event stream: role, one chunk per word, finish, usage (if asked), `[DONE]`.

    Each word's delta is the word plus a space, except the last word's, so the deltas joined
    are exactly the unstreamed `content`.
    """

    def chunk(choices: list[dict[str, Any]], **more: Any) -> bytes:
        head = {"id": c.id, "object": "chat.completion.chunk", "created": c.created}
        return _event({**head, "model": c.model, "choices": choices, **more})

    def choice(delta: dict[str, str], finish_reason: str | None = None) -> dict[str, Any]:
        return {"index": 0, "delta": delta, "finish_reason": finish_reason}

    # A word chunk is a fixed prefix and suffix around the JSON string of its delta content:
    # the same bytes as dumping the whole chunk, at a fraction of the cost per word.
    # The marker is a control character, which no model name can hold (names are validated).
    prefix, suffix = chunk([choice({"content": "\x00"})]).split(b'"\\u0000"')
    batch = [chunk([choice({"role": "assistant"})])]
    last = len(c.words) - 1
    for i, word in enumerate(c.words):
        batch.append(prefix + _dumps(word if i == last else word + " ") + suffix)
        if len(batch) >= SSE_BATCH:
            yield b"".join(batch)
            batch = []
    batch.append(chunk([choice({}, c.finish_reason)]))
    if include_usage:
        batch.append(chunk([], usage=c.usage))
    batch.append(b"data: [DONE]\n\n")
    yield b"".join(batch)
