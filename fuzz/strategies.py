"""Hypothesis strategies for hostile JSON, and the helpers that plant it in a valid body.

Edges (tuples, for the deterministic tests that try each in every leaf of its kind):
`CALENDAR_EDGES`, `NUMBER_EDGES`, `STRING_EDGES`; `edges_for(value)` picks by the leaf's kind.

Values (each is a strategy):

- `hostile_strings`: NUL and other control characters, 4-byte (astral) characters, bidi
  overrides and combining marks, very long strings (up to ~100k characters), date-times at the
  edges of the calendar with extreme offsets, strings shaped like numbers or JSON, and URLs
  no URL parser takes (an IPv6 host whose bracket never closes);
- `hostile_numbers`: integers past 64 bits, floats at the edges (1e308, 5e-324, -0.0);
- `hostile_values`: either of those, or a type the field does not expect (null, a list, an
  object, a boolean);
- `lone_surrogates`: strings holding an unpaired UTF-16 surrogate such as "\\ud800";
- `deep_json`: a few KB of `[[[[...]]]]`, `{"a":{"a":...}}` or both, as raw bytes;
- `nested_values`: 400 to 900 levels of arrays or objects, as a value (parsers take it);
- `non_finite`: the tokens `NaN`, `Infinity`, `-Infinity` (not JSON, but Python's parser takes
  them).

Planting: `leaves(body)` lists the paths of a body's scalar leaves, `replace(body, path, value)`
puts a value there, and `encode(body, ascii=...)` turns the result into bytes (with `ascii=False`
a lone surrogate is sent as its raw, invalid UTF-8 bytes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from hypothesis import strategies as st

Path = tuple[str | int, ...]

LONG_MAX = 100_000
LONE = ("\ud800", "\udbff", "\udc00", "\udfff")
NON_FINITE = ("NaN", "Infinity", "-Infinity")
CALENDAR_EDGES = (
    "0001-01-01T00:00:00+23:59",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:59:59.999999Z",
    "2024-02-30T00:00:00Z",
    "2024-01-01T24:00:00Z",
    "2024-01-01T00:00:00+24:00",
    "2024-01-01T00:00:00.1234567890123Z",
    "+002024-01-01T00:00:00Z",
)
NUMBER_EDGES: tuple[int | float, ...] = (2**63, -(2**63) - 1, 2**64, 10**30, 1e308, -0.0, -1)
# ... and a URL whose IPv6 host bracket never closes (`urlsplit` raises on it).
URL_EDGES = ("http://[::1/x", "ssh://git@[/x.git")
STRING_EDGES = (
    "\x00",
    "a\x00b",
    "\U0001f600" * 3,
    "\u202e\u0301",
    "\x7f\x1b[31m",
    "a" * LONG_MAX,
    *URL_EDGES,
)

_astral = st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF, exclude_categories=["Cs"])
_controls = st.characters(max_codepoint=0x1F) | st.sampled_from(["\x7f", "\x85", "\u2028"])
_tricky = st.sampled_from(["\u202e", "\u200b", "\ufeff", "\u0301", "\uffff", "\U0001f600"])


def _with(alphabet: st.SearchStrategy[str], *, min_size: int = 1) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet | st.characters(codec="ascii"), min_size=min_size, max_size=40)


def _long() -> st.SearchStrategy[str]:
    return st.builds(
        lambda unit, n: (unit * n)[:n],
        st.sampled_from(["a", "é", "\U0001f600", "\x00"]),
        st.integers(256, LONG_MAX),
    )


hostile_strings: st.SearchStrategy[str] = st.one_of(
    _with(st.just("\x00")).map(lambda s: s + "\x00"),
    _with(_controls),
    _with(_astral),
    _with(_tricky),
    _long(),
    st.sampled_from(CALENDAR_EDGES),
    st.sampled_from(["", " ", "-0", "1e999", "0x10", "null", "[]", "{}", "\\", '"', "%00"]),
    st.sampled_from(URL_EDGES),
)

hostile_numbers: st.SearchStrategy[int | float] = st.one_of(
    st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**30, -(10**30), 10**300]),
    st.integers(min_value=2**53, max_value=2**200),
    st.sampled_from([1e308, -1e308, 5e-324, -0.0, 0.1, 1.5]),
)

hostile_values: st.SearchStrategy[Any] = st.one_of(
    hostile_strings,
    hostile_numbers,
    st.sampled_from([None, True, False, [], {}, [None], {"": None}]),
)

lone_surrogates: st.SearchStrategy[str] = st.builds(
    lambda before, lone, after: before + lone + after,
    st.text(st.characters(codec="ascii"), max_size=4),
    st.sampled_from(LONE),
    st.text(st.characters(codec="ascii"), max_size=4),
)


def _deep(shape: str, depth: int) -> bytes:
    if shape == "array":
        return b"[" * depth + b"]" * depth
    if shape == "object":
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b'{"a":[' * (depth // 2) + b"1" + b"]}" * (depth // 2)


deep_json: st.SearchStrategy[bytes] = st.builds(
    _deep, st.sampled_from(["array", "object", "mixed"]), st.integers(1_500, 8_000)
)

non_finite: st.SearchStrategy[str] = st.sampled_from(NON_FINITE)


def _nested(shape: str, depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value] if shape == "array" else {"a": value}
    return value


# Nesting a JSON parser still takes (Python's gives up near 1000 levels) but that some code
# behind it may not: as a value inside an otherwise valid body.
nested_values: st.SearchStrategy[Any] = st.builds(
    _nested, st.sampled_from(["array", "object"]), st.integers(400, 900)
)


def leaves(body: Any, path: Path = ()) -> Iterator[Path]:
    """The path of every scalar leaf (and of every empty container) in `body`."""
    if isinstance(body, dict) and body:
        for key, value in body.items():
            yield from leaves(value, (*path, key))
    elif isinstance(body, list) and body:
        for index, value in enumerate(body):
            yield from leaves(value, (*path, index))
    else:
        yield path


def string_leaves(body: Any) -> list[Path]:
    return [p for p in leaves(body) if isinstance(get(body, p), str)]


def number_leaves(body: Any) -> list[Path]:
    return [
        p
        for p in leaves(body)
        if isinstance(get(body, p), int | float) and not isinstance(get(body, p), bool)
    ]


def is_time(value: Any) -> bool:
    """A string a service would read as an RFC 3339 date-time."""
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def time_leaves(body: Any) -> list[Path]:
    return [p for p in leaves(body) if is_time(get(body, p))]


def edges_for(value: Any) -> tuple[Any, ...]:
    """The edge values of a leaf's kind: times, numbers or strings (nothing for the rest)."""
    if is_time(value):
        return CALENDAR_EDGES
    if isinstance(value, int | float) and not isinstance(value, bool):
        return NUMBER_EDGES
    if isinstance(value, str):
        return STRING_EDGES
    return ()


def get(body: Any, path: Path) -> Any:
    for part in path:
        body = body[part]
    return body


def replace(body: Any, path: Path, value: Any) -> Any:
    """A copy of `body` with `value` at `path` (`value` itself when the path is empty; a key
    the body lacks is added)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(body, dict):
        return {**body, head: replace(body.get(head), rest, value)}
    copy = list(body)
    assert isinstance(head, int)
    copy[head] = replace(copy[head], rest, value)
    return copy


def encode(body: Any, *, ascii: bool) -> bytes:
    """JSON bytes; `ascii=True` escapes (a lone surrogate as `\\ud800`), `ascii=False` writes
    UTF-8 (a lone surrogate as its raw bytes, which are not valid UTF-8)."""
    text = json.dumps(body, ensure_ascii=ascii, allow_nan=True)
    return text.encode("utf-8", "surrogatepass")


def with_token(body: Any, path: Path, token: str) -> bytes:
    """JSON bytes of `body` with the bare `token` (e.g. `NaN`) at `path` (ASCII-escaped)."""
    marker = "\x01fuzz-token\x01"
    text = json.dumps(replace(body, path, marker), ensure_ascii=True)
    return text.replace(json.dumps(marker), token).encode()
