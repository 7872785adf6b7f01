"""Broken flows for the harness's self-tests: tiny services on 127.0.0.1 and an inner test run.

`run_broken_flows(directory)` writes a conftest and a test module into `directory` and runs
pytest on them in a subprocess (as a user would), against three in-process stdlib servers (two
orgs services and an audit service that answers, by request ID, an `org.create` event for each
org created, so failing steps show their audit events as on the real platform). Each
inner test breaks in its own way: an HTTP error, a wrong body asserted in a later step, an
`eventually` timeout, a `consistently` violation, a service that dies mid-test, a failing
fixture, a failing cleanup; one passes. The self-tests read its output and its report.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

SERVICE_TOKEN = "gwst_evidence_token_0123456789"
ADMIN_PASSWORD = "Adm1n-evidence-pw"
RUN_ID = "revid01"
QUIET = ("-p", "no:randomly", "-p", "no:asyncio")


class OrgsHandler(BaseHTTPRequestHandler):
    """A little orgs service: orgs stay `pending`, spend rises on the third read, `/v1/fail`
    answers 500, so does deleting the failing-cleanup test's org, and `/v1/die` stops the
    server (it stops listening before it answers, so the next call is refused, every time)."""

    spend_reads: dict[str, int]

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-ID", self.headers.get("X-Request-ID", ""))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str, message: str) -> None:
        rid = self.headers.get("X-Request-ID", "")
        envelope = {"type": "server_error", "code": code, "message": message, "request_id": rid}
        self._send(status, {"error": envelope})

    def do_GET(self) -> None:  # http.server's naming
        if self.path in ("/readyz", "/healthz"):
            self._send(200, {"status": "ready"})
        elif m := re.fullmatch(r"/v1/orgs/([\w-]+)/spend", self.path):
            reads = self.server.spend_reads  # type: ignore[attr-defined]
            reads[m[1]] = reads.get(m[1], 0) + 1
            self._send(200, {"org_id": m[1], "spent_micro_usd": 0 if reads[m[1]] < 3 else 12})
        elif m := re.fullmatch(r"/v1/orgs/([\w-]+)", self.path):
            self._send(200, {"id": m[1], "status": "pending"})
        else:
            self._error(404, "not_found", self.path)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        got = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/v1/orgs":
            name = str(got.get("name", "org"))
            self.server.created[self.headers.get("X-Request-ID", "")] = name  # type: ignore[attr-defined]
            self._send(201, {"id": name, "status": "pending"})
        elif self.path == "/v1/fail":
            self._error(500, "internal", "database on fire")
        elif self.path == "/v1/die":
            server = self.server
            stopper = threading.Thread(target=server.shutdown)
            stopper.start()
            stopper.join()
            server.socket.close()  # no longer listening: the next connection is refused
            self._send(200, {"status": "shutting down"})
        else:
            self._error(404, "not_found", self.path)

    def do_DELETE(self) -> None:
        if "failing-cleanup" in self.path:
            self._error(500, "internal", "org is locked by a running export")
        else:
            self.send_response(204)
            self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class AuditHandler(OrgsHandler):
    """`GET /v1/events?request_id=...` (repeated): an `org.create` event per org created with one
    of those request IDs, as audit answers the harness."""

    def do_GET(self) -> None:  # http.server's naming
        url = urllib.parse.urlsplit(self.path)
        if url.path in ("/readyz", "/healthz"):
            self._send(200, {"status": "ready"})
            return
        if url.path != "/v1/events":
            self._error(404, "not_found", self.path)
            return
        created: dict[str, str] = self.server.created  # type: ignore[attr-defined]
        asked = urllib.parse.parse_qs(url.query).get("request_id", [])
        events = [
            {
                "request_id": rid,
                "seq": n,
                "service": "orgs",
                "action": "org.create",
                "outcome": "success",
                "org_id": created[rid],
                "actor": {"type": "service", "id": "harness"},
                "reason": "",
            }
            for n, rid in enumerate(asked, 1)
            if rid in created
        ]
        self._send(200, {"data": events})


def _serve(
    created: dict[str, str], handler: type[BaseHTTPRequestHandler] = OrgsHandler
) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.spend_reads = {}  # type: ignore[attr-defined]
    server.created = created  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()  # returns at once if /v1/die already stopped it
        server.server_close()
        thread.join()


INNER_CONFTEST = """
from gatewright.testkit import require_stack

def pytest_configure(config):
    config.addinivalue_line("markers", "happy: the primary user flows")
    config.addinivalue_line("markers", "budgets: budget enforcement")
    require_stack(config, services=("orgs", "mortal", "audit"))
"""

INNER_TESTS = """
import pytest

from gatewright.core import RetryPolicy, SyncAPIClient
from gatewright.testkit import Outcome, consistently, eventually


class Orgs(SyncAPIClient):
    def create(self, name):
        return self.request("POST", "/v1/orgs", cast_to=dict, json={"name": name})

    def get(self, org_id):
        return self.request("GET", f"/v1/orgs/{org_id}", cast_to=dict)

    def spend(self, org_id):
        return self.request("GET", f"/v1/orgs/{org_id}/spend", cast_to=dict)

    def delete(self, org_id):
        return self.request("DELETE", f"/v1/orgs/{org_id}")

    def post(self, path):
        return self.request("POST", path, cast_to=dict, json={})


def client(gw, service="orgs"):
    # No retries: each failure is one attempt, and the run stays fast.
    orgs = Orgs(
        **gw.client_kwargs(service, token=gw.target.service_token),
        retry=RetryPolicy(max_retries=0),
    )
    gw.cleanup.release(f"close the {service} client", orgs.close)
    return orgs


@pytest.fixture
def active_org(gw):
    orgs = client(gw)
    org = orgs.create(gw.names.name("fixture-org"))  # outside any step, as fixtures often are
    assert org["status"] == "active", f"the new org is {org['status']}"
    return org


@pytest.mark.happy
def test_org_is_created(gw):
    orgs = client(gw)
    with gw.when("the admin creates an org"):
        org = orgs.create(gw.names.name("org"))
    with gw.then("it is pending"):
        assert org["status"] == "pending"


def test_http_error(gw):
    orgs = client(gw)
    with gw.given("an org"):
        orgs.create(gw.names.name("org"))
    with gw.when("the admin exports the org"):
        orgs.post("/v1/fail")


def test_wrong_body_in_a_later_step(gw):
    orgs = client(gw)
    with gw.when("the admin creates an org"):
        org = orgs.create(gw.names.name("org"))
    with gw.then("the org is active"):
        assert org["status"] == "active"


def test_eventually_times_out(gw):
    orgs = client(gw)
    with gw.when("the admin creates an org"):
        org = orgs.create(gw.names.name("org"))
    with gw.then("the org becomes active"):
        def active():
            status = orgs.get(org["id"])["status"]
            return Outcome.done() if status == "active" else Outcome.pending(f"status={status}")

        eventually(active, timeout=0.3, description="the org to be active")


@pytest.mark.budgets
def test_consistently_is_violated(gw):
    orgs = client(gw)
    with gw.when("the admin creates an org"):
        org = orgs.create(gw.names.name("org"))
    with gw.then("nothing is spent while the org is idle"):
        def no_spend():
            spent = orgs.spend(org["id"])["spent_micro_usd"]
            return Outcome.done() if spent == 0 else Outcome.failed(f"spent={spent}")

        consistently(no_spend, for_=30.0, interval=0.02, description="no spend")


def test_service_dies_mid_test(gw):
    mortal = client(gw, "mortal")
    with gw.given("an org on the mortal service"):
        org = mortal.create(gw.names.name("org"))
    with gw.when("the service is told to stop"):
        mortal.post("/v1/die")
    with gw.then("the org can still be read"):
        mortal.get(org["id"])


def test_failing_fixture(gw, active_org):
    with gw.then("the org is usable"):
        assert active_org


def test_failing_cleanup(gw):
    orgs = client(gw)
    with gw.given("an org that will refuse to be deleted"):
        org = orgs.create(gw.names.name("stuck"))
    gw.cleanup.add(f"delete org {org['id']}", lambda: orgs.delete(org["id"]))
    with gw.then("it exists"):
        assert org["id"]
"""


def run_broken_flows(directory: Path) -> tuple[str, Path]:
    """Run the broken flows once; return pytest's output and the run's artifacts folder."""
    (directory / "conftest.py").write_text(INNER_CONFTEST)
    (directory / "test_broken.py").write_text(INNER_TESTS)
    artifacts = directory / "out"
    created: dict[str, str] = {}  # request ID -> org, shared by the orgs services and audit
    servers = [_serve(created), _serve(created), _serve(created, AuditHandler)]
    urls = [next(s) for s in servers]
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("GATEWRIGHT_ORGS_URL", urls[0])
            mp.setenv("GATEWRIGHT_MORTAL_URL", urls[1])
            mp.setenv("GATEWRIGHT_AUDIT_URL", urls[2])
            mp.setenv("GATEWRIGHT_SERVICE_TOKEN", SERVICE_TOKEN)
            mp.setenv("GATEWRIGHT_ADMIN_EMAIL", "admin@example.test")
            mp.setenv("GATEWRIGHT_ADMIN_PASSWORD", ADMIN_PASSWORD)
            mp.setenv("GATEWRIGHT_RUN_ID", RUN_ID)
            mp.delenv("CI", raising=False)
            mp.delenv("GATEWRIGHT_TARGET_FILE", raising=False)
            done = subprocess.run(
                [sys.executable, "-m", "pytest", *QUIET, f"--gw-artifacts={artifacts}"],
                cwd=directory,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
    finally:
        for server in servers:
            next(server, None)
    return done.stdout, artifacts / RUN_ID
