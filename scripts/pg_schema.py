"""Create or drop a PostgreSQL schema for a test run, and print the URL that selects it.

    python scripts/pg_schema.py create e2e_r1a2b3   # prints postgresql+psycopg://…?options=…
    python scripts/pg_schema.py drop e2e_r1a2b3

The server is GATEWRIGHT_TEST_POSTGRES_URL (default: the local server, trust auth, database
`test`). Exit code 3 means the server is not reachable, so callers can skip locally and fail
in CI.
"""

from __future__ import annotations

import os
import re
import sys

import psycopg

BASE = os.environ.get(
    "GATEWRIGHT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def main(argv: list[str]) -> int:
    if (
        len(argv) != 3
        or argv[1] not in {"create", "drop"}
        or not re.fullmatch(r"[a-z0-9_]{1,50}", argv[2])
    ):
        print(__doc__)
        return 2
    action, schema = argv[1], argv[2]
    try:
        with psycopg.connect(
            BASE.replace("+psycopg", ""), autocommit=True, connect_timeout=3
        ) as conn:
            if action == "create":
                conn.execute(f'CREATE SCHEMA "{schema}"')
            else:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    except psycopg.OperationalError as exc:
        print(f"PostgreSQL is not reachable at {BASE}: {exc}", file=sys.stderr)
        return 3
    if action == "create":
        print(f"{BASE}?options=-csearch_path%3D{schema}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
