"""What each service holds, read through its API, so a refused request can be shown to have
changed nothing (`snapshot(world, service)` before and after, compared).

Only state the refused request could touch and nothing else writes meanwhile (the side org's
budgets and reservations never expire during a run; audit's is a chain no outbox writes to);
modelsim records every request that reaches it, refused or not (its job), so of modelsim only
this is compared: its observations can still be listed. Of gitops, the Applications (every one
and the side one the templates change) without their status, which reconciles write meanwhile.
"""

from __future__ import annotations

from typing import Any

import httpx

from .world import Credential, World

TIMEOUT = 10.0


def _get(http: httpx.Client, path: str) -> Any:
    """The status and body; of an error only its code (its `request_id` differs every time)."""
    response = http.get(path)
    if response.status_code >= 400:
        return response.status_code, response.json()["error"]["code"]
    return response.status_code, _without_status(response.json())


def _without_status(body: Any) -> Any:
    """A gitops Application (or a list of them) without its `status`: the reconciles a push or
    a create started go on writing that in the background; what a request may change is the
    rest (the source, the policy, the intervals, `updated_at`)."""
    if isinstance(body, dict) and isinstance(body.get("data"), list):
        return {**body, "data": [_without_status(item) for item in body["data"]]}
    if isinstance(body, dict) and "repo_url" in body and "status" in body:
        return {k: v for k, v in body.items() if k != "status"}
    return body


def snapshot(world: World, service: str) -> Any:
    """A comparable picture of `service`'s state as the refused requests could change it."""
    credential = Credential.SERVICE if service in ("budgets", "audit") else Credential.ADMIN
    headers = {"Authorization": f"Bearer {world.token(credential)}"}
    org, side = world.org_id, world.side_org_id
    paths = {
        "identity": [
            "/v1/orgs",
            f"/v1/orgs/{org}",
            f"/v1/orgs/{org}/keys",
            f"/v1/orgs/{org}/invitations",
        ],
        "budgets": [
            f"/v1/orgs/{side}/spend",
            f"/v1/orgs/{side}/budget",
            f"/v1/orgs/{side}/keys/{world.side_key_id}/budget",
            f"/v1/orgs/{side}/reservations?limit=100",
        ],
        "gateway": [f"/v1/orgs/{org}/routes", f"/v1/routes/{world.scratch_alias}"],
        "audit": [f"/v1/orgs/{world.audit_chain}/events?limit=500"],
        "gitops": ["/v1/applications", f"/v1/applications/{world.side_app_name}"],
    }.get(service)
    with httpx.Client(base_url=world.url(service), headers=headers, timeout=TIMEOUT) as http:
        if paths is None:  # modelsim: only that what it recorded can still be read
            return http.get("/v1/observations?limit=1000").status_code
        return {path: _get(http, path) for path in paths}
