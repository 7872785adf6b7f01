"""Read-ahead: one reconcile's live reads fetched concurrently before its sequential apply.

`Prefetched` wraps a `LiveState`. `fetch(reads)` runs the named reads (`org_exists`,
`list_members`, `get_budget`, `get_route` with their arguments) on a bounded thread pool
(`MAX_READERS`) and keeps each result, or the error it raised, for the ONE later call with the
same arguments; that call re-raises the error, so a failed read still fails only its own
resource. Two reads are shared: `org_exists` of an org whose members were fetched ahead is
answered by that read (for identity both are the one org read), and an org's members answer
every membership of that org until one of them changes its members (`set_role`,
`remove_member`; an invitation changes no member), so an org with any number of memberships
costs one request when nothing changes. Any other call (a second read of the same thing,
every write) goes straight to the wrapped state, in the reconcile's own order: writes stay
sequential (Org → Membership → Budget → Route) and a read after a write sees it. The
reconcile decides what to read ahead; nothing here writes.

The reads run in copies of the caller's context, so their log lines keep the reconcile's
request ID; the clients stamp it on every request themselves (`live.ClientLiveFactory`).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from gatewright.core import NotFound
from gatewright.gitops.service.live import LiveMember, LiveState, SentInvitation
from gatewright.identity.models import Role

MAX_READERS = 8
"""Concurrent reads of one reconcile: enough to hide loopback round trips, few enough that one
reconcile of hundreds of resources does not crowd out the owners' other callers."""

Read = tuple[str, tuple[Any, ...]]
"""`(method name, positional arguments)` of one `LiveState` read."""

READS = frozenset({"org_exists", "list_members", "get_budget", "get_route"})


class Prefetched:
    """A `LiveState` whose reads may have been fetched ahead (see the module docstring)."""

    def __init__(self, live: LiveState, *, max_readers: int = MAX_READERS) -> None:
        self.live = live
        self.max_readers = max_readers
        self._ahead: dict[Read, Future[Any]] = {}

    def fetch(self, reads: Iterable[Read]) -> None:
        """Run `reads` concurrently and keep their outcomes; returns when all are done."""
        wanted = [r for r in dict.fromkeys(reads) if r not in self._ahead]
        unknown = {name for name, _ in wanted} - READS
        if unknown:
            raise ValueError(f"not reads: {sorted(unknown)}")
        if not wanted:
            return
        with ThreadPoolExecutor(
            max_workers=min(self.max_readers, len(wanted)), thread_name_prefix="gitops-read"
        ) as pool:
            for name, args in wanted:
                call: Callable[..., Any] = getattr(self.live, name)
                context = contextvars.copy_context()
                self._ahead[(name, args)] = pool.submit(context.run, call, *args)

    def _read(self, name: str, *args: Any) -> Any:
        ahead = self._ahead.pop((name, args), None)
        if ahead is None:
            return getattr(self.live, name)(*args)
        return ahead.result()  # the read's own error, raised for its own resource

    # -- reads -----------------------------------------------------------------------------
    def org_exists(self, org_id: str) -> bool:
        members = self._ahead.get(("list_members", (org_id,)))
        if members is not None and ("org_exists", (org_id,)) not in self._ahead:
            # The members read is the org read (identity answers both with GET /v1/orgs/{id}):
            # the org exists unless that read found nothing. Kept for the memberships.
            error = members.exception()
            if isinstance(error, NotFound):
                return False
            if error is not None:
                raise error
            return True
        return bool(self._read("org_exists", org_id))

    def list_members(self, org_id: str) -> list[LiveMember]:
        ahead = self._ahead.get(("list_members", (org_id,)))
        if ahead is None:
            return self.live.list_members(org_id)
        members: list[LiveMember] = ahead.result()  # kept until a write to this org's members
        return list(members)

    def get_budget(self, org_id: str) -> dict[str, Any] | None:
        budget: dict[str, Any] | None = self._read("get_budget", org_id)
        return budget

    def get_route(self, org_id: str, alias: str) -> dict[str, Any] | None:
        route: dict[str, Any] | None = self._read("get_route", org_id, alias)
        return route

    # -- writes: straight through, in the caller's order -----------------------------------
    def create_org(self, name: str, *, owner_email: str) -> str:
        return self.live.create_org(name, owner_email=owner_email)

    def set_budget(self, org_id: str, *, limit_micro_usd: int, period: str) -> None:
        self.live.set_budget(org_id, limit_micro_usd=limit_micro_usd, period=period)

    def put_route(self, org_id: str, alias: str, *, route: dict[str, Any]) -> None:
        self.live.put_route(org_id, alias, route=route)

    def set_role(self, org_id: str, user_id: str, role: Role) -> None:
        self._ahead.pop(("list_members", (org_id,)), None)  # the next read must see it
        self.live.set_role(org_id, user_id, role)

    def invite(self, org_id: str, *, email: str, role: Role) -> SentInvitation:
        return self.live.invite(org_id, email=email, role=role)

    def delete_route(self, org_id: str, alias: str) -> bool:
        return self.live.delete_route(org_id, alias)

    def delete_budget(self, org_id: str) -> bool:
        return self.live.delete_budget(org_id)

    def remove_member(self, org_id: str, user_id: str) -> bool:
        self._ahead.pop(("list_members", (org_id,)), None)  # the next read must see it
        return self.live.remove_member(org_id, user_id)

    def delete_org(self, org_id: str) -> bool:
        return self.live.delete_org(org_id)
