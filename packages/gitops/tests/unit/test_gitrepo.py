"""The repository cache: one bare clone per URL, the branch head's manifests read without a work
tree, and clear reasons (with credentials masked) when a fetch or a path fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitops_fixtures import ORG, ConfigRepo

from gatewright.gitops.service.gitrepo import GitError, RepoCache, mask_url


def cache(tmp_path: Path, **limits: int) -> RepoCache:
    return RepoCache(
        tmp_path / "cache",
        timeout_seconds=30,
        max_file_bytes=limits.get("max_file_bytes", 1 << 20),
        max_files=limits.get("max_files", 100),
    )


def test_the_head_of_the_branch_is_read_and_followed(tmp_path: Path, repo: ConfigRepo) -> None:
    repos = cache(tmp_path)
    first = repo.commit({"orgs/a.yaml": ORG, "orgs/notes.txt": "not a manifest", "top.yaml": ORG})
    snap = repos.snapshot(repo.url, "main", "orgs")
    assert snap.revision == first
    assert snap.files == [("orgs/a.yaml", ORG.encode())]
    second = repo.commit({"orgs/nested/b.yml": ORG})
    snap = repos.snapshot(repo.url, "main", "./orgs")
    assert snap.revision == second
    assert [name for name, _ in snap.files] == ["orgs/a.yaml", "orgs/nested/b.yml"]
    assert len(list((tmp_path / "cache").iterdir())) == 1  # one cache clone per URL
    assert {name for name, _ in repos.snapshot(repo.url, "main", ".").files} == {
        "orgs/a.yaml",
        "orgs/nested/b.yml",
        "top.yaml",
    }


def test_a_missing_branch_path_or_repository_is_a_reason_not_a_crash(
    tmp_path: Path, repo: ConfigRepo
) -> None:
    repos = cache(tmp_path)
    repo.commit({"orgs/a.yaml": ORG})
    with pytest.raises(GitError) as no_branch:
        repos.snapshot(repo.url, "release", ".")
    assert no_branch.value.reason == "FetchFailed"
    assert "release" in no_branch.value.message
    with pytest.raises(GitError) as no_path:
        repos.snapshot(repo.url, "main", "elsewhere")
    assert no_path.value.reason == "PathNotFound"
    with pytest.raises(GitError) as a_file:
        repos.snapshot(repo.url, "main", "orgs/a.yaml")
    assert a_file.value.reason == "PathNotFound"
    with pytest.raises(GitError) as nowhere:
        repos.snapshot(str(tmp_path / "nothing"), "main", ".")
    assert nowhere.value.reason == "FetchFailed"


def test_an_unsafe_protocol_is_refused_not_run(tmp_path: Path) -> None:
    with pytest.raises(GitError) as refused:
        cache(tmp_path).snapshot(f"ext::sh -c touch% {tmp_path}/pwned", "main", ".")
    assert refused.value.reason == "UnsafeURL"
    assert not (tmp_path / "pwned").exists()


def test_limits_on_manifest_files(tmp_path: Path, repo: ConfigRepo) -> None:
    repo.commit({"a.yaml": ORG, "b.yaml": ORG})
    with pytest.raises(GitError) as too_many:
        cache(tmp_path, max_files=1).snapshot(repo.url, "main", ".")
    assert too_many.value.reason == "TooManyManifests"
    with pytest.raises(GitError) as too_big:
        cache(tmp_path, max_file_bytes=10).snapshot(repo.url, "main", ".")
    assert too_big.value.reason == "ManifestTooLarge"


def test_credentials_in_a_url_never_reach_a_message() -> None:
    text = "Cannot fetch https://bot:s3cr3t-token@git.example.test/config.git: denied"
    assert mask_url(text) == "Cannot fetch https://***@git.example.test/config.git: denied"
    assert "s3cr3t" not in GitError("FetchFailed", text).message


def test_a_cached_revision_is_read_without_any_git_traffic(
    tmp_path: Path, repo: ConfigRepo
) -> None:
    repos = cache(tmp_path)
    sha = repo.commit({"orgs/a.yaml": ORG})
    repos.snapshot(repo.url, "main", "orgs")
    repo.root.rename(tmp_path / "moved")  # the repository is unreachable from here on
    assert repos.cached(repo.url, sha, "orgs").files == [("orgs/a.yaml", ORG.encode())]
    with pytest.raises(GitError) as unreachable:
        repos.snapshot(repo.url, "main", "orgs")
    assert unreachable.value.reason == "FetchFailed"
    with pytest.raises(GitError) as unknown:
        repos.cached(repo.url, "0" * 40, "orgs")
    assert unknown.value.reason == "RevisionNotFound"


def test_any_branch_or_commit_is_read_and_the_followed_head_stays(
    tmp_path: Path, repo: ConfigRepo
) -> None:
    repos = cache(tmp_path)
    main = repo.commit({"orgs/a.yaml": ORG})
    assert repos.snapshot(repo.url, "main", "orgs").revision == main
    pr = repo.commit_on("pr-7", {"orgs/b.yaml": ORG})
    at_pr = repos.snapshot_revision(repo.url, "pr-7", "orgs")
    assert at_pr.revision == pr
    assert [name for name, _ in at_pr.files] == ["orgs/a.yaml", "orgs/b.yaml"]
    later = repo.commit_on("pr-8", {"orgs/c.yaml": ORG})
    # A SHA the cache does not hold yet, full or abbreviated, is fetched too.
    assert repos.resolve(repo.url, later[:10]) == later
    assert repos.resolve(repo.url, main[:7]) == main  # already cached: no fetch needed
    # What reconciles follow did not move: the branch head is still main's commit.
    with repos._open(repo.url) as cached_repo:
        assert cached_repo.commit("refs/gitops/heads/main").hexsha == main
    for unknown in ("no-such-branch", "f" * 40, "deadbeef"):
        with pytest.raises(GitError) as missing:
            repos.resolve(repo.url, unknown)
        assert missing.value.reason == "RevisionNotFound", unknown
