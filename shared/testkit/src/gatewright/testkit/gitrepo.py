"""`GitRepo`: a real git repository a test owns, for flows that drive a GitOps service.

    from gatewright.testkit.gitrepo import GitRepo

    repo = GitRepo.for_test(tmp_path, gw.names)      # <tmp>/<slug>-<hash>, branch `main`
    sha = repo.commit({"orgs/acme.yaml": text}, "declare acme")
    repo.delete(["orgs/acme.yaml"], "drop acme")
    repo.branch("staging")                           # create it at HEAD and check it out
    repo.checkout("main")
    with repo.unreachable():                         # or make_unreachable() / restore()
        ...                                          # a fetch of `repo.url` fails for real

It is made with GitPython, which is optional: import this module only where it is needed (it
is not re-exported by `gatewright.testkit`); `pip install -e "shared/testkit[git]"` brings it.
The e2e stage gets it with the gitops service.

`url` is the repository's path, which a service on the same machine fetches as git's local
transport. `make_unreachable()` renames the directory away (a real `git fetch` failure, no
mock) and `restore()` renames it back, so what the service sees is what a vanished remote
looks like.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

try:
    import git
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError(
        "gatewright.testkit.gitrepo needs GitPython: pip install -e 'shared/testkit[git]'"
    ) from exc

from gatewright.testkit.naming import Names

DEFAULT_BRANCH = "main"
AUTHOR_NAME = "Gatewright tests"
AUTHOR_EMAIL = "tests@gatewright.test"


class GitRepoError(RuntimeError):
    """A `GitRepo` operation that makes no sense in its current state (e.g. unreachable)."""


class GitRepo:
    """A git repository with a `main` branch; every change is one commit whose SHA is returned.

    Files are given as `{relative path: text}`; paths are POSIX-style, relative to the root,
    and may not leave it.
    """

    def __init__(self, root: Path, *, branch: str = DEFAULT_BRANCH) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._repo = git.Repo.init(root, initial_branch=branch)
        with self._repo.config_writer() as config:
            config.set_value("user", "name", AUTHOR_NAME)
            config.set_value("user", "email", AUTHOR_EMAIL)
        self._away: Path | None = None

    @classmethod
    def for_test(cls, parent: Path, names: Names, kind: str = "repo") -> GitRepo:
        """A fresh repository under `parent`, named from the test id (`names.name(kind)`)."""
        return cls(parent / names.name(kind))

    # -- what a service is given --------------------------------------------------------------
    @property
    def url(self) -> str:
        """What to hand a service as the repository URL (git's local transport: the path)."""
        return str(self.root)

    @property
    def head(self) -> str:
        """The SHA the checked-out branch points at."""
        self._check_reachable()
        return self._repo.head.commit.hexsha

    @property
    def current_branch(self) -> str:
        self._check_reachable()
        return self._repo.active_branch.name

    # -- changes ------------------------------------------------------------------------------
    def commit(self, files: Mapping[str, str], message: str) -> str:
        """Write `files` (creating folders), commit them on the current branch; the new SHA."""
        self._check_reachable()
        if not files:
            raise ValueError("commit() needs at least one file")
        for name, content in files.items():
            path = self._inside(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        self._repo.index.add(list(files))
        return self._repo.index.commit(message).hexsha

    def delete(self, paths: Iterable[str], message: str = "") -> str:
        """Remove `paths` (files, tracked) and commit; the new SHA."""
        self._check_reachable()
        wanted = list(paths)
        if not wanted:
            raise ValueError("delete() needs at least one path")
        for name in wanted:
            self._inside(name)
        self._repo.index.remove(wanted, working_tree=True)
        return self._repo.index.commit(message or f"delete {', '.join(wanted)}").hexsha

    def branch(self, name: str, *, checkout: bool = True) -> str:
        """Create branch `name` at HEAD (and check it out); the SHA it points at."""
        self._check_reachable()
        created = self._repo.create_head(name)
        if checkout:
            created.checkout()
        return created.commit.hexsha

    def checkout(self, name: str) -> None:
        """Switch to an existing branch."""
        self._check_reachable()
        self._repo.heads[name].checkout()

    # -- faults -------------------------------------------------------------------------------
    def make_unreachable(self) -> None:
        """Rename the repository away, so fetching `url` fails as a vanished remote does."""
        self._check_reachable()
        away = self.root.with_name(f"{self.root.name}.away-{secrets.token_hex(3)}")
        self._repo.close()  # no git helper process keeps the old path open
        self.root.rename(away)
        self._away = away

    def restore(self) -> None:
        """Put the repository back where `url` points."""
        if self._away is None:
            raise GitRepoError(f"{self.root} is not unreachable; nothing to restore")
        self._away.rename(self.root)
        self._away = None
        self._repo = git.Repo(self.root)

    @property
    def reachable(self) -> bool:
        return self._away is None

    @contextmanager
    def unreachable(self) -> Iterator[None]:
        """`make_unreachable()` for the block, `restore()` after it (even when it raised)."""
        self.make_unreachable()
        try:
            yield
        finally:
            self.restore()

    def close(self) -> None:
        """Stop GitPython's helper processes (the directory stays)."""
        self._repo.close()

    # -- helpers ------------------------------------------------------------------------------
    def _check_reachable(self) -> None:
        if self._away is not None:
            raise GitRepoError(f"{self.root} is unreachable; restore() it first")

    def _inside(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root.resolve()) or path == self.root.resolve():
            raise ValueError(f"{name!r} is not a file path inside the repository")
        return path


__all__ = ["DEFAULT_BRANCH", "GitRepo", "GitRepoError"]
