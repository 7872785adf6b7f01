"""The plugin end to end, through `pytester` in subprocesses (as a user would run it)."""

from __future__ import annotations

import json
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ADMIN_PASSWORD = "Adm1n-very-secret-pw"
SERVICE_TOKEN = "gwst_service_token_0123456789"
HERE = Path(__file__).parent
# Inner runs: no random order, and no pytest-asyncio (it warns without its ini option).
QUIET = ("-p", "no:randomly", "-p", "no:asyncio")


class BrokenHandler(BaseHTTPRequestHandler):
    """Ready, but every API call answers 500 with the error envelope (echoing what it got)."""

    def _answer(self) -> None:
        rid = self.headers.get("X-Request-ID", "")
        length = int(self.headers.get("Content-Length") or 0)
        got = self.rfile.read(length).decode() if length else ""
        body: dict[str, Any]
        if self.path in ("/readyz", "/healthz"):
            status, body = 200, {"status": "ready"}
        elif self.path == "/v1/ping":
            status, body = 200, {"pong": True}
        else:
            status = 500
            body = {
                "error": {
                    "type": "server_error",
                    "code": "internal",
                    "message": "database on fire",
                    "request_id": rid,
                    "details": {"echo": got, "auth": self.headers.get("Authorization", "")},
                }
            }
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-ID", rid)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def broken_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BrokenHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def user_env(monkeypatch: pytest.MonkeyPatch, broken_url: str) -> str:
    monkeypatch.setenv("GATEWRIGHT_BROKEN_URL", broken_url)
    monkeypatch.setenv("GATEWRIGHT_ADMIN_EMAIL", "admin@example.test")
    monkeypatch.setenv("GATEWRIGHT_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("GATEWRIGHT_SERVICE_TOKEN", SERVICE_TOKEN)
    monkeypatch.setenv("GATEWRIGHT_RUN_ID", "rtest01")
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("GATEWRIGHT_TARGET_FILE", raising=False)
    return broken_url


USER_CONFTEST = """
from gatewright.testkit import require_stack

def pytest_configure(config):
    require_stack(config, services=("broken",))
"""

USER_TEST = """
from gatewright.core import SyncAPIClient


class OrgsClient(SyncAPIClient):
    def create(self, name: str, admin_password: str) -> dict:
        return self.request(
            "POST", "/v1/orgs", cast_to=dict, json={"name": name, "password": admin_password}
        )


def test_admin_creates_an_org(gw):
    orgs = OrgsClient(**gw.client_kwargs("broken", token=gw.target.service_token))
    gw.cleanup.add("close the client", orgs.close)
    with gw.flow.given("an admin with a password"):
        password = gw.target.admin_password
    with gw.flow.when("the admin creates an org"):
        org = orgs.create(gw.names.name("org"), password)
    with gw.flow.then("the org is listed"):
        assert org["name"]
"""


def _all_text(root: Path) -> str:
    return "\n".join(
        p.read_text(encoding="utf-8", errors="replace") for p in root.rglob("*") if p.is_file()
    )


def test_failing_flow_shows_step_status_body_and_request_id(
    pytester: pytest.Pytester, user_env: str
) -> None:
    pytester.makeconftest(USER_CONFTEST)
    pytester.makepyfile(test_orgs=USER_TEST)
    artifacts = pytester.path / "out"
    result = pytester.runpytest_subprocess(
        *QUIET,
        "-W",
        "error",
        "--gw-seed=s33d",
        f"--gw-artifacts={artifacts}",
        "--junitxml=junit.xml",
    )
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    # the header says how to reproduce the run
    assert "gatewright: run rtest01, seed s33d (reproduce with --gw-seed=s33d)" in out
    # the gatewright section: failing step, status, body sample, request ID, artifacts path
    assert "- gatewright -" in out
    assert "failing step: When the admin creates an org  [error" in out
    assert "-> 500 in" in out
    assert "database on fire" in out
    rid = re.search(r"request (rtest01-main-[0-9a-f]{6}-0001)", out)
    assert rid is not None, out
    assert "(attempt 3)" in out  # the client retried the 500 twice, same request ID
    assert "replay: curl -sS -X POST" in out
    test_dir = artifacts / "rtest01" / "main"
    assert f"artifacts: {test_dir}" in out
    # nothing secret was printed
    assert ADMIN_PASSWORD not in out
    assert SERVICE_TOKEN not in out

    # per-test artifacts
    (folder,) = test_dir.iterdir()
    assert folder.name.startswith("admin-creates-an-org-")
    steps = json.loads((folder / "steps.json").read_text())
    assert [(s["keyword"], s["status"]) for s in steps] == [
        ("Given", "passed"),
        ("When", "error"),
        ("Cleanup", "passed"),
    ]
    exchanges = json.loads((folder / "exchanges.json").read_text())
    assert [e["status"] for e in exchanges] == [500, 500, 500]
    assert {e["request_id"] for e in exchanges} == {rid.group(1)}
    assert exchanges[0]["step"] == "When the admin creates an org"
    summary_txt = (folder / "summary.txt").read_text()
    assert "When the admin creates an org" in summary_txt
    assert "reproduce: pytest" in summary_txt

    # run-level artifacts
    run_dir = artifacts / "rtest01"
    report = (run_dir / "report.html").read_text()
    assert "<style>" in report
    assert "http://" not in report.split("<body>")[0]  # no external assets
    assert rid.group(1) in report
    assert "the admin creates an org" in report
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["counts"] == {"failed": 1}
    assert summary["tests"][0]["request_ids"] == [rid.group(1)]

    # JUnit: request IDs and the artifacts path as properties
    junit = ET.parse(pytester.path / "junit.xml")  # noqa: S314  # pytest wrote it just now
    props = {(p.get("name"), p.get("value")) for p in junit.iter("property")}
    assert ("request_id", rid.group(1)) in props
    assert ("artifacts", str(folder)) in props

    # no registered secret anywhere on disk
    everything = _all_text(run_dir) + (pytester.path / "junit.xml").read_text()
    assert ADMIN_PASSWORD not in everything
    assert SERVICE_TOKEN not in everything
    assert "***" in everything


def test_passing_run_under_xdist_with_skips_and_xfails(
    pytester: pytest.Pytester, user_env: str
) -> None:
    pytester.makeconftest(USER_CONFTEST)
    pytester.makepyfile(
        test_ok="""
        import httpx
        import pytest

        @pytest.mark.parametrize("n", range(4))
        def test_ping(gw, n):
            with httpx.Client(event_hooks=gw.recorder.sync_hooks()) as client:
                with gw.flow.when("pinging"):
                    response = client.get(
                        gw.url("broken") + "/v1/ping",
                        headers={"X-Request-ID": gw.request_ids()},
                    )
            with gw.flow.then("it answers"):
                assert response.json() == {"pong": True}

        def test_skipped(gw_names):
            pytest.skip("modelsim not deployed here")

        @pytest.mark.xfail(reason="bug #12: pagination", strict=True)
        def test_known_bug(gw_flow):
            with gw_flow.then("page 2 exists"):
                assert False
        """
    )
    artifacts = pytester.path / "out"
    result = pytester.runpytest_subprocess(*QUIET, "-n", "2", f"--gw-artifacts={artifacts}")
    result.assert_outcomes(passed=4, skipped=1, xfailed=1)
    out = result.stdout.str()
    assert "skipped by reason:" in out
    assert "1 x modelsim not deployed here" in out
    assert "1 x bug #12: pagination" in out
    summary = json.loads((artifacts / "rtest01" / "summary.json").read_text())
    assert summary["counts"] == {"passed": 4, "skipped": 1, "xfailed": 1}
    rids = [rid for t in summary["tests"] for rid in t["request_ids"]]
    assert len(rids) == 4
    assert all(re.fullmatch(r"rtest01-gw[01]-[0-9a-f]{6}-0001", rid) for rid in rids)
    assert {t["worker"] for t in summary["tests"]} <= {"gw0", "gw1"}
    assert (artifacts / "rtest01" / "report.html").is_file()


@pytest.mark.parametrize(
    ("args", "ci", "expected"),
    [
        ((), "", {"errors": 1}),
        (("--allow-unavailable",), "", {"skipped": 1}),
        (("--allow-unavailable",), "true", {"errors": 1}),
    ],
    ids=["error-by-default", "skip-when-allowed", "error-under-ci"],
)
def test_unavailable_target_is_an_error_unless_allowed(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    ci: str,
    expected: dict[str, int],
) -> None:
    monkeypatch.setenv("CI", ci)
    monkeypatch.setenv("GATEWRIGHT_BROKEN_URL", "http://127.0.0.1:9")  # discard port: refused
    pytester.makeconftest(USER_CONFTEST)
    pytester.makepyfile(test_x="def test_x(gw):\n    pass\n")
    # In process (fast): the plugin resets its process-wide state at unconfigure.
    result = pytester.runpytest_inprocess(
        *QUIET, "--gw-timeout-scale=0.02", f"--gw-artifacts={pytester.path}", *args
    )
    result.assert_outcomes(**expected)
    assert "gatewright target unavailable" in result.stdout.str()


def test_local_stack_is_started_once_by_the_controller(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWRIGHT_RUN_ID", "rstack1")
    monkeypatch.delenv("GATEWRIGHT_IDENTITY_URL", raising=False)
    pytester.makeconftest(
        f"""
        from gatewright.testkit import ServiceSpec, register_service, require_stack

        def pytest_configure(config):
            register_service(ServiceSpec(
                "identity", "dummy_service", env={{"PYTHONPATH": {str(HERE)!r}}}
            ))
            require_stack(config)
        """
    )
    pytester.makepyfile(
        test_stack="""
        import os
        import httpx
        import pytest

        @pytest.mark.parametrize("n", range(2))
        def test_env(gw, n):
            env = httpx.get(gw.url("identity") + "/env").json()
            print("URL", gw.url("identity"), "FD", env["GATEWRIGHT_FD"])
            assert gw.target.admin_password
        """
    )
    artifacts = pytester.path / "out"
    result = pytester.runpytest_subprocess(*QUIET, "-n", "2", "-rA", f"--gw-artifacts={artifacts}")
    result.assert_outcomes(passed=2)
    urls = set(re.findall(r"URL (http://127\.0\.0\.1:\d+)", result.stdout.str()))
    assert len(urls) == 1  # both workers talked to the one stack
    log = (artifacts / "rstack1" / "services" / "identity.log").read_text()
    assert "listening" in log


SEED_CONFTEST = """
from gatewright.testkit.plugin import run_seed

def pytest_configure(config):
    config.seen_seed = run_seed(config)

def pytest_report_header(config):
    return [f"conftest saw seed {config.seen_seed}"]
"""


def test_run_seed_is_the_gw_seed_for_a_conftest(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(SEED_CONFTEST)
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess(*QUIET, "--gw-seed=abc123")
    result.assert_outcomes(passed=1)
    assert "conftest saw seed abc123" in result.stdout.str()


def test_under_github_actions_failures_are_annotations_and_the_run_a_step_summary(
    pytester: pytest.Pytester, user_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(USER_CONFTEST)
    pytester.makepyfile(
        test_orgs=USER_TEST,
        test_ping="def test_ping(gw):\n    with gw.flow.then('nothing to see'):\n        pass\n",
    )
    summary_file = pytester.path / "step-summary.md"
    summary_file.write_text("earlier step output\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary_file))
    result = pytester.runpytest_subprocess(
        *QUIET, "--gw-seed=s33d", "--gw-artifacts=out", "--junitxml=junit.xml"
    )
    # The exit code stays pytest's: 1 for a failed test.
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=1, passed=1)
    out = result.stdout.str()
    rid = re.search(r"request (rtest01-main-[0-9a-f]{6}-0001)", out)
    assert rid is not None, out
    # One annotation, on the line of the test that failed, naming the step and the request ID.
    source = (pytester.path / "test_orgs.py").read_text().splitlines()
    line = next(n for n, text in enumerate(source, 1) if "orgs.create(" in text)
    annotations = [text for text in out.splitlines() if text.startswith("::error ")]
    assert annotations == [
        f"::error file=test_orgs.py,line={line},title=test_orgs.py%3A%3Atest_admin_creates_an_org"
        f"::When the admin creates an org {rid.group(1)}"
    ]
    # The step summary is appended to, never replaced, and says what a reviewer needs.
    summary = summary_file.read_text()
    assert summary.startswith("earlier step output\n### gatewright run rtest01: 1 failing")
    assert "| failed | 1 |" in summary
    assert "| passed | 1 |" in summary
    assert (
        f"| `test_orgs.py::test_admin_creates_an_org` | When the admin creates an org | "
        f"`{rid.group(1)}` |" in summary
    )
    assert "#### Slowest flows" in summary
    assert "`test_ping.py::test_ping`" in summary
    assert re.search(r"2 tests in \d+\.\d s \(wall time\)", summary)
    assert ADMIN_PASSWORD not in summary
    # JUnit: where it failed, as properties beside the request IDs and the artifacts path.
    junit = ET.parse(pytester.path / "junit.xml")  # noqa: S314  # pytest wrote it just now
    case = next(c for c in junit.iter("testcase") if c.get("name") == "test_admin_creates_an_org")
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["failed_step"] == "When the admin creates an org"
    assert props["failed_request_id"] == rid.group(1)
    assert props["failed_at"] == f"test_orgs.py:{line}"
    assert props["request_id"] == rid.group(1)
    assert props["artifacts"].startswith(str(pytester.path / "out" / "rtest01" / "main"))
    passing = next(c for c in junit.iter("testcase") if c.get("name") == "test_ping")
    assert "failed_step" not in {p.get("name") for p in passing.iter("property")}


def test_outside_github_actions_nothing_ci_specific_is_printed_or_written(
    pytester: pytest.Pytester, user_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(USER_CONFTEST)
    pytester.makepyfile(test_orgs=USER_TEST)
    summary_file = pytester.path / "step-summary.md"
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary_file))
    result = pytester.runpytest_subprocess(*QUIET, "--gw-artifacts=out")
    result.assert_outcomes(failed=1)
    assert "::error" not in result.stdout.str()
    assert not summary_file.exists()
