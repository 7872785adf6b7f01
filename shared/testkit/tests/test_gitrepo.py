"""`GitRepo`: what a GitOps service fetching its `url` sees after each operation.

Every check goes through git itself (`git ls-remote`, `git clone`, `git fetch` of the URL, as a
service's cache clone does), never through the helper's own state.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gatewright.testkit import Names
from gatewright.testkit.gitrepo import GitRepo, GitRepoError


def git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
    )


def remote_heads(url: str) -> dict[str, str]:
    result = git("ls-remote", "--heads", url)
    assert result.returncode == 0, result.stderr
    return {
        ref.removeprefix("refs/heads/"): sha
        for sha, ref in (line.split("\t") for line in result.stdout.splitlines())
    }


def show(url: str, sha: str, path: str, tmp: Path) -> str:
    clone = tmp / "clone"
    if not clone.exists():
        assert git("clone", "--bare", "-q", url, str(clone)).returncode == 0
    assert git("fetch", "-q", "origin", "+refs/heads/*:refs/heads/*", cwd=clone).returncode == 0
    result = git("show", f"{sha}:{path}", cwd=clone)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[GitRepo]:
    made = GitRepo.for_test(tmp_path, Names("tests/test_x.py::test_sync", "seed1"))
    yield made
    made.close()


def test_a_commit_is_the_head_of_main_with_the_files_at_their_paths(
    repo: GitRepo, tmp_path: Path
) -> None:
    sha = repo.commit({"orgs/acme.yaml": "kind: Org\n", "top.yaml": "a: 1\n"}, "declare acme")
    assert remote_heads(repo.url) == {"main": sha}
    assert repo.head == sha
    assert repo.current_branch == "main"
    assert show(repo.url, sha, "orgs/acme.yaml", tmp_path) == "kind: Org\n"
    sha2 = repo.commit({"top.yaml": "a: 2\n"}, "change top")
    assert sha2 != sha
    assert show(repo.url, sha2, "top.yaml", tmp_path) == "a: 2\n"
    assert show(repo.url, sha2, "orgs/acme.yaml", tmp_path) == "kind: Org\n"


def test_its_name_comes_from_the_test_id_and_the_seed(tmp_path: Path) -> None:
    names = Names("tests/test_x.py::test_sync", "seed1")
    repo = GitRepo.for_test(tmp_path, names)
    assert repo.root == tmp_path / names.name("repo")
    assert repo.root.name.startswith("sync-")
    other = GitRepo.for_test(tmp_path, Names("tests/test_x.py::test_sync", "seed2"))
    assert other.root != repo.root


def test_delete_removes_the_file_from_the_next_commit(repo: GitRepo, tmp_path: Path) -> None:
    first = repo.commit({"a.yaml": "a\n", "b.yaml": "b\n"}, "two files")
    second = repo.delete(["a.yaml"], "drop a")
    listed = git("ls-tree", "--name-only", second, cwd=repo.root).stdout.split()
    assert listed == ["b.yaml"]
    assert show(repo.url, first, "a.yaml", tmp_path) == "a\n"  # history keeps it
    assert not (repo.root / "a.yaml").exists()


def test_a_branch_gets_its_own_commits_and_main_stays(repo: GitRepo) -> None:
    base = repo.commit({"a.yaml": "a\n"}, "base")
    assert repo.branch("staging") == base
    assert repo.current_branch == "staging"
    on_staging = repo.commit({"a.yaml": "staging\n"}, "staging only")
    assert remote_heads(repo.url) == {"main": base, "staging": on_staging}
    repo.checkout("main")
    assert repo.head == base
    assert (repo.root / "a.yaml").read_text() == "a\n"


def test_unreachable_fails_a_real_fetch_and_restore_brings_it_back(
    repo: GitRepo, tmp_path: Path
) -> None:
    sha = repo.commit({"a.yaml": "a\n"}, "base")
    clone = tmp_path / "cache"
    assert git("clone", "--bare", "-q", repo.url, str(clone)).returncode == 0
    repo.make_unreachable()
    assert not repo.reachable
    failed = git("fetch", "origin", cwd=clone)
    assert failed.returncode != 0
    assert "does not appear to be a git repository" in failed.stderr
    with pytest.raises(GitRepoError, match="restore"):
        repo.commit({"a.yaml": "b\n"}, "while away")
    repo.restore()
    assert git("fetch", "-q", "origin", cwd=clone).returncode == 0
    assert repo.commit({"a.yaml": "b\n"}, "after") != sha
    with pytest.raises(GitRepoError, match="nothing to restore"):
        repo.restore()


def test_the_unreachable_block_restores_even_when_it_raises(repo: GitRepo) -> None:
    sha = repo.commit({"a.yaml": "a\n"}, "base")
    seen: list[int] = []

    def fail_while_away() -> None:
        with repo.unreachable():
            seen.append(git("ls-remote", repo.url).returncode)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_while_away()
    assert seen[0] != 0
    assert remote_heads(repo.url) == {"main": sha}


@pytest.mark.parametrize("bad", ["../outside.yaml", "/etc/passwd", "."])
def test_a_path_outside_the_repository_is_refused(repo: GitRepo, tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="inside the repository"):
        repo.commit({bad: "x\n"}, "escape")
    assert not (tmp_path / "outside.yaml").exists()


def test_empty_changes_are_refused(repo: GitRepo) -> None:
    with pytest.raises(ValueError, match="at least one file"):
        repo.commit({}, "nothing")
    with pytest.raises(ValueError, match="at least one path"):
        repo.delete([], "nothing")


def test_testkit_imports_without_gitpython() -> None:
    # `import git` fails in this child (a None entry in sys.modules blocks the import), as on
    # a machine without GitPython; the harness must not need it.
    code = (
        "import sys; sys.modules['git'] = None\n"
        "import gatewright.testkit, gatewright.testkit.plugin\n"
        "assert 'gatewright.testkit.gitrepo' not in sys.modules\n"
        "try:\n"
        "    import gatewright.testkit.gitrepo\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "pip install -e 'shared/testkit[git]'" in result.stdout
