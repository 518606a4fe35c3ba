"""Memory: resident size (VmRSS) of every LAPOR process idle, under load, and idle again; and
what each process costs while nothing happens (CPU share of one core over 10 idle seconds).

    .venv/bin/python -m bench.memory [--seconds 15] [--citizens 16] [--runs 2]

A fresh system per run (nats-server, the relay, all five services as separate processes via
tests.support.start_system). Idle: 5 s after every service answered /readyz. Load: citizens
submitting over HTTP for `--seconds` and an admin bulk-verifying what they sent (so routing,
sla and notify have work), RSS sampled every 0.25 s (the peak is shown). After: 5 s later.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time

from bench.common import (
    cpu_seconds,
    load_average,
    print_header,
    result,
    rss_mb,
    scratch,
    table,
    verdict,
)
from bench.end_to_end import Run, bulk_verify, closed_loop, report_bodies
from shared.logs import configure_logging
from shared.runtime.messaging import mark_shutting_down
from shared.settings import SERVICE_NAMES
from tests.support import nats_server, start_system

IDLE_TARGET_MB = 120
IDLE_CPU_SECONDS = 10.0


async def one_run(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    with scratch("memory") as directory, nats_server(directory) as nats:
        env = {"LAPOR_INTAKE_SUBMISSIONS_PER_MINUTE": "0"}
        system = await asyncio.to_thread(
            start_system, directory / "data", nats.url, SERVICE_NAMES, env
        )
        try:
            pids = {name: p.pid for name, p in system.processes.items()}
            if nats.process is not None:
                pids["nats-server"] = nats.process.pid
            await asyncio.sleep(5)
            idle = {name: rss_mb(pid) for name, pid in pids.items()}
            cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            await asyncio.sleep(IDLE_CPU_SECONDS)
            idle_cpu = {
                name: (cpu_seconds(pid) - cpu_before[name]) / IDLE_CPU_SECONDS
                for name, pid in pids.items()
            }
            peak = dict(idle)
            done = asyncio.Event()

            async def sample() -> None:
                while not done.is_set():
                    for name, pid in pids.items():
                        peak[name] = max(peak[name], rss_mb(pid))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(done.wait(), 0.25)

            sampler = asyncio.create_task(sample())
            run = Run()
            began = time.time()
            _, reports = await closed_loop(
                system, run, report_bodies(21, None), args.citizens, args.seconds, 0, 0.01
            )
            await bulk_verify(system, run, reports, 2, 0, 0.01)
            load_seconds = time.time() - began
            done.set()
            await sampler
            await asyncio.sleep(5)
            after = {name: rss_mb(pid) for name, pid in pids.items()}
            print(
                f"  run: {len(reports)} reports submitted and verified in {load_seconds:.0f} s",
                file=sys.stderr,
            )
            return {
                name: {
                    "idle": idle[name],
                    "peak": peak[name],
                    "after": after[name],
                    "idle_cpu": idle_cpu[name],
                }
                for name in pids
            }
        finally:
            await asyncio.to_thread(system.stop_all)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--citizens", type=int, default=16)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    configure_logging("bench", "WARNING")
    mark_shutting_down()
    print_header("Memory: resident size of each process")
    runs = [asyncio.run(one_run(args)) for _ in range(args.runs)]
    rows = []
    checks = []
    for name in runs[0]:
        idles = [r[name]["idle"] for r in runs]
        best = min(runs, key=lambda r: r[name]["idle"])[name]
        spread = f"{min(idles):.0f}–{max(idles):.0f}" if len(idles) > 1 else "(1 run)"
        peaks = max(r[name]["peak"] for r in runs)
        rows.append(
            [
                name,
                f"{best['idle']:.0f}",
                spread,
                f"{peaks:.0f}",
                f"{best['after']:.0f}",
                f"{min(r[name]['idle_cpu'] for r in runs):.1%}",
            ]
        )
        if name != "nats-server":
            checks.append(
                f"{name}: idle {best['idle']:.0f} MB"
                f" (target < {IDLE_TARGET_MB} MB: {verdict(best['idle'] < IDLE_TARGET_MB)})"
            )
    print(
        table(
            [
                "process",
                "idle MB (best)",
                "idle spread",
                "peak under load MB",
                "after load MB",
                "idle CPU (of a core)",
            ],
            rows,
        )
    )
    print()
    for line in checks:
        print("- " + line)
    print(f"\nload average at end: {load_average()}")
    result(
        idle_mb={name: round(min(r[name]["idle"] for r in runs)) for name in runs[0]},
        peak_mb={name: round(max(r[name]["peak"] for r in runs)) for name in runs[0]},
        idle_cpu_share={name: round(min(r[name]["idle_cpu"] for r in runs), 4) for name in runs[0]},
        idle_cpu_share_total=round(
            sum(min(r[name]["idle_cpu"] for r in runs) for name in runs[0]), 4
        ),
    )


if __name__ == "__main__":
    main()
