"""Benchmark of intake's public queries on a large view (not collected by pytest).

    .venv/bin/python -m tests.intake_web.bench_views [ROWS]

Fills a fresh view database with ROWS synthetic reports (default 1,000,000) straight through
SQL (the triggers keep FTS in step), then times every public query shape and prints p50/p99.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from services.intake import views
from shared.runtime.projection import open_view_db

WORDS = (  # noqa: SIM905
    "jalan rusak lampu mati sampah menumpuk air bersih puskesmas antre lama sekolah guru"
    " jembatan banjir drainase pungli izin usaha ktp kartu keluarga listrik padam bantuan sosial"
    " pasar parkir liar angkot terminal rumah sakit obat dokter perawat kelurahan camat"
).split()
REGIONS = [
    "5371",
    "537101",
    "537102",
    "5305",
    "5303",
    "3572",
    "357201",
    "1703",
    "1771",
    "31",
    "3171",
]
CATEGORIES = ["kesehatan", "pendidikan", "infrastruktur", "sosial", "perhubungan", None]
STATUSES = ["submitted", "verified", "forwarded", "followed_up", "closed", "rejected"]
AGENCIES = ["DINKES-KOTA-KUPANG", "DPUPR-KOTA-KUPANG", "DINDIK-KOTA-BLITAR", None]


def fill(conn: sqlite3.Connection, rows: int) -> None:
    rng = random.Random(7)
    conn.execute("BEGIN")
    batch: list[tuple[object, ...]] = []
    for i in range(rows):
        region = rng.choice(REGIONS)
        p, r, d = views.region_parts(region)
        located = rng.random() < 0.7
        batch.append(
            (
                f"T{i:09d}",
                rng.choice(STATUSES),
                "complaint",
                " ".join(rng.choices(WORDS, k=4)),
                " ".join(rng.choices(WORDS, k=30)),
                rng.choice(CATEGORIES),
                rng.uniform(-11, 6) if located else None,
                rng.uniform(95, 141) if located else None,
                region,
                p,
                r,
                d,
                "web",
                int(rng.random() < 0.1),
                int(rng.random() < 0.05),
                rng.choice(AGENCIES),
                "h",
                "2026-01-01T00:00:00+00:00",
                "2026-01-01T00:00:00+00:00",
            )
        )
        if len(batch) == 10_000:
            _insert(conn, batch)
            batch.clear()
    _insert(conn, batch)
    conn.execute(
        "INSERT INTO reports_geo SELECT seq, lat, lat, lon, lon FROM reports"
        " WHERE confidential = 0 AND lat IS NOT NULL"
    )
    conn.execute("COMMIT")
    if "--analyze" in sys.argv:
        conn.execute("ANALYZE")


def _insert(conn: sqlite3.Connection, batch: Sequence[tuple[object, ...]]) -> None:
    conn.executemany(
        "INSERT INTO reports (tracking_id, status, classification, title, body, category, lat,"
        " lon, region_code, province_code, regency_code, district_code, channel, anonymous,"
        " confidential, agency_code, access_code_hash, submitted_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        batch,
    )


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    rows = int(args[0]) if args else 1_000_000
    path = Path(tempfile.mkdtemp()) / "intake.db"
    conn = open_view_db(path)
    conn.executescript(views.SCHEMA)
    started = time.perf_counter()
    fill(conn, rows)
    print(f"filled {rows} rows in {time.perf_counter() - started:.1f}s", flush=True)
    F = views.ReportFilter
    cases = {
        "newest": views.list_query(F(), 50),
        "status": views.list_query(F(status="closed"), 50),
        "category+region": views.list_query(F(category="kesehatan", region="5371"), 50),
        "province": views.list_query(F(region="53"), 50),
        "district": views.list_query(F(region="537101"), 50),
        "agency": views.list_query(F(agency="DINKES-KOTA-KUPANG"), 50),
        "rare combo": views.list_query(
            F(status="rejected", agency="DINDIK-KOTA-BLITAR", region="1771"), 50
        ),
        "page 200 (cursor)": views.list_query(F(), 50, before=rows - 10_000),
        "q common": views.list_query(F(q="jalan rusak"), 50),
        "q rare": views.list_query(F(q="pungli jembatan perawat"), 50),
        "q + status": views.list_query(F(q="banjir", status="forwarded"), 50),
        "q no match": views.list_query(F(q="zzzzqqq"), 50),
        "map newest": views.map_query(F(), 1000, None),
        "map bbox": views.map_query(F(), 1000, (120.0, -11.0, 125.0, -9.0)),
        "map bbox small": views.map_query(F(), 1000, (123.5, -10.3, 123.7, -10.1)),
        "stats": ("SELECT dimension, key, n FROM stats_counts", []),
        "one report": ("SELECT * FROM reports WHERE tracking_id = ?", ["T000123456"]),
    }
    reader = open_view_db(path, readonly=True)
    for name, query in cases.items():
        assert query is not None
        sql, params = query
        plan = " | ".join(r[3] for r in reader.execute("EXPLAIN QUERY PLAN " + sql, params))
        times = []
        for _ in range(50):
            t = time.perf_counter()
            reader.execute(sql, params).fetchall()
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        print(f"{name:20s} p50 {statistics.median(times):7.2f} ms  p99 {times[-1]:7.2f} ms  {plan}")


if __name__ == "__main__":
    main()
