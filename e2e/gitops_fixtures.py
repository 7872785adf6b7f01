"""Fixtures for the GitOps flows: the gitops client and a git repository the test owns.

The repository is a real one in the test's tmp dir, named from the test id (`gw.names`), made
with GitPython; the local stack's gitops service fetches it by path. Against a deployment, the
repository must be reachable from gitops, so these flows need a local stack (or a deployment that
shares the machine's file system).
"""

from __future__ import annotations

from pathlib import Path

import git
import pytest

from gatewright.gitops import Client as GitopsClient
from gatewright.testkit import Harness


class ConfigRepo:
    """A git repository with a `main` branch; `commit(files)` returns the new SHA."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = git.Repo.init(root, initial_branch="main")
        with self.repo.config_writer() as config:
            config.set_value("user", "name", "Gatewright e2e")
            config.set_value("user", "email", "e2e@gatewright.test")

    def commit(self, files: dict[str, str], message: str) -> str:
        for name, content in files.items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            self.repo.index.add([name])
        return self.repo.index.commit(message).hexsha

    @property
    def url(self) -> str:
        return str(self.root)


@pytest.fixture
def gitops(gw: Harness) -> GitopsClient:
    """Gitops as an operator sees it (the service token)."""
    token = gw.target.service_token
    assert token, "the target has no service token (GATEWRIGHT_SERVICE_TOKEN)"
    client = GitopsClient(**gw.client_kwargs("gitops", token=token))
    gw.cleanup.release("close the gitops client", client.close)
    return client


@pytest.fixture
def config_repo(gw: Harness, tmp_path: Path) -> ConfigRepo:
    """A fresh git repository the test owns, named from the test id."""
    return ConfigRepo(tmp_path / gw.names.name("repo"))
