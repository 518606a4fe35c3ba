"""End to end: citizens submitting over HTTP to a running system; throughput, submission to
visible in the public view, and after a bulk verify, verified to ForwardedToOPD visible.

    .venv/bin/python -m bench.end_to_end [--citizens 32] [--seconds 15] [--rate 0]
        [--verify 2000] [--services intake verification routing] [--profile]

The system is real: nats-server, the relay, and the services as separate processes
(tests.support.start_system), sharing one data directory on this disk.

Phase 1, submissions (closed loop): N citizens each POST /api/v1/reports back to back for
`--seconds`. With `--rate R` also an open-loop phase at R reports/s (arrival times fixed in
advance, latency counted from the planned arrival, so a slow system cannot hide its queue).

"Visible" is the moment intake's public view holds the report: a watcher in this process
follows intake's view file read-only (its `timeline` table, every 2 ms: the rows the public
routes read) and a sample of reports (`--http-every`) is also polled with
GET /api/v1/reports/{id} until 200, to show both agree. Polling every report over HTTP would
load intake more than the submissions do.

Phase 2, bulk verify: an admin verifies `--verify` of the submitted reports through
POST /api/v1/bulk-verify (200 per call, `--admins` calls at a time); routing forwards each
verified report by its rules; the time from each bulk call's answer to ForwardedToOPD visible
in intake's view (agency_code set) is measured the same way.

Where the time goes: a core NATS subscription records when the relay published each event,
so the latency splits into POST (HTTP + decide + append with fsync), store to JetStream
(relay), and JetStream to view (consumer batch wait, store read, projection). CPU seconds of
every process during the load say who is busy; `--profile` adds py-spy profiles.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    cpu_seconds,
    load_average,
    ms,
    pct,
    print_header,
    result,
    scratch,
    submit_command,
    table,
    verdict,
)
from shared.logs import configure_logging
from shared.runtime.messaging import connect, mark_shutting_down
from tests.support import System, nats_server, start_system


@dataclass
class Report:
    tracking_id: str
    planned: float  # wall time the citizen started (or was due to start) the submission
    answered: float = 0.0  # 201 received
    published: float = 0.0  # the relay published ReportSubmitted (seen on NATS)
    occurred: float = 0.0  # the event's occurred_at (intake's clock, before the append)
    visible: float = 0.0  # in intake's view
    http_visible: float = 0.0  # GET answered 200 (sampled)
    verified: float = 0.0  # the bulk-verify call that verified it answered
    verify_sent: float = 0.0
    verified_at: float = 0.0  # ReportVerified's occurred_at (when the desk decided it)
    forward_published: float = 0.0
    forwarded: float = 0.0  # ForwardedToOPD in intake's view
    http_forwarded: float = 0.0  # GET showed agency_code (sampled)


@dataclass
class Run:
    reports: dict[str, Report] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    # What the watchers saw before this process had read the 201 (the view can be quicker).
    early: dict[tuple[str, str], float] = field(default_factory=dict)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    def add(self, report: Report) -> None:
        self.reports[report.tracking_id] = report
        tid = report.tracking_id
        report.visible = self.early.pop((tid, "visible"), 0.0)
        report.published = self.early.pop((tid, "published"), 0.0)
        report.occurred = self.early.pop((tid, "occurred"), 0.0)


def report_bodies(seed: int, anonymous: float | None, count: int = 2000) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [report_body(rng, anonymous) for _ in range(count)]


def report_body(rng: random.Random, anonymous: float | None = None) -> dict[str, Any]:
    """A web submission; `anonymous` overrides the share of anonymous reports (about 20%)."""
    c = submit_command(rng)
    if anonymous is not None:
        c = c.model_copy(update={"anonymous": rng.random() < anonymous})
    return {
        "classification": c.classification.value,
        "title": c.title,
        "body": c.body,
        "category": c.category,
        "location": c.location.model_dump(mode="json"),
        "anonymous": c.anonymous,
        "confidential": False,
        "reporter": None if c.anonymous else {"name": "Warga", "phone": "+6281234567890"},
    }


# --- watchers ---------------------------------------------------------------------------------
async def watch_view(view: Path, run: Run, stop: asyncio.Event) -> None:
    """Follow intake's timeline table: the moment each event is committed to the view."""
    while not await asyncio.to_thread(view.exists):  # noqa: ASYNC110 - a file, not an event
        await asyncio.sleep(0.01)
    conn = sqlite3.connect(f"file:{view}?mode=ro", uri=True, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=1000")
    position = 0
    try:
        while not stop.is_set():
            try:
                rows = conn.execute(
                    "SELECT position, tracking_id, event_type FROM timeline WHERE position > ?"
                    " ORDER BY position",
                    (position,),
                ).fetchall()
            except sqlite3.OperationalError:
                rows = []
            now = time.time()
            for pos, tid, event_type in rows:
                position = pos
                report = run.reports.get(tid)
                if report is None:
                    if event_type == "ReportSubmitted":
                        run.early[(tid, "visible")] = now
                    continue
                if event_type == "ReportSubmitted" and not report.visible:
                    report.visible = now
                elif event_type == "ForwardedToOPD" and not report.forwarded:
                    report.forwarded = now
            await asyncio.sleep(0.002)
    finally:
        conn.close()


async def watch_nats(url: str, run: Run, stop: asyncio.Event) -> None:
    """When the relay published each report's events (a plain subscription on the subjects)."""
    nc = await connect(url, "bench-watch")

    async def on_message(msg: Any) -> None:
        now = time.time()
        event_type = msg.subject.split(".")[3]
        if event_type not in ("ReportSubmitted", "ReportVerified", "ForwardedToOPD"):
            return
        body = json.loads(msg.data)
        tid = body["stream"].removeprefix("report-")
        report = run.reports.get(tid)
        if report is None:
            if event_type == "ReportSubmitted":
                run.early[(tid, "published")] = now
                run.early[(tid, "occurred")] = _iso(body["occurred_at"])
            return
        if event_type == "ReportSubmitted":
            report.published = now
            report.occurred = _iso(body["occurred_at"])
        elif event_type == "ReportVerified":
            report.verified_at = _iso(body["occurred_at"])
        else:
            report.forward_published = now

    await nc.subscribe("lapor.v1.events.>", cb=on_message, pending_msgs_limit=1_000_000)
    await stop.wait()
    await nc.drain()


def _iso(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()


async def http_visible(
    client: httpx.AsyncClient, report: Report, poll: float, forwarded: bool
) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        response = await client.get(f"/api/v1/reports/{report.tracking_id}")
        if response.status_code == 200 and not forwarded:
            report.http_visible = time.time()
            return
        if response.status_code == 200 and response.json().get("agency_code"):
            report.http_forwarded = time.time()
            return
        await asyncio.sleep(poll)


# --- load -------------------------------------------------------------------------------------
async def submit_one(
    client: httpx.AsyncClient, run: Run, body: dict[str, Any], planned: float
) -> Report | None:
    try:
        response = await client.post("/api/v1/reports", json=body)
    except httpx.HTTPError as error:
        run.error(type(error).__name__)
        return None
    if response.status_code != 201:
        run.error(f"HTTP {response.status_code}")
        return None
    tid = response.json()["tracking_id"]
    report = Report(tid, planned, answered=time.time())
    run.add(report)
    return report


async def closed_loop(
    system: System,
    run: Run,
    bodies: list[dict[str, Any]],
    citizens: int,
    seconds: float,
    http_every: int,
    poll: float,
) -> tuple[float, list[Report]]:
    mine: list[Report] = []
    probes: list[asyncio.Task[None]] = []
    limits = httpx.Limits(
        max_connections=citizens + 16, max_keepalive_connections=citizens + 16, keepalive_expiry=2
    )
    async with httpx.AsyncClient(
        base_url=system.url("intake"), timeout=30, limits=limits
    ) as client:
        deadline = time.time() + seconds

        async def citizen(k: int) -> None:
            i = k
            while time.time() < deadline:
                planned = time.time()
                report = await submit_one(client, run, bodies[i % len(bodies)], planned)
                i += citizens
                if report is None:
                    continue
                mine.append(report)
                if http_every and len(mine) % http_every == 0:
                    probes.append(asyncio.create_task(http_visible(client, report, poll, False)))

        began = time.time()
        await asyncio.gather(*(citizen(k) for k in range(citizens)))
        elapsed = time.time() - began
        await asyncio.gather(*probes)
    return elapsed, mine


async def open_loop(
    system: System,
    run: Run,
    bodies: list[dict[str, Any]],
    rate: float,
    seconds: float,
    http_every: int,
    poll: float,
) -> tuple[float, list[Report]]:
    mine: list[Report] = []
    tasks: list[asyncio.Task[None]] = []
    probes: list[asyncio.Task[None]] = []
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256, keepalive_expiry=2)
    async with httpx.AsyncClient(
        base_url=system.url("intake"), timeout=30, limits=limits
    ) as client:

        async def one(i: int, planned: float) -> None:
            report = await submit_one(client, run, bodies[i % len(bodies)], planned)
            if report is None:
                return
            mine.append(report)
            if http_every and len(mine) % http_every == 0:
                probes.append(asyncio.create_task(http_visible(client, report, poll, False)))

        began = time.time()
        total = int(rate * seconds)
        for i in range(total):
            planned = began + i / rate
            delay = planned - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, planned)))
        await asyncio.gather(*tasks)
        elapsed = time.time() - began
        await asyncio.gather(*probes)
    return elapsed, mine


async def bulk_verify(
    system: System, run: Run, reports: Sequence[Report], admins: int, http_every: int, poll: float
) -> float:
    token = system.token("admin")
    chunks = [list(reports[i : i + 200]) for i in range(0, len(reports), 200)]
    queue = iter(chunks)
    probes: list[asyncio.Task[None]] = []
    async with (
        httpx.AsyncClient(
            base_url=system.url("verification"),
            timeout=120,
            headers={"Authorization": f"Bearer {token}"},
        ) as admin,
        httpx.AsyncClient(base_url=system.url("intake"), timeout=30) as public,
    ):

        async def desk() -> None:
            for chunk in queue:
                sent = time.time()
                for report in chunk[::http_every] if http_every else ():
                    probes.append(asyncio.create_task(http_visible(public, report, poll, True)))
                response = await admin.post(
                    "/api/v1/bulk-verify", json={"tracking_ids": [r.tracking_id for r in chunk]}
                )
                done = time.time()
                if response.status_code != 200:
                    run.error(f"bulk-verify HTTP {response.status_code}")
                    continue
                outcomes = {r["tracking_id"]: r["outcome"] for r in response.json()["results"]}
                for report in chunk:
                    if outcomes.get(report.tracking_id) == "verified":
                        report.verify_sent, report.verified = sent, done
                    else:
                        run.error(f"bulk-verify {outcomes.get(report.tracking_id)}")

        began = time.time()
        await asyncio.gather(*(desk() for _ in range(admins)))
        elapsed = time.time() - began
        await asyncio.gather(*probes)
    return elapsed


async def settle(run: Run, reports: Sequence[Report], attr: str, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and any(not getattr(r, attr) for r in reports):  # noqa: ASYNC110
        await asyncio.sleep(0.05)


# --- processes ------------------------------------------------------------------------------
def cpu_snapshot(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def profile(pids: dict[str, int], seconds: float, out: Path) -> list[subprocess.Popen[bytes]]:
    py_spy = str(Path(sys.executable).parent / "py-spy")
    procs = []
    for name, pid in pids.items():
        if name in ("nats-server", "bench"):
            continue
        procs.append(
            subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "--gil",  # what holds the interpreter: a service's CPU, not its waits
                    "--nonblocking",  # sampled without pausing it (a paused service falls behind)
                    "-p",
                    str(pid),
                    "-d",
                    str(int(seconds)),
                    "-r",
                    "200",
                    "-f",
                    "raw",
                    "-o",
                    str(out / f"{name}.raw"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    return procs


_IDLE = ("select", "wait", "poll", "sleep", "_worker", "get (queue.py", "acquire", "epoll")


def summarise_profile(path: Path, top: int = 16) -> str:
    """Where a process spent its busy samples (py-spy raw output; idle waits left out): each
    function's inclusive share, our code and the libraries it calls."""
    busy = 0
    inclusive: dict[str, int] = {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f for f in stack.split(";") if not f.startswith(("thread", "process"))]
        if not frames or any(word in frames[-1] for word in _IDLE):
            continue
        n = int(count)
        busy += n
        for name in {
            f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0] + ")" for f in frames
        }:
            inclusive[name] = inclusive.get(name, 0) + n
    ranked = sorted(((n, f) for f, n in inclusive.items()), reverse=True)
    plumbing = ("typer/", "click/", "runpy", "uvicorn/server", "uvicorn/_compat", "asyncio/")
    lines = [f"  {n / busy:6.1%}  {f}" for n, f in ranked if not any(p in f for p in plumbing)][
        :top
    ]
    return f"{path.stem}: {busy} busy samples\n" + "\n".join(lines)


def summarise_profiles(directory: Path) -> str:
    return "\n".join(summarise_profile(path) for path in sorted(directory.glob("*.raw")))


# --- report -------------------------------------------------------------------------------------
def latency_row(name: str, values: Sequence[float], extra: str = "") -> list[object]:
    return [
        name,
        len(values),
        ms(pct(values, 50)),
        ms(pct(values, 99)),
        ms(max(values, default=float("nan"))),
        extra,
    ]


def phase_rows(label: str, reports: Sequence[Report]) -> list[list[object]]:
    post = [r.answered - r.planned for r in reports]
    vis = [r.visible - r.planned for r in reports if r.visible]
    http = [r.http_visible - r.planned for r in reports if r.http_visible]
    relay = [r.published - r.occurred for r in reports if r.published and r.occurred]
    consume = [r.visible - r.published for r in reports if r.visible and r.published]
    return [
        latency_row(f"{label}: POST -> 201", post),
        latency_row(
            f"{label}: submission -> visible (view watcher)",
            vis,
            f"{len(reports) - len(vis)} never seen" if len(vis) < len(reports) else "",
        ),
        latency_row(f"{label}: submission -> GET 200 (HTTP sample)", http),
        latency_row(f"{label}:   of which event stored -> on NATS (relay)", relay),
        latency_row(f"{label}:   of which on NATS -> in intake's view", consume),
    ]


async def main_async(args: argparse.Namespace) -> None:
    configure_logging("bench", "WARNING")
    mark_shutting_down()
    with scratch("e2e", keep=args.keep) as directory, nats_server(directory) as nats:
        env = {"LAPOR_INTAKE_SUBMISSIONS_PER_MINUTE": "0", "LAPOR_LOG_LEVEL": args.log_level}
        system = await asyncio.to_thread(
            start_system, directory / "data", nats.url, tuple(args.services), env
        )
        try:
            await run_phases(args, system, nats.process.pid if nats.process else 0, directory)
        finally:
            await asyncio.to_thread(system.stop_all)


async def run_phases(
    args: argparse.Namespace, system: System, nats_pid: int, directory: Path
) -> None:
    import os

    run = Run()
    stop = asyncio.Event()
    watchers = [
        asyncio.create_task(watch_view(system.data_dir / "intake.db", run, stop)),
        asyncio.create_task(watch_nats(system.nats_url, run, stop)),
    ]
    pids = {name: p.pid for name, p in system.processes.items()}
    pids["nats-server"] = nats_pid
    pids["bench"] = os.getpid()
    # Warm up: a few reports through the whole path (connections, caches, JetStream consumers).
    bodies = report_bodies(11, args.anonymous)
    await closed_loop(system, Run(), bodies, 4, 2.0, 0, args.poll)
    rows: list[list[object]] = []
    summary: list[str] = []
    cpu_rows: list[list[object]] = []
    profiles: list[subprocess.Popen[bytes]] = []
    if args.profile:
        profiles = profile(pids, args.seconds, directory)

    cpu0, t0 = cpu_snapshot(pids), time.time()
    elapsed, closed = await closed_loop(
        system, run, bodies, args.citizens, args.seconds, args.http_every, args.poll
    )
    cpu1, t1 = cpu_snapshot(pids), time.time()
    await settle(run, closed, "visible", 30)
    throughput = len(closed) / elapsed
    summary.append(
        f"closed loop, {args.citizens} citizens, {elapsed:.1f} s: {len(closed)} reports,"
        f" {throughput:,.0f} reports/s accepted (target 500: {verdict(throughput >= 500)})"
    )
    rows += phase_rows(f"closed loop ({args.citizens} citizens)", closed)
    for name in pids:
        cpu_rows.append(
            [
                name,
                f"{(cpu1[name] - cpu0[name]) / (t1 - t0):.0%}",
                f"{(cpu1[name] - cpu0[name]) / max(1, len(closed)) * 1e3:.2f}",
            ]
        )
    per_report = {
        name: (cpu1[name] - cpu0[name]) / max(1, len(closed)) * 1e3
        for name in pids
        if name != "bench"
    }
    figures: dict[str, object] = {
        # LAPOR's processes (relay, services, nats-server): the load generator is not LAPOR's.
        "cpu_ms_per_report": round(sum(per_report.values()), 3),
        "cpu_ms_per_report_by_process": {k: round(v, 3) for k, v in per_report.items()},
        "reports_per_second_closed_loop": round(throughput, 1),
    }
    for proc in profiles:
        await asyncio.to_thread(proc.wait)

    opened: list[Report] = []
    if args.rate:
        elapsed, opened = await open_loop(
            system,
            run,
            report_bodies(12, args.anonymous),
            args.rate,
            args.open_seconds,
            args.http_every,
            args.poll,
        )
        await settle(run, opened, "visible", 30)
        achieved = len(opened) / elapsed
        vis = [r.visible - r.planned for r in opened if r.visible]
        p99 = pct(vis, 99)
        figures["open_loop_rate"] = args.rate
        figures["p99_submission_to_visible_ms"] = round(p99 * 1000, 1) if p99 else None
        summary.append(
            f"open loop at {args.rate:g}/s for {args.open_seconds:g} s: {len(opened)} reports,"
            f" {achieved:,.0f}/s achieved; p99 submission->visible {ms(p99)} ms"
            + (
                f" (target < 250 ms at 500/s: {verdict(achieved >= 500 and p99 < 0.25)})"
                if args.rate >= 500
                else " (below the 500/s of the target: the latency at a rate this machine holds)"
            )
        )
        rows += phase_rows(f"open loop ({args.rate:g}/s)", opened)

    if args.verify:
        chosen = (closed + opened)[: args.verify]
        elapsed = await bulk_verify(system, run, chosen, args.admins, args.http_every, args.poll)
        verified = [r for r in chosen if r.verified]
        await settle(run, verified, "forwarded", 60)
        summary.append(
            f"bulk verify: {len(verified)} reports in {elapsed:.1f} s"
            f" ({len(verified) / elapsed:,.0f} verified/s, {args.admins} admins x 200 per call)"
        )
        fwd = [r.forwarded - r.verified_at for r in verified if r.forwarded and r.verified_at]
        fwd_sent = [r.forwarded - r.verify_sent for r in verified if r.forwarded]
        http = [
            r.http_forwarded - r.verified_at for r in verified if r.http_forwarded and r.verified_at
        ]
        relay = [
            r.forward_published - r.verified_at
            for r in verified
            if r.forward_published and r.verified_at
        ]
        view = [
            r.forwarded - r.forward_published
            for r in verified
            if r.forwarded and r.forward_published
        ]
        rows += [
            latency_row(
                "ReportVerified -> ForwardedToOPD visible (view watcher)",
                fwd,
                f"{len(verified) - len(fwd)} never seen" if len(fwd) < len(verified) else "",
            ),
            latency_row("bulk-verify call sent -> ForwardedToOPD visible", fwd_sent),
            latency_row("ReportVerified -> agency_code in GET (HTTP sample)", http),
            latency_row(
                "  of which verified -> ForwardedToOPD on NATS (relay, routing, relay)", relay
            ),
            latency_row("  of which on NATS -> in intake's view", view),
        ]
    stop.set()
    for task in watchers:
        with contextlib.suppress(Exception):
            await task

    print(table(["measure", "n", "p50 ms", "p99 ms", "max ms", "notes"], rows))
    print()
    print(table(["process", "CPU during closed loop (of one core)", "CPU ms per report"], cpu_rows))
    print()
    for line in summary:
        print("- " + line)
    if run.errors:
        print(f"- errors: {run.errors}")
    if args.profile:
        print("\nprofiles (py-spy, inclusive share of samples, our code only):")
        print(await asyncio.to_thread(summarise_profiles, directory))
    print(f"\nload average at end: {load_average()}")
    result(**figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--citizens", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15.0, help="Closed-loop phase")
    parser.add_argument("--rate", type=float, default=0.0, help="Open-loop phase rate (0: none)")
    parser.add_argument("--open-seconds", type=float, default=10.0)
    parser.add_argument("--verify", type=int, default=2000, help="Reports to bulk verify (0: none)")
    parser.add_argument("--admins", type=int, default=2, help="Concurrent bulk-verify calls")
    parser.add_argument("--http-every", type=int, default=50, help="HTTP-poll every Nth report")
    parser.add_argument("--poll", type=float, default=0.01, help="HTTP poll interval, s")
    parser.add_argument("--services", nargs="+", default=["intake", "verification", "routing"])
    parser.add_argument(
        "--anonymous",
        type=float,
        default=None,
        help="Share of anonymous reports (no reporter, no data key); default about 0.2",
    )
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--profile", action="store_true", help="py-spy every service")
    parser.add_argument("--keep", action="store_true", help="Keep the data directory")
    args = parser.parse_args()
    print_header("End to end over HTTP")
    print(f"services: relay, {', '.join(args.services)}; nats-server; this load generator\n")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
