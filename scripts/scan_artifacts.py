"""Fail when anything shaped like a Gatewright secret appears in a run's artifacts.

Run by the e2e session after the suite, over every file the harness and the services wrote
(artifacts, JUnit XML, service logs): API-key secrets (`gwk_…`), invitation tokens (`gwi_…`)
and JWTs (`eyJ….….…`) must appear only masked.

    python scripts/scan_artifacts.py artifacts/r1a2b3c artifacts/junit-e2e.xml
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


def files_under(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        found += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return found


def scan(files: list[Path]) -> list[str]:
    findings = []
    for path in files:
        text = path.read_text(errors="replace")
        for name, shape in SHAPES.items():
            for match in shape.finditer(text):
                findings.append(f"{path}: {name} {match.group()[:8]}… at offset {match.start()}")
    return findings


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv[1:]] or [Path("artifacts")]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"nothing to scan at {', '.join(missing)}")
        return 1
    files = files_under(paths)
    findings = scan(files)
    if findings:
        print(f"{len(findings)} unmasked secret(s):")
        print("\n".join(findings[:50]))
        return 1
    print(f"{len(files)} files scanned, no unmasked secrets")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
