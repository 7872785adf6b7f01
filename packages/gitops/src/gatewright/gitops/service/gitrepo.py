"""The repositories, through GitPython: one bare cache clone per repository URL, fetched on
every reconcile, read at the branch head without a work tree.

`RepoCache.snapshot(url, branch, path)` fetches `refs/heads/<branch>` into the cache's own
`refs/gitops/heads/<branch>` (force: a rewritten branch is followed, as Argo CD and Flux do) and
returns the head's SHA with every `*.yaml` / `*.yml` blob under `path`, read straight from the
object store. Applications that share a URL share its clone; a lock per URL keeps their fetches
from interleaving. Git never prompts (`GIT_TERMINAL_PROMPT=0`), a fetch is killed after the
timeout, and GitPython's refusal of unsafe protocols (`ext::`) stays on. Credentials in a URL
(`https://user:token@host/...`) are masked in every message this module produces.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import git

from gatewright.gitops.service.manifests import MANIFEST_SUFFIXES

_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


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
            try:
                repo.remote("origin").fetch(
                    f"+refs/heads/{branch}:{ref}",
                    kill_after_timeout=self.timeout_seconds,
                    no_tags=True,
                )
            except git.GitCommandError as exc:
                raise GitError(
                    "FetchFailed", f"Cannot fetch branch {branch!r} of {url}: {_git_message(exc)}"
                ) from exc
            except (git.UnsafeProtocolError, git.UnsafeOptionError, ValueError) as exc:
                # GitPython refused the URL (`ext::` and the like): never run, never a crash.
                raise GitError("UnsafeURL", f"Cannot fetch {url}: {exc}") from exc
            commit = repo.commit(ref)
            return Snapshot(commit.hexsha, self._files(commit, path))

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
