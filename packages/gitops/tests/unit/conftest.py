"""Fixtures for the in-process gitops service (helpers live in `gitops_fixtures`)."""

from gitops_fixtures import app, gitops, http, identity, live, repo, settings

__all__ = ["app", "gitops", "http", "identity", "live", "repo", "settings"]
