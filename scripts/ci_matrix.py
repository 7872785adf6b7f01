"""Emit the GitHub Actions package matrix from the paths a change touched.

A change under shared/, the noxfile, the root pyproject, uv.lock, scripts/, contracts/ or the
workflows runs every package; otherwise the changed packages plus the packages that depend on
them. A change in a package folder the matrix does not know is an error, never a silent skip.
Each entry says whether the package has a contract stage of its own (`nox -s "contracts(<dist>)"`).

    python scripts/ci_matrix.py origin/main
    # -> {"include": [{"dist": "identity", "contracts": true}, ...]}
"""

from __future__ import annotations

import json
import subprocess
import sys

# Mirrors noxfile.DISTS (GitHub runs this without nox); the lint session checks the two agree.
PATHS = {
    "core": "shared/core/",
    "servicekit": "shared/servicekit/",
    "testkit": "shared/testkit/",
    "identity": "packages/identity/",
    "budgets": "packages/budgets/",
    "modelsim": "packages/modelsim/",
    "gateway": "packages/gateway/",
    "audit": "packages/audit/",
    "gitops": "packages/gitops/",
}
DEPENDENTS = {
    "core": [
        "servicekit",
        "testkit",
        "identity",
        "budgets",
        "modelsim",
        "gateway",
        "audit",
        "gitops",
    ],
    "servicekit": ["identity", "budgets", "modelsim", "gateway", "audit", "gitops"],
    "testkit": [],
    "identity": ["servicekit", "budgets", "gateway", "audit", "gitops"],
    "budgets": ["gateway", "gitops"],
    "modelsim": ["gateway"],
    "gateway": ["gitops"],
    "audit": ["servicekit", "identity", "budgets", "modelsim", "gateway", "gitops"],
    "gitops": [],
}
# Mirrors noxfile.CONTRACT_DISTS: the packages with a `contracts(<dist>)` session.
CONTRACTS = ["identity", "budgets", "modelsim", "gateway", "audit", "gitops"]
# uv.lock pins every package's versions (decision 17): a change to it may change any of them.
EVERYTHING = (
    "shared/",
    "noxfile.py",
    "pyproject.toml",
    "uv.lock",
    ".github/",
    "scripts/",
    "contracts/",
)


class UnknownPackage(ValueError):
    """A change under packages/ that no entry of PATHS owns: the matrix would skip it."""


def select(changed: list[str]) -> list[str]:
    """The distributions to test for these changed paths (see the module doc)."""
    known = tuple(PATHS.values())
    strays = sorted(
        {"/".join(p.split("/")[:2]) + "/" for p in changed if p.startswith("packages/")}
        - set(known)
    )
    if strays:
        raise UnknownPackage(
            f"{', '.join(strays)} changed but scripts/ci_matrix.py has no entry for it: add it "
            "to PATHS and DEPENDENTS (and to the noxfile's DISTS)"
        )
    if any(path.startswith(EVERYTHING) for path in changed):
        return list(PATHS)
    picked: set[str] = set()
    todo = [dist for path in changed for dist, prefix in PATHS.items() if path.startswith(prefix)]
    while todo:  # the changed packages and, transitively, everything that depends on them
        dist = todo.pop()
        if dist not in picked:
            picked.add(dist)
            todo.extend(DEPENDENTS[dist])
    return [d for d in PATHS if d in picked]


def main(argv: list[str]) -> int:
    base = argv[1] if len(argv) > 1 else "origin/main"
    out = subprocess.run(
        ["git", "diff", "--name-only", f"{base}...HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    changed = out.stdout.split() if out.returncode == 0 else list(EVERYTHING)
    dists = select(changed) or list(PATHS)
    print(json.dumps({"include": [{"dist": d, "contracts": d in CONTRACTS} for d in dists]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
