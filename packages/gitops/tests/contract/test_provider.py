"""Provider contract: gitops, alone and in-process, verifies every pact that names it.

The app comes from `create_app(settings)` with a temp data dir, a fixed service token and the
scheduler off (`reconcile_loop=False`), so a status a provider state seeds stays exactly as
seeded; identity, budgets and the gateway are not running (a reconcile would reach them only
through the `LiveState` seam, and none runs here). Served in-process by
`gatewright.testkit.pactverify.serve_in_thread` and verified by `verify_provider`.

Provider states are small named functions: each resets the DB, then creates exactly what its
parameters name (the service-token and webhook-secret states seed nothing and check the pact's
token and secret against the provider's settings; a delivery is replayed byte for byte, so its
signature holds). The preview state makes a real git repository under the data dir; the preview
of its branch needs no live call (nothing of it is applied or in the inventory yet), so no other
service is needed either.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import git
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from gatewright.gitops import (
    PROVIDER,
    STATE_APPLICATION_EXISTS,
    STATE_PREVIEW_BRANCH,
    STATE_SERVICE_TOKEN,
    STATE_WEBHOOK_SECRET,
)
from gatewright.gitops.contract import ALL_STATES
from gatewright.gitops.models import ApplicationCreate, ApplicationStatus, ResourceStatus
from gatewright.gitops.service import GitopsSettings, create_app, store
from gatewright.servicekit.db import utcnow
from gatewright.testkit.pactverify import check_service_token, serve_in_thread, verify_provider

from pact_examples import SERVICE_TOKEN, WEBHOOK_SECRET  # isort: skip


class ProviderStates:
    """One named function per provider state (see `gatewright.gitops.contract`)."""

    def __init__(self, app: FastAPI, settings: GitopsSettings) -> None:
        self.app = app
        self.settings = settings

    def _reset(self) -> None:
        with self.app.state.db.session() as s, s.begin():
            store.reset(s)

    def service_token(self, parameters: dict[str, Any] | None) -> None:
        check_service_token(parameters, self.settings.service_token.get_secret_value())
        self._reset()

    def application_exists(self, parameters: dict[str, Any] | None) -> None:
        p = parameters or {}
        self.service_token(p)
        body = ApplicationCreate(
            name=p["name"], repo_url=p["repo_url"], branch=p["branch"], path=p["path"]
        )
        org = ResourceStatus(
            kind="Org", name=p["org_name"], status="Synced", action="created", live_id=p["org_id"]
        )
        status = ApplicationStatus(
            sync="Synced",
            health="Healthy",
            revision=p["revision"],
            last_applied_revision=p["revision"],
            last_attempted_revision=p["revision"],
            last_handled_refresh=p["refresh_token"],
            reconciled_at=utcnow(),
            resources=[org],
        )
        with self.app.state.db.session() as s, s.begin():
            app = store.create_application(s, body=body, now=utcnow())
            store.save_status(s, app_id=app.id, status=status)
            store.record_inventory(
                s, app_id=app.id, kind="Org", name=p["org_name"], live_id=p["org_id"]
            )
            # The seeded token was issued: the next refresh gets a later one.
            store.request_refresh(s, name=app.name)

    def preview_branch(self, parameters: dict[str, Any] | None) -> None:
        p = parameters or {}
        self.service_token(p)
        where = self.settings.data_dir / "preview-repo"
        shutil.rmtree(where, ignore_errors=True)
        repo = git.Repo.init(where, initial_branch="main")
        with repo.config_writer() as config:
            config.set_value("user", "name", "Provider States")
            config.set_value("user", "email", "provider-states@example.test")
        (where / p["path"]).mkdir()
        (where / p["path"] / "README.md").write_text("manifests go here\n")
        repo.index.add([f"{p['path']}/README.md"])
        repo.index.commit("empty")
        repo.create_head(p["branch"]).checkout()
        manifest = f"{p['path']}/{p['org_name']}.yaml"
        (where / manifest).write_text(
            f"kind: Org\nmetadata: {{name: {p['org_name']}}}\nspec: {{owner: {p['owner']}}}\n"
        )
        repo.index.add([manifest])
        repo.index.commit("add an org")
        repo.close()
        body = ApplicationCreate(name=p["name"], repo_url=str(where), path=p["path"])
        with self.app.state.db.session() as s, s.begin():
            store.create_application(s, body=body, now=utcnow())

    def webhook_secret(self, parameters: dict[str, Any] | None) -> None:
        # Seeds nothing: the pact's example secret must be the one this provider checks with.
        configured = self.settings.webhook_secret
        expected = None if configured is None else configured.get_secret_value()
        if (parameters or {}).get("webhook_secret") != expected:
            raise ValueError("the pact's webhook secret is not the one this provider test uses")

    def handlers(self) -> dict[str, Any]:
        return {
            STATE_SERVICE_TOKEN: self.service_token,
            STATE_APPLICATION_EXISTS: self.application_exists,
            STATE_PREVIEW_BRANCH: self.preview_branch,
            STATE_WEBHOOK_SECRET: self.webhook_secret,
        }


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ProviderStates]]:
    settings = GitopsSettings(
        data_dir=tmp_path_factory.mktemp("gitops"),
        service_token=SecretStr(SERVICE_TOKEN),
        identity_url="http://identity.invalid",
        reconcile_loop=False,
        webhook_secret=SecretStr(WEBHOOK_SECRET),
    )
    app = create_app(settings)
    with serve_in_thread(app, name="gitops") as url:
        yield url, ProviderStates(app, settings)


def test_gitops_honours_its_pacts(provider: tuple[str, ProviderStates]) -> None:
    url, states = provider
    verify_provider(PROVIDER, url, states.handlers(), declared=ALL_STATES)
