"""What a run leaves on a target, and how it goes: the one way e2e cleanup, the end-of-run check
and `nox -s sweep` delete what the harness made (decision 16).

Deleting an org is a cascade: identity deletes the org (its members, invitations and keys),
then each service that keeps data per org purges it (`client.orgs.purge`: the gateway's routes,
budgets' ledgers and reservations), which those services refuse while identity still knows the
org. Users are platform-wide: the harness deletes the ones whose email carries its prefix.

Everything the harness names starts with `gwt-<run>-<test hash>-` (`Names.prefix`), so
`remove_prefixed` finds one test's leftovers, one run's, or every run's (`HARNESS_PREFIX`);
`remove_orphans` purges data whose org identity no longer knows, whoever left it.

    python -m e2e.leftovers --gw-target FILE --older-than 6h [--dry-run] [--prefix gwt-]
    python -m e2e.leftovers --gw-target FILE --check gwt-r1a2b3-   # exit 1 if anything is left
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gatewright.budgets import Client as BudgetsClient
from gatewright.core import Conflict, NotFound
from gatewright.gateway import Client as GatewayClient
from gatewright.identity import Client as IdentityClient
from gatewright.testkit import HARNESS_PREFIX, Target

Say = Callable[[str], None]


@dataclass
class ServiceClients:
    """identity, gateway and budgets with the service token."""

    identity: IdentityClient
    gateway: GatewayClient
    budgets: BudgetsClient

    @classmethod
    def for_target(cls, target: Target, **kwargs: Any) -> ServiceClients:
        token = target.service_token
        if not token:
            raise SystemExit(f"the target ({target.source}) has no service token")
        return cls(
            IdentityClient(target.url("identity"), token=token, **kwargs),
            GatewayClient(target.url("gateway"), token=token, **kwargs),
            BudgetsClient(target.url("budgets"), token=token, **kwargs),
        )

    def close(self) -> None:
        for client in (self.identity, self.gateway, self.budgets):
            client.close()

    @property
    def holders(self) -> dict[str, GatewayClient | BudgetsClient]:
        """The services that keep data per org, by name."""
        return {"gateway": self.gateway, "budgets": self.budgets}


def purge_org(clients: ServiceClients, org_id: str) -> list[str]:
    """Purge a deleted org's data from every service that keeps some; what went."""
    done = []
    for name, client in clients.holders.items():
        purged = client.orgs.purge(org_id)
        if purged.removed:
            done.append(f"{name}: {purged.removed} row(s) of org {org_id}")
    return done


def delete_org_everywhere(clients: ServiceClients, org_id: str) -> list[str]:
    """Delete the org in identity (already gone is fine), then purge its data everywhere."""
    done = []
    try:
        clients.identity.orgs.delete(org_id)
        done.append(f"identity: org {org_id}")
    except NotFound:
        pass
    return done + purge_org(clients, org_id)


def remove_prefixed(
    clients: ServiceClients,
    prefix: str,
    *,
    older_than: datetime | None = None,
    dry_run: bool = False,
) -> list[str]:
    """Delete the orgs (with their data) and the users whose name / email starts with `prefix`,
    made before `older_than` when given; what was removed (or would be, with `dry_run`)."""

    if not prefix.startswith(HARNESS_PREFIX):
        raise ValueError(f"only the harness's own names ({HARNESS_PREFIX}...), not {prefix!r}")

    def old(created_at: datetime) -> bool:
        return older_than is None or created_at < older_than

    done: list[str] = []
    for org in clients.identity.orgs.list(name_prefix=prefix).data:
        if old(org.created_at):
            if dry_run:
                done.append(f"would delete org {org.id} {org.name} ({org.created_at:%F %T})")
            else:
                done += delete_org_everywhere(clients, org.id)
    for user in clients.identity.users.list(email_prefix=prefix).data:
        if old(user.created_at):
            if dry_run:
                done.append(f"would delete user {user.id} {user.email}")
                continue
            try:
                clients.identity.users.delete(user.id)
                done.append(f"identity: user {user.id} {user.email}")
            except NotFound:
                pass
    return done


def orphans(clients: ServiceClients) -> dict[str, list[str]]:
    """service -> the org ids it keeps data for that identity does not know."""
    known: dict[str, bool] = {}

    def exists(org_id: str) -> bool:
        if org_id not in known:
            try:
                clients.identity.orgs.get(org_id)
                known[org_id] = True
            except NotFound:
                known[org_id] = False
        return known[org_id]

    return {
        name: [d.org_id for d in client.orgs.list().data if not exists(d.org_id)]
        for name, client in clients.holders.items()
    }


def remove_orphans(clients: ServiceClients, *, dry_run: bool = False) -> list[str]:
    """Purge the data of orgs identity no longer knows (left by a cascade that stopped half-way)."""
    done: list[str] = []
    for name, org_ids in orphans(clients).items():
        for org_id in org_ids:
            if dry_run:
                done.append(f"would purge {name} data of deleted org {org_id}")
                continue
            try:
                purged = clients.holders[name].orgs.purge(org_id)
            except Conflict:  # re-created meanwhile: not an orphan after all
                continue
            done.append(f"{name}: {purged.removed} row(s) of deleted org {org_id}")
    return done


def leftovers(clients: ServiceClients, prefix: str) -> list[str]:
    """What remains of a run: orgs and users with its prefix, data of deleted orgs."""
    found = [f"org {o.id} {o.name}" for o in clients.identity.orgs.list(name_prefix=prefix).data]
    found += [
        f"user {u.id} {u.email}" for u in clients.identity.users.list(email_prefix=prefix).data
    ]
    for name, org_ids in orphans(clients).items():
        found += [f"{name} data of deleted org {org_id}" for org_id in org_ids]
    return found


_AGE = re.compile(r"^(\d+)([smhd])$")


def parse_age(text: str) -> timedelta:
    """`90s`, `30m`, `6h`, `2d` -> a timedelta."""
    match = _AGE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"an age is a number and s, m, h or d (e.g. 6h): {text!r}")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return timedelta(**{unit: int(match.group(1))})


def main(argv: list[str] | None = None, say: Say = print) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.leftovers", description=__doc__)
    parser.add_argument("--gw-target", required=True, help="target file (TOML/JSON)")
    parser.add_argument("--older-than", type=parse_age, help="only what is older (e.g. 6h)")
    parser.add_argument("--prefix", default=HARNESS_PREFIX, help="name prefix (default gwt-)")
    parser.add_argument("--dry-run", action="store_true", help="print, remove nothing")
    parser.add_argument("--check", metavar="PREFIX", help="list what remains; exit 1 if any")
    args = parser.parse_args(argv)
    if not args.prefix.startswith(HARNESS_PREFIX) or (
        args.check and not args.check.startswith(HARNESS_PREFIX)
    ):
        parser.error(f"a prefix must start with {HARNESS_PREFIX}: only the harness's own names")
    clients = ServiceClients.for_target(Target.from_file(args.gw_target))
    try:
        if args.check:
            found = leftovers(clients, args.check)
            for line in found:
                say(f"left: {line}")
            say(f"{len(found)} thing(s) of {args.check} remain on the target")
            return 1 if found else 0
        cutoff = datetime.now(UTC) - args.older_than if args.older_than else None
        done = remove_prefixed(clients, args.prefix, older_than=cutoff, dry_run=args.dry_run)
        done += remove_orphans(clients, dry_run=args.dry_run)
        for line in done:
            say(line)
        verb = "would remove" if args.dry_run else "removed"
        say(f"sweep: {verb} {len(done)} thing(s) with prefix {args.prefix}")
        return 0
    finally:
        clients.close()


if __name__ == "__main__":
    sys.exit(main())
