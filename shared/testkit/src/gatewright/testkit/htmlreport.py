"""The run's HTML report: one self-contained page (inline CSS and JS, no network, no assets).

What a person sees, top to bottom: the run (id, seed, wall time, outcome counts), the target as a
table (secrets masked), a toolbar (filter by outcome and marker, search by request ID, URL or
test name), the slowest tests and steps, then every test, failures first. A test opens onto a
waterfall of its exchanges on one time axis (one bar each, coloured by service, outlined by
status, steps as bands above them) and its steps with their exchanges nested under them, each
exchange beside the audit events its request ID caused, and the failure where it happened.

Every value shown passes through `redact_text` on its way into the page.
"""

from __future__ import annotations

import html
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gatewright.testkit.artifacts import TestResult, load_json
from gatewright.testkit.redact import redact_text, truncate

# Distinct, colour-blind-friendlier hues (Okabe-Ito based), one per service in a stable order.
PALETTE = ["#0072b2", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#8c6bb1", "#6b8e23", "#999999"]
FAILING = ("failed", "error", "xpassed")
SLOWEST = 6


def _e(value: Any) -> str:
    return html.escape(redact_text(str(value)), quote=True)


def _ms(value: float) -> str:
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def _ts(raw: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(raw)).timestamp() * 1000
    except ValueError:
        return None


def _status_class(ex: dict[str, Any]) -> str:
    status = ex.get("status")
    if not isinstance(status, int):
        return "bad"  # no response at all
    return "bad" if status >= 500 else "warn" if status >= 400 else "ok"


def _status_text(ex: dict[str, Any]) -> str:
    status = ex.get("status")
    return str(status) if status is not None else "no response"


class Services:
    """Which service an exchange went to (by base URL), and its colour."""

    def __init__(self, target: dict[str, Any] | None) -> None:
        services = (target or {}).get("services") or {}
        self.bases = sorted(
            ((str(url).rstrip("/"), name) for name, url in services.items()),
            key=lambda pair: -len(pair[0]),
        )
        self.colours: dict[str, str] = {}
        for name in sorted(services):
            self.colour(name)

    def of(self, url: str) -> str:
        for base, name in self.bases:
            if url.startswith(base):
                return str(name)
        return urlsplit(url).netloc or "?"

    def colour(self, name: str) -> str:
        if name not in self.colours:
            self.colours[name] = PALETTE[len(self.colours) % len(PALETTE)]
        return self.colours[name]


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "") or "/"


# -- the target ---------------------------------------------------------------------------------
def _value_html(value: Any) -> str:
    if isinstance(value, dict):
        if not value:
            return "<span class=muted>none</span>"
        rows = "".join(
            f"<tr><th>{_e(k)}</th><td>{_value_html(v)}</td></tr>" for k, v in value.items()
        )
        return f"<table class=kv>{rows}</table>"
    if value is None or value == "":
        return "<span class=muted>—</span>"
    return f"<code>{_e(value)}</code>"


def target_html(run: dict[str, Any]) -> str:
    """The target as a table: services and their URLs, the admin, masked secrets."""
    target = run.get("target")
    if not target:
        error = run.get("target_error")
        text = _e(error) if error else "no target was resolved in this run"
        return f"<p class=muted>{text}</p>"
    labels = {
        "source": "source",
        "services": "services",
        "admin_email": "admin email",
        "admin_password": "admin password",
        "service_token": "service token",
        "data_dirs": "data directories",
    }
    rows = []
    for key, value in target.items():
        if key in ("admin_password", "service_token") and value:
            value = "***"  # masked even if a caller handed over a secret-bearing dict
        rows.append(f"<tr><th>{_e(labels.get(key, key))}</th><td>{_value_html(value)}</td></tr>")
    return f"<table class='kv target'>{''.join(rows)}</table>"


# -- one test -----------------------------------------------------------------------------------
def _headers_html(headers: Any) -> str:
    if not isinstance(headers, dict) or not headers:
        return "<span class=muted>none</span>"
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in headers.items())
    return f"<table class='kv hdr'>{rows}</table>"


def _audit_html(events: list[dict[str, Any]] | None, audit_error: str | None) -> str:
    if audit_error:
        return f"<div class='audit muted'>{_e(audit_error)}</div>"
    if not events:
        return "<div class='audit muted'>no audit events</div>"
    items = []
    for ev in events:
        actor = ev.get("actor") or {}
        outcome = str(ev.get("outcome") or "?")
        cls = "ok" if outcome in ("succeeded", "success", "ok") else "warn"
        reason = f" <span class=muted>— {_e(ev['reason'])}</span>" if ev.get("reason") else ""
        items.append(
            f"<li><span class=svc>{_e(ev.get('service', '?'))}</span> "
            f"<b>{_e(ev.get('action', '?'))}</b> <span class='pill {cls}'>{_e(outcome)}</span>"
            f"<span class=muted> actor {_e(actor.get('type'))}:{_e(actor.get('id'))}</span>"
            f"{reason}</li>"
        )
    return f"<ul class=audit>{''.join(items)}</ul>"


def _exchange_html(
    ex: dict[str, Any], tid: str, services: Services, audit: dict[str, Any], audit_error: str | None
) -> str:
    url = str(ex.get("url") or "")
    service = services.of(url)
    cls = _status_class(ex)
    rid = str(ex.get("request_id") or "")
    events = audit.get(rid) if isinstance(audit.get(rid), list) else None
    took = ex.get("elapsed_ms")
    attempt = int(ex.get("attempt") or 1)
    error = f"<div class=err>{_e(ex['error'])}</div>" if ex.get("error") else ""
    detail = (
        f"{error}<div class=pair><div><h5>request headers</h5>"
        f"{_headers_html(ex.get('request_headers'))}</div>"
        f"<div><h5>response headers</h5>{_headers_html(ex.get('response_headers'))}</div></div>"
        f"<h5>request body</h5><pre>{_e(ex.get('request_body') or '(empty)')}</pre>"
        f"<h5>response body</h5><pre>{_e(ex.get('response_body') or '(empty)')}</pre>"
        f"<h5>replay</h5><pre class=curl>{_e(ex.get('curl') or '')}</pre>"
    )
    return (
        f"<div class='exrow {cls}'><details class=ex id='{tid}-x{_e(ex.get('seq'))}'>"
        f"<summary><span class=swatch style='background:{services.colour(service)}'></span>"
        f"<span class=svcname>{_e(service)}</span>"
        f"<span class=method>{_e(ex.get('method'))}</span>"
        f"<span class=url title='{_e(url)}'>{_e(_path(url))}</span>"
        f"<span class='status {cls}'>{_e(_status_text(ex))}</span>"
        f"<span class=ms>{_ms(float(took)) if took is not None else '—'}</span>"
        + (f"<span class=muted>attempt {attempt}</span>" if attempt > 1 else "")
        + f"<code class=rid>{_e(rid)}</code></summary>{detail}</details>"
        f"{_audit_html(events, audit_error)}</div>"
    )


def _steps_html(
    steps: list[dict[str, Any]],
    exchanges: list[dict[str, Any]],
    tid: str,
    services: Services,
    audit: dict[str, Any],
    audit_error: str | None,
) -> str:
    by_step: dict[Any, list[dict[str, Any]]] = {}
    for ex in exchanges:
        by_step.setdefault(ex.get("step_index"), []).append(ex)
    out = []
    outside = by_step.get(None, [])
    if outside:
        rows = "".join(_exchange_html(x, tid, services, audit, audit_error) for x in outside)
        out.append(
            f"<div class='step outside'><div class=stephead><span class=kw>—</span>"
            f"<span class=text>outside any step</span></div>{rows}</div>"
        )
    for s in steps:
        status = str(s.get("status") or "")
        took = s.get("elapsed_ms")
        err = (
            f"<pre class=err>{_e(truncate(str(s['error']), 4000))}</pre>" if s.get("error") else ""
        )
        rows = "".join(
            _exchange_html(x, tid, services, audit, audit_error)
            for x in by_step.get(s.get("index"), [])
        )
        here = " <span class=here>the failure happened here</span>" if err else ""
        out.append(
            f"<div class='step {_e(status)}' id='{tid}-s{_e(s.get('index'))}' "
            f"style='margin-left:{18 * int(s.get('depth') or 0)}px'>"
            f"<div class=stephead><span class=kw>{_e(s.get('keyword'))}</span>"
            f"<span class=text>{_e(s.get('text'))}</span>{here}"
            f"<span class='pill {_e(status)}'>{_e(status)}</span>"
            f"<span class=ms>{_ms(float(took)) if took is not None else '—'}</span></div>"
            f"{err}{rows}</div>"
        )
    if not out:
        return "<p class=muted>no steps or exchanges recorded</p>"
    return "".join(out)


def _label_at(left: float, width: float) -> str:
    """A bar's label goes after it, or before it when the bar ends near the right edge."""
    if left + width > 80:
        return f"right:{100 - left:.2f}%;padding:0 6px 0 0"
    return f"left:{left + width:.2f}%"


def waterfall_html(
    steps: list[dict[str, Any]], exchanges: list[dict[str, Any]], tid: str, services: Services
) -> str:
    """Every exchange as a bar on one time axis, steps as bands above their exchanges."""
    spans: list[tuple[str, dict[str, Any], float, float]] = []
    for s in steps:
        start, end = _ts(s.get("started_at")), _ts(s.get("ended_at"))
        if start is not None:
            spans.append(("step", s, start, end if end is not None else start))
    for ex in exchanges:
        start = _ts(ex.get("started_at"))
        if start is not None:
            spans.append(("ex", ex, start, start + float(ex.get("elapsed_ms") or 0)))
    if not spans:
        return ""
    t0 = min(sp[2] for sp in spans)
    total = max(max(sp[3] for sp in spans) - t0, 1.0)
    # Each step's band, then its exchanges in time order; an exchange outside steps sits at its
    # own time among the steps.
    step_start = {sp[1].get("index"): sp[2] for sp in spans if sp[0] == "step"}

    def group(sp: tuple[str, dict[str, Any], float, float]) -> float:
        if sp[0] == "step":
            return sp[2]
        return step_start.get(sp[1].get("step_index"), sp[2])

    spans.sort(key=lambda sp: (group(sp), sp[0] == "ex", sp[2]))
    rows = []
    for kind, item, start, end in spans:
        left = (start - t0) / total * 100
        width = max((end - start) / total * 100, 0.4)
        if kind == "step":
            status = str(item.get("status") or "")
            label = f"{item.get('keyword')} {item.get('text')}"
            rows.append(
                f"<a class='wf wstep {_e(status)}' href='#{tid}-s{_e(item.get('index'))}'>"
                f"<span class=lbl style='padding-left:{10 * int(item.get('depth') or 0)}px' "
                f"title='{_e(label)}'>{_e(label)}</span><span class=track>"
                f"<span class=band style='left:{left:.2f}%;width:{width:.2f}%'></span>"
                f"</span></a>"
            )
            continue
        url = str(item.get("url") or "")
        service = services.of(url)
        cls = _status_class(item)
        took = float(item.get("elapsed_ms") or 0)
        said = _status_text(item) + (f" · {_ms(took)}" if item.get("elapsed_ms") else "")
        tip = f"{service} {item.get('method')} {url} → {said}"
        rows.append(
            f"<a class='wf wex {cls}' href='#{tid}-x{_e(item.get('seq'))}' title='{_e(tip)}'>"
            f"<span class=lbl><span class=method>{_e(item.get('method'))}</span> "
            f"{_e(_path(url))}</span><span class=track>"
            f"<span class='bar {cls}' style='left:{left:.2f}%;width:{width:.2f}%;"
            f"background:{services.colour(service)}'></span>"
            f"<span class='blabel {cls}' style='{_label_at(left, width)}'>"
            f"{_e(said)}</span></span></a>"
        )
    ticks = "".join(
        f"<span class=tick style='left:{q * 25}%'>{_ms(total * q / 4)}</span>" for q in range(5)
    )
    return (
        f"<div class=waterfall><div class=axis><span class=lbl></span><span class=track>{ticks}"
        f"</span></div>{''.join(rows)}</div>"
    )


def _load(result: TestResult) -> tuple[list[Any], list[Any], dict[str, Any], str | None]:
    if not result.artifacts:
        return [], [], {}, None
    folder = Path(result.artifacts)
    steps = load_json(folder / "steps.json")
    exchanges = load_json(folder / "exchanges.json")
    audit = load_json(folder / "audit.json")
    audit_error = audit.get("error") if isinstance(audit, dict) and "error" in audit else None
    return (
        steps if isinstance(steps, list) else [],
        exchanges if isinstance(exchanges, list) else [],
        audit if isinstance(audit, dict) and audit_error is None else {},
        str(audit_error) if audit_error else None,
    )


def _test_html(
    n: int,
    r: TestResult,
    loaded: tuple[list[Any], list[Any], dict[str, Any], str | None],
    services: Services,
) -> str:
    steps, exchanges, audit, audit_error = loaded
    tid = f"t{n}"
    file, _, name = r.nodeid.rpartition("::")
    # Redacted before lower-casing: a registered secret is matched as it was registered.
    haystack = " ".join(
        [r.nodeid, *r.request_ids, *(str(x.get("url", "")) for x in exchanges)]
        + [str(x.get("request_id", "")) for x in exchanges]
    )
    search = html.escape(redact_text(haystack).lower(), quote=True)
    markers = "".join(f"<span class=marker>{_e(m)}</span>" for m in r.markers)
    failing_steps = [s for s in steps if s.get("status") in ("failed", "error")]
    where = ""
    if failing_steps:
        last = failing_steps[-1]
        where = f"<span class=where>at {_e(last.get('keyword'))} {_e(last.get('text'))}</span>"
    reason = f"<span class=muted>{_e(r.reason)}</span>" if r.reason else ""
    meta = [f"worker <b>{_e(r.worker)}</b>", f"{len(exchanges)} exchanges"]
    if r.request_ids:
        meta.append(
            f"request IDs <code>{_e(r.request_ids[0])}</code> … "
            f"<code>{_e(r.request_ids[-1])}</code>"
        )
    if r.artifacts:
        meta.append(f"artifacts <code>{_e(r.artifacts)}</code>")
    body = [f"<div class=meta>{' · '.join(meta)}</div>"]
    if r.kept:
        body.append(f"<div class=kept>kept (--keep-data): {_e('; '.join(r.kept))}</div>")
    wf = waterfall_html(steps, exchanges, tid, services)
    if wf:
        body.append(f"<h4>Timeline</h4>{wf}")
    if steps or exchanges:
        body.append(
            f"<h4>Steps</h4>{_steps_html(steps, exchanges, tid, services, audit, audit_error)}"
        )
    if r.longrepr:
        opened = " open" if not steps else ""
        body.append(
            f"<details class=trace{opened}><summary>full failure output</summary>"
            f"<pre>{_e(truncate(r.longrepr, 20_000))}</pre></details>"
        )
    return (
        f"<details class='test {_e(r.outcome)}' id={tid} data-outcome='{_e(r.outcome)}' "
        f"data-markers='{_e(' '.join(r.markers))}' data-search='{search}'>"
        f"<summary><span class='pill {_e(r.outcome)}'>{_e(r.outcome)}</span>"
        f"<span class=tname>{_e(name or r.nodeid)}</span>"
        f"<span class=tfile>{_e(file)}</span>{markers}{where}{reason}"
        f"<span class=ms>{r.duration:.2f} s</span></summary>"
        f"<div class=tbody>{''.join(body)}</div></details>"
    )


def _slowest_html(
    results: list[TestResult], loaded: list[tuple[list[Any], list[Any], dict[str, Any], str | None]]
) -> str:
    tests = sorted(enumerate(results), key=lambda p: -p[1].duration)[:SLOWEST]
    test_rows = "".join(
        f"<tr><td><a href='#t{n}'>{_e(r.nodeid.rpartition('::')[2] or r.nodeid)}</a></td>"
        f"<td class=num>{r.duration:.2f} s</td></tr>"
        for n, r in tests
    )
    steps = [
        (n, s, float(s.get("elapsed_ms") or 0))
        for n, (steps_, *_rest) in enumerate(loaded)
        for s in steps_
        if not s.get("depth")
    ]
    steps.sort(key=lambda p: -p[2])
    step_rows = "".join(
        f"<tr><td><a href='#t{n}-s{_e(s.get('index'))}'>{_e(s.get('keyword'))} "
        f"{_e(s.get('text'))}</a> <span class=muted>{_e(results[n].nodeid.rpartition('::')[2])}"
        f"</span></td><td class=num>{_ms(ms)}</td></tr>"
        for n, s, ms in steps[:SLOWEST]
    )
    return (
        "<div class=slow><section><h3>Slowest tests</h3>"
        f"<table class=rank>{test_rows or '<tr><td class=muted>none</td></tr>'}</table></section>"
        "<section><h3>Slowest steps</h3>"
        f"<table class=rank>{step_rows or '<tr><td class=muted>none</td></tr>'}</table></section>"
        "</div>"
    )


def render_html(run: dict[str, Any], results: list[TestResult]) -> str:
    """The whole report as one HTML string."""
    services = Services(run.get("target"))
    rank = {"failed": 0, "error": 1, "xpassed": 2, "skipped": 4, "xfailed": 5, "passed": 6}
    results = sorted(results, key=lambda r: (rank.get(r.outcome, 3), r.nodeid))
    loaded = [_load(r) for r in results]
    tests = "".join(_test_html(n, r, loaded[n], services) for n, r in enumerate(results))
    counts = Counter(r.outcome for r in results)
    chips = "".join(
        f"<button class='chip {_e(o)}' data-outcome='{_e(o)}'>{_e(o)} <b>{counts[o]}</b></button>"
        for o in sorted(counts, key=lambda o: rank.get(o, 3))
    )
    markers = sorted({m for r in results for m in r.markers})
    options = "".join(f"<option value='{_e(m)}'>{_e(m)}</option>" for m in markers)
    legend = "".join(
        f"<span class=leg><span class=swatch style='background:{c}'></span>{_e(name)}</span>"
        for name, c in services.colours.items()
    )
    wall = run.get("wall_s")
    facts = [
        ("run", run.get("run_id")),
        ("seed", f"{run.get('seed')}  (rerun with {run.get('reproduce')})"),
        ("wall time", f"{float(wall):.1f} s" if isinstance(wall, int | float) else "—"),
        ("tests", len(results)),
        ("timeout scale", run.get("timeout_scale")),
        ("artifacts", run.get("artifacts")),
    ]
    fact_html = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in facts)
    failing = sum(counts[o] for o in FAILING)
    verdict = (
        f"<span class='verdict bad'>{failing} failing</span>"
        if failing
        else "<span class='verdict ok'>all green</span>"
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>Gatewright run {_e(run.get('run_id'))}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>Gatewright run <code>{_e(run.get('run_id'))}</code> {verdict}</h1>"
        f"<dl class=facts>{fact_html}</dl></header>"
        "<details class=card id=target><summary>Target</summary>"
        f"{target_html(run)}</details>"
        f"{_slowest_html(results, loaded)}"
        "<div class=toolbar><div class=chips>"
        f"{chips}</div><select id=marker aria-label='marker'><option value=''>any marker</option>"
        f"{options}</select><input id=q type=search placeholder='search request ID, URL, test'"
        f" aria-label=search><span id=shown class=muted></span>"
        f"<span class=legend>{legend}</span></div>"
        f"<main id=tests>{tests}</main>"
        f"<script>{_JS}</script></body></html>\n"
    )


_CSS = """
:root{--bg:#f6f7f9;--card:#fff;--ink:#1c2430;--muted:#6b7380;--line:#e3e6ea;
--ok:#1f8a4c;--okbg:#e6f4ec;--bad:#c9372c;--badbg:#fdecea;--warn:#b26b00;--warnbg:#fff4e0;
--skip:#6b7380;--skipbg:#eef0f3}
*{box-sizing:border-box}
body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
padding:24px 32px 48px;color:var(--ink);background:var(--bg)}
code,pre,.rid,.url,.method{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
h1{font-size:22px;margin:0 0 12px;display:flex;align-items:center;gap:12px}
h3{font-size:13px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin:0 0 8px}
h4{font-size:13px;margin:18px 0 8px;color:var(--muted);text-transform:uppercase;
letter-spacing:.06em}
h5{font-size:12px;margin:10px 0 4px;color:var(--muted)}
a{color:inherit}.muted{color:var(--muted)}
.verdict{font-size:13px;padding:3px 10px;border-radius:999px;font-weight:600}
.verdict.bad{background:var(--badbg);color:var(--bad)}
.verdict.ok{background:var(--okbg);color:var(--ok)}
.facts{display:flex;flex-wrap:wrap;gap:8px 28px;margin:0 0 16px}
.facts dt{font-size:11px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
.facts dd{margin:0;font-weight:600}
.card,.slow section,.test{background:var(--card);border:1px solid var(--line);border-radius:10px;
box-shadow:0 1px 2px rgba(20,30,50,.04)}
.card{padding:10px 16px;margin-bottom:14px}.card>summary{cursor:pointer;font-weight:600}
table{border-collapse:collapse}
.kv th{font-weight:500;color:var(--muted);text-align:left;padding:3px 14px 3px 0;
vertical-align:top;white-space:nowrap}
.kv td{padding:3px 0}.kv .kv th{color:var(--ink)}.target{margin-top:8px}
.slow{display:grid;grid-template-columns:1fr 1fr;gap:14px;margin-bottom:14px}
.slow section{padding:12px 16px}.rank{width:100%}
.rank td{padding:3px 0;border-bottom:1px solid var(--line)}
.rank a{text-decoration:none}.rank a:hover{text-decoration:underline}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.toolbar{position:sticky;top:0;z-index:5;display:flex;flex-wrap:wrap;align-items:center;gap:10px;
padding:10px 0;background:var(--bg);border-bottom:1px solid var(--line);margin-bottom:12px}
.chips{display:flex;gap:6px}
.chip{border:1px solid var(--line);background:var(--card);border-radius:999px;padding:4px 12px;
cursor:pointer;font:inherit}
.chip.on{outline:2px solid var(--ink)}
#q,#marker{font:inherit;padding:6px 10px;border:1px solid var(--line);border-radius:8px;
background:var(--card)}
#q{min-width:320px}
.legend{margin-left:auto;display:flex;gap:12px;color:var(--muted)}
.leg{display:flex;align-items:center;gap:5px}
.swatch{display:inline-block;width:10px;height:10px;border-radius:3px;flex:none}
.pill{display:inline-block;font-size:12px;font-weight:600;padding:1px 9px;border-radius:999px;
background:var(--skipbg);color:var(--skip)}
.pill.passed,.chip.passed b,.pill.ok{background:var(--okbg);color:var(--ok)}
.pill.failed,.pill.error,.pill.xpassed,.chip.failed b,.chip.error b{background:var(--badbg);
color:var(--bad)}
.pill.warn,.pill.xfailed{background:var(--warnbg);color:var(--warn)}
.chip b{padding:0 6px;border-radius:999px;background:var(--skipbg)}
.test{margin:8px 0;border-left:5px solid var(--skip)}
.test.passed{border-left-color:var(--ok)}
.test.failed,.test.error,.test.xpassed{border-left-color:var(--bad)}
.test.xfailed{border-left-color:var(--warn)}
.test>summary{display:flex;align-items:center;gap:10px;padding:10px 14px;cursor:pointer;
list-style:none}
.test>summary::-webkit-details-marker{display:none}
.test>summary::before{content:"▸";color:var(--muted);width:10px}
.test[open]>summary::before{content:"▾"}
.tname{font-weight:600}.tfile{color:var(--muted);font-size:12px}
.where{color:var(--bad);font-size:13px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;
max-width:40%}
.marker{font-size:11px;padding:0 7px;border:1px solid var(--line);border-radius:999px;
color:var(--muted)}
summary .ms,.stephead .ms{margin-left:auto;color:var(--muted);font-variant-numeric:tabular-nums;
white-space:nowrap}
.tbody{padding:0 18px 16px;border-top:1px solid var(--line)}
.meta{color:var(--muted);font-size:13px;margin-top:10px}
.waterfall{border:1px solid var(--line);border-radius:8px;padding:6px 10px 8px;background:#fbfcfd}
.wf,.axis{display:grid;grid-template-columns:minmax(180px,32%) 1fr;align-items:center;gap:10px;
text-decoration:none;min-height:20px}
.wf:hover{background:#eef2f7}.wf{border-radius:4px}
.axis{color:var(--muted);font-size:11px;min-height:18px;border-bottom:1px solid var(--line);
margin-bottom:3px}
.lbl{white-space:nowrap;overflow:hidden;text-overflow:ellipsis;font-size:12px}
.wstep .lbl{font-weight:600}.wstep.failed .lbl,.wstep.error .lbl{color:var(--bad)}
.wex .lbl{color:#3b4452;padding-left:14px}
.track{position:relative;height:16px}
.tick{position:absolute;transform:translateX(-50%);white-space:nowrap}
.tick:first-child{transform:none}.tick:last-child{transform:translateX(-100%)}
.band{position:absolute;top:6px;height:4px;border-radius:2px;background:#b8c0cc}
.wstep.failed .band,.wstep.error .band{background:var(--bad)}
.bar{position:absolute;top:2px;height:12px;border-radius:3px;min-width:3px}
.bar.warn{box-shadow:0 0 0 2px var(--warn)}
.bar.bad{box-shadow:0 0 0 2px var(--bad);background-image:repeating-linear-gradient(45deg,
rgba(255,255,255,.45) 0 3px,transparent 3px 6px)!important}
.blabel{position:absolute;top:0;padding-left:6px;font-size:11px;color:var(--muted);
white-space:nowrap}
.blabel.bad{color:var(--bad);font-weight:600}.blabel.warn{color:var(--warn)}
.step{border-left:3px solid var(--line);padding:4px 0 4px 12px;margin:6px 0}
.step.passed{border-left-color:#9bd3b0}.step.failed,.step.error{border-left-color:var(--bad);
background:linear-gradient(90deg,var(--badbg),transparent 60%)}
.stephead{display:flex;align-items:center;gap:8px}
.kw{font-weight:700;min-width:52px;color:#4a5565}
.step.failed .kw,.step.error .kw{color:var(--bad)}
.here{font-size:11px;font-weight:700;color:#fff;background:var(--bad);padding:1px 7px;
border-radius:4px}
pre{background:#f3f5f8;border:1px solid var(--line);border-radius:6px;padding:8px 10px;
overflow-x:auto;white-space:pre-wrap;word-break:break-word;font-size:12px;margin:4px 0}
pre.err,.err{color:var(--bad);background:var(--badbg);border-color:#f5c6c1}
div.err{padding:6px 10px;border-radius:6px;font-size:12px}
.exrow{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:10px;margin:4px 0;
align-items:start}
.ex{border:1px solid var(--line);border-radius:6px;background:#fff}
.exrow.bad .ex{border-color:#f0b4ae}
.ex>summary{display:flex;align-items:center;gap:8px;padding:4px 8px;cursor:pointer;font-size:13px}
.ex[open]{padding-bottom:8px}.ex>*:not(summary){margin-left:10px;margin-right:10px}
.svcname{font-size:12px;color:var(--muted);min-width:62px}
.method{font-weight:700;font-size:12px}
.url{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;flex:1;min-width:0}
.status{font-weight:700;font-variant-numeric:tabular-nums}.status.ok{color:var(--ok)}
.status.warn{color:var(--warn)}.status.bad{color:var(--bad)}
.ex .ms{color:var(--muted);font-size:12px;white-space:nowrap}
.rid{font-size:11px;color:var(--muted);white-space:nowrap}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:10px}
.hdr{font-size:12px}.hdr td{word-break:break-all}
.audit{margin:0;padding:4px 10px;list-style:none;font-size:12px;border-left:2px dashed var(--line)}
.audit li{margin:2px 0}.audit .svc{color:var(--muted)}
.trace{margin-top:14px}.trace>summary{cursor:pointer;color:var(--muted)}
.flash{animation:flash 1.2s}@keyframes flash{from{background:#fff3b0}to{background:inherit}}
[hidden]{display:none!important}
"""

_JS = """
(function(){
  const tests=[...document.querySelectorAll('.test')], q=document.getElementById('q');
  const marker=document.getElementById('marker'), shown=document.getElementById('shown');
  const on=new Set();
  function apply(){
    const s=q.value.trim().toLowerCase(), m=marker.value; let n=0;
    for(const t of tests){
      const ok=(!on.size||on.has(t.dataset.outcome))&&
        (!m||t.dataset.markers.split(' ').includes(m))&&(!s||t.dataset.search.includes(s));
      t.hidden=!ok; if(ok) n++;
    }
    shown.textContent=n+' of '+tests.length+' tests';
  }
  for(const chip of document.querySelectorAll('.chip')){
    chip.addEventListener('click',()=>{
      const o=chip.dataset.outcome;
      if(on.has(o)){on.delete(o);chip.classList.remove('on');}
      else{on.add(o);chip.classList.add('on');}
      apply();
    });
  }
  q.addEventListener('input',apply); marker.addEventListener('change',apply);
  document.addEventListener('click',e=>{
    const a=e.target.closest('a[href^="#"]'); if(!a) return;
    const el=document.getElementById(a.getAttribute('href').slice(1)); if(!el) return;
    e.preventDefault();
    for(let d=el; d; d=d.parentElement){ if(d.tagName==='DETAILS') d.open=true; }
    el.scrollIntoView({block:'center'}); el.classList.add('flash');
    setTimeout(()=>el.classList.remove('flash'),1200);
  });
  apply();
})();
"""
