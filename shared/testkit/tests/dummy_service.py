"""A stand-in service for LocalStack tests: stdlib HTTP on the inherited GATEWRIGHT_FD socket.

Behaviour is chosen by env vars: DUMMY_MODE=ok (default) answers /healthz and /readyz with 200;
DUMMY_MODE=crash prints a line and exits 3 at start; DUMMY_MODE=slow answers /readyz 503 twice;
DUMMY_READY_AFTER=<service> answers /readyz 503 until that service's /healthz (at its
GATEWRIGHT_<SERVICE>_URL) answers 200: a service ready only once one started after it is up,
which a stack that starts one service at a time never reaches.
It echoes what it got from the launcher on GET /env so tests can check the wiring.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import FrameType
from typing import Any

_readyz_calls = 0


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # http.server's naming
        global _readyz_calls
        body: dict[str, Any]
        status, body = 404, {"error": {"code": "not_found", "message": self.path}}
        if self.path == "/healthz":
            status, body = 200, {"status": "ok"}
        elif self.path == "/readyz":
            _readyz_calls += 1
            slow = os.environ.get("DUMMY_MODE") == "slow" and _readyz_calls <= 2
            slow = slow or not _peer_ready(os.environ.get("DUMMY_READY_AFTER"))
            status, body = (503, {"status": "starting"}) if slow else (200, {"status": "ready"})
        elif self.path == "/env":
            keys = (
                "GATEWRIGHT_DATA_DIR",
                "GATEWRIGHT_IDENTITY_URL",
                "GATEWRIGHT_BUDGETS_URL",
                "GATEWRIGHT_FD",
                "GATEWRIGHT_WEBHOOK_SECRET",  # the run's secret, registered for redaction
            )
            status, body = 200, {k: os.environ.get(k) for k in keys}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(json.dumps({"msg": format % args}) + "\n")


def _peer_ready(service: str | None) -> bool:
    if not service:
        return True
    url = os.environ[f"GATEWRIGHT_{service.upper()}_URL"] + "/healthz"
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310  # loopback, ours
            return bool(answer.status == 200)
    except OSError:
        return False


class InheritedServer(HTTPServer):
    def __init__(self, fd: int) -> None:
        super().__init__(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = socket.socket(fileno=fd)
        self.server_address = self.socket.getsockname()


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main() -> None:
    if os.environ.get("DUMMY_MODE") == "crash":
        sys.stderr.write("fatal: cannot open the database (password=hunter2-secret)\n")
        sys.stderr.write(f"admin password is {os.environ['GATEWRIGHT_BOOTSTRAP_ADMIN_PASSWORD']}\n")
        sys.exit(3)
    signal.signal(signal.SIGTERM, _stop)
    server = InheritedServer(int(os.environ["GATEWRIGHT_FD"]))
    sys.stderr.write(json.dumps({"msg": "listening", "addr": server.server_address}) + "\n")
    try:
        server.serve_forever(poll_interval=0.05)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
