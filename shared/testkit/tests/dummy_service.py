"""A stand-in service for LocalStack tests: stdlib HTTP on the inherited GATEWRIGHT_FD socket.

Behaviour is chosen by env vars: DUMMY_MODE=ok (default) answers /healthz and /readyz with 200;
DUMMY_MODE=crash prints a line and exits 3 at start; DUMMY_MODE=slow answers /readyz 503 twice.
It echoes what it got from the launcher on GET /env so tests can check the wiring.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
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
