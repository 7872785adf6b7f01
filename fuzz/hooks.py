"""Schemathesis hooks: keep fuzzing on loopback and let it reach past the lookups.

- **Loopback only** (`before_send`, which the tests apply to every body just before it is
  sent, whichever phase made it: Schemathesis' coverage phase runs no body hooks). Two request
  fields are URLs a service later calls: a route's backend `url` (the gateway POSTs completions
  there) and a revocation hook's `url` (identity POSTs revoked key IDs there). Whatever was
  drawn, they become modelsim's and the gateway's own loopback URLs, so no fuzzed request makes
  a service call another host. gitops fetches the `repo_url` an Application names (any URL git
  understands: https, ssh, git://, a path), so on `create_application` and `update_application`
  every `repo_url` gitops would accept becomes the world's own local repository; a value it
  refuses (422) is sent as drawn, since gitops fetches nothing for it and rewriting it would
  turn a negative case into a valid one. Likewise a poll or drift-check interval shorter than
  `POLL_INTERVAL_SECONDS` is raised to it, and a create that names none gets it, so the
  Applications fuzzing creates (dozens, all on that repository) never make gitops poll hard
  for the rest of the stage. (A fetch that fails, such as a branch the repository lacks, is
  retried with a backoff capped at the poll interval, so it too is bounded by it.)
- **Known IDs.** Half of the generated path parameters are swapped for the world's real org,
  user, key, reservation and route IDs (`World.known_path_values`), except on the operations
  that would destroy the world itself (deleting the org, revoking the key, removing the admin);
  route writes get the scratch alias, never the one completions use; gitops' Application
  lookups get the world's Application (never its delete).
- **Real models.** Two thirds of the completion bodies name the world's route alias (gateway)
  or `sim-echo` (modelsim), and half of those are made plausible (roles a backend knows, the
  default `max_tokens`), so they reach routing, budgets, the backend and the stream. modelsim's
  deliberate fault models (`sim-fail-*`, `sim-slow-*`, `sim-timeout`, `sim-bad-json`) are never
  sent (`before_send` names `sim-echo` instead): they answer 500s and waits on purpose.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from schemathesis.hooks import HookContext
from schemathesis.schemas import BaseSchema

from gatewright.gateway.models import ALIAS_PATTERN
from gatewright.gitops.models import SLUG_PATTERN, IntervalSeconds, RepoUrl

from .world import ECHO_MODEL, POLL_INTERVAL_SECONDS, World

# Operations whose real target would end the world the rest of the run needs.
DESTRUCTIVE = frozenset(
    {
        ("identity", "delete_org"),
        ("identity", "revoke_key"),
        ("identity", "remove_member"),
        ("identity", "update_member"),
        ("gitops", "delete_application"),
    }
)
ROUTE_WRITES = frozenset({"put_org_route", "delete_org_route", "put_global_route"})
APPLICATION_WRITES = frozenset({"create_application", "update_application"})
INTERVALS = ("poll_interval_seconds", "drift_check_interval_seconds")
_REPO_URL: TypeAdapter[str] = TypeAdapter(RepoUrl)
_INTERVAL: TypeAdapter[int] = TypeAdapter(IntervalSeconds)
FAULT_MODELS = ("sim-fail-", "sim-slow-", "sim-timeout", "sim-bad-json")


def operation_id(context: HookContext) -> str:
    operation = context.operation
    if operation is None:
        return ""
    return str(operation.definition.raw.get("operationId", ""))


def _loopback_backends(body: Any, backend_url: str) -> Any:
    if isinstance(body, dict) and isinstance(body.get("backends"), list):
        body = dict(body)
        body["backends"] = [
            {**b, "url": backend_url} if isinstance(b, dict) and "url" in b else b
            for b in body["backends"]
        ]
    return body


def _loopback_url(body: Any, url: str) -> Any:
    if isinstance(body, dict) and "url" in body:
        return {**body, "url": url}
    return body


def _accepted(adapter: TypeAdapter[Any], value: Any) -> bool:
    """Would gitops take `value` for this field (its own model's type)?"""
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


def _loopback_application(body: Any, operation: str, repo_url: str) -> Any:
    """An Application body with the world's repository and long intervals, where gitops would
    accept the drawn value (what it would refuse stays, so a negative case stays negative)."""
    if not isinstance(body, dict):
        return body
    body = dict(body)
    if "repo_url" in body and _accepted(_REPO_URL, body["repo_url"]):
        body["repo_url"] = repo_url
    for name in INTERVALS:
        value = body.get(name)
        if _accepted(_INTERVAL, value) and value < POLL_INTERVAL_SECONDS:
            body[name] = POLL_INTERVAL_SECONDS
    if operation == "create_application":
        body.setdefault("poll_interval_seconds", POLL_INTERVAL_SECONDS)
    return body


def _plausible(body: dict[str, Any], model: str) -> dict[str, Any]:
    """The drawn body as a backend would take it: a real model, roles it knows, the default
    `max_tokens` (the gateway's bound is a setting, so the schema cannot state it)."""
    messages = body.get("messages")
    if isinstance(messages, list):
        messages = [{**m, "role": "user"} if isinstance(m, dict) else m for m in messages]
    plausible = {**body, "model": model, "messages": messages}
    plausible.pop("max_tokens", None)
    plausible.pop("max_completion_tokens", None)
    return plausible


def _with_model(body: Any, model: str) -> st.SearchStrategy[Any]:
    """The body as drawn, with the world's model, or made plausible (a third each)."""
    if isinstance(body, dict):
        return st.sampled_from([body, {**body, "model": model}, _plausible(body, model)])
    return st.just(body)


def is_fault_model(body: Any) -> bool:
    model = body.get("model") if isinstance(body, dict) else None
    return isinstance(model, str) and model.startswith(FAULT_MODELS)


def before_send(service: str, operation: str, body: Any, world: World) -> Any:
    """What may be sent of a drawn body: loopback URLs only, and no deliberate fault model."""
    if service == "modelsim" and is_fault_model(body):
        body = {**body, "model": ECHO_MODEL}
    return loopback_only(service, operation, body, world)


def loopback_only(service: str, operation: str, body: Any, world: World) -> Any:
    """`body` with every URL a service would call pointed at this world's loopback services
    (a body drawn as raw text or bytes too, should it parse as JSON)."""
    if isinstance(body, str | bytes):
        try:
            parsed = json.loads(body)
        except ValueError:
            return body
        rewritten = loopback_only(service, operation, parsed, world)
        if rewritten == parsed:
            return body
        text = json.dumps(rewritten)
        return text.encode() if isinstance(body, bytes) else text
    if service == "gateway" and operation in ROUTE_WRITES:
        return _loopback_backends(body, world.url("modelsim"))
    if service == "identity" and operation == "register_revocation_hook":
        return _loopback_url(body, f"{world.url('gateway')}/v1/internal/revoked-keys")
    if service == "gitops" and operation in APPLICATION_WRITES:
        return _loopback_application(body, operation, world.repo_url)
    return body


_PLAUSIBLE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,63}$")
# Path parameters with a rule of their own (the owner's pattern); every other one is an ID.
_RULES = {"alias": re.compile(ALIAS_PATTERN), "name": re.compile(SLUG_PATTERN)}


def _plausible_id(name: str, value: Any) -> bool:
    """Whether a drawn path value keeps its parameter's rule (and every ID's)."""
    if not isinstance(value, str) or not _PLAUSIBLE_ID.match(value):
        return False
    rule = _RULES.get(name)
    return rule is None or bool(rule.match(value))


def install(schema: BaseSchema, service: str, world: World) -> None:
    """Register this service's hooks on its schema (schema scope: other services unaffected)."""
    known = dict(world.known_path_values(service))

    @schema.hook("flatmap_body")
    def real_models(context: HookContext, body: Any) -> st.SearchStrategy[Any]:
        if operation_id(context) == "create_chat_completion":
            return _with_model(body, world.alias if service == "gateway" else ECHO_MODEL)
        return st.just(body)

    @schema.hook("flatmap_path_parameters")
    def known_ids(context: HookContext, params: dict[str, Any]) -> st.SearchStrategy[Any]:
        op = operation_id(context)
        if (service, op) in DESTRUCTIVE or not isinstance(params, dict):
            return st.just(params)
        values = dict(known)
        if service == "gateway" and op in ROUTE_WRITES:
            values["alias"] = world.scratch_alias
        # Only a value that is already a plausible ID is swapped for a real one: a negative case
        # (a path value that breaks its pattern or length) must reach the service as drawn, or
        # the swap would make it valid and Schemathesis would see "invalid data accepted".
        swapped = {
            name: values[name] if name in values and _plausible_id(name, value) else value
            for name, value in params.items()
        }
        return st.sampled_from([params, swapped])
