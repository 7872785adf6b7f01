"""Fail when the consumer stage regenerated contracts/ differently from what is committed.

A contract change is a reviewed change: regenerate with `nox -s contracts` and commit the files.
"""

from __future__ import annotations

import subprocess
import sys


def main() -> int:
    status = subprocess.run(
        ["git", "status", "--porcelain", "--", "contracts"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if not status.strip():
        print("contracts/: regenerated files match the committed ones")
        return 0
    diff = subprocess.run(
        ["git", "diff", "--", "contracts"], capture_output=True, text=True, check=False
    ).stdout
    print("contracts/ changed when the consumer tests regenerated it:\n" + status)
    print(diff[:20000])
    print("Commit the regenerated pact files (a contract change must be committed).")
    return 1


if __name__ == "__main__":
    sys.exit(main())
