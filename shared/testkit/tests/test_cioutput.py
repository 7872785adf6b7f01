"""GitHub Actions output: workflow commands stay one line and carry no secret."""

from __future__ import annotations

from gatewright.testkit import redact
from gatewright.testkit.artifacts import TestResult
from gatewright.testkit.cioutput import annotation, step_summary


def test_an_annotation_is_one_line_with_its_properties_encoded() -> None:
    redact.register_secret("s3cr3t-token-value")
    result = TestResult(
        "e2e/test_x.py::test_y[a,b]",
        outcome="failed",
        failed_step="Then 100% of it\nis s3cr3t-token-value",
        failed_request_id="r1-gw0-abcdef-0003",
        failed_at="e2e/test_x.py:42",
    )
    line = annotation(result)
    assert "\n" not in line
    assert line == (
        "::error file=e2e/test_x.py,line=42,title=e2e/test_x.py%3A%3Atest_y[a%2Cb]"
        "::Then 100%25 of it%0Ais *** r1-gw0-abcdef-0003"
    )


def test_a_failure_without_step_or_request_says_so() -> None:
    result = TestResult("e2e/test_x.py::test_y", outcome="error")
    assert annotation(result) == (
        "::error file=e2e/test_x.py,line=1,title=e2e/test_x.py%3A%3Atest_y"
        "::(outside any step) (no request sent)"
    )


def test_the_summary_escapes_table_cells() -> None:
    result = TestResult("e2e/t.py::test_a", outcome="failed", failed_step="When a | b", duration=2)
    text = step_summary({"run_id": "r1", "seed": "s", "wall_s": 3.0}, [result])
    assert "| `e2e/t.py::test_a` | When a \\| b | `-` | `-` |" in text
    assert "1 tests in 3.0 s (wall time)" in text
