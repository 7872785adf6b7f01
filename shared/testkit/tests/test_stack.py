"""LocalStack against a stand-in service (tests/dummy_service.py) run as a real subprocess."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from gatewright.testkit.redact import register_secret
from gatewright.testkit.stack import LocalStack, ServiceSpec, StackError, start_order

HERE = Path(__file__).parent


def _registry(mode: str = "ok") -> dict[str, ServiceSpec]:
    env = {"PYTHONPATH": str(HERE), "DUMMY_MODE": mode}
    return {
        "identity": ServiceSpec("identity", "dummy_service", env=env),
        "budgets": ServiceSpec("budgets", "dummy_service", needs=("identity",), env=env),
    }


def test_start_order_follows_needs() -> None:
    order = start_order(["budgets"], _registry())
    assert [s.name for s in order] == ["identity", "budgets"]
    with pytest.raises(StackError, match="unknown service 'nope'"):
        start_order(["nope"], _registry())
    cyclic = {"a": ServiceSpec("a", needs=("b",)), "b": ServiceSpec("b", needs=("a",))}
    with pytest.raises(StackError, match="dependency cycle"):
        start_order(["a"], cyclic)


def test_start_ready_and_stop(tmp_path: Path) -> None:
    stack = LocalStack(["budgets"], log_dir=tmp_path / "services", registry=_registry("slow"))
    target = stack.start()
    try:
        assert set(target.services) == {"identity", "budgets"}
        assert target.admin_password
        assert target.service_token
        assert target.admin_email
        env = httpx.get(f"{target.url('budgets')}/env").json()
        assert env["GATEWRIGHT_IDENTITY_URL"] == target.url("identity")
        assert Path(env["GATEWRIGHT_DATA_DIR"]).is_dir()
        processes = [r.process for r in stack.running]
        assert all(p.poll() is None for p in processes)
        secrets_json = target.to_json(include_secrets=True)
        assert target.admin_password in secrets_json
        assert target.admin_password not in json.dumps(target.public_dict())
        assert target.webhook_secret
        assert target.webhook_secret in secrets_json
        assert target.webhook_secret not in json.dumps(target.public_dict())
        assert env["GATEWRIGHT_WEBHOOK_SECRET"] == target.webhook_secret
    finally:
        stack.stop()
    assert all(p.returncode is not None for p in processes)
    assert (tmp_path / "services" / "identity.log").read_text()
    assert not Path(env["GATEWRIGHT_DATA_DIR"]).exists()


def test_a_service_that_exits_fails_fast_with_its_log_tail(tmp_path: Path) -> None:
    register_secret("hunter2-secret")
    stack = LocalStack(
        ["identity"], log_dir=tmp_path, registry=_registry("crash"), ready_timeout=20
    )
    started = time.monotonic()
    with pytest.raises(StackError) as info:
        stack.start()
    assert time.monotonic() - started < 5  # at once, not after the 20 s ready timeout
    message = str(info.value)
    assert "service 'identity'" in message
    assert "exited with code 3" in message
    assert "fatal: cannot open the database" in message
    assert "hunter2-secret" not in message
    assert stack.admin_password not in message
    assert stack.running == []


def test_every_service_is_told_every_url(tmp_path: Path) -> None:
    with LocalStack(["budgets"], log_dir=tmp_path / "services", registry=_registry()) as stack:
        target = stack.target()
        # identity starts first yet knows where budgets will be (services may refer to each
        # other, e.g. identity emits to audit while audit asks identity).
        env = httpx.get(f"{target.url('identity')}/env").json()
        assert env["GATEWRIGHT_BUDGETS_URL"] == target.url("budgets")
        assert target.data_dirs == {
            "identity": str(stack.data_dir("identity")),
            "budgets": str(stack.data_dir("budgets")),
        }


def test_every_process_starts_before_the_first_readiness_wait(tmp_path: Path) -> None:
    # identity, first in dependency order, is ready only once budgets (which needs it, so comes
    # after it) answers: a stack starting one service at a time would wait on identity with
    # budgets not yet running, until the ready timeout.
    registry = _registry()
    identity = registry["identity"]
    registry["identity"] = ServiceSpec(
        identity.name, identity.module, env={**identity.env, "DUMMY_READY_AFTER": "budgets"}
    )
    stack = LocalStack(
        ["budgets"], log_dir=tmp_path / "services", registry=registry, ready_timeout=20
    )
    with stack:
        target = stack.target()
        assert [r.spec.name for r in stack.running] == ["identity", "budgets"]
        assert httpx.get(f"{target.url('identity')}/readyz").status_code == 200
        assert httpx.get(f"{target.url('budgets')}/readyz").status_code == 200


def test_a_service_restarts_on_its_port_with_its_data(tmp_path: Path) -> None:
    with LocalStack(["budgets"], log_dir=tmp_path / "services", registry=_registry()) as stack:
        url = stack.target().url("budgets")
        marker = stack.data_dir("budgets") / "marker"
        marker.write_text("kept")
        stack.stop_service("budgets")
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/healthz", timeout=2)
        with pytest.raises(StackError, match="not running"):
            stack.stop_service("budgets")
        stack.start_service("budgets")
        assert httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        assert marker.read_text() == "kept"
        with pytest.raises(StackError, match="already running"):
            stack.start_service("budgets")
