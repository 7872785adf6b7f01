"""Merge the runs of several shards into one: `summary.json`, `report.html` and JUnit.

A shard is one CI job that ran a group of the e2e flows (`--splits N --group K`, pytest-split);
each leaves an artifacts folder: `junit-<stage>.xml` beside a run folder `<run id>/` holding
`summary.json`, `report.html` and one folder per test. Merging them gives what one unsharded run
would have written, as Playwright's merge-reports does for its blob reports:

    python -m gatewright.testkit.merge DIR... [--out DIR] [--junit NAME]  # nox -s report -- merge

Each test's artifact paths are moved from where its shard wrote them to where the shard's folder
now is, so the merged report shows every test's steps, exchanges and audit events. A test that
two shards both ran is an error: the shards of one run must split the suite, not overlap.
Under GitHub Actions the merged run is also appended to `$GITHUB_STEP_SUMMARY`.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gatewright.testkit.artifacts import TestResult, load_json, write_json
from gatewright.testkit.cioutput import append_step_summary
from gatewright.testkit.htmlreport import render_html
from gatewright.testkit.report import reason_counts

JUNIT_NAME = "junit-e2e.xml"
SUITE_TOTALS = ("tests", "failures", "errors", "skipped")


class MergeError(Exception):
    """The folders given do not hold shards of one run."""


@dataclass
class Merged:
    """The merged run: its summary (as `summary.json` holds it) and its tests."""

    run: dict[str, Any]
    results: list[TestResult] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, Any]:
        counts = Counter(r.outcome for r in self.results)
        return {
            **self.run,
            "counts": dict(counts),
            "skipped_by_reason": dict(reason_counts(self.results, "skipped")),
            "xfailed_by_reason": dict(reason_counts(self.results, "xfailed")),
            "tests": [r.to_dict() for r in self.results],
        }


def _moved(path: str | None, old_root: str, new_root: Path) -> str | None:
    """`path` under the shard's run folder as it was written, now under where it is."""
    if not path:
        return path
    old = Path(old_root)
    try:
        return str(new_root / Path(path).relative_to(old))
    except ValueError:
        return path


def find_summaries(folder: Path) -> list[Path]:
    """The run summaries under a shard's folder (a run folder itself, or an artifacts root)."""
    return sorted(p for p in folder.rglob("summary.json") if p.is_file())


def merge_summaries(folders: list[Path]) -> Merged:
    """One run out of the shards' `summary.json` files under `folders`."""
    runs: list[dict[str, Any]] = []
    results: list[TestResult] = []
    where: dict[str, Path] = {}
    for folder in folders:
        summaries = find_summaries(folder)
        if not summaries:
            raise MergeError(f"{folder}: no summary.json (is it a shard's artifacts folder?)")
        for path in summaries:
            data = load_json(path)
            if not isinstance(data, dict) or not isinstance(data.get("tests"), list):
                raise MergeError(f"{path}: not a gatewright run summary")
            runs.append(data)
            old_root = str(data.get("artifacts") or path.parent)
            for raw in data["tests"]:
                result = TestResult.from_dict(raw)
                if result.nodeid in where:
                    raise MergeError(
                        f"{result.nodeid} ran in two shards ({where[result.nodeid]} and {path}): "
                        "the shards overlap"
                    )
                where[result.nodeid] = path
                result.artifacts = _moved(result.artifacts, old_root, path.parent)
                results.append(result)
    seeds = sorted({str(r.get("seed")) for r in runs})
    walls = [float(r["wall_s"]) for r in runs if isinstance(r.get("wall_s"), int | float)]
    run = {
        "run_id": "+".join(str(r.get("run_id")) for r in runs),
        "seed": seeds[0] if len(seeds) == 1 else " / ".join(seeds),
        "reproduce": " / ".join(sorted({str(r.get("reproduce")) for r in runs})),
        "target": runs[0].get("target"),
        "target_error": next((r["target_error"] for r in runs if r.get("target_error")), None),
        "timeout_scale": runs[0].get("timeout_scale"),
        # The shards ran side by side: the run took as long as the longest of them.
        "wall_s": round(max(walls), 2) if walls else None,
        "shards": [
            {"run_id": r.get("run_id"), "wall_s": r.get("wall_s"), "counts": r.get("counts")}
            for r in runs
        ],
    }
    return Merged(run=run, results=results)


def merge_junit(files: list[Path], moves: dict[str, Path]) -> ET.ElementTree[ET.Element]:
    """One `<testsuites>` holding every shard's suites, with totals; artifact properties moved."""
    merged = ET.Element("testsuites", name="pytest tests (merged shards)")
    totals: Counter[str] = Counter()
    time_s = 0.0
    for path in files:
        root = ET.parse(path).getroot()  # noqa: S314  # our own shards' files
        suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
        for suite in suites:
            for key in SUITE_TOTALS:
                totals[key] += int(suite.get(key, "0"))
            time_s = max(time_s, float(suite.get("time", "0")))
            for prop in suite.iter("property"):
                value = prop.get("value") or ""
                for old, new in moves.items():
                    if value.startswith(old):
                        prop.set("value", _moved(value, old, new) or value)
            merged.append(suite)
    for key in SUITE_TOTALS:
        merged.set(key, str(totals[key]))
    merged.set("time", f"{time_s:.3f}")
    return ET.ElementTree(merged)


def merge(folders: list[Path], out: Path, *, junit_name: str = JUNIT_NAME) -> Merged:
    """Write the merged `summary.json`, `report.html` and `junit_name` into `out`."""
    merged = merge_summaries(folders)
    moves: dict[str, Path] = {}
    for folder in folders:
        for path in find_summaries(folder):
            data = load_json(path)
            if isinstance(data, dict) and data.get("artifacts"):
                moves[str(data["artifacts"])] = path.parent
    out.mkdir(parents=True, exist_ok=True)
    merged.run["artifacts"] = str(out)
    write_json(out / "summary.json", merged.summary)
    html = render_html(merged.run, merged.results)
    (out / "report.html").write_text(html, encoding="utf-8", errors="backslashreplace")
    junits = sorted(p for folder in folders for p in folder.rglob(junit_name) if p.is_file())
    if junits:
        tree = merge_junit(junits, moves)
        tree.write(out / junit_name, encoding="utf-8", xml_declaration=True)
    append_step_summary(merged.run, merged.results)
    return merged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gatewright.testkit.merge", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("folders", nargs="+", type=Path, help="the shards' artifacts folders")
    parser.add_argument("--out", type=Path, default=Path("artifacts/merged"))
    parser.add_argument(
        "--junit", default=JUNIT_NAME, help=f"JUnit file name (default {JUNIT_NAME})"
    )
    args = parser.parse_args(argv)
    try:
        merged = merge(args.folders, args.out, junit_name=args.junit)
    except MergeError as exc:
        print(f"merge: {exc}", file=sys.stderr)  # noqa: T201  # a command-line verdict
        return 2
    counts = ", ".join(f"{n} {o}" for o, n in sorted(merged.summary["counts"].items()))
    print(  # noqa: T201  # a command-line verdict
        f"merged {len(merged.run['shards'])} runs ({len(merged.results)} tests: {counts}) "
        f"into {args.out}/ (summary.json, report.html, {args.junit})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
