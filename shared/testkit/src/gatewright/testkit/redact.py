"""Mask secrets before anything is printed or written.

Every artifact, report section and printed line passes through here. Masked:

- headers: `Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie`, `X-Api-Key`, and any
  header whose name mentions token, secret, password or api-key;
- JSON bodies: values under keys containing password, secret, token, api_key/apikey, authorization,
  cookie or credential (at any depth);
- anywhere in text: `gwk_…` API keys, `Bearer …` / `Basic …` credentials, JWT-shaped strings
  (`eyJ….….…`), `password=…`-style query/form pairs;
- every value registered at run time with `register_secret()` (the bootstrap admin password, the
  service token, generated passwords), including its URL- and JSON-escaped forms.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
SAMPLE_LIMIT = 2048

SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        # A webhook signature replays its body; GitLab's token header is the secret itself.
        "x-hub-signature",
        "x-hub-signature-256",
        "x-gitlab-token",
    }
)
_SENSITIVE_NAME = re.compile(
    r"passw(or)?d|passphrase|secret|token|api[_-]?key|authori[sz]ation|cookie|"
    r"credential",
    re.IGNORECASE,
)
# Keys that match the pattern above but never hold a secret.
_NOT_SECRET_KEYS = frozenset(
    {
        "token_type",
        "tokens",
        "token_count",
        "max_tokens",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
    }
)

# (pattern, replacement, needles): a pattern can only match text holding one of its needles, a
# plain substring test far cheaper than the regex (the harness redacts every string it keeps).
_PATTERNS: list[tuple[re.Pattern[str], str, tuple[str, ...]]] = [
    (re.compile(r"gwk_[A-Za-z0-9_\-]+"), "gwk_" + MASK, ("gwk_",)),
    (
        re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"),
        "eyJ" + MASK,
        ("eyJ",),
    ),
    (
        re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]{8,}"),
        r"\1 " + MASK,
        ("Bearer", "Basic"),
    ),
    (
        re.compile(
            r"\b((?:[\w-]*(?:password|secret|token|api[_-]?key))=)([^&\s'\"]+)", re.IGNORECASE
        ),
        r"\1" + MASK,
        ("=",),
    ),
]

_MIN_SECRET_LEN = 4
_secrets: set[str] = set()
_longest_first: tuple[str, ...] = ()  # _secrets, longest first (a secret inside another)
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask `value` (and its URL/JSON-escaped forms) wherever it appears from now on."""
    if not value or len(value) < _MIN_SECRET_LEN:
        return
    forms = {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}
    forms.add(json.dumps(value)[1:-1])
    global _longest_first
    with _lock:
        _secrets.update(f for f in forms if len(f) >= _MIN_SECRET_LEN)
        _longest_first = tuple(sorted(_secrets, key=len, reverse=True))


def registered_secrets() -> frozenset[str]:
    """The registered secrets (for tests and for passing to xdist workers)."""
    with _lock:
        return frozenset(_secrets)


def clear_secrets() -> None:
    """Forget every registered secret (tests of this module only)."""
    global _longest_first
    with _lock:
        _secrets.clear()
        _longest_first = ()


def is_sensitive_key(key: str) -> bool:
    """Whether a JSON key or header name names a secret."""
    lowered = key.lower()
    return lowered not in _NOT_SECRET_KEYS and bool(_SENSITIVE_NAME.search(lowered))


def redact_text(text: str) -> str:
    """Mask registered secrets and secret-shaped strings in free text."""
    if not text:
        return text
    for secret in _longest_first:  # one tuple, replaced whole on every registration
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement, needles in _PATTERNS:
        if any(needle in text for needle in needles):
            text = pattern.sub(replacement, text)
    return text


def redact_json(value: Any) -> Any:
    """A copy of a JSON-like value with secret-named keys masked and strings redacted."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            skey = str(key)
            if is_sensitive_key(skey) and item not in (None, "", [], {}):
                out[skey] = MASK
            else:
                out[skey] = redact_json(item)
        return out
    if isinstance(value, list | tuple):
        return [redact_json(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers as a plain dict (repeated names joined with `, `), secret ones masked."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for name, value in pairs:
        masked = MASK if name.lower() in SENSITIVE_HEADERS or is_sensitive_key(name) else None
        if masked is not None and name.lower() in {"authorization", "proxy-authorization"}:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            masked = f"{scheme} {MASK}".strip()
        shown = masked if masked is not None else redact_text(value)
        out[name] = f"{out[name]}, {shown}" if name in out else shown
    return out


def redact_url(url: str) -> str:
    """A URL with user-info passwords, secret query parameters and secrets masked."""
    parts = urllib.parse.urlsplit(redact_text(url))
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{user}@{host}"
    query = parts.query
    if query:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        query = "&".join(
            f"{urllib.parse.quote(k)}="
            + (MASK if is_sensitive_key(k) else urllib.parse.quote(v, safe="*"))
            for k, v in pairs
        )
    rebuilt = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    return redact_text(rebuilt)


def truncate(text: str, limit: int = SAMPLE_LIMIT) -> str:
    """`text` cut to `limit` characters with a note saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters]"


def redact_body(content: bytes | str | None, limit: int = SAMPLE_LIMIT) -> str:
    """A redacted, truncated sample of a body: JSON is masked by key, anything else as text."""
    if content is None or content in (b"", ""):
        return ""
    if isinstance(content, bytes):
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            return f"<{len(content)} bytes of binary data>"
    else:
        text = content
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):  # a hostile body: nested past the parser's limit
        return truncate(redact_text(text), limit)
    if isinstance(parsed, dict | list):
        # Too deep to walk: keep the text as sent (still redacted below).
        with contextlib.suppress(RecursionError):
            text = json.dumps(redact_json(parsed), ensure_ascii=False)
    # Redact the whole rendering too: a secret may sit under an innocent key. A lone surrogate
    # (a hostile test's "\ud800") is written as its escape, so every artifact stays UTF-8.
    return printable(truncate(redact_text(text), limit))


def printable(text: str) -> str:
    """`text` with any lone surrogate as its `\\udXXX` escape: safe to write as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text
