"""The audit deliverer: how a service SHIPS the events its outbox recorded to the audit service.

Recording is `gatewright.servicekit.audit.outbox`; this module only reads the outbox's pending
rows, sends them, and marks them delivered (or parked).

`AuditDeliverer(db, outbox, audit_url=..., service_token=...)` is a daemon thread that the app's
lifespan starts (`start()`) and stops (`stop()`, joined within a few seconds). It sends the
pending rows in `seq` order, at most `MAX_BATCH` (100) per `events.ingest_batch` call, and
marks them delivered. It is woken (`wake()`) right after every commit that recorded an event (the
outbox hooks the session's `after_commit`) and lingers `LINGER_SECONDS` (20 ms) before it reads
the outbox, so that a busy service ships one batch per linger instead of one call per event
(delivery is asynchronous anyway; this keeps its CPU off the requests still being served). It
also polls now and then, for rows another process (a replica sharing the database) left behind.
Failures, by what audit's answer says about the events (`_answer`):

- audit unreachable, timeouts, and the statuses of the clients' one retry policy
  (`RetryPolicy().retry_statuses` in core: 408, 429, 500, 502, 503, 504): the rows stay pending
  (`attempts`, `last_error`) and the same batch is retried with capped exponential backoff
  (50 ms doubling to 2 s) until it succeeds. Nothing is dropped and order is kept: a later event
  is never sent before an earlier pending one.
- a crash between "sent" and "marked delivered" re-sends the batch after restart: harmless, since
  audit's ingest is idempotent on the event id.
- 409 (an event with that id but different content is stored): audit already holds the id, so
  the row is marked delivered, with the conflict in `last_error` and a warning in the log.
- any other 4xx is a refusal of what an event holds (a 422 for a rule this build's `EventIn` did
  not know, say), and so is a stored payload that no longer validates as an `EventIn`. The
  batch is re-sent one event at a time, in order, to find the refused one(s); each is PARKED
  (`parked_at`, the reason in `last_error`, an error log line naming the event id, never retried
  automatically, counted by `AuditOutbox.count_parked` and by this deliverer's `parked`) and the
  events behind it are delivered as usual. One bad event never blocks a service's audit trail.
- 401, 403, 404, 405 and a 5xx outside the retry list say that the call is wrong (the audit URL,
  the service token), not the events: they are true of every event alike, so parking would park
  the whole outbox. The rows stay pending, retried with backoff, with an error in the log, and
  are delivered once the setting is fixed.

`flush(timeout)` waits until every event committed before the call has been delivered or parked
(or the timeout passes; returns whether it drained): for tests and graceful shutdown, no sleeping.

Delivered rows are deleted once they are older than `retention_seconds`
(`GATEWRIGHT_AUDIT_OUTBOX_RETENTION_SECONDS`, a day by default; the audit service keeps the
events): the deliverer prunes at most once a minute, in bounded batches, after a delivery pass.
Pending and parked rows are never pruned, however old.

`GATEWRIGHT_AUDIT_URL` (`ServiceSettings.audit_url`) turns delivery on; unset, events are still
recorded in the outbox (and shipped once it is set and the service restarts).
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy import update

from gatewright.audit import MAX_BATCH, EventIn
from gatewright.audit import Client as AuditClient
from gatewright.core import APIConnectionError, APIStatusError, RetryPolicy
from gatewright.servicekit.audit.outbox import LAST_ERROR_MAX, PRUNE_BATCH, AuditOutbox
from gatewright.servicekit.db import Database

log = logging.getLogger("gatewright.servicekit.audit.delivery")

MIN_BACKOFF_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 2.0
POLL_SECONDS = 5.0
LINGER_SECONDS = 0.02  # batching window after a wake-up (module doc)
RETENTION_SECONDS = 86_400.0  # delivered rows are kept this long (module doc)
PRUNE_INTERVAL_SECONDS = 60.0
CALL_TIMEOUT_SECONDS = 2.0
# The statuses worth another attempt are the clients' one retry policy's (core, decision 2).
_TRANSIENT = RetryPolicy().retry_statuses
# Answers that say the deliverer's audit URL or service token is wrong: they are true of every
# event alike, so parking would park the whole outbox; the events wait instead (see module doc).
_ABOUT_THE_CALLER = frozenset({401, 403, 404, 405})


class _Answer(enum.Enum):
    """What an error status from audit means for the events it answered."""

    TRANSIENT = "transient"  # retry the same events, in order, with backoff
    CONFLICT = "conflict"  # 409: audit holds the id already; the event is delivered
    REFUSED = "refused"  # this event can never be accepted as it is: park it
    HELD = "held"  # not about the events (the URL, the token, a 501): they wait, loudly


def _answer(status: int) -> _Answer:
    if status in _TRANSIENT:
        return _Answer.TRANSIENT
    if status == 409:
        return _Answer.CONFLICT
    if 400 <= status < 500 and status not in _ABOUT_THE_CALLER:
        return _Answer.REFUSED
    # The caller's own mistakes, and a 5xx outside the retry list (501, 505, ...): neither says
    # anything against the events, so none is parked.
    return _Answer.HELD


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in exc.errors())


class _Sink(Protocol):
    """What the deliverer sends through (the audit client's `events`)."""

    def ingest_batch(self, events: Sequence[EventIn]) -> Any: ...
    def ingest(self, event: EventIn) -> Any: ...


def _now() -> datetime:
    return datetime.now(UTC)


class AuditDeliverer:
    """The background thread that ships an outbox's rows to the audit service (module doc)."""

    def __init__(
        self,
        db: Database,
        outbox: AuditOutbox,
        *,
        audit_url: str,
        service_token: str,
        batch_size: int = MAX_BATCH,
        min_backoff: float = MIN_BACKOFF_SECONDS,
        max_backoff: float = MAX_BACKOFF_SECONDS,
        poll_seconds: float = POLL_SECONDS,
        linger_seconds: float = LINGER_SECONDS,
        retention_seconds: float = RETENTION_SECONDS,
        prune_interval_seconds: float = PRUNE_INTERVAL_SECONDS,
        timeout: float = CALL_TIMEOUT_SECONDS,
        sink: _Sink | None = None,
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.batch_size = max(1, min(batch_size, MAX_BATCH))
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.poll_seconds = poll_seconds
        self.linger_seconds = linger_seconds
        self.retention_seconds = retention_seconds
        self.prune_interval_seconds = prune_interval_seconds
        self._next_prune = 0.0  # time.monotonic() of the next pruning; 0: after the first pass
        self.pruned = 0  # delivered rows deleted by this deliverer (for tests, metrics)
        self._client: AuditClient | None = None
        if sink is None:
            # No retries inside the client: this thread does its own interruptible backoff.
            self._client = AuditClient(
                audit_url,
                token=service_token,
                timeout=timeout,
                retry=RetryPolicy(max_retries=0),
            )
            sink = self._client.events
        self._sink = sink
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._flush_asked = 0
        self._drained = 0
        self._thread: threading.Thread | None = None
        self.delivered = 0  # events marked delivered by this deliverer (for tests, metrics)
        self.parked = 0  # events this deliverer parked (for tests, metrics; see count_parked)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self.outbox.on_commit(self.wake)
        self._thread = threading.Thread(
            target=self._run, name=f"{self.outbox.service}-audit-deliverer", daemon=True
        )
        self._thread.start()
        self.wake()  # ship whatever an earlier run left behind

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (an in-flight call is bounded by the client timeout) and join it."""
        self.outbox.remove_listener(self.wake)
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("audit deliverer did not stop within %.1f s", timeout)
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """Deliver now (called after each commit that recorded events)."""
        self._wake.set()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every event committed before this call is delivered; False on timeout."""
        with self._cond:
            self._flush_asked += 1
            target = self._flush_asked
            self._wake.set()
            return self._cond.wait_for(
                lambda: self._drained >= target or self._stop.is_set(), timeout
            ) and (self._drained >= target)

    # -- the loop ----------------------------------------------------------------------------
    def _run(self) -> None:
        backoff = 0.0
        while not self._stop.is_set():
            if self._wake.wait(self.poll_seconds):  # woken by commits; the timeout is a poll
                self._stop.wait(self.linger_seconds)  # a batching window, cut short by stop()
            self._wake.clear()
            while not self._stop.is_set():
                with self._cond:
                    asked = self._flush_asked
                try:
                    sent = self._deliver_once()
                except Exception:
                    log.exception("audit delivery failed unexpectedly; backing off")
                    sent = -1
                if sent < 0:
                    backoff = min(self.max_backoff, max(self.min_backoff, backoff * 2))
                    self._stop.wait(backoff)  # retry backoff, interruptible by stop()
                    continue
                backoff = 0.0
                if sent < self.batch_size and not self._stop.is_set():
                    # The read saw every row committed before `asked` was taken, and they all
                    # fitted in this batch: those flush() callers are served, no re-read needed.
                    self._prune_if_due()
                    with self._cond:
                        self._drained = max(self._drained, asked)
                        self._cond.notify_all()
                    break
        with self._cond:
            self._cond.notify_all()

    def _prune_if_due(self) -> None:
        now = time.monotonic()
        if now < self._next_prune:
            return
        self._next_prune = now + self.prune_interval_seconds
        cutoff = _now() - timedelta(seconds=self.retention_seconds)
        try:
            while not self._stop.is_set():
                with self.db.session() as s, s.begin():
                    deleted = self.outbox.prune(s, delivered_before=cutoff)
                self.pruned += deleted
                if deleted < PRUNE_BATCH:
                    break
        except Exception:
            log.exception("cannot prune delivered audit events; trying again later")

    def _deliver_once(self) -> int:
        """Ship one batch: how many rows it settled (delivered or parked; 0 = outbox empty), or
        -1 to back off and retry the same rows."""
        with self.db.session() as s:
            rows = self.outbox.pending(s, limit=self.batch_size)
        if not rows:
            return 0
        sendable: list[tuple[Any, EventIn]] = []
        parked = 0
        for row in rows:
            try:
                sendable.append((row, EventIn.model_validate(row.payload)))
            except ValidationError as exc:
                # Recorded by an older build, before today's rules: it can never be sent as it is.
                self._park(row, f"the stored payload no longer validates: {_errors(exc)}")
                parked += 1
        if not sendable:
            return parked
        try:
            self._sink.ingest_batch([evt for _row, evt in sendable])
        except APIConnectionError as exc:
            self._note_failure([r.seq for r, _evt in sendable], f"audit unreachable: {exc}")
            log.warning("audit unreachable; %d event(s) wait in the outbox: %s", len(rows), exc)
            return -1
        except APIStatusError as exc:
            answer = _answer(exc.status_code)
            if answer is _Answer.REFUSED or answer is _Answer.CONFLICT:
                # Which event(s)? One by one, in order: the good ones go, the refused are parked.
                done = self._one_by_one(sendable)
                return -1 if done < 0 else parked + done
            self._hold([r.seq for r, _evt in sendable], exc, answer)
            return -1
        self._mark_delivered([r.seq for r, _evt in sendable], None)
        return parked + len(sendable)

    def _one_by_one(self, sendable: Sequence[tuple[Any, EventIn]]) -> int:
        """Send each event alone, in order; the count settled, or -1 to back off (the rows
        settled so far stay settled, the rest are retried)."""
        done = 0
        for row, evt in sendable:
            if self._stop.is_set():
                return -1
            try:
                self._sink.ingest(evt)
            except APIConnectionError as exc:
                self._note_failure([row.seq], f"audit unreachable: {exc}")
                return -1
            except APIStatusError as exc:
                answer = _answer(exc.status_code)
                if answer is _Answer.CONFLICT:
                    log.warning(
                        "audit holds event %s with different content (409); marking it delivered",
                        row.event_id,
                        extra={"event_id": row.event_id},
                    )
                    self._mark_delivered([row.seq], f"409 conflict: {exc.message}")
                elif answer is _Answer.REFUSED:
                    self._park(row, f"audit refused the event ({exc.status_code}): {exc.message}")
                else:
                    self._hold([row.seq], exc, answer)
                    return -1
                done += 1
                continue
            self._mark_delivered([row.seq], None)
            done += 1
        return done

    def _park(self, row: Any, reason: str) -> None:
        log.error(
            "audit event %s is parked: it will not be retried automatically (%s)",
            row.event_id,
            reason,
            extra={"event_id": row.event_id},
        )
        with self.db.session() as s, s.begin():
            self.outbox.park(s, seq=row.seq, reason=reason, now=_now())
        self.parked += 1

    def _hold(self, seqs: Sequence[int], exc: APIStatusError, answer: _Answer) -> None:
        self._note_failure(seqs, f"audit answered {exc.status_code}: {exc.message}")
        if answer is _Answer.TRANSIENT:
            log.warning("audit answered %s; retrying with backoff", exc.status_code)
        else:
            log.error(
                "audit answered %s (%s), which is not about the events: check the deliverer's "
                "audit URL and service token; %d event(s) wait in the outbox, retried with backoff",
                exc.status_code,
                exc.message,
                len(seqs),
            )

    # -- bookkeeping -------------------------------------------------------------------------
    def _mark_delivered(self, seqs: Sequence[int], note: str | None) -> None:
        t = self.outbox.table
        values: dict[str, Any] = {"delivered_at": _now(), "attempts": t.c.attempts + 1}
        if note is not None:
            values["last_error"] = note[:LAST_ERROR_MAX]
        with self.db.session() as s, s.begin():
            s.execute(update(t).where(t.c.seq.in_(list(seqs))).values(**values))
        self.delivered += len(seqs)

    def _note_failure(self, seqs: Sequence[int], error: str) -> None:
        t = self.outbox.table
        try:
            with self.db.session() as s, s.begin():
                s.execute(
                    update(t)
                    .where(t.c.seq.in_(list(seqs)))
                    .values(attempts=t.c.attempts + 1, last_error=error[:LAST_ERROR_MAX])
                )
        except Exception:
            log.exception("cannot note the audit delivery failure")


def start_deliverer(
    db: Database,
    outbox: AuditOutbox,
    *,
    audit_url: str | None,
    service_token: str,
    retention_seconds: float = RETENTION_SECONDS,
) -> AuditDeliverer | None:
    """The lifespan helper: a started deliverer, or None (and a log line) when no audit URL."""
    if not audit_url:
        log.info(
            "GATEWRIGHT_AUDIT_URL is not set: audit events are kept in %s, not delivered",
            outbox.table.name,
        )
        return None
    deliverer = AuditDeliverer(
        db,
        outbox,
        audit_url=audit_url,
        service_token=service_token,
        retention_seconds=retention_seconds,
    )
    deliverer.start()
    return deliverer
