"""Scale-out: reports/s accepted by one and by two intake processes appending to one store, with
the relay publishing from it (as two hosts would run them, each intake with a data directory of
its own: tests/integration/test_replicas.py).

    .venv/bin/python -m bench.scale_out [--citizens 32] [--seconds 15] [--runs 2]

Every case starts nats-server (JetStream), the relay and N intake processes on
one SQLite event store (its data keys in the same file); the citizens POST /api/v1/reports back
to back, spread over the intakes round-robin (closed loop, keep-alive). Reported: accepted
reports/s and CPU per report of each process. Where `LAPOR_TEST_KURRENTDB_URL` names a KurrentDB,
the same cases run on it too (`LAPOR_EVENT_STORE` set to that URL).

On this machine (2 cores shared with the load generator) the second intake can only show how
much of a core it frees or costs; on a host with more cores the same command shows the growth.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    cpu_seconds,
    load_average,
    print_header,
    result,
    scratch,
    table,
)
from bench.end_to_end import report_bodies
from tests.support import NatsServer, System, free_port


async def closed_loop(
    urls: list[str], bodies: list[dict[str, Any]], citizens: int, seconds: float
) -> int:
    clients = [httpx.AsyncClient(base_url=url, timeout=30) for url in urls]
    accepted = 0
    deadline = time.time() + seconds
    picks = itertools.cycle(clients)

    async def citizen(k: int) -> None:
        nonlocal accepted
        client = next(picks)
        i = k
        while time.time() < deadline:
            try:
                response = await client.post("/api/v1/reports", json=bodies[i % len(bodies)])
            except httpx.HTTPError:
                continue
            i += citizens
            if response.status_code == 201:
                accepted += 1

    try:
        await asyncio.gather(*(citizen(k) for k in range(citizens)))
    finally:
        for client in clients:
            await client.aclose()
    return accepted


def run_case(
    root: Path, intakes: int, citizens: int, seconds: float, store_url: str | None
) -> dict[str, Any]:
    shared = root / "shared"
    shared.mkdir()
    nats = NatsServer(free_port(), root / "nats")
    nats.start()
    env = {
        "LAPOR_EVENT_STORE": store_url or f"sqlite:///{shared / 'events.db'}",
        "LAPOR_INTAKE_SUBMISSIONS_PER_MINUTE": "0",
        "LAPOR_LOG_LEVEL": "WARNING",
    }
    hosts = [
        System(
            root / f"host-{n}",
            nats.url,
            {"intake": free_port(), "relay_metrics": free_port()},
            extra_env=env,
        )
        for n in range(intakes)
    ]
    try:
        for host in hosts:
            host.data_dir.mkdir(parents=True)
        hosts[0].start("relay")
        for host in hosts:
            host.start("intake")
        for host in hosts:
            host.wait_ready("intake")
        pids = {"relay": hosts[0].processes["relay"].pid}
        pids |= {f"intake {n + 1}": host.processes["intake"].pid for n, host in enumerate(hosts)}
        if nats.process is not None:
            pids["nats-server"] = nats.process.pid
        bodies = report_bodies(7, anonymous=None)
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        began = time.perf_counter()
        accepted = asyncio.run(
            closed_loop([h.url("intake") for h in hosts], bodies, citizens, seconds)
        )
        elapsed = time.perf_counter() - began
        cpu = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
        return {"accepted": accepted, "seconds": elapsed, "cpu": cpu}
    finally:
        for host in hosts:
            host.stop_all()
        nats.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--citizens", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--intakes", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print_header("Scale-out: intake processes on one store")
    stores: dict[str, str | None] = {"sqlite": None}
    if os.environ.get("LAPOR_TEST_KURRENTDB_URL"):
        stores["kurrentdb"] = os.environ["LAPOR_TEST_KURRENTDB_URL"]
    rows: list[list[object]] = []
    figures: dict[str, object] = {}
    for store_name, url in stores.items():
        for n in args.intakes:
            best: dict[str, Any] | None = None
            for _ in range(args.runs):
                with scratch("scale") as root:
                    outcome = run_case(root, n, args.citizens, args.seconds, url)
                rate = outcome["accepted"] / outcome["seconds"]
                if best is None or rate > best["accepted"] / best["seconds"]:
                    best = outcome
            assert best is not None
            rate = best["accepted"] / best["seconds"]
            ms_per_report = {
                name: round(seconds * 1000 / max(1, best["accepted"]), 2)
                for name, seconds in best["cpu"].items()
            }
            rows.append(
                [
                    store_name,
                    n,
                    f"{rate:,.0f}",
                    ", ".join(f"{k} {v}" for k, v in ms_per_report.items()),
                    f"{sum(ms_per_report.values()):.2f}",
                ]
            )
            figures[f"{store_name}_reports_per_second_intakes_{n}"] = round(rate, 1)
            figures[f"{store_name}_cpu_ms_per_report_intakes_{n}"] = round(
                sum(ms_per_report.values()), 2
            )
    print(
        table(
            ["store", "intakes", "reports/s (best)", "CPU ms per report by process", "total"],
            rows,
        )
    )
    print(f"\nload average at end: {load_average()}")
    result(**figures)


if __name__ == "__main__":
    main()
