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
