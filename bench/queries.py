"""Queries: p50/p99 of the public list, search and a report page with a million reports in
intake's views, over HTTP against a running intake, beside the same SQL run directly.

    .venv/bin/python -m bench.queries [--reports 1000000] [--requests 300] [--runs 2]

The views are built once by `Projector.rebuild` (intake's own create_projector) from a
generated store of `--reports` reports (most only submitted, a fifth verified and forwarded,
some followed up and closed) and cached in bench/.data/. Intake then runs as its own process
(`python -m cli.main run intake`) on that data directory, with a nats-server but no relay
(nothing new is published; intake's checkpoint is already at the end of the store).
One client asks each query `--requests` times in turn, after a warm-up; the SQL the route
runs is timed the same way on a read-only connection (the floor under the HTTP figure).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    DATA,
    Sample,
    generated_store,
    load_average,
    ms,
    print_header,
    result,
    rss_mb,
    scratch,
    table,
    verdict,
)
from services.intake import views
from shared.logs import configure_logging
from shared.runtime.messaging import connect, declare_event_stream, mark_shutting_down
from shared.runtime.projection import open_view_db
from shared.settings import Settings
from shared.store.sqlite import SqliteEventStore
from tests.support import ROOT, free_port, nats_server, wait_for

PROGRESS = 0.2


def build_views(reports: int) -> Path:
    """The data directory holding intake's views of `reports` reports (built once, cached)."""
    store = generated_store(reports=reports, progress=PROGRESS)
    directory = DATA / f"views-{store.stem}"
    done = directory / "built"
    if done.exists():
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("intake.db*"):
        stale.unlink()
    from services.intake.bootstrap import create_projector

    settings = Settings(data_dir=directory, event_store=f"sqlite:///{store}")

    async def go() -> int:
        projector = create_projector(settings)
        source = SqliteEventStore(store)
        began = time.monotonic()

        def progress(position: int, total: int) -> None:
            print(
                f"\r  building intake's views: {position:,}/{total:,}"
                f" ({position / (time.monotonic() - began):,.0f} events/s)",
                end="",
                file=sys.stderr,
                flush=True,
            )

        try:
            return await projector.rebuild(source, progress)
        finally:
            print(file=sys.stderr)
            projector.close()
            await source.close()

    count = asyncio.run(go())
    conn = sqlite3.connect(settings.view_db("intake"))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    # What intake's upgrade_views stamps on a file it opens: without it a view file made by a
    # rebuild into a fresh directory counts as stale, and intake drops and rebuilds it on start.
    conn.execute(f"PRAGMA user_version = {views.VERSION}")
    conn.close()
    done.write_text(f"{count}\n")
    return directory


@dataclass
class Query:
    name: str
    path: Callable[[random.Random], str]
    sql: Callable[[random.Random], tuple[str, list[Any]]] | None


def queries(conn: sqlite3.Connection) -> list[Query]:
    """The public queries, with the SQL each route runs (for the floor)."""
    max_seq = conn.execute("SELECT MAX(seq) FROM reports").fetchone()[0]
    rng = random.Random(3)
    ids: list[str] = []
    while len(ids) < 2000:
        wanted = [rng.randint(1, max_seq) for _ in range(500)]
        marks = ",".join("?" * len(wanted))
        ids += [
            r[0]
            for r in conn.execute(
                f"SELECT tracking_id FROM reports WHERE seq IN ({marks}) AND confidential = 0",
                wanted,
            )
        ]
    forwarded = [
        r[0]
        for r in conn.execute(
            "SELECT tracking_id FROM reports WHERE status = 'forwarded' AND confidential = 0"
            " AND seq > ? LIMIT 500",
            (max_seq // 2,),
        )
    ]
    deep = max_seq // 2

    def listing(f: views.ReportFilter, before: int | None = None) -> Callable[[Any], Any]:
        def sql(_: random.Random) -> tuple[str, list[Any]]:
            query = views.list_query(f, 51, before, 0)
            assert query is not None
            return query

        return sql

    def report_sql(r: random.Random) -> tuple[str, list[Any]]:
        return "SELECT * FROM reports WHERE tracking_id = ?", [r.choice(ids)]

    def timeline_sql(r: random.Random) -> tuple[str, list[Any]]:
        return (
            "SELECT event_type, occurred_at, actor_kind, details FROM timeline"
            " WHERE tracking_id = ? ORDER BY position",
            [r.choice(forwarded or ids)],
        )

    F = views.ReportFilter
    return [
        Query("list: newest 50", lambda r: "/api/v1/reports", listing(F())),
        Query(
            "list: status=forwarded",
            lambda r: "/api/v1/reports?status=forwarded",
            listing(F(status="forwarded")),
        ),
        Query(
            "list: region=5371 (city)",
            lambda r: "/api/v1/reports?region=5371",
            listing(F(region="5371")),
        ),
        Query(
            "list: category=kesehatan",
            lambda r: "/api/v1/reports?category=kesehatan",
            listing(F(category="kesehatan")),
        ),
        Query(
            "list: page in the middle (cursor)",
            lambda r: f"/api/v1/reports?cursor={deep}",
            listing(F(), deep),
        ),
        Query(
            "search: q=jalan (common)", lambda r: "/api/v1/reports?q=jalan", listing(F(q="jalan"))
        ),
        Query(
            "search: q=jalan rusak berlubang",
            lambda r: "/api/v1/reports?q=jalan+rusak+berlubang",
            listing(F(q="jalan rusak berlubang")),
        ),
        Query(
            "search: q=oenesu (rare)", lambda r: "/api/v1/reports?q=oenesu", listing(F(q="oenesu"))
        ),
        Query(
            "search: q=puskesmas&region=53",
            lambda r: "/api/v1/reports?q=puskesmas&region=53",
            listing(F(q="puskesmas", region="53")),
        ),
        Query(
            "report: GET /api/v1/reports/{id}",
            lambda r: f"/api/v1/reports/{r.choice(ids)}",
            report_sql,
        ),
        Query(
            "report: GET .../{id}/timeline",
            lambda r: f"/api/v1/reports/{r.choice(forwarded or ids)}/timeline",
            timeline_sql,
        ),
        Query("html: /laporan (browse page)", lambda r: "/laporan", None),
        Query("html: /laporan?q=sampah", lambda r: "/laporan?q=sampah", None),
        Query(
            "html: /laporan/{id} (report page)",
            lambda r: f"/laporan/{r.choice(forwarded or ids)}",
            None,
        ),
    ]


def time_sql(conn: sqlite3.Connection, query: Query, n: int) -> Sample:
    assert query.sql is not None
    rng = random.Random(5)
    latencies = []
    for _ in range(n):
        sql, params = query.sql(rng)
        t0 = time.perf_counter()
        conn.execute(sql, params).fetchall()
        latencies.append(time.perf_counter() - t0)
    return Sample(n, sum(latencies), latencies)


def time_http(client: httpx.Client, query: Query, n: int) -> Sample:
    rng = random.Random(5)
    latencies = []
    for _ in range(n):
        path = query.path(rng)
        t0 = time.perf_counter()
        response = client.get(path)
        latencies.append(time.perf_counter() - t0)
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code} {response.text[:200]}")
    return Sample(n, sum(latencies), latencies)


def start_intake(data_dir: Path, store: Path, nats_url: str, port: int) -> subprocess.Popen[bytes]:
    import os

    async def declare() -> None:  # what the relay would do: intake waits for the stream
        nc = await connect(nats_url, "bench-queries")
        await declare_event_stream(nc.jetstream())
        await nc.drain()

    asyncio.run(declare())
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_")}
    env.update(
        LAPOR_DATA_DIR=str(data_dir),
        LAPOR_EVENT_STORE=f"sqlite:///{store}",
        LAPOR_NATS_URL=nats_url,
        LAPOR_INTAKE_PORT=str(port),
        LAPOR_SECRET_KEY="bench-secret",
        LAPOR_LOG_LEVEL="WARNING",
    )
    log = (data_dir / "intake.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "run", "intake"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()

    def ready() -> bool:
        if process.poll() is not None:
            raise SystemExit(f"intake exited: {(data_dir / 'intake.log').read_text()[-2000:]}")
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200

    try:
        wait_for(ready, 120, what="intake ready")
    except BaseException:
        process.terminate()
        process.wait(20)
        raise
    return process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300, help="Per query and run")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    configure_logging("bench", "WARNING")
    mark_shutting_down()
    print_header(f"Queries with {args.reports:,} reports in intake's views")
    data_dir = build_views(args.reports)
    store = generated_store(reports=args.reports, progress=PROGRESS)
    view = data_dir / "intake.db"
    conn = open_view_db(view, readonly=True)
    conn.row_factory = None
    counts = conn.execute(
        "SELECT COUNT(*), SUM(confidential = 0), SUM(status = 'forwarded') FROM reports"
    ).fetchone()
    print(
        f"views: {counts[0]:,} reports ({counts[1]:,} public, {counts[2]:,} forwarded),"
        f" {view.stat().st_size / 2**30:.2f} GiB on disk\n"
    )
    qs = queries(conn)
    port = free_port()
    http: dict[str, list[Sample]] = {}
    raw: dict[str, list[Sample]] = {}
    with scratch("queries") as tmp, nats_server(tmp) as nats:
        process = start_intake(data_dir, store, nats.url, port)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                for q in qs:  # warm up: the page cache and intake's statement caches
                    time_http(client, q, 10)
                for run in range(args.runs):
                    for q in qs:
                        http.setdefault(q.name, []).append(time_http(client, q, args.requests))
                        if q.sql is not None:
                            raw.setdefault(q.name, []).append(time_sql(conn, q, args.requests))
                    print(f"  run {run + 1} done", file=sys.stderr)
            rss = rss_mb(process.pid)
        finally:
            process.terminate()
            process.wait(20)
    rows = []
    worst = 0.0
    for q in qs:
        h = min(http[q.name], key=lambda s: s.p99)
        p99s = [s.p99 for s in http[q.name]]
        r = min(raw[q.name], key=lambda s: s.p99) if q.name in raw else None
        if not q.name.startswith("html"):
            worst = max(worst, h.p99)
        rows.append(
            [
                q.name,
                ms(h.p50),
                ms(h.p99),
                f"{ms(min(p99s))}–{ms(max(p99s))}" if len(p99s) > 1 else "(1 run)",
                ms(r.p50) if r else "–",
                ms(r.p99) if r else "–",
            ]
        )
    print(
        table(
            ["query", "HTTP p50 ms", "HTTP p99 ms", "p99 spread", "SQL p50 ms", "SQL p99 ms"],
            rows,
        )
    )
    print(
        f"\n- worst API p99: {ms(worst)} ms (target < 50 ms: {verdict(worst < 0.05)});"
        f" intake resident afterwards: {rss:.0f} MB"
    )
    print(f"- {args.requests} requests per query and run, one client, keep-alive")
    print(f"\nload average at end: {load_average()}")
    result(
        worst_api_p99_ms=round(worst * 1000, 2),
        reports=args.reports,
        intake_rss_mb=round(rss),
        p99_ms={q.name: round(min(s.p99 for s in http[q.name]) * 1000, 2) for q in qs},
    )


if __name__ == "__main__":
    main()
