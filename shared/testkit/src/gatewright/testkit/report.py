"""What a person reads: the `gatewright` failure section, the end-of-run summary lines, and the
self-contained HTML report (inline CSS, no scripts or external assets; `<details>` to fold).
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gatewright.testkit.artifacts import TestResult, load_json
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


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1d1d1f;background:#fafafa}
h1{font-size:1.4em}table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left}
.t{border:1px solid #ddd;border-radius:6px;margin:6px 0;background:#fff}
.t>summary{padding:6px 10px;cursor:pointer;font-weight:600}
.t .b{padding:4px 16px 10px}
.passed{border-left:6px solid #2e7d32}.failed,.error,.xpassed{border-left:6px solid #c62828}
.skipped,.xfailed{border-left:6px solid #f9a825}
.o{display:inline-block;min-width:5em;font-variant:small-caps}
pre{background:#f3f3f3;padding:6px;overflow-x:auto;white-space:pre-wrap;font-size:12px}
.st{margin:1px 0}.st.failed,.st.error{color:#c62828}.st.passed{color:#2e7d32}
.muted{color:#777}.ex{margin:2px 0 2px 12px}
"""


def _e(value: Any) -> str:
    return html.escape(redact_text(str(value)))


def _steps_html(steps: list[dict[str, Any]] | None) -> str:
    if not steps:
        return "<p class=muted>no steps recorded</p>"
    out = []
    for s in steps:
        took = f"{s.get('elapsed_ms') or 0:.0f} ms"
        pad = 16 * int(s.get("depth") or 0)
        err = f"<pre>{_e(s['error'])}</pre>" if s.get("error") else ""
        out.append(
            f"<div class='st {_e(s.get('status'))}' style='margin-left:{pad}px'>"
            f"[{_e(s.get('status'))}] <b>{_e(s.get('keyword'))}</b> {_e(s.get('text'))} "
            f"<span class=muted>{took}</span>{err}</div>"
        )
    return "".join(out)


def _exchanges_html(exchanges: list[dict[str, Any]] | None) -> str:
    if not exchanges:
        return "<p class=muted>no HTTP exchanges</p>"
    out = []
    for x in exchanges:
        status = x.get("status") if x.get("status") is not None else x.get("error") or "pending"
        took = f"{x.get('elapsed_ms') or 0:.0f} ms"
        detail = (
            f"<b>step</b> {_e(x.get('step') or '(outside steps)')}<br>"
            f"<b>request headers</b><pre>{_e(x.get('request_headers'))}</pre>"
            f"<b>request body</b><pre>{_e(x.get('request_body') or '')}</pre>"
            f"<b>response headers</b><pre>{_e(x.get('response_headers'))}</pre>"
            f"<b>response body</b><pre>{_e(x.get('response_body') or '')}</pre>"
            f"<b>curl</b><pre>{_e(x.get('curl') or '')}</pre>"
        )
        out.append(
            f"<details class=ex><summary>{_e(x.get('method'))} {_e(x.get('url'))} → "
            f"<b>{_e(status)}</b> {took} <span class=muted>{_e(x.get('request_id'))}</span>"
            f"</summary>{detail}</details>"
        )
    return "".join(out)


def render_html(run: dict[str, Any], results: list[TestResult]) -> str:
    """The whole report as one HTML string."""
    counts = Counter(r.outcome for r in results)
    count_cells = "".join(f"<td>{_e(k)}: <b>{v}</b></td>" for k, v in sorted(counts.items()))
    rows = []
    for r in results:
        steps = exchanges = None
        if r.artifacts:
            steps = load_json(Path(r.artifacts) / "steps.json")
            exchanges = load_json(Path(r.artifacts) / "exchanges.json")
        reason = f" — {_e(r.reason)}" if r.reason else ""
        body = [
            f"<div class=muted>{r.duration:.2f} s · worker {_e(r.worker)}"
            + (f" · artifacts <code>{_e(r.artifacts)}</code>" if r.artifacts else "")
            + "</div>"
        ]
        if r.request_ids:
            body.append(f"<div>request IDs: <code>{_e(' '.join(r.request_ids))}</code></div>")
        if r.kept:
            body.append(f"<div>kept: {_e('; '.join(r.kept))}</div>")
        body.append(f"<h4>steps</h4>{_steps_html(steps)}")
        body.append(f"<h4>exchanges</h4>{_exchanges_html(exchanges)}")
        if r.longrepr:
            body.append(f"<h4>failure</h4><pre>{_e(truncate(r.longrepr, 20_000))}</pre>")
        is_open = " open" if r.outcome in ("failed", "error", "xpassed") else ""
        rows.append(
            f"<details class='t {_e(r.outcome)}'{is_open}><summary><span class=o>"
            f"{_e(r.outcome)}</span> {_e(r.nodeid)}{reason}</summary>"
            f"<div class=b>{''.join(body)}</div></details>"
        )
    meta = "".join(
        f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in run.items() if k != "tests"
    )
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>Gatewright run {_e(run.get('run_id'))}</title><style>{_CSS}</style></head><body>"
        f"<h1>Gatewright run {_e(run.get('run_id'))}</h1><table>{meta}</table>"
        f"<table><tr>{count_cells}</tr></table>"
        f"{''.join(rows)}<p class=muted>generated {generated}</p></body></html>\n"
    )
