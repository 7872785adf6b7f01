"""The repositories, through GitPython: one bare cache clone per repository URL, fetched on
every reconcile, read at the branch head without a work tree.

`RepoCache.snapshot(url, branch, path)` fetches `refs/heads/<branch>` into the cache's own
`refs/gitops/heads/<branch>` (force: a rewritten branch is followed, as Argo CD and Flux do) and
returns the head's SHA with every `*.yaml` / `*.yml` blob under `path`, read straight from the
object store. Applications that share a URL share its clone; a lock per URL keeps their fetches
from interleaving. Git never prompts (`GIT_TERMINAL_PROMPT=0`), a fetch is killed after the
timeout, and GitPython's refusal of unsafe protocols (`ext::`) stays on. Credentials in a URL
(`https://user:token@host/...`) are masked in every message this module produces.

Two more reads, neither of which moves `refs/gitops/heads/<branch>` (what reconciles follow):

- `cached(url, revision, path)` reads a commit already in the cache, with no git traffic at all
  (the drift check compares live state with the last fetched revision, decision 14).
- `resolve(url, revision)` finds any commit or branch for a diff preview (`snapshot_revision`
  reads its manifests too): a SHA the cache holds is used as is; otherwise the branch (or, for a
  SHA, the commit itself, then every branch head) is fetched into `refs/gitops/preview/...`. An
  unknown revision is `GitError("RevisionNotFound", ...)`.

`Snapshots` is what a reconcile needs (`snapshot(url, branch, path)`); `AtRevision` answers it
from one cached commit, so a reconcile can run against a fixed revision without a fetch.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

import git

from gatewright.gitops.service.manifests import MANIFEST_SUFFIXES

_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_SHA = re.compile(r"^[0-9a-fA-F]{7,40}$")
PREVIEW_REFS = "refs/gitops/preview"


def mask_url(text: str) -> str:
    """`text` with any `user:secret@` of a URL replaced by `***@`."""
    return _USERINFO.sub("***@", text)


class GitError(Exception):
    """The repository could not be fetched or read; `reason` is a condition reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(mask_url(message))
        self.reason = reason
        self.message = mask_url(message)


@dataclass(frozen=True)
class Snapshot:
    revision: str
    files: list[tuple[str, bytes]]


class Snapshots(Protocol):
    def snapshot(self, url: str, branch: str, path: str) -> Snapshot: ...


def _git_message(exc: git.GitCommandError) -> str:
    stderr = str(exc.stderr or "").strip().replace("stderr: ", "").strip("'\" \n")
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else f"git exited with status {exc.status}"


class RepoCache:
    def __init__(
        self, root: Path, *, timeout_seconds: float, max_file_bytes: int, max_files: int
    ) -> None:
        self.root = root
        self.timeout_seconds = timeout_seconds
        self.max_file_bytes = max_file_bytes
        self.max_files = max_files
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, url: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(url, threading.Lock())

    def _repo(self, url: str) -> git.Repo:
        where = self.root / hashlib.sha256(url.encode()).hexdigest()[:24]
        if (where / "HEAD").exists():
            repo = git.Repo(where)
        else:
            where.mkdir(parents=True, exist_ok=True)
            repo = git.Repo.init(where, bare=True)
        if "origin" not in [r.name for r in repo.remotes]:
            repo.create_remote("origin", url)
        repo.git.update_environment(GIT_TERMINAL_PROMPT="0")
        return repo

    def _open(self, url: str) -> git.Repo:
        try:
            return self._repo(url)
        except (git.UnsafeProtocolError, git.UnsafeOptionError) as exc:
            # GitPython refuses `ext::` and the like already when the remote is added.
            raise GitError("UnsafeURL", f"Cannot fetch {url}: {exc}") from exc

    def snapshot(self, url: str, branch: str, path: str) -> Snapshot:
        # Closed on the way out: reading blobs starts `git cat-file` helpers that live as long
        # as the Repo object.
        with self._lock(url), self._open(url) as repo:
            ref = f"refs/gitops/heads/{branch}"
            # GitPython refuses `ext::` and the like (UnsafeURL): never run, never a crash.
            self._fetch(repo, f"+refs/heads/{branch}:{ref}", f"branch {branch!r}", url)
            commit = repo.commit(ref)
            return Snapshot(commit.hexsha, self._files(commit, path))

    def _fetch(self, repo: git.Repo, refspec: str, what: str, url: str) -> None:
        try:
            repo.remote("origin").fetch(
                refspec, kill_after_timeout=self.timeout_seconds, no_tags=True
            )
        except git.GitCommandError as exc:
            raise GitError(
                "FetchFailed", f"Cannot fetch {what} of {url}: {_git_message(exc)}"
            ) from exc
        except (git.UnsafeProtocolError, git.UnsafeOptionError, ValueError) as exc:
            raise GitError("UnsafeURL", f"Cannot fetch {url}: {exc}") from exc

    @staticmethod
    def _commit(repo: git.Repo, rev: str) -> git.Commit | None:
        """The commit `rev` names in the cache, None when it holds none (rev-parse checks the
        object exists; GitPython's own lookup is lazy)."""
        try:
            sha = repo.git.rev_parse("--verify", "--quiet", "--end-of-options", rev)
        except git.GitCommandError:
            return None
        return repo.commit(sha)

    def cached(self, url: str, revision: str, path: str) -> Snapshot:
        """The manifests at `revision` from the cache alone (no fetch); `RevisionNotFound` when
        the cache does not hold it."""
        with self._lock(url), self._open(url) as repo:
            commit = self._commit(repo, f"{revision}^{{commit}}")
            if commit is None:
                raise GitError("RevisionNotFound", f"Revision {revision[:12]} is not in the cache")
            return Snapshot(commit.hexsha, self._files(commit, path))

    def resolve(self, url: str, revision: str) -> str:
        """The full SHA of a commit SHA or a branch of `url`, fetched into the cache when it
        does not hold it yet; the branch heads reconciles follow are left alone."""
        with self._lock(url), self._open(url) as repo:
            is_sha = bool(_SHA.match(revision))
            commit = self._commit(repo, f"{revision}^{{commit}}") if is_sha else None
            if commit is None:
                commit = self._fetch_revision(repo, url, revision, is_sha=is_sha)
            return commit.hexsha

    def snapshot_revision(self, url: str, revision: str, path: str) -> Snapshot:
        """The manifests at a commit SHA or a branch of `url` (`resolve`, then `cached`)."""
        return self.cached(url, self.resolve(url, revision), path)

    def _fetch_revision(
        self, repo: git.Repo, url: str, revision: str, *, is_sha: bool
    ) -> git.Commit:
        missing = GitError("RevisionNotFound", f"No branch or commit {revision!r} in {url}")
        if is_sha:
            # Servers that allow it hand out a commit by its SHA; otherwise every branch head
            # comes (a pull request's commit is on its branch).
            try:
                self._fetch(repo, revision, f"commit {revision[:12]}", url)
            except GitError as exc:
                if exc.reason != "FetchFailed":
                    raise
                self._fetch(repo, f"+refs/heads/*:{PREVIEW_REFS}/heads/*", "the branches", url)
            commit = self._commit(repo, f"{revision}^{{commit}}")
            if commit is not None:
                return commit
        if not _branch_like(revision):
            raise missing
        ref = f"{PREVIEW_REFS}/heads/{revision}"
        try:
            self._fetch(repo, f"+refs/heads/{revision}:{ref}", f"branch {revision!r}", url)
        except GitError as exc:
            if exc.reason == "FetchFailed" and "couldn't find remote ref" in exc.message:
                raise missing from None
            raise
        commit = self._commit(repo, f"{ref}^{{commit}}")
        if commit is None:
            raise missing
        return commit

    def _files(self, commit: git.Commit, path: str) -> list[tuple[str, bytes]]:
        parts = [p for p in PurePosixPath(path).parts if p != "."]
        tree = commit.tree
        try:
            for part in parts:
                node = tree / part
                if not isinstance(node, git.Tree):
                    raise KeyError(part)
                tree = node
        except KeyError:
            raise GitError(
                "PathNotFound", f"No directory {path!r} at revision {commit.hexsha[:12]}"
            ) from None
        files: list[tuple[str, bytes]] = []
        for item in tree.traverse():
            if not isinstance(item, git.Blob) or not str(item.path).endswith(MANIFEST_SUFFIXES):
                continue
            item_path = str(item.path)
            if len(files) >= self.max_files:
                raise GitError(
                    "TooManyManifests", f"More than {self.max_files} manifest files under {path!r}"
                )
            if item.size > self.max_file_bytes:
                raise GitError(
                    "ManifestTooLarge",
                    f"{item_path} is {item.size} bytes, more than {self.max_file_bytes}",
                )
            files.append((item_path, item.data_stream.read()))
        return files


def _branch_like(revision: str) -> bool:
    # The wire model validates branch names already; this keeps the rule where git is called.
    return not revision.startswith("-") and ".." not in revision


@dataclass(frozen=True)
class AtRevision:
    """`Snapshots` that reads `revision` from the cache, never fetching. `or_fetch`: when the
    cache does not hold it (a new data dir), fetch the branch head instead."""

    repos: RepoCache
    revision: str
    or_fetch: bool = False

    def snapshot(self, url: str, branch: str, path: str) -> Snapshot:
        try:
            return self.repos.cached(url, self.revision, path)
        except GitError as exc:
            if exc.reason == "RevisionNotFound" and self.or_fetch:
                return self.repos.snapshot(url, branch, path)
            raise
