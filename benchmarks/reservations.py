"""Budget reservations per second (reserve + commit) with 1, 8 and 32 concurrent callers.

    python benchmarks/reservations.py [--reservations 600]

Runs identity + budgets on loopback twice: on SQLite (the default) and on the local PostgreSQL
server (a fresh schema, dropped afterwards). Each caller reserves against one org budget large
enough never to deny, then commits; a reservation is counted when its commit returned.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager

from _common import stack
from sqlalchemy import create_engine, text

from gatewright.budgets import AsyncClient as BudgetsClient
from gatewright.identity import Client as IdentityClient
from gatewright.testkit import Target

POSTGRES = os.environ.get(
    "GATEWRIGHT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def postgres_schema() -> Iterator[str]:
    schema = f"bench_{secrets.token_hex(4)}"
    engine = create_engine(POSTGRES)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


async def run(url: str, token: str, org_id: str, total: int, callers: int) -> float:
    async with BudgetsClient(url, token=token) as client:
        await client.budgets.set_org(org_id, limit_micro_usd=10**15, period="total")
        remaining = list(range(total))

        async def caller() -> None:
            while remaining:
                i = remaining.pop()
                reservation = await client.reservations.create(
                    org_id=org_id, key_id=None, amount_micro_usd=10, request_id=f"{org_id}-{i}"
                )
                await client.reservations.commit(reservation.id, actual_micro_usd=7)

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(callers)))
        return total / (time.perf_counter() - started)


def new_org(target: Target, name: str) -> str:
    """An org identity knows (budgets keeps nothing for an org identity does not know)."""
    with IdentityClient(target.url("identity")) as identity:
        login = identity.auth.login(target.admin_email, target.admin_password)
        return identity.with_options(token=login.access_token).orgs.create(name).id


def measure(label: str, total: int, **env: str) -> None:
    with stack(["identity", "budgets"], **env) as target:
        assert target.service_token
        for callers in (1, 8, 32):
            org_id = new_org(target, f"bench-{callers}-{secrets.token_hex(3)}")
            rate = asyncio.run(
                run(target.url("budgets"), target.service_token, org_id, total, callers)
            )
            print(f"{label:<10} {callers:>2} callers: {rate:8.1f} reservations/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reservations", type=int, default=600)
    args = parser.parse_args()
    measure("sqlite", args.reservations)
    with postgres_schema() as url:
        measure("postgresql", args.reservations, GATEWRIGHT_DATABASE_URL=url)


if __name__ == "__main__":
    main()
