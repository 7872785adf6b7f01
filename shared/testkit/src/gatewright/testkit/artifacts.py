"""Artifact files: per test, per run, all redacted.

    artifacts/<run id>/
      report.html                       self-contained (inline CSS/JS), written by the controller
      summary.json                      every test: outcome, duration, reason, request IDs, paths
      services/<service>.log            local stack logs
      <worker>/<test slug>-<hash>/      one folder per test that used the harness
        exchanges.json  steps.json  summary.txt

The root is `--gw-artifacts`, else `GATEWRIGHT_ARTIFACTS`, else `<rootdir>/artifacts`. The
`<hash>` is the short hash of the test id, the same one that sits in its request IDs.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gatewright.testkit.audittrail import Trail, trail_lines
from gatewright.testkit.naming import short_hash, test_slug
from gatewright.testkit.recorder import ExchangeRecorder
from gatewright.testkit.redact import redact_json, redact_text, truncate
from gatewright.testkit.steps import Flow

ARTIFACTS_ENV = "GATEWRIGHT_ARTIFACTS"
LONGREPR_LIMIT = 20_000


def resolve_root(option: str | None, rootdir: Path) -> Path:
    """The artifacts root from the option, the env var, or `<rootdir>/artifacts`."""
    raw = option or os.environ.get(ARTIFACTS_ENV)
    return Path(raw).resolve() if raw else (rootdir / "artifacts").resolve()


def test_dir_name(nodeid: str) -> str:
    """`<slug>-<short hash of the test id>`: readable, and unique across files."""
    return f"{test_slug(nodeid)}-{short_hash(nodeid)}"


test_dir_name.__test__ = False  # type: ignore[attr-defined]


def test_dir(root: Path, run_id: str, worker: str, nodeid: str) -> Path:
    return root / run_id / worker / test_dir_name(nodeid)


test_dir.__test__ = False  # type: ignore[attr-defined]


@dataclass
class TestResult:
    """What the controller knows about one test after all its phases."""

    __test__ = False

    nodeid: str
    outcome: str = "passed"  # passed | failed | error | skipped | xfailed | xpassed
    duration: float = 0.0
    reason: str = ""
    worker: str = "main"
    request_ids: list[str] = field(default_factory=list)
    artifacts: str | None = None
    kept: list[str] = field(default_factory=list)
    longrepr: str = ""
    markers: list[str] = field(default_factory=list)
    # Where a failing test failed: its step, that step's (or the leading) request ID, and
    # `path:line` in the test's own file (for CI annotations).
    failed_step: str = ""
    failed_request_id: str = ""
    failed_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestResult:
        """A result read back from `summary.json` (keys it does not know are ignored)."""
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    text = json.dumps(redact_json(data), indent=2, ensure_ascii=False)
    tmp.write_text(text, encoding="utf-8", errors="backslashreplace")
    tmp.replace(path)


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redact_text(text), encoding="utf-8", errors="backslashreplace")


def test_summary_text(
    *,
    nodeid: str,
    outcome: str,
    run_id: str,
    seed: str,
    worker: str,
    flow: Flow,
    recorder: ExchangeRecorder,
    longrepr: str,
    kept: list[str],
    audit: Trail | str | None,
) -> str:
    """The human-readable `summary.txt` of one test."""
    lines = [
        f"test:    {nodeid}",
        f"outcome: {outcome}",
        f"run:     {run_id}   seed: {seed}   worker: {worker}",
        f"reproduce: pytest '{nodeid}' --gw-seed={seed}",
        "",
        "steps:",
    ]
    if not flow.steps:
        lines.append("  (no steps recorded)")
    for step in flow.steps:
        elapsed = f"{step.elapsed_ms:.0f} ms" if step.elapsed_ms is not None else "-"
        indent = "  " * (step.depth + 1)
        lines.append(f"{indent}[{step.status}] {step.label} ({elapsed})")
        if step.error:
            lines.append(f"{indent}  ! {step.error}")
    lines += ["", "exchanges:"]
    if not recorder.exchanges:
        lines.append("  (none)")
    for ex in recorder.exchanges:
        where = f"  [{ex.step}]" if ex.step else "  [outside steps]"
        lines.append(f"  {ex.seq}. {ex.one_line()}{where}")
        if ex.response_body:
            lines.append(f"     response: {truncate(ex.response_body, 500)}")
        lines.append(f"     {ex.curl}")
    if audit:
        trail = trail_lines(audit, recorder.request_ids, limit=200)
        lines += ["", "audit events, by request ID:", *trail]
    if kept:
        lines += ["", "kept (--keep-data):"] + [f"  - {k}" for k in kept]
    if longrepr:
        lines += ["", "failure:", truncate(longrepr, LONGREPR_LIMIT)]
    return "\n".join(lines) + "\n"


def write_test_artifacts(
    directory: Path,
    *,
    nodeid: str,
    outcome: str,
    run_id: str,
    seed: str,
    worker: str,
    flow: Flow,
    recorder: ExchangeRecorder,
    longrepr: str = "",
    kept: list[str] | None = None,
    audit: Trail | str | None = None,
) -> None:
    """Write `exchanges.json`, `steps.json`, `audit.json` and `summary.txt` for one test."""
    write_json(directory / "exchanges.json", recorder.to_list())
    if audit:
        write_json(directory / "audit.json", audit if isinstance(audit, dict) else {"error": audit})
    write_json(directory / "steps.json", flow.to_list())
    write_text(
        directory / "summary.txt",
        test_summary_text(
            nodeid=nodeid,
            outcome=outcome,
            run_id=run_id,
            seed=seed,
            worker=worker,
            flow=flow,
            recorder=recorder,
            longrepr=longrepr,
            kept=kept or [],
            audit=audit,
        ),
    )


def load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
