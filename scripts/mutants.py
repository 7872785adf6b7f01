"""Measure the suite by the faults it catches: apply each hand-written fault to a scratch copy.

Each file in `mutants/` is one realistic regression (decision 19): what it breaks, the file, the
exact text it replaces and the text that replaces it. For each selected fault this script

1. checks that every fault still applies (its text occurs exactly once in its file), so a stale
   fault fails at once instead of passing as "caught";
2. copies the repository's files (tracked and untracked, not ignored: what `git ls-files -co
   --exclude-standard` lists) into a scratch tree at a fixed path, commits them there (the
   contract stage's drift check reads git), applies the fault, and never touches the real tree;
3. runs `nox -s e2e` in the scratch tree with `CI=true`, as the main job does: `e2e` requires
   `contracts`, so the contract stage runs first and nox stops at the first failing stage. Each
   run is bounded in time (`--timeout`); the session venvs live beside the scratch tree and are
   reused, so only the first fault installs anything;
4. reads the run: which stage failed (from nox's session lines), and for an e2e failure whether
   every failing test printed a request ID and a response sample in its `gatewright` section
   (the same reading as testkit's evidence self-tests), checked against the failing tests of
   `artifacts/junit-e2e.xml`.

It prints a table and writes `artifacts/mutants/report.json` and each fault's log
(`artifacts/mutants/<fault>.log`) under the real repository's artifacts folder (ignored by git).

    python scripts/mutants.py                 # every fault (what `nox -s mutants` runs)
    python scripts/mutants.py -k budgets      # faults whose name contains a term ("a or b")
    python scripts/mutants.py --check         # only check that every fault applies
    python scripts/mutants.py --baseline -k x # first prove the unchanged tree passes
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FAULTS = ROOT / "mutants"
REQUIRED = ("breaks", "file", "replace", "by")
# What a request ID in a failure section looks like: <run id>-<worker>-<test hash>-<seq>.
REQUEST_ID = re.compile(r"request [A-Za-z0-9]+-[A-Za-z0-9]+-[0-9a-f]{6}-\d{4}")
RESPONSE = re.compile(r"^\s+response: \S", re.MULTILINE)
ERROR_TITLE = re.compile(r"^ERROR at \w+ of ")
SESSION_FAILED = re.compile(r"^nox > Session (\S+) (?:failed|aborted|interrupted)", re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class Fault:
    name: str
    breaks: str
    file: str
    replace: str
    by: str

    def problem(self, root: Path) -> str | None:
        """Why this fault cannot be applied to the tree at `root`, or None."""
        target = root / self.file
        if not target.is_file():
            return f"{self.file} does not exist"
        count = target.read_text(encoding="utf-8").count(self.replace)
        if count != 1:
            return f"its text occurs {count} times in {self.file} (must be exactly once)"
        if self.replace == self.by:
            return "its replacement is the text itself"
        return None

    def apply(self, root: Path) -> None:
        if not self.file:
            return  # the baseline: the tree as it is
        target = root / self.file
        text = target.read_text(encoding="utf-8")
        target.write_text(text.replace(self.replace, self.by, 1), encoding="utf-8")


@dataclasses.dataclass
class Result:
    fault: str
    breaks: str
    caught: bool
    stage: str  # contracts, e2e, timeout, or "" when missed
    seconds: float
    failing: list[str] = dataclasses.field(default_factory=list)
    with_evidence: list[str] = dataclasses.field(default_factory=list)
    note: str = ""

    @property
    def evidence_complete(self) -> bool | None:
        """For an e2e catch: every failing test printed a request ID and a response sample."""
        if self.stage != "e2e":
            return None
        return bool(self.failing) and set(self.failing) == set(self.with_evidence)


def load_faults() -> list[Fault]:
    faults = []
    for path in sorted(FAULTS.glob("*.toml")):
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        # `by` may be empty (the fault deletes its text); the others may not.
        missing = [
            k for k in REQUIRED if not isinstance(doc.get(k), str) or (k != "by" and not doc[k])
        ]
        if missing:
            raise SystemExit(f"{path.relative_to(ROOT)}: missing {', '.join(missing)}")
        faults.append(Fault(path.stem, doc["breaks"], doc["file"], doc["replace"], doc["by"]))
    return faults


def select(faults: list[Fault], expr: str | None) -> list[Fault]:
    if not expr:
        return faults
    terms = [t.strip() for t in re.split(r"\s+or\s+|,", expr) if t.strip()]
    return [f for f in faults if any(t in f.name for t in terms)]


def scratch_dir() -> Path:
    """A fixed folder per repository, so the session venvs (editable installs of the scratch
    tree's packages) are reused from one fault to the next."""
    configured = os.environ.get("GATEWRIGHT_MUTANTS_DIR")
    if configured:
        return Path(configured)
    tag = hashlib.sha256(str(ROOT).encode()).hexdigest()[:8]
    return Path(tempfile.gettempdir()) / f"gatewright-mutants-{tag}"


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def copy_tree(tree: Path) -> None:
    """The repository's files as they are now (tracked and untracked, not ignored), committed."""
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    listed = git("ls-files", "-z", "-co", "--exclude-standard", cwd=ROOT).split("\0")
    for rel in filter(None, listed):
        source = ROOT / rel
        if source.is_file():
            dest = tree / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest)
    git("init", "-q", cwd=tree)
    git("add", "-A", cwd=tree)
    ident = ["-c", "user.name=mutants", "-c", "user.email=mutants@localhost"]
    git(*ident, "commit", "-q", "--no-verify", "-m", "pristine copy", cwd=tree)


def failure_sections(out: str) -> dict[str, str]:
    """pytest's failure blocks by test name, as the self-tests read them: `____ test_x ____`
    and `____ ERROR at setup of test_x ____` (a long name leaves a single `_` on the left). The
    name is the title after any `ERROR at <phase> of `, whole: a parametrized id may hold
    spaces (`test_x[platform default]`), and JUnit names the test the same way."""
    summary = out.split("short test summary info", 1)[0]
    parts = re.split(r"^_+ ([^_\s].*?) _+$", summary, flags=re.MULTILINE)
    return {
        ERROR_TITLE.sub("", title): body
        for title, body in zip(parts[1::2], parts[2::2], strict=True)
    }


def junit_cases(path: Path, *, failed: bool = False) -> list[tuple[str, str]]:
    """(name, pytest node ID) of the test cases of a JUnit file, or of the failing or erroring
    ones; empty when absent."""
    if not path.is_file():
        return []
    cases = []
    # our own run's file, written by pytest a moment ago
    for case in ET.parse(path).getroot().iter("testcase"):  # noqa: S314
        if failed and case.find("failure") is None and case.find("error") is None:
            continue
        name, module = case.get("name", "?"), case.get("classname", "")
        cases.append((name, f"{module.replace('.', '/')}.py::{name}"))
    return cases


def junit_failures(path: Path) -> list[tuple[str, str]]:
    return junit_cases(path, failed=True)


def has_evidence(section: str) -> bool:
    if "- gatewright -" not in section:
        return False
    own = section.split("- gatewright -", 1)[1]
    return bool(REQUEST_ID.search(own)) and bool(RESPONSE.search(own))


def run_nox(tree: Path, envdir: Path, args: list[str], timeout: float) -> tuple[int | None, str]:
    """`nox <args>` in the scratch tree with CI=true, bounded: (exit code or None on timeout,
    output)."""
    reuse = "-R" if (envdir / "e2e").is_dir() and (envdir / "contracts").is_dir() else "-r"
    cmd = [sys.executable, "-m", "nox", reuse, "--envdir", str(envdir), *args]
    env = {**os.environ, "CI": "true", "GATEWRIGHT_ARTIFACTS": "artifacts"}
    env.pop("GATEWRIGHT_RUN_ID", None)
    proc = subprocess.Popen(
        cmd,
        cwd=tree,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out
    except BaseException as exc:
        # A timeout, or this runner stopped (Ctrl-C, SIGTERM): the run's process group goes too.
        os.killpg(proc.pid, signal.SIGTERM)
        if not isinstance(exc, subprocess.TimeoutExpired):
            proc.wait(timeout=30)
            raise
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        return None, out


def run_fault(fault: Fault, work: Path, timeout: float, logs: Path, extra: list[str]) -> Result:
    tree, envdir = work / "tree", work / "nox"
    copy_tree(tree)
    fault.apply(tree)
    started = time.monotonic()
    code, out = run_nox(tree, envdir, ["-s", "e2e", *(["--", *extra] if extra else [])], timeout)
    (logs / f"{fault.name}.log").write_text(out, encoding="utf-8")
    result = Result(fault.name, fault.breaks, caught=False, stage="", seconds=0.0)
    if code is None:
        result.caught, result.stage = True, "timeout"
        result.note = f"the run did not end within {timeout:g} s"
    elif code != 0:
        failed = SESSION_FAILED.findall(out)
        result.caught = True
        result.stage = "contracts" if failed and failed[0].startswith("contracts") else "e2e"
        if not failed:
            result.note = f"nox exited {code} without a failed session line"
    if result.stage == "e2e":
        sections = failure_sections(out)
        junit = junit_failures(tree / "artifacts" / "junit-e2e.xml")
        result.failing = sorted({name for name, _ in junit} | set(sections))
        result.with_evidence = sorted(
            n for n in result.failing if has_evidence(sections.get(n, ""))
        )
        if not result.failing:
            result.note = "the e2e session failed without a failing test (see the log)"
        elif junit:
            confirm(result, [node for _, node in junit], work, timeout, logs)
    result.seconds = time.monotonic() - started
    return result


def confirm(result: Result, nodes: list[str], work: Path, timeout: float, logs: Path) -> None:
    """Rerun the failing flows on the tree without the fault: a flow that fails there too failed
    for another reason (a loaded machine's timeout), and does not count as catching the fault."""
    tree, envdir = work / "tree", work / "nox"
    copy_tree(tree)
    # The session always passes the whole `e2e` folder: select the failed flows by name (a
    # parametrized one runs all its cases; only the failed node IDs are compared below).
    names = sorted({node.rsplit("::", 1)[-1].split("[", 1)[0] for node in nodes})
    select_flows = ["-k", " or ".join(names)]
    _, out = run_nox(tree, envdir, ["--no-dependencies", "-s", "e2e", "--", *select_flows], timeout)
    (logs / f"{result.fault}.confirm.log").write_text(out, encoding="utf-8")
    again = junit_failures(tree / "artifacts" / "junit-e2e.xml")
    noise = sorted(name for name, node in again if node in nodes)
    if noise:
        result.note = f"also failing without the fault, not counted: {', '.join(noise)}"
        result.failing = [n for n in result.failing if n not in noise]
        result.with_evidence = [n for n in result.with_evidence if n not in noise]
        if not result.failing:
            # not caught, but not shown missed either: with `-x` the flows that would have
            # caught it may never have run
            result.caught, result.stage = False, "inconclusive"


def report(results: list[Result], out: Path) -> None:
    rows = [dataclasses.asdict(r) | {"evidence_complete": r.evidence_complete} for r in results]
    caught = [r for r in results if r.caught]
    decided = [r for r in results if r.stage != "inconclusive"]
    e2e = [r for r in results if r.stage == "e2e"]
    complete = [r for r in e2e if r.evidence_complete]
    steps = sum(len(r.failing) for r in e2e)
    evidenced = sum(len(r.with_evidence) for r in e2e)
    stages = ("contracts", "e2e", "timeout", "inconclusive")
    by_stage = {s: sum(r.stage == s for r in results) for s in stages}
    totals: dict[str, Any] = {
        "faults": len(results),
        "decided": len(decided),
        "caught": len(caught),
        # of the faults with a verdict (an inconclusive run decides nothing)
        "caught_percent": round(100 * len(caught) / len(decided), 1) if decided else 0.0,
        "by_stage": by_stage,
        "e2e_failing_tests": steps,
        "e2e_failing_tests_with_evidence": evidenced,
        "evidence_percent": round(100 * evidenced / steps, 1) if steps else None,
        "e2e_catches_with_complete_evidence": len(complete),
        "missed": [r.fault for r in results if not r.caught and r.stage != "inconclusive"],
        "seconds": round(sum(r.seconds for r in results), 1),
    }
    out.write_text(json.dumps({"totals": totals, "faults": rows}, indent=2) + "\n")
    print(f"\n{'fault':44} {'result':8} {'stage':10} {'evidence':10} {'s':>5}")
    for r in results:
        evidence = "-" if r.stage != "e2e" else f"{len(r.with_evidence)}/{len(r.failing)}"
        verdict = "caught" if r.caught else "MISSED" if not r.stage else "unsure"
        print(f"{r.fault:44} {verdict:8} {r.stage or '-':10} {evidence:10} {r.seconds:5.0f}")
        if r.note:
            print(f"    {r.note}")
    print(
        f"\ncaught {totals['caught']}/{totals['decided']} ({totals['caught_percent']}%), "
        f"by stage {by_stage}; failing e2e tests with a request ID and a response sample: "
        f"{evidenced}/{steps}; missed: {', '.join(totals['missed']) or 'none'}"
    )
    print(f"report: {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-k", dest="expr", help="faults whose name contains a term ('a or b')")
    parser.add_argument("--check", action="store_true", help="only check that faults apply")
    # What `nox -s docs` appends to each documented command: check and count, run nothing.
    parser.add_argument("--collect-only", action="store_true", help="count the selected faults")
    parser.add_argument("-q", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--list", action="store_true", help="list the faults and what they break")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per fault run")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="first run the tree with no fault (it must pass, or every fault looks caught)",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="recreate the session venvs of the scratch tree"
    )
    parser.add_argument("pytest_args", nargs="*", help="passed to the e2e flows after `--`")
    args = parser.parse_args(argv)
    # SIGTERM stops the runner as Ctrl-C does, so the scratch run it started is stopped with it.
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    faults = load_faults()
    problems = [f"{f.name}: {p}" for f in faults if (p := f.problem(ROOT))]
    if problems:
        print("faults that no longer apply (update them to the code):", *problems, sep="\n  ")
        return 2
    chosen = select(faults, args.expr)
    if args.collect_only:
        # One run of the stages per fault, worded as pytest words it (what the docs check reads).
        print(f"{len(chosen)} tests collected (faults: {', '.join(f.name for f in chosen)})")
        return 0 if chosen else 2
    if args.list:
        for f in chosen:
            print(f"{f.name:44} {f.file}\n    {f.breaks}")
        return 0
    if args.check:
        print(f"{len(faults)} faults, each applies exactly once")
        return 0
    if not chosen:
        print(f"no fault matches -k {args.expr!r}")
        return 2

    work = scratch_dir()
    work.mkdir(parents=True, exist_ok=True)
    logs = ROOT / os.environ.get("GATEWRIGHT_ARTIFACTS", "artifacts") / "mutants"
    logs.mkdir(parents=True, exist_ok=True)
    with open(work / "lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"another mutation run holds {work}; wait for it or set GATEWRIGHT_MUTANTS_DIR")
            return 2
        if args.fresh and (work / "nox").exists():
            shutil.rmtree(work / "nox")
        results = []
        if args.baseline:
            print("[baseline] the tree with no fault: it must pass", flush=True)
            base = run_fault(Fault("baseline", "nothing", "", "", ""), work, args.timeout, logs, [])
            if base.caught:
                print(f"    the baseline fails ({base.stage}); see {logs / 'baseline.log'}")
                return 1
            print(f"    passed in {base.seconds:.0f} s", flush=True)
        for i, fault in enumerate(chosen, 1):
            print(f"[{i}/{len(chosen)}] {fault.name}: {fault.breaks}", flush=True)
            result = run_fault(fault, work, args.timeout, logs, args.pytest_args)
            verdict = f"caught by {result.stage}" if result.caught else result.stage or "MISSED"
            print(f"    {verdict} in {result.seconds:.0f} s", flush=True)
            results.append(result)
            report(results, logs / "report.json")  # after each fault: a stopped run keeps them
    return 0


if __name__ == "__main__":
    sys.exit(main())
