"""Gatewright audit client: `Client` / `AsyncClient`, wire models, the chain hash, pact names.

The service lives in `gatewright.audit.service` and needs the `[service]` extra; nothing here
imports it, FastAPI or servicekit. `canonical_bytes` and `event_hash` are pure functions, so
anyone holding a chain's events can re-verify it (the encoding is in `gatewright.audit.models`).
"""

from gatewright.audit._client import AsyncClient, AsyncEvents, Client, Events
from gatewright.audit.contract import (
    CONSUMER,
    PROVIDER,
    STATE_EVENT_STORED,
    STATE_SERVICE_TOKEN,
    STATE_USER_CAN_READ_AUDIT,
)
from gatewright.audit.models import (
    ACTOR_TYPES,
    GENESIS_HASH,
    MAX_BATCH,
    MAX_DETAILS_BYTES,
    MAX_DETAILS_DEPTH,
    OUTCOMES,
    PLATFORM_CHAIN,
    Actor,
    ActorType,
    ChainVerification,
    Event,
    EventIn,
    EventList,
    EventPage,
    Outcome,
    Target,
    canonical_bytes,
    event_hash,
    new_event_id,
)

__all__ = [
    "ACTOR_TYPES",
    "CONSUMER",
    "GENESIS_HASH",
    "MAX_BATCH",
    "MAX_DETAILS_BYTES",
    "MAX_DETAILS_DEPTH",
    "OUTCOMES",
    "PLATFORM_CHAIN",
    "PROVIDER",
    "STATE_EVENT_STORED",
    "STATE_SERVICE_TOKEN",
    "STATE_USER_CAN_READ_AUDIT",
    "Actor",
    "ActorType",
    "AsyncClient",
    "AsyncEvents",
    "ChainVerification",
    "Client",
    "Event",
    "EventIn",
    "EventList",
    "EventPage",
    "Events",
    "Outcome",
    "Target",
    "canonical_bytes",
    "event_hash",
    "new_event_id",
]
