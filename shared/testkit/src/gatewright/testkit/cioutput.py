"""What a CI system reads: GitHub Actions workflow annotations and the job's markdown summary.

Under GitHub Actions (`GITHUB_ACTIONS=true`) the controller prints one `::error` line per failing
test (file and line of the test's own code where it failed, the test as title, the failing step
and its request ID as message) and appends a markdown summary of the run (counts, failures with
step and request ID, slowest flows, wall time) to the file named by `GITHUB_STEP_SUMMARY`.
Nothing here changes an outcome or an exit code; everything passes through `redact_text`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gatewright.testkit.artifacts import TestResult
from gatewright.testkit.redact import redact_text, truncate

FAILING = ("failed", "error")
SLOWEST = 5
SUMMARY_FAILURES = 50


def github_actions() -> bool:
    """Whether this process runs as a GitHub Actions step."""
    return os.environ.get("GITHUB_ACTIONS", "").strip().lower() == "true"


def _escape_data(text: str) -> str:
    # The workflow-command encoding: a message ends at a newline, so newlines are encoded.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def failure_message(result: TestResult) -> str:
    """`<failing step> <request ID>`: what a person needs to find the evidence."""
    step = result.failed_step or "(outside any step)"
    rid = result.failed_request_id or "(no request sent)"
    return f"{step} {rid}"


def annotation(result: TestResult) -> str:
    """The `::error` workflow command of one failing test."""
    path, _, line = result.failed_at.rpartition(":")
    if not path:
        path, line = result.nodeid.split("::", 1)[0], "1"
    props = f"file={_escape_property(path)},line={_escape_property(line or '1')}"
    props += f",title={_escape_property(redact_text(result.nodeid))}"
    return f"::error {props}::{_escape_data(redact_text(failure_message(result)))}"


def failure_annotations(results: Iterable[TestResult]) -> list[str]:
    return [annotation(r) for r in results if r.outcome in FAILING]


def _cell(text: Any) -> str:
    return redact_text(str(text)).replace("|", "\\|").replace("\n", " ")


def step_summary(run: dict[str, Any], results: list[TestResult]) -> str:
    """The run as GitHub-flavoured markdown."""
    counts = Counter(r.outcome for r in results)
    failing = [r for r in results if r.outcome in FAILING]
    verdict = f"{len(failing)} failing" if failing else "all green"
    wall = run.get("wall_s")
    wall_text = f"{float(wall):.1f} s" if isinstance(wall, int | float) else "-"
    lines = [
        f"### gatewright run {_cell(run.get('run_id', ''))}: {verdict}",
        "",
        f"{len(results)} tests in {wall_text} (wall time) · seed `{_cell(run.get('seed', ''))}` "
        f"(rerun with `{_cell(run.get('reproduce', ''))}`)",
        "",
        "| outcome | tests |",
        "| --- | ---: |",
        *(f"| {_cell(o)} | {n} |" for o, n in sorted(counts.items())),
        "",
    ]
    if failing:
        lines += [
            "#### Failures",
            "",
            "| test | failing step | request ID | artifacts |",
            "| --- | --- | --- | --- |",
        ]
        for r in failing[:SUMMARY_FAILURES]:
            lines.append(
                f"| `{_cell(r.nodeid)}` | {_cell(r.failed_step or '(outside any step)')} | "
                f"`{_cell(r.failed_request_id or '-')}` | `{_cell(r.artifacts or '-')}` |"
            )
        if len(failing) > SUMMARY_FAILURES:
            lines.append(f"| … {len(failing) - SUMMARY_FAILURES} more | | | |")
        lines.append("")
    slowest = sorted(results, key=lambda r: r.duration, reverse=True)[:SLOWEST]
    if slowest:
        lines += ["#### Slowest flows", "", "| test | seconds |", "| --- | ---: |"]
        lines += [f"| `{_cell(truncate(r.nodeid, 160))}` | {r.duration:.2f} |" for r in slowest]
        lines.append("")
    return "\n".join(lines) + "\n"


def append_step_summary(run: dict[str, Any], results: list[TestResult]) -> Path | None:
    """Append the run's summary to `$GITHUB_STEP_SUMMARY` (under GitHub Actions only)."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not github_actions() or not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as out:
        out.write(step_summary(run, results))
    return path
