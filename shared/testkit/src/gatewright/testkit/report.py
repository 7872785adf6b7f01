"""What a person reads in the terminal: the `gatewright` failure section and the end-of-run
summary lines. The HTML report is `htmlreport`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from gatewright.testkit.artifacts import TestResult
from gatewright.testkit.audittrail import Trail, trail_lines
from gatewright.testkit.recorder import Exchange, ExchangeRecorder
from gatewright.testkit.redact import redact_text, truncate
from gatewright.testkit.steps import Flow, Step

LAST_EXCHANGES = 5
# When the failing step sent nothing itself (a `then` asserting on what a `when` fetched), the
# evidence is in the steps before it: the last few exchanges of each of the last few steps.
LEAD_STEPS = 3
LEAD_PER_STEP = 2


def _exchange_lines(ex: Exchange, *, label: bool) -> list[str]:
    where = f"[{ex.step or 'outside steps'}] " if label else ""
    lines = [f"  {where}{ex.one_line()}"]
    if ex.status is not None:
        lines.append(f"    response: {truncate(ex.response_body, 600) or '(empty body)'}")
    elif ex.error:
        lines.append(f"    error: {ex.error}")
    return lines


def leading_exchanges(flow: Flow, recorder: ExchangeRecorder, step: Step) -> list[Exchange]:
    """The exchanges that led to `step`: the last ones of the steps before it (and of the test
    outside steps), oldest first."""
    own = flow.subtree(step.index)
    groups: dict[int | None, list[Exchange]] = {}
    for ex in recorder.exchanges:
        if ex.step_index in own or (ex.step_index is not None and ex.step_index > step.index):
            continue
        groups.setdefault(ex.step_index, []).append(ex)
    picked = [ex for group in list(groups.values())[-LEAD_STEPS:] for ex in group[-LEAD_PER_STEP:]]
    return sorted(picked, key=lambda ex: ex.seq)


def failure_exchanges(
    flow: Flow, recorder: ExchangeRecorder
) -> tuple[Step | None, list[Exchange], list[Exchange]]:
    """`(failing step, its own exchanges, the exchanges that led to it)`. The leading ones are
    given when the step has no exchange with a response of its own (it asserted on earlier
    data, or its service died), and for a failure outside steps they are the test's last."""
    step = flow.failed_step
    if step is None:
        return None, [], recorder.exchanges[-LAST_EXCHANGES:]
    own_steps = flow.subtree(step.index)
    own = [ex for ex in recorder.exchanges if ex.step_index in own_steps]
    if any(ex.status is not None for ex in own):
        return step, own, []
    return step, own, leading_exchanges(flow, recorder, step)


def failure_section(
    *,
    flow: Flow,
    recorder: ExchangeRecorder,
    artifacts_dir: Path | None,
    run_id: str,
    seed: str,
    audit: Trail | str | None = None,
) -> str:
    """The "gatewright" report section of a failing test."""
    lines: list[str] = []
    step, own, leading = failure_exchanges(flow, recorder)
    if step is not None:
        elapsed = f" after {step.elapsed_ms:.0f} ms" if step.elapsed_ms is not None else ""
        lines.append(f"failing step: {step.label}  [{step.status}{elapsed}]")
        if step.error:
            lines.append(f"  ! {truncate(step.error, 1500)}")
    else:
        lines.append("failing step: (the failure happened outside any Given/When/Then step)")
    if flow.steps:
        lines.append("steps:")
        for s in flow.steps:
            mark = {"passed": "ok", "running": "..", "skipped": "--"}.get(s.status, "XX")
            took = f" {s.elapsed_ms:.0f} ms" if s.elapsed_ms is not None else ""
            lines.append(f"  {'  ' * s.depth}[{mark}] {s.label}{took}")
    shown: list[Exchange] = []
    if step is not None:
        if own:
            mine = own[-LAST_EXCHANGES:]
            more = f" (last {len(mine)} of {len(own)})" if len(own) > len(mine) else ""
            lines.append(f"exchanges of this step{more}:")
            for ex in mine:
                lines += _exchange_lines(ex, label=False)
            shown += mine
        else:
            lines.append("exchanges of this step: none")
    if leading:
        heading = (
            "exchanges that led to it (the last of the steps before)"
            if step is not None
            else "exchanges of this test (the last ones)"
        )
        lines.append(f"{heading}:")
        for ex in leading:
            lines += _exchange_lines(ex, label=True)
        shown = leading + shown
    elif step is None:
        lines.append("exchanges of this test: none")
    if shown:
        lines.append(f"  replay: {shown[-1].curl}")
    rids = recorder.request_ids
    if rids:
        lines.append(f"request IDs: {', '.join(rids[-10:])}")
    if audit:
        step_rids = [ex.request_id for ex in shown if ex.request_id] or rids
        lines.append("audit events of those requests:")
        lines += trail_lines(audit, step_rids)
    lines.append(f"run {run_id} · seed {seed} (rerun with --gw-seed={seed})")
    if artifacts_dir is not None:
        lines.append(f"artifacts: {artifacts_dir}")
    return redact_text("\n".join(lines))


def reason_counts(results: Iterable[TestResult], outcome: str) -> list[tuple[str, int]]:
    """`(reason, count)` for one outcome, most frequent first."""
    counter = Counter(r.reason or "(no reason given)" for r in results if r.outcome == outcome)
    return counter.most_common()
