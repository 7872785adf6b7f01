"""Wire models shared by the audit client and the audit service, and the chain's hash.

`EventIn` is what an emitter sends (strict: unknown fields, bad patterns and oversized values are
refused, on the client when the model is built and by the service with a 422). `Event` is what
the service stored: `EventIn` plus `seq`, `received_at`, `prev_hash` and `hash`; it is tolerant
(extra fields ignored, no patterns), so a provider can add or loosen fields without breaking
consumers.

What audit stores it must be able to serve back, to every reader, forever; so `EventIn` refuses
what could not be: `details` larger than `MAX_DETAILS_BYTES` or nested deeper than
`MAX_DETAILS_DEPTH`, and any string (field, `details` key or value) that is not valid Unicode
(a lone surrogate) or holds NUL. These limits live here only: emitters validate every event as
an `EventIn` when they record it (servicekit's outbox), and audit validates it again at ingest.

An event's own `request_id` field is the request that caused it; the `X-Request-ID`
of the response an `Event` came in is `Event.response_request_id` (list models, being
`APIModel`s, have it as `.request_id`).

Chains. Events are chained per org; events with `org_id = None` (platform-level: a failed login
of an unknown email, say) form one "platform" chain, addressed as `PLATFORM_CHAIN` in URLs.
In a chain, `seq` starts at 1 and has no gaps, and each event's `prev_hash` is the previous
event's `hash` (`GENESIS_HASH`, 64 zeros, for seq 1).

Canonical encoding (`canonical_bytes`), the input of `hash = sha256(...).hexdigest()`:
    JSON of the object with exactly these keys
        id, seq, time, service, org_id, actor {type, id}, action, target ({type, id} or null),
        outcome, reason, request_id, details, prev_hash
    with keys sorted (at every level, `details` included), no whitespace (separators "," and
    ":"), non-ASCII characters as themselves (not \\u escapes), encoded as UTF-8; `time` is
    RFC 3339 in UTC with exactly six fractional digits and a `Z` ("2026-01-02T03:04:05.000000Z").
    `received_at` and `hash` are not part of it. NaN and infinities are not JSON and are refused.
In Python: `json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
allow_nan=False).encode()`. Any language can re-verify a chain from `GET .../events`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    field_validator,
)

from gatewright.core import APIModel, UTCDateTime

ActorType = Literal["user", "api_key", "service", "anonymous"]
ACTOR_TYPES: tuple[ActorType, ...] = ("user", "api_key", "service", "anonymous")
Outcome = Literal["success", "denied", "error"]
OUTCOMES: tuple[Outcome, ...] = ("success", "denied", "error")

GENESIS_HASH = "0" * 64
"""`prev_hash` of the first event of every chain."""
PLATFORM_CHAIN = "_platform"
"""The `org_id` path segment that names the platform chain (events with `org_id = None`)."""
MAX_DETAILS_BYTES = 16 * 1024
"""Largest `details`, measured as its canonical JSON encoding in UTF-8."""
MAX_DETAILS_DEPTH = 32
"""Deepest nesting of `details`: the object itself is level 1, each object or array inside it one
level more. Far below what any JSON encoder on the read path refuses (pydantic's serializer stops
near 255), so whatever audit accepts it can also list, hash and verify."""
MAX_BATCH = 100
"""Most events in one `POST /v1/events/batch`."""
MAX_PAGE_LIMIT = 500
DEFAULT_PAGE_LIMIT = 100
MAX_REQUEST_IDS = 50
"""Most request IDs one `GET /v1/events?request_id=…&request_id=…` may name."""
MAX_REQUEST_ID_LENGTH = 200

EVENT_ID_PATTERN = r"^evt_[A-Za-z0-9_-]{1,64}$"
ACTION_PATTERN = r"^[a-z0-9_.:-]{1,100}$"
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
_PRINTABLE_OR_EMPTY = r"^[^\x00-\x1f\x7f]*$"


def _text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text everywhere (None when it can).

    Every string of an event must be valid Unicode (a lone surrogate such as "\\ud800" cannot be
    encoded as UTF-8, so it could be neither hashed nor stored) and free of NUL (PostgreSQL text
    refuses it, and so do most log pipelines)."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (it holds a lone surrogate)"
    return None


def _text(value: str) -> str:
    problem = _text_problem(value)
    if problem is not None:
        raise ValueError(f"the text {problem}")
    return value


_Text = AfterValidator(_text)
EventId = Annotated[str, StringConstraints(pattern=EVENT_ID_PATTERN), _Text]
Action = Annotated[str, StringConstraints(pattern=ACTION_PATTERN), _Text]
ServiceName = Annotated[
    str, StringConstraints(min_length=1, max_length=40, pattern=_PRINTABLE), _Text
]
ExternalId = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=_PRINTABLE), _Text
]
OrgId = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=_PRINTABLE), _Text]
TargetType = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=_PRINTABLE), _Text
]
Reason = Annotated[str, StringConstraints(max_length=1000), _Text]
RequestId = Annotated[str, StringConstraints(max_length=200, pattern=_PRINTABLE_OR_EMPTY), _Text]


def new_event_id() -> str:
    """A fresh event ID (`evt_` + 32 hex characters): the emitter's idempotency key."""
    return f"evt_{secrets.token_hex(16)}"


def _json_bytes(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _details_problem(details: Any) -> str | None:
    """Why `details` cannot be stored (None when it can): nesting, keys and text, then size.

    Walked with an explicit stack, never recursively, so a hostile nesting depth costs a loop
    and not the interpreter's recursion limit. Size is measured last: the encoder that measures
    it is recursive, and by then the depth is known to be bounded."""
    stack: list[tuple[Any, int]] = [(details, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list | tuple):
            if depth > MAX_DETAILS_DEPTH:
                return (
                    f"details nests objects and arrays more than {MAX_DETAILS_DEPTH} deep; "
                    f"the limit is {MAX_DETAILS_DEPTH} levels"
                )
            if isinstance(value, dict):
                for key, item in value.items():
                    if not isinstance(key, str):
                        return "details has a key that is not a string; JSON keys are strings"
                    if (problem := _text_problem(key)) is not None:
                        return f"details has a key that {problem}"
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and (problem := _text_problem(value)) is not None:
            return f"details has a string that {problem}"
    try:
        size = len(_json_bytes(details))
    except (TypeError, ValueError) as exc:
        return f"details must be plain JSON ({exc})"
    if size > MAX_DETAILS_BYTES:
        return f"details is {size} bytes as JSON; the limit is {MAX_DETAILS_BYTES} bytes"
    return None


def format_time(value: datetime) -> str:
    """RFC 3339 UTC with microseconds, as the canonical encoding writes it."""
    utc = value.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore")


# -- request models (strict) -----------------------------------------------------------------
class Actor(_Request):
    """Who acted: a user, an API key, a service, or nobody known (`anonymous`, `id` null)."""

    type: ActorType
    id: ExternalId | None = None


class Target(_Request):
    """What was acted on, e.g. `{"type": "api_key", "id": "key_…"}`."""

    type: TargetType
    id: ExternalId | None = None


class EventIn(_Request):
    """An event as its emitter sends it; `id` is the emitter's idempotency key."""

    id: EventId
    time: UTCDateTime
    service: ServiceName
    org_id: OrgId | None
    actor: Actor
    action: Action
    target: Target | None = None
    outcome: Outcome
    reason: Reason = ""
    request_id: RequestId = ""
    details: dict[str, Any] = Field(default_factory=dict)

    @field_validator("org_id")
    @classmethod
    def _not_platform(cls, value: str | None) -> str | None:
        if value == PLATFORM_CHAIN:
            raise ValueError(f"{PLATFORM_CHAIN!r} is reserved; send null for platform events")
        return value

    @field_validator("details")
    @classmethod
    def _storable_details(cls, value: dict[str, Any]) -> dict[str, Any]:
        # The one place the limits are enforced: servicekit's outbox validates every event as
        # an EventIn when it is recorded, and audit validates it again at ingest, so an emitter
        # can never hold an event that audit would refuse, and audit never stores one it could
        # not serve back.
        problem = _details_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class EventBatchIn(_Request):
    """Body of `POST /v1/events/batch`."""

    events: Annotated[list[EventIn], Field(min_length=1, max_length=MAX_BATCH)]


# -- response models (tolerant) --------------------------------------------------------------
class ActorOut(_Tolerant):
    type: str
    id: str | None = None


class TargetOut(_Tolerant):
    type: str
    id: str | None = None


class Event(_Tolerant):
    """A stored event: `EventIn` plus its place in the chain (`seq`, `prev_hash`, `hash`)."""

    id: str
    seq: int
    time: datetime
    received_at: datetime
    service: str
    org_id: str | None = None
    actor: ActorOut
    action: str
    target: TargetOut | None = None
    outcome: str
    reason: str = ""
    request_id: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str

    _response_request_id: str = PrivateAttr(default="")

    @property
    def response_request_id(self) -> str:
        """`X-Request-ID` of the response this event came in (empty if built by hand)."""
        return self._response_request_id


class EventList(APIModel):
    data: list[Event]


class EventPage(APIModel):
    """One page of an org's events (seq ascending); pass `next_cursor` back for the next."""

    data: list[Event]
    next_cursor: str | None = None


class ChainVerification(APIModel):
    """Result of re-hashing a chain: `ok`, or the first broken link and why."""

    org_id: str | None = None
    ok: bool
    count: int
    first_broken_seq: int | None = None
    reason: str | None = None


# -- the chain hash --------------------------------------------------------------------------
def _party(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, BaseModel):
        return {"type": value.type, "id": value.id}  # type: ignore[attr-defined]
    return {"type": value["type"], "id": value.get("id")}


def canonical_bytes(event: Event) -> bytes:
    """The exact bytes an event's `hash` is the sha256 of (see the module docstring)."""
    return _json_bytes(
        {
            "id": event.id,
            "seq": event.seq,
            "time": format_time(event.time),
            "service": event.service,
            "org_id": event.org_id,
            "actor": _party(event.actor),
            "action": event.action,
            "target": _party(event.target),
            "outcome": event.outcome,
            "reason": event.reason,
            "request_id": event.request_id,
            "details": event.details,
            "prev_hash": event.prev_hash,
        }
    )


def event_hash(event: Event) -> str:
    """Hex sha256 of `canonical_bytes(event)`: what `event.hash` must equal."""
    return hashlib.sha256(canonical_bytes(event)).hexdigest()


__all__ = [
    "ACTION_PATTERN",
    "ACTOR_TYPES",
    "DEFAULT_PAGE_LIMIT",
    "EVENT_ID_PATTERN",
    "GENESIS_HASH",
    "MAX_BATCH",
    "MAX_DETAILS_BYTES",
    "MAX_DETAILS_DEPTH",
    "MAX_PAGE_LIMIT",
    "MAX_REQUEST_IDS",
    "MAX_REQUEST_ID_LENGTH",
    "OUTCOMES",
    "PLATFORM_CHAIN",
    "Actor",
    "ActorOut",
    "ActorType",
    "ChainVerification",
    "Event",
    "EventBatchIn",
    "EventIn",
    "EventList",
    "EventPage",
    "Outcome",
    "Target",
    "TargetOut",
    "canonical_bytes",
    "event_hash",
    "format_time",
    "new_event_id",
]
