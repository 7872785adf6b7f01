"""Budgets' storage: the tables and the keyword-only data functions the routes and the app use.

Functions take an open `Session` inside a transaction (`with db.session() as s, s.begin():`) and
never commit themselves; raising (a `ServiceError`) rolls the whole transaction back. Each module
states the invariants it keeps:

- `tables`: the metadata, the ledger and reservations tables, the audit outbox, `ORG_SCOPE`.
- `ledger`: periods, the `Ledger` row, the lock order, rollover, budgets and spend; never
  spent + reserved > limit through a reservation, no deadlocks, period resets lose nothing.
- `records`: reservation rows (building, reading, errors) and the replay rules (decision 8).
- `fastpath`: the statements built once for the hot path (decision 6).
- `reservations`: reserve and commit (short path first, then the general path), release,
  expiry, listing.

Seeding helpers for provider states and tests live in `gatewright.budgets.service.testing`, not
here: nothing in production writes figures directly.
"""

from gatewright.budgets.service.store.ledger import (
    delete_budget,
    get_budget,
    get_spend,
    lock_org,
    orgs_with_data,
    purge_org,
    set_budget,
)
from gatewright.budgets.service.store.records import Replayed, check_replay, find_replayed
from gatewright.budgets.service.store.reservations import (
    commit,
    commit_general,
    expire_due,
    list_reservations,
    orgs_with_due_reservations,
    release,
    reserve,
    reserve_general,
)
from gatewright.budgets.service.store.tables import (
    ORG_SCOPE,
    ledgers,
    metadata,
    outbox,
    reservations,
)

__all__ = [
    "ORG_SCOPE",
    "Replayed",
    "check_replay",
    "commit",
    "commit_general",
    "delete_budget",
    "expire_due",
    "find_replayed",
    "get_budget",
    "get_spend",
    "ledgers",
    "list_reservations",
    "lock_org",
    "metadata",
    "orgs_with_data",
    "orgs_with_due_reservations",
    "outbox",
    "purge_org",
    "release",
    "reservations",
    "reserve",
    "reserve_general",
    "set_budget",
]
