"""Prices in integer micro-USD, and the token bounds the gateway reserves for (decision 10).

The bounds themselves are the client package's (`gatewright.gateway._bounds`: one copy, which
clients and tests can compute too): a request's prompt is bounded by the UTF-8 bytes of its body
plus per-message and per-request allowances, its completion by the `max_tokens` sent upstream
times `n`, a stream with no reported usage by the UTF-8 bytes it streamed. So the reservation
is an upper bound of what any byte-level tokenizer reports, not a guess that equals one
backend's count.

Prices are micro-USD per million tokens; every cost rounds up, so a request never costs zero
because of rounding while its tokens cost something.
"""

from __future__ import annotations

from gatewright.gateway._bounds import (
    completion_token_bound,
    prompt_token_bound,
    streamed_token_bound,
)


def cost(prompt: int, completion: int, *, input_price: int, output_price: int) -> int:
    """ceil((prompt * input + completion * output) / 1e6), in micro-USD."""
    return -(-(prompt * input_price + completion * output_price) // 1_000_000)


__all__ = ["completion_token_bound", "cost", "prompt_token_bound", "streamed_token_bound"]
