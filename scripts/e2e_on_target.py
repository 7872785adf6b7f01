"""The e2e flows against a local stack used as a deployment, then proof that they left nothing.

    python scripts/e2e_on_target.py [PYTEST ARGS...]     (what `nox -s e2e_target` runs)

1. starts a local stack (testkit's `LocalStack`) and writes a target file for it, its secrets
   in environment variables the file names, as a real deployment's would be;
2. runs `pytest e2e --gw-target FILE` (the harness does not know it is local: no data dirs, no
   private stacks sharing its processes);
3. checks that nothing with the run's prefix remains (orgs, users) and no data of a deleted
   org (routes, ledgers): `python -m e2e.leftovers --check`;
4. exercises the sweep for real: a flow run with `--keep-data` leaves its org, routes and
   users; `sweep --dry-run` lists them, `sweep` removes them, and the check passes again.

Exit status: the first failing step's.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from gatewright.testkit import LocalStack, run_prefix

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ["audit", "identity", "budgets", "modelsim", "gateway", "gitops"]
KEPT_FLOW = "test_new_member_gets_a_completion_and_the_org_is_charged"


def run(*args: str, env: dict[str, str]) -> int:
    print("+", " ".join(args), flush=True)
    return subprocess.call(list(args), cwd=ROOT, env=env)


def main(argv: list[str]) -> int:
    run_id = os.environ.get("GATEWRIGHT_RUN_ID") or f"t{secrets.token_hex(3)}"
    artifacts = Path(os.environ.get("GATEWRIGHT_ARTIFACTS") or ROOT / "artifacts")
    with tempfile.TemporaryDirectory(prefix="gw-target-") as tmp:
        stack = LocalStack(SERVICES, log_dir=artifacts / run_id / "target-services")
        target = stack.start()
        try:
            assert target.admin_password
            assert target.service_token
            env = {
                **os.environ,
                "GW_TARGET_ADMIN_PASSWORD": target.admin_password,
                "GW_TARGET_SERVICE_TOKEN": target.service_token,
            }
            target_file = Path(tmp) / "target.json"
            target_file.write_text(
                json.dumps(
                    {
                        "services": target.services,
                        "admin": {
                            "email": target.admin_email,
                            "password_env": "GW_TARGET_ADMIN_PASSWORD",
                        },
                        "service_token_env": "GW_TARGET_SERVICE_TOKEN",
                    }
                ),
                encoding="utf-8",
            )
            on_target = ["--gw-target", str(target_file)]
            flows = [sys.executable, "-m", "pytest", "e2e", *on_target]
            leftovers = [sys.executable, "-m", "e2e.leftovers", *on_target]
            status = run(*flows, *argv, env={**env, "GATEWRIGHT_RUN_ID": run_id})
            if status:
                return status
            status = run(*leftovers, "--check", run_prefix(run_id), env=env)
            if status:
                print(f"the run {run_id} left the above on the target", file=sys.stderr)
                return status
            kept_id = f"{run_id}k"
            kept = [*flows, "-p", "no:randomly", "-k", KEPT_FLOW, "--keep-data"]
            status = run(*kept, env={**env, "GATEWRIGHT_RUN_ID": kept_id})
            if status:
                return status
            if run(*leftovers, "--check", run_prefix(kept_id), env=env) == 0:
                print("a --keep-data run left nothing for the sweep to find", file=sys.stderr)
                return 1
            sweep = [*leftovers, "--older-than", "0s", "--prefix", run_prefix(kept_id)]
            for args in ([*sweep, "--dry-run"], sweep):
                status = run(*args, env=env)
                if status:
                    return status
            return run(*leftovers, "--check", run_prefix(kept_id), env=env)
        finally:
            stack.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
