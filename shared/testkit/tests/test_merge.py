"""Shards (pytest-split) split the suite exactly, and merging their runs gives the unsharded run."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gatewright.testkit.merge import MergeError, merge

# Each test runs pytest in subprocesses several times: bounded, but not by the 120 s default.
pytestmark = pytest.mark.timeout(600)
# A small suite through the harness: passing, failing and skipped flows in two modules.
FLOWS_A = """
import pytest

@pytest.mark.parametrize("n", range(4))
def test_passes(gw_flow, n):
    with gw_flow.then(f"case {n} holds"):
        assert n >= 0

def test_fails(gw_flow):
    with gw_flow.then("the impossible holds"):
        assert 1 == 2, "one is not two"
"""
FLOWS_B = """
import pytest

def test_skipped(gw_flow):
    pytest.skip("not on this target")

@pytest.mark.parametrize("word", ["alpha", "beta", "gamma"])
def test_words(gw_flow, word):
    with gw_flow.when(f"the word {word} is read"):
        assert word.isalpha()
"""
DURATIONS = {
    "test_a.py::test_fails": 3.0,
    "test_b.py::test_words[alpha]": 2.0,
    "test_b.py::test_skipped": 0.1,
}


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str, *args: str) -> Path:
    out = pytester.path / name
    monkeypatch.setenv("GATEWRIGHT_RUN_ID", f"r{name}")
    result = pytester.runpytest_subprocess(
        "-p",
        "no:asyncio",
        "-p",
        "randomly",
        f"--gw-artifacts={out}",
        f"--junitxml={out}/junit-e2e.xml",
        "--durations-path=durations.json",
        *args,
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED or name.startswith("shard"), result.stdout
    return out


def _outcomes(summary: Path) -> dict[str, str]:
    data = json.loads(summary.read_text())
    return {t["nodeid"]: t["outcome"] for t in data["tests"]}


def test_two_shards_merged_are_the_unsharded_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    pytester.makepyfile(test_a=FLOWS_A, test_b=FLOWS_B)
    (pytester.path / "durations.json").write_text(json.dumps(DURATIONS))
    whole = _run(pytester, monkeypatch, "whole", "--randomly-seed=7")
    # Each shard shuffles with a seed of its own, as separate CI jobs do; split in shuffled
    # order, these two seeds would run test_passes[2] twice.
    shards = [
        _run(
            pytester,
            monkeypatch,
            f"shard{k}",
            "--splits=2",
            f"--group={k}",
            f"--randomly-seed={seed}",
        )
        for k, seed in ((1, 1), (2, 3))
    ]
    expected = _outcomes(whole / "rwhole" / "summary.json")
    assert len(expected) == 9
    ran = [_outcomes(s / f"rshard{k}" / "summary.json") for k, s in enumerate(shards, 1)]
    assert ran[0], "each shard ran a part of the suite"
    assert ran[1], "each shard ran a part of the suite"
    assert not set(ran[0]) & set(ran[1]), "no test ran in both shards"

    # The shards' folders arrive somewhere else (a CI merge job downloads them).
    moved = [pytester.path / "downloaded" / f"shard-{k}" for k in (1, 2)]
    for source, target in zip(shards, moved, strict=True):
        shutil.move(source, target)
    out = pytester.path / "merged"
    merged = merge(moved, out)

    assert _outcomes(out / "summary.json") == expected
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"] == {"passed": 7, "failed": 1, "skipped": 1}
    assert summary["run_id"] == "rshard1+rshard2"
    # Every test's artifacts are found where the shard's folder now is.
    for result in merged.results:
        assert result.artifacts is not None
        assert Path(result.artifacts).is_dir(), result.artifacts
        assert str(pytester.path / "downloaded") in result.artifacts
    report = (out / "report.html").read_text()
    assert "one is not two" in report
    assert "Then the impossible holds" in report
    assert "When the word gamma is read" in report  # its steps, read from the moved folder
    junit = ET.parse(out / "junit-e2e.xml")  # noqa: S314  # written just now
    cases = {f"{c.get('classname')}::{c.get('name')}" for c in junit.iter("testcase")}
    assert len(cases) == 9
    assert junit.getroot().get("tests") == "9"
    assert junit.getroot().get("failures") == "1"
    artifacts = [
        p.get("value") or "" for p in junit.iter("property") if p.get("name") == "artifacts"
    ]
    assert artifacts
    assert all(str(pytester.path / "downloaded") in a for a in artifacts)


def test_overlapping_shards_are_refused(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    pytester.makepyfile(test_a=FLOWS_A)
    (pytester.path / "durations.json").write_text("{}")
    first = _run(pytester, monkeypatch, "one")
    second = _run(pytester, monkeypatch, "two")
    with pytest.raises(MergeError, match="ran in two shards"):
        merge([first, second], pytester.path / "merged")


def test_a_folder_without_a_run_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MergeError, match=r"no summary\.json"):
        merge([tmp_path], tmp_path / "merged")
