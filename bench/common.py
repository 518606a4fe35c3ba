"""What the benchmarks share: the machine, statistics, tables, realistic events, stores, processes.

Every benchmark prints a Markdown table (pasteable into RESULTS.md) and repeats each measurement
`--runs` times (2 by default: the machine is shared, so the better run is shown with the spread).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/x.py` as well as `python -m bench.x`
    sys.path.insert(0, str(ROOT))

from shared.crypto import EncryptedBlob
from shared.events.base import Actor, DomainEvent
from shared.reports.commands import (
    AmendReport,
    CloseReport,
    Command,
    ForwardReport,
    PostFollowUp,
    RateReport,
    RecordBreach,
    RejectReport,
    ReplyAsReporter,
    RequestCompletion,
    SubmitReport,
    VerifyReport,
)
from shared.reports.events import (
    Classification,
    CloseReason,
    FollowUpKind,
    Location,
    RejectionReason,
    SlaStage,
)
from shared.reports.lifecycle import ReportState, decide, evolve, stream_name
from shared.reports.tracking import ALPHABET, RANDOM_LENGTH, _check_symbol
from shared.store.port import NO_STREAM, NewEvent
from shared.values import Attachment, Channel

DATA = ROOT / "bench" / ".data"
GENERATOR_VERSION = 1


# --- the machine -----------------------------------------------------------------------------
def machine() -> dict[str, str]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": ram,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "kernel": platform.release(),
    }


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


def print_header(title: str, argv: Sequence[str] | None = None) -> None:
    m = machine()
    print(f"## {title}")
    print(
        f"machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram']} RAM, Python {m['python']},"
        f" SQLite {m['sqlite']}, Linux {m['kernel']}"
    )
    print(f"command: {' '.join(argv if argv is not None else sys.orig_argv)}")
    print(f"load average at start: {load_average()} (other work on this machine adds noise)")
    print()


# --- statistics and tables -------------------------------------------------------------------
def pct(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`; NaN for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def ms(seconds: float) -> str:
    if seconds != seconds:  # NaN
        return "–"
    return f"{seconds * 1000:.1f}" if seconds < 10 else f"{seconds * 1000:.0f}"


def rate(value: float) -> str:
    if value != value:
        return "–"
    return f"{value:,.0f}"


@dataclass
class Sample:
    """One run of one measurement: throughput and latencies (seconds)."""

    count: int
    elapsed: float
    latencies: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.count / self.elapsed if self.elapsed > 0 else float("nan")

    @property
    def p50(self) -> float:
        return pct(self.latencies, 50)

    @property
    def p99(self) -> float:
        return pct(self.latencies, 99)


def best(samples: Sequence[Sample], key: Callable[[Sample], float] | None = None) -> Sample:
    """The better run: highest throughput by default."""
    return max(samples, key=key or (lambda s: s.per_second))


def spread(values: Sequence[float], fmt: Callable[[float], str] = rate) -> str:
    values = [v for v in values if v == v]
    if len(values) < 2:
        return "(1 run)"
    return f"{fmt(min(values))}–{fmt(max(values))}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


# --- realistic reports -----------------------------------------------------------------------
_SUBJECTS = [
    ("jalan", "Jalan rusak dan berlubang di"),
    ("air", "Air PDAM tidak mengalir sejak seminggu di"),
    ("sampah", "Sampah menumpuk tidak diangkut di"),
    ("listrik", "Lampu penerangan jalan mati di"),
    ("puskesmas", "Pelayanan puskesmas lambat di"),
    ("sekolah", "Pungutan liar di sekolah negeri di"),
    ("ktp", "Pembuatan KTP elektronik tertunda di"),
    ("banjir", "Saluran drainase tersumbat, banjir setiap hujan di"),
    ("bansos", "Bantuan sosial tidak tepat sasaran di"),
    ("izin", "Pengurusan izin usaha dipersulit di"),
]
_PLACES = [
    "Kelurahan Oebobo",
    "Kecamatan Maulafa",
    "Desa Sukorejo",
    "Kelurahan Kelapa Lima",
    "Jalan El Tari",
    "Kecamatan Alak",
    "Desa Kepanjenkidul",
    "Kelurahan Sananwetan",
    "Jalan Ahmad Yani",
    "Kecamatan Kota Raja",
]
_SENTENCES = [
    "Kondisi ini sudah berlangsung lebih dari tiga bulan dan belum ada tindak lanjut.",
    "Warga sudah melapor ke kelurahan namun belum mendapat jawaban yang jelas.",
    "Mohon pemerintah daerah segera menindaklanjuti keluhan masyarakat ini.",
    "Banyak pengendara sepeda motor terjatuh terutama pada malam hari.",
    "Anak-anak sekolah terpaksa memutar jalan yang jauh setiap pagi.",
    "Petugas di loket meminta biaya tambahan tanpa kuitansi resmi.",
    "Kami berharap ada perbaikan sebelum musim hujan tiba.",
    "Antrean sangat panjang dan tidak ada informasi jadwal pelayanan.",
    "Bau tidak sedap mengganggu kesehatan warga sekitar pasar.",
    "Sudah beberapa kali dijanjikan perbaikan tetapi tidak pernah terlaksana.",
    "Foto kondisi terkini kami lampirkan sebagai bukti.",
    "Mohon pelayanan publik di wilayah kami ditingkatkan.",
]
_CATEGORIES = [
    "infrastruktur",
    "air-bersih-dan-energi",
    "lingkungan-hidup",
    "infrastruktur",
    "kesehatan",
    "pendidikan",
    "administrasi-kependudukan",
    "lingkungan-hidup",
    "sosial",
    "pelayanan-publik-lainnya",
]
# (region code, lat, lon, agency that routing's rules would pick for most categories)
_REGIONS = [
    ("5371", -10.17, 123.61),
    ("537101", -10.16, 123.55),
    ("537103", -10.17, 123.62),
    ("3572", -8.10, 112.17),
    ("357201", -8.09, 112.16),
    ("53", -10.18, 123.60),
    ("35", -7.25, 112.75),
    ("3578", -7.26, 112.75),
    ("5304", -9.86, 124.28),
    ("17", -3.80, 102.27),
]
_CHANNELS = [
    Channel.WEB,
    Channel.WEB,
    Channel.WEB,
    Channel.MOBILE,
    Channel.MOBILE,
    Channel.SMS,
    Channel.SMS,
    Channel.WHATSAPP,
    Channel.EMAIL,
    Channel.TWITTER,
]
_AGENCIES = [
    ("DINKES-KOTA-KUPANG", "Dinas Kesehatan Kota Kupang"),
    ("DPUPR-KOTA-KUPANG", "Dinas Pekerjaan Umum dan Penataan Ruang Kota Kupang"),
    ("PEMKOT-KUPANG", "Pemerintah Kota Kupang"),
    ("PEMKOT-BLITAR", "Pemerintah Kota Blitar"),
    ("PEMPROV-NTT", "Pemerintah Provinsi Nusa Tenggara Timur"),
]
_RARE_WORDS = ["oenesu", "batuplat", "naioni", "fatukoa", "sikumana", "penfui", "bakunase"]
CITIZEN = Actor(kind="citizen", id="reporter")
ADMIN = Actor(kind="admin", id="admin-1")
ROUTING = Actor(kind="system", id="routing")
SLA = Actor(kind="system", id="sla")


def tracking_id(rng: random.Random) -> str:
    payload = "".join(rng.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return payload + _check_symbol(payload)


def _b64(rng: random.Random, n: int) -> str:
    return base64.urlsafe_b64encode(rng.randbytes(n)).decode()


def submit_command(rng: random.Random, tid: str | None = None) -> SubmitReport:
    """A citizen's report as intake would build it (reporter encrypted, access code hashed)."""
    tid = tid or tracking_id(rng)
    subject = rng.randrange(len(_SUBJECTS))
    _, opening = _SUBJECTS[subject]
    place = rng.choice(_PLACES)
    region, lat, lon = rng.choice(_REGIONS)
    body_parts = [f"{opening} {place}."]
    body_parts += rng.sample(_SENTENCES, rng.randint(3, 7))
    if rng.random() < 0.02:
        body_parts.append(f"Lokasi dekat {rng.choice(_RARE_WORDS)}.")
    anonymous = rng.random() < 0.2
    attachments: tuple[Attachment, ...] = ()
    if rng.random() < 0.2:
        attachments = (
            Attachment(
                sha256=hashlib.sha256(rng.randbytes(8)).hexdigest(),
                name="foto.jpg",
                media_type="image/jpeg",
                size=rng.randint(50_000, 3_000_000),
            ),
        )
    return SubmitReport(
        tracking_id=tid,
        classification=Classification.COMPLAINT
        if rng.random() < 0.85
        else Classification.ASPIRATION,
        title=f"{opening.split(' di')[0]} {place}"[:200],
        body=" ".join(body_parts),
        category=_CATEGORIES[subject],
        location=Location(
            lat=round(lat + rng.uniform(-0.05, 0.05), 5),
            lon=round(lon + rng.uniform(-0.05, 0.05), 5),
            region_code=region,
            address=f"{place}, RT {rng.randint(1, 20):02d}/RW {rng.randint(1, 9):02d}",
        ),
        channel=rng.choice(_CHANNELS),
        anonymous=anonymous,
        confidential=rng.random() < 0.05,
        attachments=attachments,
        reporter=None
        if anonymous
        else EncryptedBlob(key_id=tid, nonce=_b64(rng, 12), ciphertext=_b64(rng, 96)),
        access_code_hash=hashlib.sha256(rng.randbytes(16)).hexdigest(),
    )


def _envelopes(
    tid: str, state: ReportState | None, new: list[DomainEvent], actor: Actor, at: datetime
) -> tuple[ReportState | None, list[NewEvent]]:
    out: list[NewEvent] = []
    for payload in new:
        before = state
        state = evolve(state, payload, at)
        out.append(
            NewEvent.of(
                payload,
                occurred_at=at,
                actor=actor,
                correlation_id=f"bench-{tid}",
                region_code=state.region_code if state else None,
                agency_code=(state.agency_code if state else None)
                or (before.agency_code if before else None),
            )
        )
    return state, out


def submitted_event(rng: random.Random, at: datetime | None = None) -> NewEvent:
    """One realistic ReportSubmitted envelope (about 1 KB of JSON)."""
    command = submit_command(rng)
    _, events = _envelopes(
        command.tracking_id, None, decide(None, command), CITIZEN, at or datetime.now(UTC)
    )
    return events[0]


def lifecycle(
    rng: random.Random, start: datetime, *, progress: float = 1.0
) -> tuple[str, list[NewEvent]]:
    """A report's whole stream, decided by the domain itself: submitted, sometimes completed,
    rejected or verified, forwarded, followed up, replied, closed, rated, with SLA breaches.

    `progress` scales how far reports get (0: every report stays submitted)."""
    command = submit_command(rng)
    tid = command.tracking_id
    at = start
    state: ReportState | None = None
    events: list[NewEvent] = []

    def step(cmd: Command, actor: Actor, days: float) -> None:
        nonlocal state, at
        at = at + timedelta(days=days, seconds=rng.randint(0, 3600))
        state, new = _envelopes(tid, state, decide(state, cmd), actor, at)
        events.extend(new)

    step(command, CITIZEN, 0)
    if rng.random() >= progress:
        return tid, events
    if rng.random() < 0.08:
        step(RequestCompletion(note="Mohon lengkapi lokasi dan foto."), ADMIN, 1)
        step(AmendReport(text="Lokasi tepatnya di depan kantor lurah."), CITIZEN, 1)
    if rng.random() < 0.1:
        step(
            RejectReport(reason=RejectionReason.NOT_PUBLIC_SERVICE, note="Bukan layanan publik"),
            ADMIN,
            1,
        )
        return tid, events
    if rng.random() < 0.1:
        step(RecordBreach(stage=SlaStage.VERIFICATION, due=at.date()), SLA, 3)
    step(VerifyReport(), ADMIN, rng.uniform(0.1, 3))
    agency, name = rng.choice(_AGENCIES)
    step(
        ForwardReport(
            agency_code=agency, agency_name=name, follow_up_due=(at + timedelta(days=7)).date()
        ),
        ROUTING,
        0.001,
    )
    if rng.random() < 0.25:
        return tid, events
    for _ in range(rng.choice((1, 1, 1, 2))):
        step(
            PostFollowUp(
                agency_code=agency,
                text="Laporan sedang kami tindaklanjuti.",
                kind=FollowUpKind.INTERIM,
            ),
            Actor(kind="agency", id=agency),
            3,
        )
        if rng.random() < 0.6:
            step(ReplyAsReporter(text="Terima kasih, mohon segera diperbaiki."), CITIZEN, 1)
    if rng.random() < 0.3:
        return tid, events
    step(
        CloseReport(reason=CloseReason.RESOLVED, note="Sudah diperbaiki."),
        Actor(kind="agency", id=agency),
        5,
    )
    if rng.random() < 0.4:
        step(RateReport(rating=rng.randint(3, 5), comment="Cepat ditangani", now=at), CITIZEN, 1)
    return tid, events


def _generate(
    path: Path, *, events: int | None, reports: int | None, progress: float, seed: int
) -> tuple[int, int]:
    """Fill a fresh store through SqliteEventStore.append in big concurrent waves (the writer
    thread group-commits them): valid, hash-chained, domain-decided streams, interleaved in the
    global order within windows of reports, as a busy day would interleave them."""
    from shared.store.sqlite import SqliteEventStore

    rng = random.Random(seed)
    start = datetime(2025, 1, 6, 1, 0, tzinfo=UTC)
    window = 2000

    async def go() -> tuple[int, int]:
        store = SqliteEventStore(path, max_group=window)
        n_events = n_reports = 0
        began = time.monotonic()
        try:
            while (events is None or n_events < events) and (
                reports is None or n_reports < reports
            ):
                batch: list[tuple[str, list[NewEvent]]] = []
                while len(batch) < window:
                    if events is not None and n_events >= events:
                        break
                    if reports is not None and n_reports >= reports:
                        break
                    day = start + timedelta(minutes=n_reports // 50)
                    tid, stream_events = lifecycle(rng, day, progress=progress)
                    if events is not None:
                        stream_events = stream_events[: events - n_events]
                    batch.append((tid, stream_events))
                    n_events += len(stream_events)
                    n_reports += 1
                longest = max(len(e) for _, e in batch)
                for k in range(longest):
                    await asyncio.gather(
                        *(
                            store.append(stream_name(tid), [es[k]], k or NO_STREAM)
                            for tid, es in batch
                            if len(es) > k
                        )
                    )
                done = n_events if events is not None else n_reports
                goal = events if events is not None else reports
                print(
                    f"\r  generating {path.name}: {done:,}/{goal:,}"
                    f" ({n_events / (time.monotonic() - began):,.0f} events/s)",
                    end="",
                    file=sys.stderr,
                    flush=True,
                )
            print(file=sys.stderr)
        finally:
            await store.close()
        return n_events, n_reports

    return asyncio.run(go())


def generated_store(
    *, events: int | None = None, reports: int | None = None, progress: float = 1.0, seed: int = 7
) -> Path:
    """A cached store under bench/.data/ with `events` events (realistic lifecycles) or
    `reports` reports (each report only as far as `progress` lets it go)."""
    assert (events is None) != (reports is None)
    DATA.mkdir(parents=True, exist_ok=True)
    kind = f"events-{events}" if events is not None else f"reports-{reports}-p{progress:g}"
    path = DATA / f"store-{kind}-s{seed}-v{GENERATOR_VERSION}.db"
    if path.exists():
        return path
    partial = path.with_suffix(".partial")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    began = time.monotonic()
    n_events, n_reports = _generate(
        partial, events=events, reports=reports, progress=progress, seed=seed
    )
    conn = sqlite3.connect(partial)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    partial.rename(path)
    for suffix in ("-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    print(
        f"  generated {n_events:,} events of {n_reports:,} reports in"
        f" {time.monotonic() - began:.0f} s -> {path}",
        file=sys.stderr,
    )
    return path


# --- processes -------------------------------------------------------------------------------
def rss_mb(pid: int) -> float:
    """Resident set size of a process (VmRSS), MiB; NaN if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (seconds)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


@contextlib.contextmanager
def scratch(prefix: str, keep: bool = False) -> Iterator[Path]:
    """A temporary directory on the same disk as the repo (so fsync costs are the real ones)."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=DATA))
    try:
        yield path
    finally:
        if not keep:
            import shutil

            shutil.rmtree(path, ignore_errors=True)


def today() -> date:
    return datetime.now(UTC).date()


def result(**figures: object) -> None:
    """The last line of every benchmark: its figures as JSON (DESIGN §9), ratios to the raw limits
    measured in the same run first, and the machine's load, so a reader can weigh them."""
    import json as _json

    figures.setdefault("load_average", load_average())
    print("RESULT " + _json.dumps(figures, sort_keys=True, default=str))
