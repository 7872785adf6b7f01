"""Fail when anything shaped like a Gatewright secret appears in a run's artifacts.

Run by the e2e session after the suite, over every file the harness and the services wrote
(artifacts, JUnit XML, service logs): API-key secrets (`gwk_…`), invitation tokens (`gwi_…`)
and JWTs (`eyJ….….…`) must appear only masked.

    python scripts/scan_artifacts.py artifacts/
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

SHAPES = {
    "api key secret": re.compile(r"gwk_[A-Za-z0-9_\-]{12,}"),
    "invitation token": re.compile(r"gwi_[A-Za-z0-9_\-]{12,}"),
    "JWT": re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
}


def scan(root: Path) -> list[str]:
    findings = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        text = path.read_text(errors="replace")
        for name, shape in SHAPES.items():
            for match in shape.finditer(text):
                findings.append(f"{path}: {name} {match.group()[:8]}… at offset {match.start()}")
    return findings


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else "artifacts")
    if not root.is_dir():
        print(f"{root}: no artifacts to scan")
        return 1
    files = sum(1 for p in root.rglob("*") if p.is_file())
    findings = scan(root)
    if findings:
        print(f"{len(findings)} unmasked secret(s) in {root}:")
        print("\n".join(findings[:50]))
        return 1
    print(f"{root}: {files} files scanned, no unmasked secrets")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
