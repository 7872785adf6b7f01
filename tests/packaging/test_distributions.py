"""What a consumer team pulls: the built distributions (run by `nox -s build`, after the build).

Every distribution takes its version from the one VERSION file, every wheel and sdist in dist/
carries it, and a client wheel installed alone (beside gatewright-core, from dist/ only) brings
no service code and works against a running local stack.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gatewright.testkit.stack import LocalStack
from gatewright.testkit.target import Target

# Creating a venv and installing into it takes a while on a loaded machine.
pytestmark = pytest.mark.timeout(600)
ROOT = Path(__file__).resolve().parents[2]
VERSION = (ROOT / "VERSION").read_text(encoding="utf-8").strip()
PROJECTS = sorted([*ROOT.glob("packages/*/pyproject.toml"), *ROOT.glob("shared/*/pyproject.toml")])
# What a client install must never bring: the service stack and its plumbing.
SERVICE_ONLY = {"fastapi", "starlette", "sqlalchemy", "uvicorn", "gatewright-servicekit"}
CLIENTS = ["gatewright-core", "gatewright-budgets"]


def _project(path: Path) -> dict[str, object]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _dist_dir() -> Path:
    raw = os.environ.get("GATEWRIGHT_DIST")
    if not raw:
        message = "dist/ was not built: run `nox -s build`"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    return Path(raw)


def test_the_version_is_declared_once() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?", VERSION), VERSION
    assert len(PROJECTS) == 9
    for path in PROJECTS:
        project = _project(path)
        meta = project["project"]
        assert isinstance(meta, dict)
        assert "version" not in meta, f"{path}: a static version beside VERSION"
        assert meta["dynamic"] == ["version"], path
        hatch = project["tool"]["hatch"]  # type: ignore[index]
        assert (path.parent / hatch["version"]["path"]).resolve() == ROOT / "VERSION", path
    # The changelog has an entry for it.
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"\n## [{VERSION}]" in changelog


def test_every_distribution_is_built_once_at_the_version() -> None:
    dist = _dist_dir()
    names = sorted(str(_project(p)["project"]["name"]) for p in PROJECTS)  # type: ignore[index]
    for name in names:
        stem = name.replace("-", "_")
        assert (dist / f"{stem}-{VERSION}.tar.gz").is_file(), f"no sdist of {name}"
        wheel = dist / f"{stem}-{VERSION}-py3-none-any.whl"
        with zipfile.ZipFile(wheel) as archive:
            metadata = archive.read(f"{stem}-{VERSION}.dist-info/METADATA").decode()
        assert f"\nVersion: {VERSION}\n" in metadata
    assert len(list(dist.glob("*.whl"))) == len(names)
    assert len(list(dist.glob("*.tar.gz"))) == len(names)


def third_party_requirements(dist: Path, names: list[str]) -> list[str]:
    """What the wheels of `names` require that is not ours (their base requirements)."""
    found: list[str] = []
    for name in names:
        stem = name.replace("-", "_")
        with zipfile.ZipFile(dist / f"{stem}-{VERSION}-py3-none-any.whl") as archive:
            metadata = archive.read(f"{stem}-{VERSION}.dist-info/METADATA").decode()
        for line in metadata.splitlines():
            if line.startswith("Requires-Dist: "):
                requirement = line.removeprefix("Requires-Dist: ")
                if "extra ==" not in requirement and not requirement.startswith("gatewright-"):
                    found.append(requirement)
    return sorted(set(found))


def _installer(python: Path) -> list[str]:
    """`uv pip install` for `python` where uv is at hand (the build session has it), else pip."""
    uv = shutil.which("uv")
    if uv:
        return [uv, "pip", "install", "-q", "--python", str(python)]
    return [str(python), "-m", "pip", "--disable-pip-version-check", "install", "-q"]


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with gatewright-core and gatewright-budgets from dist/ only."""
    dist = _dist_dir()
    home = tmp_path_factory.mktemp("consumer") / "venv"
    venv.create(home, with_pip=shutil.which("uv") is None, clear=True)
    python = home / "bin" / "python"
    install = _installer(python)
    # The third-party libraries the client wheels declare, from the registry as any consumer
    # gets them (what they declare is what is checked below: no service stack among them).
    subprocess.run([*install, *third_party_requirements(dist, CLIENTS)], check=True)
    # Ours from the built wheels and nothing else: no index, no other link, no config.
    offline = {
        k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_INDEX", "UV_EXTRA"))
    }
    offline["PIP_CONFIG_FILE"] = os.devnull
    subprocess.run(
        [*install, "--no-index", "--find-links", str(dist), *CLIENTS], check=True, env=offline
    )
    return python


def _installed(python: Path) -> dict[str, str]:
    listing = (
        "import importlib.metadata as m, json; "
        "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))"
    )
    out = subprocess.run(
        [str(python), "-c", listing], check=True, capture_output=True, text=True
    ).stdout
    return dict(json.loads(out))


def test_a_client_wheel_brings_no_service_code(client_venv: Path) -> None:
    installed = _installed(client_venv)
    assert installed["gatewright-core"] == VERSION
    assert installed["gatewright-budgets"] == VERSION
    assert not SERVICE_ONLY & set(installed), sorted(SERVICE_ONLY & set(installed))
    assert {n for n in installed if n.startswith("gatewright-")} == set(CLIENTS)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """The budgets service (and identity, which it needs) on loopback, stopped afterwards."""
    logs = tmp_path_factory.mktemp("stack") / "services"
    with LocalStack(["budgets"], log_dir=logs) as local:
        yield local.target()


# Run in the consumer's venv: the installed client against the stack, as another service would
# use it (the service token): hold, commit, and a typed error for a budget that is not there.
CONSUMER = """
import json, os, sys
from gatewright.budgets import Client
from gatewright.core import NotFound

with Client(os.environ["BUDGETS_URL"], token=os.environ["SERVICE_TOKEN"]) as budgets:
    held = budgets.reservations.create(
        org_id="org_wheel", key_id="key_wheel", amount_micro_usd=2_000, request_id="req_wheel"
    )
    done = budgets.reservations.commit(held.id, actual_micro_usd=1_500)
    try:
        budgets.budgets.get_org("org_without_budget")
    except NotFound as exc:
        missing = exc.code
    else:
        missing = "found"
    print(json.dumps({
        "held": held.status, "committed": done.status, "id": held.id, "missing": missing,
        "modules": sorted(m for m in sys.modules if m.split(".")[0] in {"fastapi", "sqlalchemy"}),
    }))
"""


def test_the_installed_client_works_against_a_running_stack(
    client_venv: Path, stack: Target
) -> None:
    assert stack.service_token
    out = subprocess.run(
        [str(client_venv), "-c", CONSUMER],
        check=True,
        capture_output=True,
        text=True,
        cwd=client_venv.parent,  # not the repo: nothing importable from the source tree
        env={
            "PATH": os.environ.get("PATH", ""),
            "BUDGETS_URL": stack.url("budgets"),
            "SERVICE_TOKEN": stack.service_token,
        },
        timeout=60,
    ).stdout
    result = json.loads(out)
    assert result["id"].startswith("res_")
    assert (result["held"], result["committed"]) == ("held", "committed")
    assert result["missing"] == "budget_not_found"
    assert result["modules"] == []
    assert sys.executable != str(client_venv)
