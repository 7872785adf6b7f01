"""The shared route dependencies read the DB and the clock from `app.state`."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient

from gatewright.servicekit import Database
from gatewright.servicekit.deps import DB, Now

FIXED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_db_and_now_come_from_app_state() -> None:
    app = FastAPI()
    app.state.db = Database("sqlite://")
    app.state.clock = lambda: FIXED

    @app.get("/probe")
    def probe(db: DB, now: Now) -> dict[str, object]:
        return {"same_db": db is app.state.db, "now": now.isoformat()}

    with TestClient(app) as client:
        assert client.get("/probe").json() == {"same_db": True, "now": FIXED.isoformat()}
