"""The audit outbox and its deliverer, on SQLite and the local PostgreSQL, audit mocked by respx.

No sleeps as synchronization: tests wait on the deliverer's `flush()` or on events the mocked
audit endpoint sets.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import MetaData, select, update

from gatewright.servicekit import Database
from gatewright.servicekit.audit import AuditDeliverer, AuditOutbox, start_deliverer
from gatewright.servicekit.correlation import _request_id
from gatewright.servicekit.testing import database_url

AUDIT_URL = "http://audit.test"
BATCH_URL = f"{AUDIT_URL}/v1/events/batch"
ONE_URL = f"{AUDIT_URL}/v1/events"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with database_url(request.param, tmp_path / "t.db") as url:
        database = Database(url)
        yield database
        database.dispose()


@pytest.fixture
def outbox(db: Database) -> Iterator[AuditOutbox]:
    meta = MetaData()
    box = AuditOutbox(f"t{uuid.uuid4().hex[:10]}", meta)
    db.create_all(meta)
    yield box
    meta.drop_all(db.engine)


def record(box: AuditOutbox, db: Database, n: int = 1, **kw: Any) -> list[str]:
    ids = []
    with db.session() as s, s.begin():
        for i in range(n):
            values: dict[str, Any] = {
                "org_id": "org_1",
                "actor_type": "user",
                "actor_id": "usr_1",
                "action": "thing.create",
                "outcome": "success",
                "reason": "",
                "target_type": "thing",
                "target_id": f"thing_{i}",
                "details": {"i": i},
            }
            ids.append(box.record(s, **(values | kw)))
    return ids


def payloads(box: AuditOutbox, db: Database) -> list[dict[str, Any]]:
    with db.session() as s:
        return box.events(s)


class FakeAudit:
    """A respx side effect: fails `fail_first` batch calls (with `failure`), then stores."""

    def __init__(self, fail_first: int = 0, failure: Any = None) -> None:
        self.fail_first = fail_first
        self.failure = failure or httpx.Response(503, json={"error": {"message": "down"}})
        self.calls = 0
        self.received: list[str] = []
        self.got_some = threading.Event()
        self.lock = threading.Lock()

    def batch(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.calls += 1
            if self.calls <= self.fail_first:
                if isinstance(self.failure, Exception):
                    raise self.failure
                return self.failure
            events = json.loads(request.content)["events"]
            assert len(events) <= 100
            self.received.extend(e["id"] for e in events)
            self.got_some.set()
        return httpx.Response(200, json={"data": []})


def deliverer(db: Database, box: AuditOutbox, **kw: Any) -> AuditDeliverer:
    kw.setdefault("poll_seconds", 60.0)  # only wake() and flush() make it work in these tests
    return AuditDeliverer(db, box, audit_url=AUDIT_URL, service_token="svc", **kw)


# -- recording -------------------------------------------------------------------------------
def test_record_commits_with_the_transaction_and_stamps_the_event(
    db: Database, outbox: AuditOutbox
) -> None:
    token = _request_id.set("req_abc")
    try:
        [event_id] = record(outbox, db, details={"name": "ci"})
    finally:
        _request_id.reset(token)
    [p] = payloads(outbox, db)
    assert p["id"] == event_id
    assert event_id.startswith("evt_")
    assert p["service"] == outbox.service
    assert p["request_id"] == "req_abc"
    assert p["actor"] == {"type": "user", "id": "usr_1"}
    assert p["target"] == {"type": "thing", "id": "thing_0"}
    assert p["details"] == {"name": "ci"}
    assert p["time"].endswith("Z") or p["time"].endswith("+00:00")
    with db.session() as s:
        assert outbox.count_pending(s) == 1


def test_record_rolls_back_with_the_transaction(db: Database, outbox: AuditOutbox) -> None:
    def change_that_fails() -> None:
        with db.session() as s, s.begin():
            outbox.record(
                s,
                org_id="org_1",
                actor_type="user",
                actor_id="usr_1",
                action="thing.create",
                outcome="success",
                reason="",
            )
            raise RuntimeError("the state change failed")

    with pytest.raises(RuntimeError):
        change_that_fails()
    assert payloads(outbox, db) == []


def test_record_now_survives_the_request_rollback(db: Database, outbox: AuditOutbox) -> None:
    def request() -> None:
        with db.session() as s, s.begin():
            outbox.record(
                s,
                org_id="org_1",
                actor_type="user",
                actor_id="usr_1",
                action="thing.create",
                outcome="success",
                reason="",
            )
            raise PermissionError("Role 'viewer' lacks 'thing:create'.")

    try:
        request()
    except PermissionError as denial:
        # After the request transaction rolled back (on SQLite a writer waits for the other).
        outbox.record_now(
            db,
            org_id="org_1",
            actor_type="user",
            actor_id="usr_2",
            action="authz.denied",
            outcome="denied",
            reason=str(denial),
            details={"role": "viewer", "permission": "thing:create"},
        )
    [p] = payloads(outbox, db)
    assert p["action"] == "authz.denied"
    assert p["outcome"] == "denied"
    assert p["org_id"] == "org_1"
    assert p["reason"] == "Role 'viewer' lacks 'thing:create'."


def test_anonymous_platform_event_and_bad_events_fail_at_build_time(
    db: Database, outbox: AuditOutbox
) -> None:
    outbox.record_now(
        db,
        org_id=None,
        actor_type="anonymous",
        actor_id=None,
        action="auth.login",
        outcome="denied",
        reason="wrong email or password",
    )
    assert payloads(outbox, db)[0]["org_id"] is None
    with pytest.raises(ValueError, match="action"):
        record(outbox, db, action="Not An Action!")
    assert len(payloads(outbox, db)) == 1


# -- delivery --------------------------------------------------------------------------------
@respx.mock
def test_deliverer_sends_in_order_in_batches_and_marks_delivered(
    db: Database, outbox: AuditOutbox
) -> None:
    fake = FakeAudit()
    respx.post(BATCH_URL).mock(side_effect=fake.batch)
    ids = record(outbox, db, n=250)
    d = deliverer(db, outbox)
    d.start()
    try:
        assert d.flush(timeout=10)
    finally:
        d.stop()
    assert fake.received == ids
    assert fake.calls == 3  # 100 + 100 + 50
    with db.session() as s:
        assert outbox.count_pending(s) == 0
        rows = s.execute(select(outbox.table.c.delivered_at, outbox.table.c.attempts)).all()
    assert all(r.delivered_at is not None and r.attempts == 1 for r in rows)


@respx.mock
def test_a_commit_wakes_the_deliverer_at_once(db: Database, outbox: AuditOutbox) -> None:
    fake = FakeAudit()
    respx.post(BATCH_URL).mock(side_effect=fake.batch)
    d = deliverer(db, outbox, poll_seconds=3600.0)
    d.start()
    try:
        assert d.flush(timeout=5)  # idle
        ids = record(outbox, db, n=2)
        # No flush: only the after-commit wake can make this happen before the poll (an hour).
        assert fake.got_some.wait(timeout=5)
        assert d.flush(timeout=5)
    finally:
        d.stop()
    assert fake.received == ids


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(503, json={"error": {"message": "down"}}),
        httpx.Response(500),
        httpx.Response(504),
        httpx.Response(408),
        httpx.Response(429, json={"error": {"message": "slow down"}}),
        httpx.ConnectError("refused"),
    ],
    ids=["503", "500", "504", "408", "429", "unreachable"],
)
@respx.mock
def test_failures_then_recovery_deliver_every_event_exactly_once_in_order(
    db: Database, outbox: AuditOutbox, failure: Any
) -> None:
    fake = FakeAudit(fail_first=4, failure=failure)
    respx.post(BATCH_URL).mock(side_effect=fake.batch)
    first = record(outbox, db, n=3)
    d = deliverer(db, outbox, min_backoff=0.001, max_backoff=0.01)
    d.start()
    try:
        second = record(outbox, db, n=150)  # recorded while audit is failing
        assert d.flush(timeout=10)
    finally:
        d.stop()
    assert fake.received == first + second
    assert len(set(fake.received)) == len(fake.received)
    assert fake.calls > 4
    with db.session() as s:
        assert outbox.count_pending(s) == 0
        attempts = s.execute(
            select(outbox.table.c.attempts).order_by(outbox.table.c.seq).limit(1)
        ).scalar_one()
    assert attempts >= 2  # the first batch was tried while audit was down


@respx.mock
def test_flush_times_out_while_audit_is_down_and_rows_keep_the_error(
    db: Database, outbox: AuditOutbox
) -> None:
    respx.post(BATCH_URL).mock(return_value=httpx.Response(503))
    record(outbox, db, n=2)
    d = deliverer(db, outbox, min_backoff=0.001, max_backoff=0.01)
    d.start()
    try:
        assert not d.flush(timeout=0.3)
    finally:
        d.stop()
    with db.session() as s:
        assert outbox.count_pending(s) == 2
        errors = s.execute(select(outbox.table.c.last_error)).scalars().all()
    assert all(e and "503" in e for e in errors)


class RefusingAudit:
    """A respx side effect for audit's ingest routes that refuses the events in `refuse` with 422
    (a batch holding one of them is refused whole, as audit does) and stores the rest."""

    def __init__(self, refuse: set[str]) -> None:
        self.refuse = refuse
        self.stored: list[str] = []
        self.sent: list[str] = []  # every event id sent, once per attempt

    def batch(self, request: httpx.Request) -> httpx.Response:
        ids = [e["id"] for e in json.loads(request.content)["events"]]
        self.sent.extend(ids)
        if self.refuse & set(ids):
            return httpx.Response(422, json={"error": {"message": "details nests too deep"}})
        self.stored.extend(ids)
        return httpx.Response(200, json={"data": []})

    def one(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.sent.append(body["id"])
        if body["id"] in self.refuse:
            return httpx.Response(422, json={"error": {"message": "details nests too deep"}})
        self.stored.append(body["id"])
        return httpx.Response(201, json=_stored(body))


def outbox_rows(box: AuditOutbox, db: Database) -> dict[str, Any]:
    t = box.table
    with db.session() as s:
        query = select(t.c.event_id, t.c.delivered_at, t.c.parked_at, t.c.last_error)
        return {r.event_id: r for r in s.execute(query)}


@respx.mock
def test_a_refused_event_is_parked_and_the_events_behind_it_are_delivered(
    db: Database, outbox: AuditOutbox, caplog: pytest.LogCaptureFixture
) -> None:
    before, bad, *after = record(outbox, db, n=5)
    fake = RefusingAudit(refuse={bad})
    respx.post(BATCH_URL).mock(side_effect=fake.batch)
    respx.post(ONE_URL).mock(side_effect=fake.one)
    d = deliverer(db, outbox, min_backoff=0.001, max_backoff=0.01)
    d.start()
    try:
        assert d.flush(timeout=5)  # drained: delivered or parked, nothing left waiting
        later = record(outbox, db, n=2)  # recorded after the parking: nothing blocks them
        assert d.flush(timeout=5)
    finally:
        d.stop()
    assert fake.stored == [before, *after, *later]  # every good event, in order
    rows = outbox_rows(outbox, db)
    assert rows[bad].delivered_at is None
    assert rows[bad].parked_at is not None
    assert "422" in rows[bad].last_error
    assert "details nests too deep" in rows[bad].last_error
    assert all(rows[i].delivered_at is not None for i in [before, *after, *later])
    with db.session() as s:
        assert (outbox.count_pending(s), outbox.count_parked(s)) == (0, 1)
        [parked] = outbox.parked(s)
    assert parked.event_id == bad
    assert d.parked == 1
    assert fake.sent.count(bad) == 2  # in its batch, then alone: never retried after parking
    assert any(bad in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)


@respx.mock
def test_a_parked_event_is_delivered_once_an_operator_unparks_it(
    db: Database, outbox: AuditOutbox
) -> None:
    first, bad, last = record(outbox, db, n=3)
    fake = RefusingAudit(refuse={bad})
    respx.post(BATCH_URL).mock(side_effect=fake.batch)
    respx.post(ONE_URL).mock(side_effect=fake.one)
    d = deliverer(db, outbox)
    d.start()
    try:
        assert d.flush(timeout=5)
        fake.refuse.clear()  # audit now accepts it (say, a rule was relaxed)
        with db.session() as s, s.begin():
            assert outbox.unpark(s, event_ids=[bad, first]) == 1  # only parked rows move
        assert d.flush(timeout=5)
    finally:
        d.stop()
    assert fake.stored == [first, last, bad]  # after the events that went ahead of it
    with db.session() as s:
        assert (outbox.count_pending(s), outbox.count_parked(s)) == (0, 0)


@respx.mock
def test_a_stored_payload_that_no_longer_validates_is_parked(
    db: Database, outbox: AuditOutbox
) -> None:
    fake = FakeAudit()
    respx.post(BATCH_URL).mock(side_effect=fake.batch)
    first, old, last = record(outbox, db, n=3)
    # Recorded by an older build, before details had a depth limit.
    deep: dict[str, Any] = {}
    for _ in range(40):
        deep = {"a": deep}
    t = outbox.table
    with db.session() as s, s.begin():
        payload = s.execute(select(t.c.payload).where(t.c.event_id == old)).scalar_one()
        s.execute(update(t).where(t.c.event_id == old).values(payload=payload | {"details": deep}))
    d = deliverer(db, outbox)
    d.start()
    try:
        assert d.flush(timeout=5)
    finally:
        d.stop()
    assert fake.received == [first, last]
    assert fake.calls == 1  # the bad row never reached audit
    rows = outbox_rows(outbox, db)
    assert rows[old].parked_at is not None
    assert "no longer validates" in rows[old].last_error
    assert "32 levels" in rows[old].last_error


@pytest.mark.parametrize("status", [401, 403, 404, 405, 501])
@respx.mock
def test_an_answer_not_about_the_events_parks_nothing_and_delivery_resumes_once_fixed(
    db: Database, outbox: AuditOutbox, status: int
) -> None:
    # A wrong service token or audit URL (or a 501 from whatever answers there) is true of every
    # event alike: parking would park them all.
    fake = FakeAudit(fail_first=3, failure=httpx.Response(status, json={"error": {}}))
    respx.post(BATCH_URL).mock(side_effect=fake.batch)
    ids = record(outbox, db, n=3)
    d = deliverer(db, outbox, min_backoff=0.001, max_backoff=0.01)
    d.start()
    try:
        assert d.flush(timeout=10)  # the fourth call succeeds: "the setting was fixed"
    finally:
        d.stop()
    assert fake.received == ids
    assert d.parked == 0
    with db.session() as s:
        assert (outbox.count_pending(s), outbox.count_parked(s)) == (0, 0)


@respx.mock
def test_a_conflict_marks_the_event_delivered(db: Database, outbox: AuditOutbox) -> None:
    respx.post(BATCH_URL).mock(return_value=httpx.Response(409, json={"error": {}}))
    respx.post(ONE_URL).mock(return_value=httpx.Response(409, json={"error": {}}))
    record(outbox, db, n=2)
    d = deliverer(db, outbox)
    d.start()
    try:
        assert d.flush(timeout=5)
    finally:
        d.stop()
    with db.session() as s:
        assert outbox.count_pending(s) == 0
        errors = s.execute(select(outbox.table.c.last_error)).scalars().all()
    assert all(e and "409" in e for e in errors)


@respx.mock
def test_resending_after_a_crash_between_sent_and_marked_is_harmless(
    db: Database, outbox: AuditOutbox
) -> None:
    fake = FakeAudit()
    respx.post(BATCH_URL).mock(side_effect=fake.batch)
    ids = record(outbox, db, n=3)
    # "Crash": a first deliverer's send reached audit but the marks were never written.
    first = deliverer(db, outbox)
    first._mark_delivered = lambda seqs, note: None  # type: ignore[method-assign]
    assert first._deliver_once() == 3
    second = deliverer(db, outbox)
    second.start()
    try:
        assert second.flush(timeout=5)
    finally:
        second.stop()
    assert fake.received == ids + ids  # sent twice; audit's ingest keeps one of each


@respx.mock
def test_stop_is_prompt_even_while_backing_off(db: Database, outbox: AuditOutbox) -> None:
    fake = FakeAudit(fail_first=10**6)
    respx.post(BATCH_URL).mock(side_effect=fake.batch)
    record(outbox, db, n=1)
    d = deliverer(db, outbox, min_backoff=2.0, max_backoff=2.0)
    d.start()
    assert not d.flush(timeout=0.2)  # it failed once and is now in a 2 s backoff
    started = time.monotonic()
    d.stop()
    assert time.monotonic() - started < 1.0
    assert not d.running


def test_prune_deletes_only_rows_delivered_before_the_cutoff(
    db: Database, outbox: AuditOutbox
) -> None:
    ids = record(outbox, db, n=5)
    now = datetime.now(UTC)
    t = outbox.table
    with db.session() as s, s.begin():
        s.execute(
            update(t).where(t.c.event_id.in_(ids[:3])).values(delivered_at=now - timedelta(days=2))
        )
        s.execute(update(t).where(t.c.event_id == ids[3]).values(delivered_at=now))
    with db.session() as s, s.begin():
        assert outbox.prune(s, delivered_before=now - timedelta(days=1)) == 3
    with db.session() as s:
        left = s.execute(select(t.c.event_id, t.c.delivered_at).order_by(t.c.seq)).all()
    assert [r.event_id for r in left] == ids[3:]  # the recent one, and the undelivered one
    assert left[1].delivered_at is None


@respx.mock
def test_the_deliverer_prunes_what_it_delivered_once_past_retention(
    db: Database, outbox: AuditOutbox
) -> None:
    fake = FakeAudit()
    respx.post(BATCH_URL).mock(side_effect=fake.batch)
    ids = record(outbox, db, n=3)
    d = deliverer(db, outbox, retention_seconds=0, prune_interval_seconds=0)
    d.start()
    try:
        assert d.flush(timeout=10)
    finally:
        d.stop()
    assert fake.received == ids
    assert d.pruned == 3
    assert payloads(outbox, db) == []


def test_no_audit_url_means_record_only(db: Database, outbox: AuditOutbox) -> None:
    assert start_deliverer(db, outbox, audit_url=None, service_token="svc") is None
    record(outbox, db)
    with db.session() as s:
        assert outbox.count_pending(s) == 1


def _stored(event: dict[str, Any]) -> dict[str, Any]:
    return event | {
        "seq": 1,
        "received_at": event["time"],
        "prev_hash": "0" * 64,
        "hash": "0" * 64,
    }
