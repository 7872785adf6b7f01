"""What an org-scoped Application's manifests may concern: its own org, nothing else.

An Application with an `org_id` is managed by that org's owners and admins (`gitops:manage`),
so its Git repository must not reach any other org (decision 15). The reconcile calls `within`
on a valid set before reading live state:

- an `Org` manifest must be named as the Application's org is (`org_name`, recorded from
  identity at the create); it stands for that existing org, never creates one (`own_org_id`);
- a `Membership`, `Budget` or `Route` must name that org in `spec.org`.

Any problem: the whole set is refused like any invalid set (nothing applied, Degraded, one
`InvalidManifest` condition per problem with file, document and field). A platform-wide
Application (no `org_id`) is not limited here.
"""

from __future__ import annotations

from gatewright.gitops.models import Application
from gatewright.gitops.service.manifests import ManifestSet, Problem


def problems(app: Application, manifests: ManifestSet) -> list[Problem]:
    """Every manifest of `manifests` that concerns an org other than `app`'s."""
    if app.org_id is None:
        return []
    own = app.org_name or app.org_id
    found: list[Problem] = []
    for m in manifests.orgs:
        if m.name != own:
            reason = (
                f"Application {app.name!r} belongs to org {own!r}: an Org manifest may only "
                f"declare that org, not {m.name!r}"
            )
            found.append(Problem(m.file, m.document, "metadata.name", reason))
    for m in [*manifests.memberships, *manifests.budgets, *manifests.routes]:
        if m.spec.org != own:
            reason = (
                f"Application {app.name!r} belongs to org {own!r}: {m.kind} {m.name!r} may "
                f"not concern org {m.spec.org!r}"
            )
            found.append(Problem(m.file, m.document, "spec.org", reason))
    return sorted(found, key=lambda p: (p.file, p.document or 0))


def within(
    app: Application, manifests: ManifestSet | None, found: list[Problem]
) -> tuple[ManifestSet | None, list[Problem]]:
    """`parse`'s result, refused whole (None, the problems) when it leaves `app`'s org."""
    if manifests is None:
        return None, found
    outside = problems(app, manifests)
    return (None, outside) if outside else (manifests, found)


def own_org_id(app: Application, name: str) -> str | None:
    """The live ID an Org manifest `name` stands for when it is `app`'s own org, else None."""
    if app.org_id is not None and name == (app.org_name or app.org_id):
        return app.org_id
    return None
