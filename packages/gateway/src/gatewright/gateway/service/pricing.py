"""Token counts and prices, in integer micro-USD.

The prompt count is modelsim's tokenizer, exactly (a unit test compares it with
`gatewright.modelsim.count_prompt_tokens`): words per message content + 4 per message + 2.
Prices are micro-USD per million tokens; every cost rounds up, so a request never costs zero
because of rounding while its tokens cost something.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

PER_MESSAGE_TOKENS = 4
PER_REQUEST_TOKENS = 2


def count_tokens(text: str) -> int:
    return len(text.split())


def content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else getattr(part, "type", None)
        text = part.get("text") if isinstance(part, dict) else getattr(part, "text", None)
        if kind == "text" and isinstance(text, str):
            texts.append(text)
    return " ".join(texts)


def prompt_tokens(messages: Iterable[Any]) -> int:
    total = PER_REQUEST_TOKENS
    for m in messages:
        content = m.get("content") if isinstance(m, dict) else getattr(m, "content", None)
        total += count_tokens(content_text(content)) + PER_MESSAGE_TOKENS
    return total


def cost(prompt: int, completion: int, *, input_price: int, output_price: int) -> int:
    """ceil((prompt * input + completion * output) / 1e6), in micro-USD."""
    return -(-(prompt * input_price + completion * output_price) // 1_000_000)
