"""Shared bits of the benchmarks: percentiles and a stack started through testkit."""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
    with tempfile.TemporaryDirectory(prefix="gatewright-bench-") as tmp:
        local = LocalStack(services, log_dir=Path(tmp) / "logs", extra_env=env)
        target = local.start()
        try:
            yield target
        finally:
            local.stop()
