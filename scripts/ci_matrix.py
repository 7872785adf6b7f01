"""Emit the GitHub Actions package matrix from the paths a change touched.

A change under shared/, the noxfile, the root pyproject or the workflows runs every package;
otherwise the changed packages plus the packages that depend on them.

    python scripts/ci_matrix.py origin/main   # -> {"dist": ["identity", ...]}
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
EVERYTHING = ("noxfile.py", "pyproject.toml", ".github/", "scripts/", "contracts/")


def select(changed: list[str]) -> list[str]:
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
    print(json.dumps({"dist": select(changed) or list(PATHS)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
