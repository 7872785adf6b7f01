"""Tell caching services (gateway replicas) at once when API keys stop being valid.

Services register a URL with `POST /v1/keys/revocation-hooks`. When a key is revoked or its org
is deleted, identity POSTs `{"key_ids": [...], "org_id": ...}` to every registered URL with the
service token, before answering the revocation: so a revoked key fails on the very next request
at every replica that heard it. A replica that could not be reached still drops the key when
its short cache entry expires; the failure is logged with the request ID.
"""

from __future__ import annotations

import logging

import httpx

from gatewright.core import shared_ssl_context
from gatewright.identity.service import store
from gatewright.servicekit import Database
from gatewright.servicekit.correlation import outbound_headers

log = logging.getLogger("gatewright.identity.revocations")

HOOK_TIMEOUT_SECONDS = 2.0


def notify_revoked(db: Database, *, service_token: str, org_id: str, key_ids: list[str]) -> None:
    if not key_ids:
        return
    with db.session() as s:
        urls = store.list_revocation_hooks(s)
    if not urls:
        return
    headers = {"Authorization": f"Bearer {service_token}", **outbound_headers()}
    body = {"key_ids": key_ids, "org_id": org_id}
    with httpx.Client(timeout=HOOK_TIMEOUT_SECONDS, verify=shared_ssl_context()) as http:
        for url in urls:
            try:
                response = http.post(url, json=body, headers=headers)
                response.raise_for_status()
            except httpx.HTTPError as exc:
                log.warning(
                    "revocation hook failed",
                    extra={"hook": url, "org_id": org_id, "error": type(exc).__name__},
                )
