"""The pytest plugin (entry point `gatewright`). Inert unless asked: it adds options, a header
line and fixtures; it starts nothing and writes nothing until a test uses a `gw*` fixture or a
conftest calls `require_stack(config)`.

Run flow:

- `pytest_configure` fixes the run id and seed (the controller picks them; xdist workers receive
  them through `workerinput`) and the timeout scale;
- the CONTROLLER resolves the target once per run: under xdist in `pytest_configure_node` (the
  first call starts the local stack, every worker gets the `Target` through `workerinput`),
  without xdist lazily in the `gw_target` session fixture; it stops the stack in
  `pytest_unconfigure`;
- a target that cannot be started or is not ready is an ERROR of each test that needs it (raised
  from `gw_target`), a SKIP only with `--allow-unavailable` and never when `CI=true`;
- `pytest_runtest_makereport` adds a "gatewright" section to failing tests (failing step, its
  last exchanges, request IDs, artifacts path), puts request IDs, the artifacts path and where
  it failed (`failed_step`, `failed_request_id`, `failed_at`) in JUnit properties, redacts
  the failure text, and writes the per-test artifact files;
- at the end the controller writes `summary.json` and `report.html` and prints skips and
  xfails counted by reason; under GitHub Actions also one `::error` annotation per failure and
  a markdown summary in `$GITHUB_STEP_SUMMARY` (`cioutput`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from gatewright.core import shared_ssl_context
from gatewright.testkit.artifacts import (
    TestResult,
    resolve_root,
    test_dir,
    write_json,
    write_test_artifacts,
)
from gatewright.testkit.audittrail import AuditTrail
from gatewright.testkit.cioutput import append_step_summary, failure_annotations, github_actions
from gatewright.testkit.cleanup import Cleanup
from gatewright.testkit.eventually import (
    EventuallyFailed,
    EventuallyTimeout,
    Outcome,
    eventually,
    set_timeout_scale,
    timeout_scale,
)
from gatewright.testkit.harness import Harness, TestContext
from gatewright.testkit.htmlreport import render_html
from gatewright.testkit.naming import Names, RequestIds, resolve_run_id, resolve_seed, run_prefix
from gatewright.testkit.recorder import ExchangeRecorder
from gatewright.testkit.redact import redact_text, register_secret, registered_secrets
from gatewright.testkit.report import failure_exchanges, failure_section, reason_counts
from gatewright.testkit.stack import LocalStack, StackError
from gatewright.testkit.steps import Flow, is_failure
from gatewright.testkit.target import TARGET_FILE_ENV, Target, TargetError

DEFAULT_SERVICES = ("identity",)
LONG_MARKER_HELP = "a flow far longer than the rest (e.g. its own stack); it starts first"


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@dataclass
class RunState:
    """Per-process run state, in `config.stash`."""

    run_id: str = ""
    seed: str = ""
    worker: str = "main"
    is_worker: bool = False
    artifacts_root: Path = Path("artifacts")
    keep_data: bool = False
    allow_unavailable: bool = False
    stack_required: bool = False
    services: set[str] = field(default_factory=set)
    target: Target | None = None
    target_error: str | None = None
    stack: LocalStack | None = None
    used: bool = False
    results: dict[str, TestResult] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return self.artifacts_root / self.run_id

    @property
    def wanted_services(self) -> list[str]:
        return sorted(self.services) or list(DEFAULT_SERVICES)


STATE_KEY = pytest.StashKey[RunState]()
CONTEXT_KEY = pytest.StashKey[TestContext]()


def _state(config: pytest.Config) -> RunState:
    state = config.stash.get(STATE_KEY, None)
    if state is None:
        state = RunState()
        config.stash[STATE_KEY] = state
    return state


def require_stack(config: pytest.Config, services: Iterable[str] = DEFAULT_SERVICES) -> None:
    """Declare that this run needs these services (call from a conftest's `pytest_configure`).

    The target (target file, env vars, or a local stack started once for the run) is then
    resolved by the controller before any worker starts.
    """
    state = _state(config)
    state.stack_required = True
    state.services.update(services)


def run_seed(config: pytest.Config) -> str:
    """This run's seed (`--gw-seed`, `GATEWRIGHT_SEED` or a fresh one; the same on every xdist
    worker), for a conftest whose own generators must follow it, e.g. a Hypothesis seed.

    Fixed by the plugin's `pytest_configure` (tryfirst): call it from a later hook."""
    seed = _state(config).seed
    if not seed:
        raise RuntimeError("run_seed() was called before the gatewright plugin configured the run")
    return seed


# -- options and configuration ----------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gatewright", "Gatewright harness")
    group.addoption(
        "--gw-seed",
        default=None,
        help="run seed for names and data (env GATEWRIGHT_SEED; default: random, in the header)",
    )
    group.addoption(
        "--gw-target",
        default=None,
        help=f"target file (TOML/JSON) of a deployment (env {TARGET_FILE_ENV}); "
        "default: GATEWRIGHT_<SERVICE>_URL env vars, else a local stack",
    )
    group.addoption(
        "--gw-artifacts",
        default=None,
        help="artifacts root (env GATEWRIGHT_ARTIFACTS; default <rootdir>/artifacts)",
    )
    group.addoption(
        "--gw-timeout-scale",
        type=float,
        default=None,
        help="multiply every eventually() timeout profile (env GATEWRIGHT_TIMEOUT_SCALE)",
    )
    group.addoption(
        "--keep-data",
        action="store_true",
        default=False,
        help="skip the data cleanup (and keep local stack data) and list what was kept; "
        "releases (closing clients) still run",
    )
    group.addoption(
        "--gw-slowest",
        type=int,
        default=5,
        help="how many of the slowest flows the end-of-run summary lists (default 5)",
    )
    group.addoption(
        "--allow-unavailable",
        action="store_true",
        default=False,
        help="skip instead of error when the target is unavailable (ignored when CI=true)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    state = _state(config)
    config.addinivalue_line("markers", f"long: {LONG_MARKER_HELP}")
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    opt = config.option
    set_timeout_scale(opt.gw_timeout_scale)
    state.keep_data = bool(opt.keep_data)
    state.allow_unavailable = bool(opt.allow_unavailable) and not _ci()
    if workerinput is not None:
        state.is_worker = True
        state.worker = str(workerinput.get("workerid", "gw0"))
        state.run_id = str(workerinput.get("gw_run_id") or resolve_run_id())
        state.seed = str(workerinput.get("gw_seed") or resolve_seed(opt.gw_seed))
        state.artifacts_root = Path(
            workerinput.get("gw_artifacts") or resolve_root(opt.gw_artifacts, config.rootpath)
        )
        for secret in workerinput.get("gw_secrets", ()):
            register_secret(secret)
        if workerinput.get("gw_target"):
            state.target = Target.from_json(workerinput["gw_target"])
        state.target_error = workerinput.get("gw_target_error")
    else:
        state.run_id = resolve_run_id()
        state.seed = resolve_seed(opt.gw_seed)
        state.artifacts_root = resolve_root(opt.gw_artifacts, config.rootpath)
        config.pluginmanager.register(RunReporter(state), "gatewright-run-reporter")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller, once per worker: resolve the target once, hand it to the worker."""
    config: pytest.Config = node.config
    state = _state(config)
    if state.stack_required:
        _ensure_target(state, config)
    node.workerinput["gw_run_id"] = state.run_id
    node.workerinput["gw_seed"] = state.seed
    node.workerinput["gw_artifacts"] = str(state.artifacts_root)
    node.workerinput["gw_secrets"] = sorted(registered_secrets())
    if state.target is not None:
        node.workerinput["gw_target"] = state.target.to_json(include_secrets=True)
    if state.target_error is not None:
        node.workerinput["gw_target_error"] = state.target_error


def pytest_unconfigure(config: pytest.Config) -> None:
    set_timeout_scale(None)
    state = config.stash.get(STATE_KEY, None)
    if state is not None and state.stack is not None:
        state.stack.stop()
        state.stack = None


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = _state(config)
    lines = [
        f"gatewright: run {state.run_id}, seed {state.seed} "
        f"(reproduce with --gw-seed={state.seed}), artifacts {state.run_dir}"
    ]
    scale = timeout_scale()
    if scale != 1.0:
        lines.append(f"gatewright: timeout scale {scale:g}")
    if config.option.allow_unavailable and _ci():
        lines.append("gatewright: --allow-unavailable ignored because CI=true")
    return lines


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> Generator[None, None, None]:
    """The order flows run in: shards split in test-id order, and flows marked `long` first.

    Shards (pytest-split's `--splits N --group K`): pytest-randomly shuffles before every other
    implementation of this hook and pytest-split splits after them, so each shard would split a
    different shuffle (its own seed) and the shards together would miss some tests and run
    others twice. In between, this sorts by test id; after pytest-split has kept its group, the
    group goes back to the shuffled order.

    Then the flows marked `long` move to the front (a stable sort: the shuffle stays the order
    of the rest): under xdist's work stealing the other workers take the short flows meanwhile,
    so the run ends near max(longest flow, total / workers) instead of with one late long flow.
    """
    splits = bool(getattr(config.option, "splits", None))
    shuffled = {item.nodeid: n for n, item in enumerate(items)}
    if splits:
        items.sort(key=lambda item: item.nodeid)
    result = yield
    if splits:
        items.sort(key=lambda item: shuffled[item.nodeid])
    items.sort(key=lambda item: item.get_closest_marker("long") is None)
    return result


# -- target resolution ------------------------------------------------------------------------
def _check_ready(target: Target, services: list[str]) -> None:
    for service in services:
        url = f"{target.url(service)}/readyz"

        def probe(url: str = url) -> Outcome[int]:
            status = httpx.get(url, timeout=2.0, verify=shared_ssl_context()).status_code
            if status == 200:
                return Outcome.done(status)
            return Outcome.pending(f"GET {url} answered {status}")

        eventually(probe, profile="settle", interval=0.05, description=f"{service} to be ready")


def _ensure_target(state: RunState, config: pytest.Config) -> None:
    """Resolve the target once per process (the controller's, or a worker's fallback)."""
    if state.target is not None or state.target_error is not None:
        return
    services = state.wanted_services
    try:
        path = config.option.gw_target or os.environ.get(TARGET_FILE_ENV)
        target = Target.from_file(path) if path else Target.from_env(services)
        if target is None:
            state.stack = LocalStack(
                services, log_dir=state.run_dir / "services", keep_data=state.keep_data
            )
            target = state.stack.start()
        else:
            missing = target.missing(services)
            if missing:
                raise TargetError(f"the target ({target.source}) has no URL for {missing}")
            _check_ready(target, services)
        state.target = target
    except (StackError, TargetError, EventuallyTimeout, EventuallyFailed, httpx.HTTPError) as exc:
        state.stack = None
        state.target_error = redact_text(f"{type(exc).__name__}: {exc}")


# -- fixtures ---------------------------------------------------------------------------------
def _context(item: pytest.Item) -> TestContext:
    ctx = item.stash.get(CONTEXT_KEY, None)
    if ctx is None:
        state = _state(item.config)
        state.used = True
        flow = Flow()
        ctx = TestContext(
            nodeid=item.nodeid,
            names=Names(item.nodeid, state.seed, prefix=run_prefix(state.run_id)),
            flow=flow,
            recorder=ExchangeRecorder(step=flow),
            cleanup=Cleanup(keep=state.keep_data),
            request_ids=RequestIds(state.run_id, state.worker, item.nodeid),
            artifacts_dir=test_dir(state.artifacts_root, state.run_id, state.worker, item.nodeid),
            worker=state.worker,
        )
        item.stash[CONTEXT_KEY] = ctx
    return ctx


@pytest.fixture(scope="session")
def gw_target(request: pytest.FixtureRequest) -> Target:
    """The services under test and their credentials; ERROR (or SKIP) when unavailable."""
    state = _state(request.config)
    _ensure_target(state, request.config)
    if state.target_error is not None or state.target is None:
        message = f"gatewright target unavailable: {state.target_error or 'not resolved'}"
        if state.allow_unavailable:
            pytest.skip(message)
        pytest.fail(message, pytrace=False)
    return state.target


@pytest.fixture
def gw_names(request: pytest.FixtureRequest) -> Names:
    """Deterministic names, emails and passwords for this test."""
    return _context(request.node).names


@pytest.fixture
def gw_flow(request: pytest.FixtureRequest) -> Flow:
    """Given/When/Then steps of this test."""
    return _context(request.node).flow


@pytest.fixture
def gw_recorder(request: pytest.FixtureRequest) -> ExchangeRecorder:
    """The HTTP exchange recorder of this test (hooks for any client)."""
    return _context(request.node).recorder


@pytest.fixture
def gw_cleanup(request: pytest.FixtureRequest) -> Generator[Cleanup, None, None]:
    """LIFO cleanup at teardown; a failed action makes the test an ERROR."""
    ctx = _context(request.node)
    yield ctx.cleanup
    if len(ctx.cleanup) and not ctx.cleanup.keep:
        with ctx.flow.step("Cleanup", f"{len(ctx.cleanup)} action(s)"):
            ctx.cleanup.run_or_raise()
    else:
        ctx.cleanup.run_or_raise()


@pytest.fixture
def gw(request: pytest.FixtureRequest, gw_target: Target, gw_cleanup: Cleanup) -> Harness:
    """Everything in one object: `gw.names`, `gw.flow`, `gw.cleanup`, `gw.target`,
    `gw.client_kwargs(service)`, `gw.async_client_kwargs(service)`."""
    return Harness(_context(request.node), lambda: gw_target)


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, Any, Any]:
    """A fixture that fails outside every step becomes a failed step "Setup fixture '<name>'"
    holding the exchanges it sent, so its failure shows them like any step's."""
    item = request.node if isinstance(request.node, pytest.Item) else None
    before = item.stash.get(CONTEXT_KEY, None) if item is not None else None
    first = len(before.recorder.exchanges) if before is not None else 0
    started_at = datetime.now(UTC).isoformat(timespec="milliseconds")
    try:
        return (yield)
    except BaseException as exc:
        ctx = item.stash.get(CONTEXT_KEY, None) if item is not None else None
        if ctx is not None and not ctx.flow.ended_a_step(exc) and is_failure(exc):
            step = ctx.flow.record_failure(
                "Setup", f"fixture '{fixturedef.argname}'", exc, started_at=started_at
            )
            for ex in ctx.recorder.exchanges[first:]:
                if ex.step_index is None:
                    ex.step_index, ex.step = step.index, step.label
        raise


# -- reporting --------------------------------------------------------------------------------
# A failure outside every step is kept as a step of its phase, so the report always names one.
_OUTSIDE_STEPS = {
    "setup": ("Setup", "outside any step"),
    "call": ("Test", "body, outside any step"),
    "teardown": ("Teardown", "outside any step"),
}


# pytest's own markers say how a test runs, not what it is about: the report filters by the rest.
_PYTEST_MARKERS = frozenset(
    {"parametrize", "usefixtures", "filterwarnings", "skip", "skipif", "xfail", "timeout"}
)


def _failure_properties(
    item: pytest.Item, ctx: TestContext, excinfo: pytest.ExceptionInfo[BaseException]
) -> list[tuple[str, str]]:
    """Where a test failed, for JUnit and CI annotations: the failing step, the request ID of
    its evidence (its own last exchange, else the one that led to it), and `path:line` of the
    test's own statement that failed (the outermost frame in its file; deeper ones are helpers)."""
    step, own, leading = failure_exchanges(ctx.flow, ctx.recorder)
    rids = [ex.request_id for ex in (own or leading) if ex.request_id]
    props = [("failed_step", step.label if step is not None else "(outside any step)")]
    if rids:
        props.append(("failed_request_id", rids[-1]))
    path, first = item.location[0], item.location[1]
    line = first + 1 if first is not None else 1
    for entry in excinfo.traceback:
        if Path(entry.path) == item.path:
            line = entry.lineno + 1
            break
    props.append(("failed_at", f"{path}:{line}"))
    return props


def _sync_properties(
    item: pytest.Item, ctx: TestContext, failure: Sequence[tuple[str, str]] = ()
) -> None:
    sent: set[tuple[str, str]] = ctx.extra.setdefault("props", set())
    props = [("artifacts", str(ctx.artifacts_dir))]
    markers = dict.fromkeys(m.name for m in item.iter_markers())
    props += [("marker", m) for m in markers if m not in _PYTEST_MARKERS]
    props += [("request_id", rid) for rid in ctx.recorder.request_ids]
    props += [("kept", redact_text(k)) for k in ctx.cleanup.kept]
    # Only the first failure of a test says where it failed (a teardown error after a failed
    # call is not where to look first).
    if failure and not any(name == "failed_step" for name, _ in sent):
        props += failure
    for prop in props:
        if prop not in sent:
            sent.add(prop)
            item.user_properties.append(prop)


def _redact_report(report: pytest.TestReport) -> None:
    if report.failed and report.longrepr is not None:
        text = str(report.longrepr)
        redacted = redact_text(text)
        if redacted != text:
            report.longrepr = redacted
    report.sections = [(name, redact_text(content)) for name, content in report.sections]


def _phase_outcome(report: pytest.TestReport) -> str:
    xfail = hasattr(report, "wasxfail")
    if report.when == "call":
        if report.passed:
            return "xpassed" if xfail else "passed"
        if report.skipped:
            return "xfailed" if xfail else "skipped"
        return "failed"
    if report.failed:
        return "error"
    if report.skipped:
        return "xfailed" if xfail else "skipped"
    return "passed"


def _reason(report: pytest.TestReport) -> str:
    wasxfail = getattr(report, "wasxfail", None)
    if isinstance(wasxfail, str):
        return wasxfail.removeprefix("reason: ") or "xfail"
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return ""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    ctx = item.stash.get(CONTEXT_KEY, None)
    if ctx is not None:
        failure: list[tuple[str, str]] = []
        if call.excinfo is not None:
            exc = call.excinfo.value
            ctx.recorder.note_exception(exc)
            if not ctx.flow.ended_a_step(exc) and is_failure(exc):
                ctx.flow.record_failure(*_OUTSIDE_STEPS[call.when], exc)
            if is_failure(exc):
                failure = _failure_properties(item, ctx, call.excinfo)
        if call.when == "teardown":
            ctx.recorder.finish()
        _sync_properties(item, ctx, failure)
    report = yield
    _redact_report(report)
    if ctx is None:
        return report
    state = _state(item.config)
    phases: dict[str, pytest.TestReport] = ctx.extra.setdefault("phases", {})
    phases[report.when] = report
    if report.failed:
        # The audit events of a failing test's requests, once the services' outboxes have
        # delivered them (they arrive asynchronously): kept for the artifacts too.
        trail = AuditTrail(state.target).fetch(ctx.recorder.request_ids, settle=1.5)
        ctx.extra["audit"] = trail
        report.sections.append(
            (
                "gatewright",
                failure_section(
                    flow=ctx.flow,
                    recorder=ctx.recorder,
                    artifacts_dir=ctx.artifacts_dir,
                    run_id=state.run_id,
                    seed=state.seed,
                    audit=trail,
                ),
            )
        )
    if report.when == "teardown":
        outcome = "passed"
        longrepr = []
        for phase in phases.values():
            phase_outcome = _phase_outcome(phase)
            if phase_outcome != "passed" and outcome in ("passed", "xpassed"):
                outcome = phase_outcome
            elif phase_outcome == "xpassed":
                outcome = "xpassed"
            if phase.failed:
                longrepr.append(f"[{phase.when}]\n{phase.longrepr}")
        if "audit" not in ctx.extra:
            ctx.extra["audit"] = AuditTrail(state.target).fetch(ctx.recorder.request_ids)
        write_test_artifacts(
            ctx.artifacts_dir,
            audit=ctx.extra["audit"],
            nodeid=item.nodeid,
            outcome=outcome,
            run_id=state.run_id,
            seed=state.seed,
            worker=state.worker,
            flow=ctx.flow,
            recorder=ctx.recorder,
            longrepr="\n".join(longrepr),
            kept=ctx.cleanup.kept,
        )
    return report


class RunReporter:
    """Registered on the controller only: aggregates every report (xdist forwards the workers'
    reports here), writes `summary.json` and `report.html`, prints the end-of-run summary."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        self.started = time.monotonic()

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.started = time.monotonic()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        result = self.state.results.setdefault(report.nodeid, TestResult(report.nodeid))
        result.duration += report.duration
        node = getattr(report, "node", None)
        workerinput = getattr(node, "workerinput", None)
        if isinstance(workerinput, dict):
            result.worker = str(workerinput.get("workerid", result.worker))
        phase = _phase_outcome(report)
        if phase != "passed" and result.outcome in ("passed", "xpassed"):
            result.outcome = phase
            result.reason = _reason(report)
        elif phase == "xpassed":
            result.outcome = "xpassed"
            result.reason = _reason(report)
        if report.failed:
            text = redact_text(str(report.longrepr))
            result.longrepr = f"{result.longrepr}\n[{report.when}]\n{text}".strip()
        for name, value in report.user_properties:
            if name == "request_id" and value not in result.request_ids:
                result.request_ids.append(str(value))
            elif name == "artifacts":
                result.artifacts = str(value)
            elif name == "kept" and value not in result.kept:
                result.kept.append(str(value))
            elif name == "marker" and value not in result.markers:
                result.markers.append(str(value))
            elif name in ("failed_step", "failed_request_id", "failed_at"):
                setattr(result, name, str(value))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        wall_s = time.monotonic() - self.started
        _write_run_report(self.state, wall_s=wall_s)
        if github_actions() and _should_report(self.state):
            run = {**_run_info(self.state), "wall_s": round(wall_s, 2)}
            append_step_summary(run, list(self.state.results.values()))

    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        _terminal_summary(self.state, terminalreporter)
        _timing_summary(
            self.state,
            terminalreporter,
            wall_s=time.monotonic() - self.started,
            slowest=int(config.option.gw_slowest),
        )


def _run_info(state: RunState) -> dict[str, Any]:
    return {
        "run_id": state.run_id,
        "seed": state.seed,
        "reproduce": f"--gw-seed={state.seed}",
        "target": state.target.public_dict() if state.target else None,
        "target_error": state.target_error,
        "timeout_scale": timeout_scale(),
        "artifacts": str(state.run_dir),
    }


def _should_report(state: RunState) -> bool:
    return state.used or state.stack_required or any(r.artifacts for r in state.results.values())


def _write_run_report(state: RunState, *, wall_s: float) -> None:
    if not _should_report(state):
        return
    results = list(state.results.values())
    run = {**_run_info(state), "wall_s": round(wall_s, 2)}
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    summary = {
        **run,
        "counts": counts,
        "skipped_by_reason": dict(reason_counts(results, "skipped")),
        "xfailed_by_reason": dict(reason_counts(results, "xfailed")),
        "tests": [r.to_dict() for r in results],
    }
    write_json(state.run_dir / "summary.json", summary)
    html_path = state.run_dir / "report.html"
    html_path.write_text(render_html(run, results), encoding="utf-8", errors="backslashreplace")


def _terminal_summary(state: RunState, terminalreporter: Any) -> None:
    if not _should_report(state):
        return
    results = list(state.results.values())
    tr = terminalreporter
    tr.write_sep("-", "gatewright")
    tr.write_line(
        f"run {state.run_id} · seed {state.seed} · report {state.run_dir / 'report.html'}"
    )
    if state.target_error:
        tr.write_line(f"target unavailable: {state.target_error.splitlines()[0]}")
    for outcome in ("skipped", "xfailed"):
        counted = reason_counts(results, outcome)
        if counted:
            tr.write_line(f"{outcome} by reason:")
            for reason, n in counted:
                tr.write_line(f"  {n:>3} x {redact_text(reason)}")
    kept = [(r.nodeid, k) for r in results for k in r.kept]
    if kept:
        tr.write_line("kept (--keep-data), clean up by hand:")
        for nodeid, what in kept:
            tr.write_line(f"  {nodeid}: {what}")
    if state.stack is not None and state.keep_data and state.stack.data_root is not None:
        tr.write_line(f"local stack data kept in {state.stack.data_root}")
    if github_actions():
        # Workflow commands: GitHub turns each line into an annotation on the file and line.
        for line in failure_annotations(results):
            tr.write_line(line)


def _timing_summary(state: RunState, terminalreporter: Any, *, wall_s: float, slowest: int) -> None:
    """The run's wall time, how busy each worker was, and the slowest flows: what to look at
    first when the stage gets slower or parallelism stops paying."""
    if not _should_report(state):
        return
    results = [r for r in state.results.values() if r.duration > 0]
    tr = terminalreporter
    busy: dict[str, float] = {}
    for r in results:
        busy[r.worker] = busy.get(r.worker, 0.0) + r.duration
    total = sum(busy.values())
    per_worker = ", ".join(f"{w} {s:.1f}s" for w, s in sorted(busy.items()))
    tr.write_line(
        f"wall {wall_s:.1f}s for {len(results)} tests, {total:.1f}s of test time "
        f"({per_worker or 'none'})"
    )
    if slowest > 0 and results:
        tr.write_line(f"slowest {min(slowest, len(results))} flows:")
        for r in sorted(results, key=lambda r: r.duration, reverse=True)[:slowest]:
            tr.write_line(f"  {r.duration:6.2f}s {r.worker:>5} {r.nodeid}")
