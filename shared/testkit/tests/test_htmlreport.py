"""The HTML report's rendering, without a browser: masked target, timeline bars, filter data."""

from __future__ import annotations

import json
import re
from pathlib import Path

from gatewright.testkit.artifacts import TestResult
from gatewright.testkit.htmlreport import render_html
from gatewright.testkit.redact import register_secret

RID = "r0a4a37-main-ba4aa0-0001"


def _artifacts(folder: Path) -> None:
    folder.mkdir()
    steps = [
        {"index": 0, "keyword": "When", "text": "the admin creates an org", "depth": 0,
         "started_at": "2026-12-01T10:00:00.000+00:00", "ended_at": "2026-12-01T10:00:00.040+00:00",
         "elapsed_ms": 40.0, "status": "passed", "error": None},
        {"index": 1, "keyword": "Then", "text": "the org is active", "depth": 0,
         "started_at": "2026-12-01T10:00:00.041+00:00", "ended_at": "2026-12-01T10:00:00.042+00:00",
         "elapsed_ms": 1.0, "status": "failed", "error": "AssertionError: pending != active"},
    ]  # fmt: skip
    exchanges = [
        {"seq": 1, "method": "POST", "url": "http://127.0.0.1:8001/v1/orgs", "request_id": RID,
         "request_headers": {"authorization": "Bearer ***"}, "request_body": "{}",
         "started_at": "2026-12-01T10:00:00.001+00:00", "step_index": 0,
         "step": "When the admin creates an org", "attempt": 1, "status": 201,
         "response_headers": {}, "response_body": '{"status": "pending"}', "elapsed_ms": 30.0,
         "error": None, "curl": "curl -sS -X POST http://127.0.0.1:8001/v1/orgs"},
        {"seq": 2, "method": "GET", "url": "http://127.0.0.1:8002/v1/spend",
         "request_id": RID[:-1] + "2", "request_headers": {}, "request_body": "",
         "started_at": "2026-12-01T10:00:00.035+00:00",
         "step_index": 0, "step": "When the admin creates an org", "attempt": 1, "status": 503,
         "response_headers": {}, "response_body": "", "elapsed_ms": 2.0, "error": None, "curl": ""},
    ]  # fmt: skip
    audit = {RID: [{"service": "identity", "action": "org.create", "outcome": "success",
                    "actor": {"type": "user", "id": "usr_1"}}]}  # fmt: skip
    for name, data in (("steps", steps), ("exchanges", exchanges), ("audit", audit)):
        (folder / f"{name}.json").write_text(json.dumps(data))


def test_the_report_has_a_timeline_filters_and_a_masked_target(tmp_path: Path) -> None:
    register_secret("s3cret-token-value")
    _artifacts(tmp_path / "t")
    failed = TestResult(
        "e2e/test_orgs.py::test_org", outcome="failed", duration=0.5, request_ids=[RID],
        artifacts=str(tmp_path / "t"), longrepr="AssertionError", markers=["happy"],
    )  # fmt: skip
    passed = TestResult("e2e/test_orgs.py::test_ok", duration=0.1)
    run = {
        "run_id": "r0a4a37",
        "seed": "s33d",
        "wall_s": 3.2,
        "target": {
            "source": "env",
            "services": {"identity": "http://127.0.0.1:8001", "budgets": "http://127.0.0.1:8002"},
            "admin_email": "admin@example.test",
            "service_token": "s3cret-token-value",
        },
    }
    page = render_html(run, [passed, failed])
    assert "s3cret-token-value" not in page
    assert "<th>service token</th><td><code>***</code>" in page
    assert "<th>identity</th><td><code>http://127.0.0.1:8001</code>" in page
    assert not re.search(r"""(src|href)=['"]?(https?:)?//""", page)  # no external assets
    # failures first, with their markers and searchable request IDs and URLs
    assert page.index("test_org</span>") < page.index("test_ok</span>")
    assert "data-markers='happy'" in page
    assert f"data-search='e2e/test_orgs.py::test_org {RID}" in page
    # one bar per exchange, coloured by service, the 503 outlined as bad
    assert page.count("<span class='bar ") == 2
    assert "<span class='bar bad'" in page
    assert "the failure happened here" in page
    assert "org.create" in page  # the audit event beside its request
    assert "3.2 s" in page  # the wall time
