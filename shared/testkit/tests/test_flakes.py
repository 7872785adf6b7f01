"""Flake hunting over real runs: a test whose outcome varies is named, with both runs' artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gatewright.testkit import flakes

# Each test runs pytest in subprocesses several times: bounded, but not by the 120 s default.
pytestmark = pytest.mark.timeout(600)
# test_wobbly fails when the file `wobble` exists: the same suite, one outcome per run.
SUITE = """
from pathlib import Path

def test_steady(gw_flow):
    with gw_flow.then("it always holds"):
        assert True

def test_wobbly(gw_flow):
    with gw_flow.then("the floor is level"):
        assert not Path("wobble").exists(), "the floor moved"

def test_broken(gw_flow):
    with gw_flow.then("two equals three"):
        assert 2 == 3
"""


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, run_id: str) -> Path:
    monkeypatch.setenv("GATEWRIGHT_RUN_ID", run_id)
    out = pytester.path / "artifacts"
    pytester.runpytest_subprocess(
        "-p", "no:asyncio", "-p", "randomly", f"--gw-artifacts={out}", f"--junitxml={run_id}.xml"
    ).assert_outcomes(passed=2 if run_id == "k1" else 1, failed=1 if run_id == "k1" else 2)
    return out / run_id


def test_a_test_whose_outcome_varied_is_flaky_with_both_runs_side_by_side(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CI", raising=False)
    pytester.makepyfile(test_suite=SUITE)
    first = _run(pytester, monkeypatch, "k1")
    (pytester.path / "wobble").write_text("")
    second = _run(pytester, monkeypatch, "k2")
    verdict_file = pytester.path / "verdict.json"
    capsys.readouterr()  # the two runs' own output (their slowest-flows lists name every test)

    code = flakes.main([str(first), str(second), "--json", str(verdict_file)])

    assert code == 1
    out = capsys.readouterr().out
    assert "FLAKY test_suite.py::test_wobbly  (k1: passed, k2: failed)" in out
    assert f"passing: {first / 'main'}/" in out
    assert f"failing: {second / 'main'}/" in out
    assert "Then the floor is level" in out  # the failing run's step and its evidence
    assert "FAILED IN EVERY RUN test_suite.py::test_broken" in out
    assert "test_steady" not in out
    assert "flake hunt: 1 flaky test" in out
    verdict = json.loads(verdict_file.read_text())
    assert list(verdict["flaky"]) == ["test_suite.py::test_wobbly"]
    side = verdict["flaky"]["test_suite.py::test_wobbly"]
    assert Path(side["passing"]["artifacts"]).is_dir()
    assert Path(side["failing"]["artifacts"]).is_dir()
    assert side["passing"]["artifacts"] != side["failing"]["artifacts"]
    assert verdict["always_failing"] == ["test_suite.py::test_broken"]


def test_a_test_that_passed_only_when_rerun_is_flaky(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(
        "<testsuites><testsuite><testcase classname='e2e/test_x.py' name='test_y'>"
        "<rerunFailure message='boom'/></testcase></testsuite></testsuites>"
    )
    run = flakes.Run("k1", "s", tmp_path, {}, rerun=flakes.rerun_tests(junit))
    result = flakes.TestResult("e2e/test_x.py::test_y")
    run.results[result.nodeid] = result
    other = flakes.Run("k2", "t", tmp_path, {result.nodeid: result})
    verdict = flakes.compare([run, other])
    assert verdict.flaky["e2e/test_x.py::test_y"]["rerun_in"] == ["k1"]


def test_no_retry_plugin_is_installed_where_flakes_are_hunted() -> None:
    assert flakes.retry_plugins_installed() == []
