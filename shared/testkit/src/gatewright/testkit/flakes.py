"""Flake hunting: the same suite run several times (each with its own seed and order), compared.

    python -m gatewright.testkit.flakes RUN_DIR... [--json FILE]   # what `nox -s flake` runs

A test is flaky when its outcome was not the same in every run (a test missing from a run
counts as an outcome of its own, "absent"). For each flaky test it prints the artifact folders
of a passing and a failing run side by side, with their seeds, so the two can be diffed. A
test that passed only because something ran it again is flaky too: retries are never allowed to
hide one, so the check refuses to run where a retry plugin is installed and reports any test
the JUnit of a run shows as rerun. It exits 1 when a test is flaky or failed in every run.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gatewright.testkit.artifacts import TestResult, load_json

# Plugins that rerun a failed test until it passes: any one of them would hide a flake.
RETRY_PLUGINS = ("pytest-rerunfailures", "flaky", "pytest-retry", "pytest-flakefinder")
# What those plugins leave in JUnit for a test that needed another attempt.
RERUN_TAGS = ("rerunFailure", "rerunError", "flakyFailure", "flakyError")
PASSING = ("passed", "xfailed", "skipped")
FAILING = ("failed", "error", "xpassed")


@dataclass
class Run:
    """One run of the suite as its `summary.json` (and JUnit, if found) tells it."""

    run_id: str
    seed: str
    folder: Path
    results: dict[str, TestResult]
    rerun: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, folder: Path, junit: Path | None = None) -> Run:
        data = load_json(folder / "summary.json")
        if not isinstance(data, dict) or not isinstance(data.get("tests"), list):
            raise ValueError(f"{folder}: no gatewright summary.json")
        results = {t["nodeid"]: TestResult.from_dict(t) for t in data["tests"]}
        run = cls(str(data.get("run_id")), str(data.get("seed")), folder, results)
        if junit is not None and junit.is_file():
            run.rerun = rerun_tests(junit)
        return run


def rerun_tests(junit: Path) -> set[str]:
    """The tests a JUnit file shows as run more than once (`classname::name`)."""
    root = ET.parse(junit).getroot()  # noqa: S314  # our own run's file
    found: set[str] = set()
    for case in root.iter("testcase"):
        if any(child.tag in RERUN_TAGS for child in case):
            found.add(f"{case.get('classname')}::{case.get('name')}")
    return found


def retry_plugins_installed() -> list[str]:
    """The retry plugins present in this environment (there must be none)."""
    found = []
    for name in RETRY_PLUGINS:
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        found.append(name)
    return found


@dataclass
class Verdict:
    flaky: dict[str, dict[str, Any]]
    always_failing: list[str]
    runs: list[Run]

    @property
    def ok(self) -> bool:
        return not self.flaky and not self.always_failing


def _side(run: Run, result: TestResult | None) -> dict[str, Any]:
    return {
        "run": run.run_id,
        "seed": run.seed,
        "outcome": result.outcome if result else "absent",
        "artifacts": result.artifacts if result else None,
        "failed_step": result.failed_step if result else "",
        "failed_request_id": result.failed_request_id if result else "",
    }


def compare(runs: list[Run]) -> Verdict:
    """Every test whose outcome varied across `runs`, and every test that failed in all."""
    nodeids = sorted({nodeid for run in runs for nodeid in run.results})
    flaky: dict[str, dict[str, Any]] = {}
    always_failing: list[str] = []
    for nodeid in nodeids:
        seen = [(run, run.results.get(nodeid)) for run in runs]
        outcomes = [r.outcome if r else "absent" for _, r in seen]
        rerun = [run.run_id for run in runs if nodeid in run.rerun]
        if len(set(outcomes)) > 1 or rerun:
            passing = next(((run, r) for run, r in seen if r and r.outcome in PASSING), None)
            failing = next(
                ((run, r) for run, r in seen if r is None or r.outcome not in PASSING), None
            )
            flaky[nodeid] = {
                "outcomes": {run.run_id: o for (run, _), o in zip(seen, outcomes, strict=True)},
                "rerun_in": rerun,
                "passing": _side(*passing) if passing else None,
                "failing": _side(*failing) if failing else None,
            }
        elif outcomes and all(o in FAILING for o in outcomes):
            always_failing.append(nodeid)
    return Verdict(flaky=flaky, always_failing=always_failing, runs=runs)


def report_lines(verdict: Verdict) -> list[str]:
    runs = ", ".join(f"{r.run_id} (seed {r.seed})" for r in verdict.runs)
    total = len({n for r in verdict.runs for n in r.results})
    lines = [f"flake hunt: {len(verdict.runs)} runs of {total} tests: {runs}"]
    for nodeid, info in verdict.flaky.items():
        seen = ", ".join(f"{rid}: {o}" for rid, o in info["outcomes"].items())
        lines.append(f"FLAKY {nodeid}  ({seen})")
        if info["rerun_in"]:
            lines.append(f"  passed only when run again in {', '.join(info['rerun_in'])}")
        for label in ("passing", "failing"):
            side = info[label]
            if side is None:
                continue
            where = side["artifacts"] or "(no artifacts)"
            lines.append(f"  {label + ':':<9}{where}  (run {side['run']}, seed {side['seed']})")
            if side["failed_step"]:
                lines.append(f"           {side['failed_step']}  {side['failed_request_id']}")
    for nodeid in verdict.always_failing:
        lines.append(f"FAILED IN EVERY RUN {nodeid}")
    verdict_line = (
        "no flaky test"
        if not verdict.flaky
        else f"{len(verdict.flaky)} flaky test{'s' if len(verdict.flaky) != 1 else ''}"
    )
    lines.append(f"flake hunt: {verdict_line}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gatewright.testkit.flakes")
    parser.add_argument("runs", nargs="+", type=Path, help="the runs' folders (summary.json)")
    parser.add_argument("--junit", nargs="*", type=Path, default=[], help="their JUnit, in order")
    parser.add_argument("--json", type=Path, help="write the verdict here too")
    args = parser.parse_args(argv)
    plugins = retry_plugins_installed()
    if plugins:
        print(f"flake hunt refused: retry plugins installed ({', '.join(plugins)})")  # noqa: T201
        return 2
    junits: list[Path | None] = [*args.junit, *([None] * len(args.runs))]
    runs = [Run.load(folder, junit) for folder, junit in zip(args.runs, junits, strict=False)]
    verdict = compare(runs)
    for line in report_lines(verdict):
        print(line)  # noqa: T201  # the command's verdict
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        data = {"flaky": verdict.flaky, "always_failing": verdict.always_failing}
        args.json.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
