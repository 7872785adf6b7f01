"""Gateway overhead: the same completion straight to modelsim and through the gateway.

    python benchmarks/gateway_overhead.py [--requests 400] [--concurrency 16]

Starts the whole platform (audit, identity, budgets, modelsim, gateway) on loopback with
testkit's LocalStack, so audit events are recorded and delivered as in production; sets up an
org, a key, an org budget and a route over modelsim's `sim-echo`, then measures with one
keep-alive httpx client per target:

1. latency, one request at a time, direct and gateway calls interleaved (so both see the same
   machine noise): p50, p95, ratio and difference;
2. CPU time each service process spent per gateway completion (Linux /proc), from a sequential
   run of gateway calls alone: where a completion's cost goes;
3. throughput with N concurrent callers, direct then gateway: requests per second.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx
from _common import Running, percentile, running_stack, summary

from gatewright.gateway import Client as GatewayClient
from gatewright.identity import Client as IdentityClient
from gatewright.testkit import Target

BODY = {
    "model": "",
    "messages": [{"role": "user", "content": "measure the gateway overhead"}],
    "max_tokens": 8,
}


def set_up(target: Target) -> tuple[str, str]:
    """An org, a key and a route; returns (alias, key secret)."""
    assert target.admin_email
    assert target.admin_password
    identity = IdentityClient(target.url("identity"))
    login = identity.auth.login(target.admin_email, target.admin_password)
    admin = identity.with_options(token=login.access_token)
    org = admin.orgs.create("bench")
    key = admin.keys.create(org.id, name="bench")
    gateway = GatewayClient(target.url("gateway"), token=login.access_token)
    backend = {"url": target.url("modelsim"), "model": "sim-echo", "timeout_seconds": 10}
    gateway.routes.put(
        "bench-echo",
        org_id=org.id,
        backends=[backend],
        input_micro_usd_per_mtok=1_000_000,
        output_micro_usd_per_mtok=2_000_000,
    )
    return "bench-echo", key.secret


def latency(direct_url: str, gateway_url: str, alias: str, secret: str, n: int) -> None:
    direct_body = {**BODY, "model": "sim-echo"}
    gateway_body = {**BODY, "model": alias}
    headers = {"Authorization": f"Bearer {secret}"}
    direct_ms: list[float] = []
    gateway_ms: list[float] = []
    with httpx.Client(base_url=direct_url) as direct, httpx.Client(base_url=gateway_url) as gw:
        for _ in range(max(20, n // 10)):  # warm-up: pools, caches, JIT-free but lazy imports
            direct.post("/v1/chat/completions", json=direct_body).raise_for_status()
            gw.post("/v1/chat/completions", json=gateway_body, headers=headers).raise_for_status()
        for _ in range(n):
            t0 = time.perf_counter()
            direct.post("/v1/chat/completions", json=direct_body).raise_for_status()
            t1 = time.perf_counter()
            gw.post("/v1/chat/completions", json=gateway_body, headers=headers).raise_for_status()
            t2 = time.perf_counter()
            direct_ms.append((t1 - t0) * 1000)
            gateway_ms.append((t2 - t1) * 1000)
    d50, g50 = statistics.median(direct_ms), statistics.median(gateway_ms)
    d95, g95 = percentile(direct_ms, 95), percentile(gateway_ms, 95)
    print(f"direct to modelsim : {summary(direct_ms)}")
    print(f"through the gateway: {summary(gateway_ms)}")
    print(
        f"gateway overhead   : p50 +{g50 - d50:.2f} ms (x{g50 / d50:.2f})  p95 +{g95 - d95:.2f} ms"
    )


def cpu_per_completion(running: Running, alias: str, secret: str, n: int) -> None:
    body = {**BODY, "model": alias}
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=running.target.url("gateway"), headers=headers) as gw:
        before = running.cpu_seconds()
        for _ in range(n):
            gw.post("/v1/chat/completions", json=body).raise_for_status()
        after = running.cpu_seconds()  # the last answer's settling may still run: 1 in n
    if not before:
        print("(no /proc here: CPU figures skipped)")
        return
    spent = {name: (after[name] - before[name]) * 1000 / n for name in before}
    for name, ms in spent.items():
        print(f"{name:<10} {ms:6.2f} ms CPU per completion")
    print(f"{'all':<10} {sum(spent.values()):6.2f} ms CPU per completion")


async def throughput(
    url: str, body: dict[str, object], headers: dict[str, str], n: int, c: int
) -> float:
    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    async with httpx.AsyncClient(base_url=url, limits=limits, headers=headers) as client:
        queue = list(range(n))

        async def worker() -> None:
            while queue:
                queue.pop()
                (await client.post("/v1/chat/completions", json=body)).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(c)))
        return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with running_stack(["audit", "identity", "budgets", "modelsim", "gateway"]) as running:
        target = running.target
        alias, secret = set_up(target)
        print(f"== latency, one request at a time, {args.requests} interleaved pairs ==")
        latency(target.url("modelsim"), target.url("gateway"), alias, secret, args.requests)
        print(f"== CPU per completion, {args.requests} gateway calls one at a time ==")
        cpu_per_completion(running, alias, secret, args.requests)
        print(f"== throughput, {args.concurrency} concurrent callers ==")
        n, c = args.requests * 2, args.concurrency
        direct = asyncio.run(
            throughput(
                target.url("modelsim"),
                {**BODY, "model": "sim-echo"},
                {},
                n,
                c,
            )
        )
        through = asyncio.run(
            throughput(
                target.url("gateway"),
                {**BODY, "model": alias},
                {"Authorization": f"Bearer {secret}"},
                n,
                c,
            )
        )
        print(f"direct to modelsim : {direct:8.1f} req/s")
        print(f"through the gateway: {through:8.1f} req/s")


if __name__ == "__main__":
    main()
