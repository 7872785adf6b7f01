"""`AuditTrail`: the audit entries each recorded request caused, for artifacts and failure output.

Every Gatewright service records an audit event for each change and denial, tagged with the
request ID of the call that caused it. After a test, the harness asks the audit service
(`GET /v1/events?request_id=…&request_id=…`, service token, up to `IDS_PER_QUERY` IDs a query)
for the events of every request ID the test sent, writes them to `audit.json` beside the
exchanges, and prints them under a failing step. A query whose answer may be cut short (it
reached the page limit), or an audit that takes one ID a query (a 422), is asked again one ID at
a time.
Delivery to audit is asynchronous (each service's outbox), so for a failing test the trail is
polled until it stops growing, briefly, rather than read once.

It reads the audit API over plain httpx: testkit never imports a client package.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from gatewright.core import shared_ssl_context
from gatewright.testkit.eventually import EventuallyTimeout, Outcome, eventually
from gatewright.testkit.target import Target

Trail = dict[str, list[dict[str, Any]]]

IDS_PER_QUERY = 50  # audit's MAX_REQUEST_IDS (testkit reads the API, not the client package)
PAGE_LIMIT = 500  # audit's MAX_PAGE_LIMIT
ONE_ID_LIMIT = 200


class AuditTrail:
    def __init__(self, target: Target | None, *, timeout: float = 3.0) -> None:
        self.url = (target.services.get("audit") if target else None) or None
        self.token = target.service_token if target else None
        self.timeout = timeout

    def _fetch_one(self, http: httpx.Client, request_id: str) -> list[dict[str, Any]]:
        response = http.get("/v1/events", params={"request_id": request_id, "limit": ONE_ID_LIMIT})
        response.raise_for_status()
        data = response.json().get("data", [])
        return [e for e in data if isinstance(e, dict)]

    def _fetch_many(self, http: httpx.Client, request_ids: list[str]) -> Trail:
        if len(request_ids) == 1:
            return {request_ids[0]: self._fetch_one(http, request_ids[0])}
        response = http.get("/v1/events", params={"request_id": request_ids, "limit": PAGE_LIMIT})
        if response.status_code == 422:  # an audit that takes one request ID a query
            return {rid: self._fetch_one(http, rid) for rid in request_ids}
        response.raise_for_status()
        data = [e for e in response.json().get("data", []) if isinstance(e, dict)]
        if len(data) >= PAGE_LIMIT:  # perhaps cut short: each ID on its own
            return {rid: self._fetch_one(http, rid) for rid in request_ids}
        trail: Trail = {rid: [] for rid in request_ids}
        for event in data:
            rid = event.get("request_id")
            if isinstance(rid, str) and rid in trail:
                trail[rid].append(event)
        return trail

    def fetch(self, request_ids: Sequence[str], *, settle: float = 0.0) -> Trail | str:
        """Events per request ID; with `settle` > 0, wait (up to that) for the trail to stop
        growing. Returns a sentence instead when the trail cannot be read."""
        if not self.url or not self.token or not request_ids:
            return {}
        headers = {"Authorization": f"Bearer {self.token}"}
        wanted = list(dict.fromkeys(request_ids))
        try:
            with httpx.Client(
                base_url=self.url,
                headers=headers,
                timeout=self.timeout,
                verify=shared_ssl_context(),
            ) as http:

                def read() -> Trail:
                    trail: Trail = {}
                    for at in range(0, len(wanted), IDS_PER_QUERY):
                        trail.update(self._fetch_many(http, wanted[at : at + IDS_PER_QUERY]))
                    return trail

                latest = read()
                if settle <= 0:
                    return latest
                seen = [latest]

                def stable() -> Outcome[Trail]:
                    now = read()
                    before = sum(map(len, seen[-1].values()))
                    seen.append(now)
                    if sum(map(len, now.values())) == before:
                        return Outcome.done(now)
                    return Outcome.pending(f"{before} events, still growing")

                try:
                    settled: Trail = eventually(
                        stable,
                        timeout=settle,
                        interval=0.1,
                        max_interval=0.2,
                        description="the audit trail to settle",
                    )
                    return settled
                except EventuallyTimeout:
                    return seen[-1]
        except (httpx.HTTPError, ValueError) as exc:
            return f"audit trail unavailable: {type(exc).__name__}: {exc}"


def trail_lines(trail: Trail | str, request_ids: Sequence[str], *, limit: int = 20) -> list[str]:
    """One line per event: `<request id> <service> <action> <outcome> org … — reason`."""
    if isinstance(trail, str):
        return [f"  {trail}"]
    lines = []
    for rid in dict.fromkeys(request_ids):
        for event in trail.get(rid, []):
            actor = event.get("actor") or {}
            lines.append(
                f"  {rid}  {event.get('service', '?')}: {event.get('action', '?')} "
                f"{event.get('outcome', '?')} org={event.get('org_id')} "
                f"actor={actor.get('type')}:{actor.get('id')} seq={event.get('seq')}"
                + (f" — {event['reason']}" if event.get("reason") else "")
            )
    if not lines:
        return ["  (no audit events for these request IDs)"]
    more = len(lines) - limit
    return lines[-limit:] + ([f"  … and {more} earlier"] if more > 0 else [])
