"""Start-up: how long each service takes from `lapor run NAME` to `/readyz` 200 on an empty
store, and how long CLI commands take to answer.

    .venv/bin/python -m bench.startup [--runs 3] [--services intake verification ...]

Targets (DESIGN, issue 21): a service ready <= 3 s after start; `lapor token create` and other
CLI commands <= 1 s. One nats-server (JetStream) for the run; each service starts alone, in a
fresh data directory, so the services do not compete for the two cores; the clock starts just
before the process is spawned and stops at the first 200 of `/readyz` (polled every 20 ms).
The relay starts with each service (it declares the stream the service consumes), as `lapor up`
starts them. CLI commands run as `.venv/bin/lapor ...` (the console script a person types),
best of the runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.common import load_average, print_header, result, scratch, table, verdict
from shared.settings import SERVICE_NAMES
from tests.support import NatsServer, System, free_port

CLI_COMMANDS: dict[str, list[str]] = {
    "lapor --help": ["--help"],
    "lapor token create": ["token", "create", "--role", "admin", "--subject", "bench"],
    "lapor store --help": ["store", "--help"],
}


def ready_seconds(name: str, nats_url: str, directory: Path, limit: float = 60.0) -> float:
    directory.mkdir(parents=True)
    system = System(directory, nats_url, {name: free_port(), "relay_metrics": free_port()})
    # The relay declares the stream the service consumes: both start together, as `lapor up`
    # starts them; the clock runs from the service's spawn.
    system.start("relay")
    began = time.perf_counter()
    system.start(name)
    try:
        while time.perf_counter() - began < limit:
            if system.processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited: {system.log(name)[-2000:]}")
            try:
                if httpx.get(f"{system.url(name)}/readyz", timeout=1).status_code == 200:
                    return time.perf_counter() - began
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"{name} not ready after {limit:.0f} s")
    finally:
        system.stop_all()


def cli_seconds(args: list[str], directory: Path) -> float:
    lapor = str(Path(sys.executable).parent / "lapor")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_")}
    env.update(LAPOR_DATA_DIR=str(directory), LAPOR_SECRET_KEY="bench-secret")
    began = time.perf_counter()
    subprocess.run([lapor, *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--services", nargs="+", default=[*SERVICE_NAMES])
    args = parser.parse_args()
    print_header("Start-up: /readyz after start, CLI answers")
    rows: list[list[object]] = []
    checks: list[str] = []
    ready: dict[str, float] = {}
    cli: dict[str, float] = {}
    with scratch("startup") as root:
        nats = NatsServer(free_port(), root / "nats")
        nats.start()
        try:
            for name in args.services:
                times = [
                    ready_seconds(name, nats.url, root / f"{name}-{run}")
                    for run in range(args.runs)
                ]
                ready[name] = round(min(times), 2)
                rows.append(
                    [f"{name}: start -> /readyz 200", f"{min(times):.2f}", f"{max(times):.2f}"]
                )
                checks.append(
                    f"{name} ready in {min(times):.2f} s (<= 3 s: {verdict(min(times) <= 3)})"
                )
        finally:
            nats.stop()
        for label, command in CLI_COMMANDS.items():
            times = [cli_seconds(command, root / "cli") for _ in range(args.runs)]
            cli[label] = round(min(times), 2)
            rows.append([label, f"{min(times):.2f}", f"{max(times):.2f}"])
            checks.append(f"{label} in {min(times):.2f} s (<= 1 s: {verdict(min(times) <= 1)})")
    print(table(["what", "best s", "worst s"], rows))
    print()
    for line in checks:
        print("- " + line)
    print(f"\nload average at end: {load_average()}")
    result(ready_seconds=ready, cli_seconds=cli)


if __name__ == "__main__":
    main()
