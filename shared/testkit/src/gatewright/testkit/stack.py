"""`LocalStack`: start the services under test as local processes, on sockets bound to port 0.

The services are data, not code: `SERVICES` maps a name to a `ServiceSpec` (module to run, the
services it needs, extra env). Adding a service to the stack is one `register_service(...)` line.

The stack:

1. binds `127.0.0.1:0` for every service itself (`IPPROTO_TCP`, so asyncio sets TCP_NODELAY),
   to pass each listening socket down as `GATEWRIGHT_FD` — no free-port race;
2. runs every `python -m <module>` at once, each with a temp `GATEWRIGHT_DATA_DIR`, the run's
   random `GATEWRIGHT_SERVICE_TOKEN` and `GATEWRIGHT_WEBHOOK_SECRET`, bootstrap admin
   credentials, `GATEWRIGHT_<SERVICE>_URL` for every service of the stack, and stdout/stderr in
   `<log dir>/<service>.log`. Their imports (seconds each) overlap; a call one makes to another
   that is still starting waits in that socket's listen backlog, not on a refused connection;
3. waits, in dependency order, for each `GET /readyz` == 200 with `eventually(profile="ready")`;
   a process that exits first fails the start at once with the tail of its log.

`stop()` sends SIGTERM, waits up to 10 s, then SIGKILLs; logs are rewritten redacted.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

from gatewright.core import shared_ssl_context
from gatewright.testkit.eventually import EventuallyFailed, EventuallyTimeout, Outcome, eventually
from gatewright.testkit.redact import redact_text, register_secret
from gatewright.testkit.target import Target, service_url_env

STOP_GRACE_SECONDS = 10.0
LOG_TAIL_LINES = 40
# Settings a developer may set for the whole stack; every other GATEWRIGHT_* var is dropped from
# the inherited environment so a stray GATEWRIGHT_PORT cannot break a local run.
PASS_THROUGH_ENV = ("GATEWRIGHT_DATABASE_URL", "GATEWRIGHT_LOG_LEVEL")


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one service: `python -m <module>`, after the services it needs."""

    name: str
    module: str = ""
    needs: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def run_module(self) -> str:
        return self.module or f"gatewright.{self.name}"


SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec
    for spec in (
        # audit first: every other service delivers its events there (from an outbox that
        # retries, so the order is for quiet logs, not for correctness).
        ServiceSpec("audit", "gatewright.audit"),
        # Cheap argon2id on the local stack: the flows prove who may log in, not the hash's cost
        # (identity's unit tests check the production defaults; a deployment keeps its own).
        ServiceSpec(
            "identity",
            "gatewright.identity",
            env={"GATEWRIGHT_ARGON2_TIME_COST": "1", "GATEWRIGHT_ARGON2_MEMORY_KIB": "8192"},
        ),
        ServiceSpec("modelsim", "gatewright.modelsim"),
        ServiceSpec("budgets", "gatewright.budgets", needs=("identity",)),
        ServiceSpec("gateway", "gatewright.gateway", needs=("identity", "budgets")),
        ServiceSpec("gitops", "gatewright.gitops", needs=("identity", "budgets", "gateway")),
    )
}


def register_service(spec: ServiceSpec) -> None:
    """Add or replace a service in the default registry."""
    SERVICES[spec.name] = spec


class StackError(Exception):
    """A service could not be started or did not become ready."""


def start_order(
    services: Iterable[str], registry: Mapping[str, ServiceSpec] | None = None
) -> list[ServiceSpec]:
    """The requested services plus everything they need, dependencies first."""
    reg = SERVICES if registry is None else registry
    order: list[ServiceSpec] = []
    visiting: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if any(s.name == name for s in order):
            return
        if name in visiting:
            raise StackError(f"dependency cycle: {' -> '.join((*path, name))}")
        spec = reg.get(name)
        if spec is None:
            known = ", ".join(sorted(reg)) or "none"
            raise StackError(f"unknown service {name!r} (known: {known})")
        visiting.add(name)
        for need in spec.needs:
            visit(need, (*path, name))
        visiting.discard(name)
        order.append(spec)

    for name in services:
        visit(name, ())
    return order


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a log, redacted."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    tail = text.splitlines()[-lines:]
    return redact_text("\n".join(tail)) if tail else "<empty log>"


@dataclass
class RunningService:
    spec: ServiceSpec
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    data_dir: Path
    log_file: IO[bytes]


def _listen(port: int = 0) -> socket.socket:
    """A listening, inheritable loopback socket (IPPROTO_TCP, so asyncio sets TCP_NODELAY)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


class LocalStack:
    """Start and stop a set of services as subprocesses; `start()` returns the `Target`.

    Every port is bound before any service starts, so each service is told every other
    service's URL (`GATEWRIGHT_<SERVICE>_URL`) even where they refer to each other (identity
    emits to audit, audit asks identity); `needs` only orders the readiness waits.
    `stop_service` / `start_service` take one service down and bring it back on the same port
    with the same data, for flows that test what happens while a dependency is away.
    """

    def __init__(
        self,
        services: Sequence[str] = ("identity",),
        *,
        log_dir: Path,
        registry: Mapping[str, ServiceSpec] | None = None,
        ready_timeout: float | None = None,
        keep_data: bool = False,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.specs = start_order(services, registry)
        self.log_dir = log_dir
        self.ready_timeout = ready_timeout
        self.keep_data = keep_data
        self.extra_env = dict(extra_env or {})
        self.service_token = "gwst_" + secrets.token_urlsafe(24)
        self.webhook_secret = "gwhs_" + secrets.token_urlsafe(24)
        self.admin_email = f"admin.{secrets.token_hex(3)}@stack.gatewright.test"
        self.admin_password = secrets.token_urlsafe(18) + "-Aa1!"
        register_secret(self.service_token)
        register_secret(self.webhook_secret)
        register_secret(self.admin_password)
        self.running: list[RunningService] = []
        self.urls: dict[str, str] = {}
        self._sockets: dict[str, socket.socket] = {}
        self._root: Path | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> Target:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._root = Path(tempfile.mkdtemp(prefix="gatewright-stack-"))
        try:
            for spec in self.specs:
                sock = _listen()
                self._sockets[spec.name] = sock
                self.urls[spec.name] = f"http://127.0.0.1:{sock.getsockname()[1]}"
            spawned = [self._spawn(spec) for spec in self.specs]
            for service in spawned:
                self._wait_ready(service)
        except BaseException:
            self.stop()
            raise
        return self.target()

    def target(self) -> Target:
        return Target(
            services=dict(self.urls),
            admin_email=self.admin_email,
            admin_password=self.admin_password,
            service_token=self.service_token,
            webhook_secret=self.webhook_secret,
            source="local stack",
            data_dirs={r.spec.name: str(r.data_dir) for r in self.running},
        )

    def _env(self, spec: ServiceSpec, fd: int, data_dir: Path) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("GATEWRIGHT_") or k in PASS_THROUGH_ENV
        }
        env.update(
            {
                "GATEWRIGHT_FD": str(fd),
                "GATEWRIGHT_DATA_DIR": str(data_dir),
                "GATEWRIGHT_SERVICE_TOKEN": self.service_token,
                "GATEWRIGHT_WEBHOOK_SECRET": self.webhook_secret,
                "GATEWRIGHT_BOOTSTRAP_ADMIN_EMAIL": self.admin_email,
                "GATEWRIGHT_BOOTSTRAP_ADMIN_PASSWORD": self.admin_password,
                "PYTHONUNBUFFERED": "1",
            }
        )
        for name, url in self.urls.items():
            env[service_url_env(name)] = url
        env.update(self.extra_env)
        env.update(spec.env)
        return env

    def _spawn(self, spec: ServiceSpec, *, restart: bool = False) -> RunningService:
        """Start the process of one service (not waiting for it) and record it as running."""
        assert self._root is not None
        data_dir = self._root / spec.name
        data_dir.mkdir(exist_ok=restart)
        log_path = self.log_dir / f"{spec.name}.log"
        sock = self._sockets.pop(spec.name, None)
        if sock is None:  # a restart: bind the same port again
            sock = _listen(int(self.urls[spec.name].rsplit(":", 1)[1]))
        try:
            log_file = log_path.open("ab" if restart else "wb")
            process = subprocess.Popen(  # noqa: S603  # our interpreter, our module name
                [sys.executable, "-m", spec.run_module],
                env=self._env(spec, sock.fileno(), data_dir),
                pass_fds=(sock.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        finally:
            sock.close()  # the child holds its own copy of the listening socket
        port = int(self.urls[spec.name].rsplit(":", 1)[1])
        service = RunningService(
            spec, self.urls[spec.name], port, process, log_path, data_dir, log_file
        )
        self.running.append(service)
        return service

    def _wait_ready(self, service: RunningService) -> None:
        readyz = f"{service.url}/readyz"

        def probe() -> Outcome[int]:
            code = service.process.poll()
            if code is not None:
                return Outcome.failed(f"the process exited with code {code}")
            response = httpx.get(readyz, timeout=2.0, verify=shared_ssl_context())
            if response.status_code == 200:
                return Outcome.done(200)
            return Outcome.pending(
                f"GET /readyz answered {response.status_code}: {response.text[:200]}"
            )

        try:
            eventually(
                probe,
                profile="ready",
                timeout=self.ready_timeout,
                interval=0.05,
                max_interval=0.5,
                description=f"{service.spec.name} to be ready at {readyz}",
            )
        except (EventuallyFailed, EventuallyTimeout) as exc:
            service.log_file.flush()
            raise StackError(
                f"service {service.spec.name!r} (python -m {service.spec.run_module}) did not "
                f"start: {exc}\n--- last lines of {service.log_path} ---\n"
                f"{log_tail(service.log_path)}"
            ) from None

    def _find(self, name: str) -> RunningService:
        for service in self.running:
            if service.spec.name == name:
                return service
        raise StackError(f"service {name!r} is not running in this stack")

    def stop_service(self, name: str) -> None:
        """Take one service down (SIGTERM); its data and port are kept for `start_service`."""
        service = self._find(name)
        self._stop_one(service)
        self.running.remove(service)

    def start_service(self, name: str) -> None:
        """Bring a stopped service back on the same port with the same data; wait until ready."""
        spec = next((s for s in self.specs if s.name == name), None)
        if spec is None:
            raise StackError(f"service {name!r} is not part of this stack")
        if any(r.spec.name == name for r in self.running):
            raise StackError(f"service {name!r} is already running")
        self._wait_ready(self._spawn(spec, restart=True))

    def data_dir(self, name: str) -> Path:
        assert self._root is not None
        return self._root / name

    def stop(self) -> None:
        """Stop every service, last started first; rewrite the logs redacted."""
        for service in reversed(self.running):
            self._stop_one(service)
        self.running.clear()
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()
        if self._root is not None and not self.keep_data:
            shutil.rmtree(self._root, ignore_errors=True)

    @staticmethod
    def _stop_one(service: RunningService) -> None:
        process = service.process
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        service.log_file.close()
        try:
            text = service.log_path.read_text(encoding="utf-8", errors="replace")
            service.log_path.write_text(redact_text(text), encoding="utf-8")
        except OSError:
            pass

    @property
    def data_root(self) -> Path | None:
        return self._root

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def describe(self) -> dict[str, Any]:
        return {
            r.spec.name: {"url": r.url, "pid": r.process.pid, "log": str(r.log_path)}
            for r in self.running
        }


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m gatewright.testkit [SERVICE ...]`: run the stack until Ctrl-C.

    Prints the URLs and writes `.gatewright/stack.env` (mode 0600, git-ignored) with the URLs
    and credentials, so `set -a; . .gatewright/stack.env; pytest e2e` targets this stack.
    """
    import argparse
    import signal
    import threading

    parser = argparse.ArgumentParser(prog="python -m gatewright.testkit")
    parser.add_argument("services", nargs="*", default=sorted(SERVICES))
    parser.add_argument("--dir", type=Path, default=Path(".gatewright"))
    args = parser.parse_args(argv)

    stack = LocalStack(args.services, log_dir=args.dir / "logs")
    target = stack.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    env_file = args.dir / "stack.env"
    lines = [f"{service_url_env(name)}={url}" for name, url in target.services.items()]
    lines += [
        f"GATEWRIGHT_ADMIN_EMAIL={target.admin_email}",
        f"GATEWRIGHT_ADMIN_PASSWORD={target.admin_password}",
        f"GATEWRIGHT_SERVICE_TOKEN={target.service_token}",
        f"GATEWRIGHT_WEBHOOK_SECRET={target.webhook_secret}",
    ]
    env_file.touch(mode=0o600)
    env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = sys.stdout
    for name, url in target.services.items():
        out.write(f"{name:<10} {url}  (docs: {url}/docs, log: {args.dir / 'logs' / name}.log)\n")
    out.write(f"admin      {target.admin_email} (password and service token in {env_file})\n")
    out.write("Ctrl-C stops the stack.\n")
    out.flush()
    try:
        stopped.wait()  # the foreground process simply waits for Ctrl-C or SIGTERM
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        env_file.unlink(missing_ok=True)
    return 0
