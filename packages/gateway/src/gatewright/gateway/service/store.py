"""The route table in the gateway's database (SQLAlchemy core; SQLite or PostgreSQL).

One row per (scope, alias): scope is the org id, or '' for a global route. Data functions are
synchronous and keyword-only; routes call them in the thread pool.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gatewright.gateway.models import Backend, Route
from gatewright.servicekit.audit import AuditOutbox

metadata = MetaData()
# gateway_audit_outbox: audit events (completions, denials, route changes).
outbox = AuditOutbox("gateway", metadata)
GLOBAL = ""

routes = Table(
    "gateway_routes",
    metadata,
    Column("scope", String(200), primary_key=True),
    Column("alias", String(100), primary_key=True),
    Column("backends", Text, nullable=False),
    Column("input_price", BigInteger, nullable=False),
    Column("output_price", BigInteger, nullable=False),
    # The route's largest max_tokens, and what a request without one is sent (decision 10).
    Column("max_output_tokens", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


def now() -> datetime:
    return datetime.now(UTC)


def _route(row: Any) -> Route:
    updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=UTC)
    return Route(
        alias=row.alias,
        org_id=row.scope or None,
        backends=[Backend(**b) for b in json.loads(row.backends)],
        input_micro_usd_per_mtok=int(row.input_price),
        output_micro_usd_per_mtok=int(row.output_price),
        max_output_tokens=int(row.max_output_tokens),
        updated_at=updated,
    )


def get_route(s: Session, *, org_id: str | None, alias: str) -> Route | None:
    row = s.execute(
        select(routes).where(routes.c.scope == (org_id or GLOBAL), routes.c.alias == alias)
    ).first()
    return _route(row) if row else None


def list_routes(s: Session, *, org_id: str | None) -> list[Route]:
    rows = s.execute(
        select(routes).where(routes.c.scope == (org_id or GLOBAL)).order_by(routes.c.alias)
    ).all()
    return [_route(r) for r in rows]


def put_route(
    s: Session,
    *,
    org_id: str | None,
    alias: str,
    backends: list[Backend],
    input_price: int,
    output_price: int,
    max_output_tokens: int,
) -> Route:
    values = {
        "scope": org_id or GLOBAL,
        "alias": alias,
        "backends": json.dumps([b.model_dump(mode="json") for b in backends]),
        "input_price": input_price,
        "output_price": output_price,
        "max_output_tokens": max_output_tokens,
        "updated_at": now(),
    }
    dialect = s.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(routes).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[routes.c.scope, routes.c.alias],
        set_={
            k: stmt.excluded[k]
            for k in ("backends", "input_price", "output_price", "max_output_tokens", "updated_at")
        },
    )
    s.execute(stmt)
    route = get_route(s, org_id=org_id, alias=alias)
    assert route is not None
    return route


def delete_route(s: Session, *, org_id: str | None, alias: str) -> bool:
    result = s.execute(
        delete(routes).where(routes.c.scope == (org_id or GLOBAL), routes.c.alias == alias)
    )
    return bool(getattr(result, "rowcount", 0))


def orgs_with_routes(s: Session) -> dict[str, int]:
    """org id -> how many routes the gateway keeps for it (the global table left out)."""
    rows = s.execute(
        select(routes.c.scope, func.count())
        .where(routes.c.scope != GLOBAL)
        .group_by(routes.c.scope)
    ).all()
    return {scope: int(n) for scope, n in rows}


def purge_org(s: Session, *, org_id: str) -> int:
    """Delete every route of the org; how many went."""
    if org_id == GLOBAL:
        return 0
    result = s.execute(delete(routes).where(routes.c.scope == org_id))
    return int(getattr(result, "rowcount", 0) or 0)


def reset(s: Session) -> None:
    s.execute(delete(routes))
    s.execute(delete(outbox.table))
