"""Shared bits of the benchmarks: percentiles and a stack started through testkit."""

from __future__ import annotations

import os
import statistics
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gatewright.testkit import LocalStack, Target


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(samples_ms: Sequence[float]) -> str:
    return (
        f"p50 {statistics.median(samples_ms):7.2f} ms  p95 {percentile(samples_ms, 95):7.2f} ms"
        f"  (n={len(samples_ms)})"
    )


@contextmanager
def stack(services: Sequence[str], **env: str) -> Iterator[Target]:
    with running_stack(services, **env) as local:
        yield local.target


@contextmanager
def running_stack(services: Sequence[str], **env: str) -> Iterator[Running]:
    with tempfile.TemporaryDirectory(prefix="gatewright-bench-") as tmp:
        local = LocalStack(services, log_dir=Path(tmp) / "logs", extra_env=env)
        target = local.start()
        try:
            yield Running(
                target,
                {r.spec.name: r.process.pid for r in local.running},
                {r.spec.name: r.log_path for r in local.running},
            )
        finally:
            local.stop()


@dataclass(frozen=True)
class Running:
    target: Target
    pids: dict[str, int]  # service name -> process ID
    logs: dict[str, Path]  # service name -> its JSON-lines log (access log included)

    def cpu_seconds(self) -> dict[str, float]:
        """User + system CPU time of each service process so far (Linux /proc; else empty)."""
        ticks = os.sysconf("SC_CLK_TCK")
        out: dict[str, float] = {}
        for name, pid in self.pids.items():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return {}
            out[name] = (int(fields[11]) + int(fields[12])) / ticks
        return out
