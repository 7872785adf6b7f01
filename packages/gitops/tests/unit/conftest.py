"""Fixtures for the in-process gitops service (helpers live in `gitops_fixtures`)."""

from gitops_fixtures import app, gitops, http, live, repo

__all__ = ["app", "gitops", "http", "live", "repo"]
