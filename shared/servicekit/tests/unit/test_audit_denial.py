"""`record_denial`: every service's `authz.denied` event has one shape, and a 403 stays a 403."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Unpack

import pytest
from sqlalchemy import MetaData

from gatewright.servicekit import Database, ServiceError
from gatewright.servicekit.access import Decision, UserCaller, authorize
from gatewright.servicekit.audit import AuditOutbox, EventFields, record_denial
from gatewright.servicekit.correlation import _request_id


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 't.db'}")
    yield database
    database.dispose()


@pytest.fixture
def outbox(db: Database) -> AuditOutbox:
    meta = MetaData()
    box = AuditOutbox("svc", meta)
    db.create_all(meta)
    return box


class Refuses:
    """An authorizer that says no, as identity would for a viewer."""

    def check(self, *, subject: str, org_id: str, permission: str) -> Decision:
        reason = f"Role 'viewer' in org {org_id} lacks permission '{permission}'."
        return Decision(allowed=False, role="viewer", reason=reason)


def recorded(outbox: AuditOutbox, db: Database) -> list[dict[str, Any]]:
    with db.session() as s:
        return outbox.events(s)


def test_a_refused_permission_is_one_authz_denied_event_of_the_shared_shape(
    db: Database, outbox: AuditOutbox
) -> None:
    def on_denied(user: UserCaller, denial: ServiceError) -> None:
        record_denial(outbox, db, denial, actor_type="user", actor_id=user.user_id)

    token = _request_id.set("req_denied")
    try:
        with pytest.raises(ServiceError) as refused:
            authorize(
                UserCaller("usr_viewer"),
                Refuses(),
                org_id="org_1",
                permission="keys:create",
                on_denied=on_denied,
            )
    finally:
        _request_id.reset(token)
    assert refused.value.status_code == 403
    [event] = recorded(outbox, db)
    assert {k: event[k] for k in ("action", "outcome", "org_id", "actor", "target")} == {
        "action": "authz.denied",
        "outcome": "denied",
        "org_id": "org_1",
        "actor": {"type": "user", "id": "usr_viewer"},
        "target": {"type": "org", "id": "org_1"},
    }
    assert event["reason"] == refused.value.message
    assert event["details"] == {"role": "viewer", "permission": "keys:create"}
    assert event["request_id"] == "req_denied"
    assert event["service"] == "svc"


def test_a_denial_naming_no_org_is_a_platform_event_with_its_subject(
    db: Database, outbox: AuditOutbox
) -> None:
    denial = ServiceError(
        403,
        "permission_denied",
        "A user may only check their own permissions; services may check anyone's.",
        details={"subject": "usr_other"},
    )
    assert record_denial(outbox, db, denial, actor_type="anonymous", actor_id=None)
    [event] = recorded(outbox, db)
    assert (event["org_id"], event["target"]) == (None, None)
    assert event["actor"] == {"type": "anonymous", "id": None}
    assert event["details"] == {"role": None, "permission": None, "subject": "usr_other"}


class Broken:
    def record_now(self, db: Database, **fields: Unpack[EventFields]) -> str:
        raise RuntimeError("the outbox's database is gone")


def test_a_denial_that_cannot_be_recorded_is_logged_and_never_raises(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    denial = ServiceError(403, "permission_denied", "Role 'viewer' lacks 'keys:create'.")
    assert record_denial(Broken(), db, denial, actor_type="user", actor_id="usr_1") is None
    assert any("Role 'viewer' lacks 'keys:create'." in r.getMessage() for r in caplog.records)
