"""Budgets' tables (all prefixed `budgets_`): the ledger, the reservations and the audit outbox.

The ledger has one row per scope: the org (`key_id = ORG_SCOPE`, the empty string) and each key
that has spent or has a budget. A row holds the budget (`limit_micro_usd` null = no budget =
unlimited), the current period (`period_start`, `epoch`) and its `spent` and `reserved` figures.

A reservation is a hold on the org's row and, for a key, on the key's row too, recorded with the
epoch of each row it reserved on (see `ledger` for what the epoch guards). It is unique per org,
key and idempotency key (decision 8); `request_id` is only the label of the request it pays for.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

from gatewright.servicekit.audit import AuditOutbox
from gatewright.servicekit.db import UTCDateTime

metadata = MetaData()
# budgets_audit_outbox: audit events, recorded in the transaction of the change they describe.
outbox = AuditOutbox("budgets", metadata)

ORG_SCOPE = ""  # key_id of an org's own row (NULL would defeat the unique constraint)


def scope_key(key_id: str | None) -> str:
    """The ledger's `key_id` (and a reservation's `key_scope`) for a key, or for the org."""
    return ORG_SCOPE if key_id is None else key_id


ledgers = Table(
    "budgets_ledgers",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("org_id", String(100), nullable=False),
    Column("key_id", String(100), nullable=False),
    Column("limit_micro_usd", BigInteger),
    Column("period", String(16)),
    Column("period_start", UTCDateTime),
    Column("epoch", Integer, nullable=False, default=0),
    Column("spent_micro_usd", BigInteger, nullable=False, default=0),
    Column("reserved_micro_usd", BigInteger, nullable=False, default=0),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("org_id", "key_id", name="uq_budgets_ledgers_scope"),
)

reservations = Table(
    "budgets_reservations",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("org_id", String(100), nullable=False),
    Column("key_id", String(100)),
    Column("amount_micro_usd", BigInteger, nullable=False),
    # The correlation label of the request it pays for; not unique (decision 8).
    Column("request_id", String(200), nullable=False),
    # What makes a create idempotent: one logical reservation per (org, key, idempotency key).
    Column("key_scope", String(100), nullable=False),
    Column("idempotency_key", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("actual_micro_usd", BigInteger),
    Column("org_epoch", Integer, nullable=False),
    Column("key_epoch", Integer),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint(
        "org_id", "key_scope", "idempotency_key", name="uq_budgets_reservations_idempotency"
    ),
    Index("ix_budgets_reservations_org_status", "org_id", "status"),
    Index("ix_budgets_reservations_status_expiry", "status", "expires_at"),
)
