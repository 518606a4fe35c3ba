"""What a citizen sees when the disk under LAPOR fills up or is read-only.

The relay and intake run as real processes with their whole data directory (event store, views,
keys) on a small tmpfs; their logs go elsewhere, as they would on a server.
- Full disk: a submission gets 503 naming the cause and stores nothing, reads keep working; when
  there is room again the same request (same Idempotency-Key) is stored exactly once, and every
  stored report reaches the public view (no event was skipped while the views could not be
  written).
- Read-only: intake started on a read-only data directory stops at once, saying which file it
  could not open (SQLite cannot open a WAL database without writing its -shm file), and starts
  and serves again once the directory is writable. (A file system turning read-only under a
  running store cannot be staged here: the kernel refuses `remount,ro` while SQLite holds the
  files open for writing; test_store_faults covers the store's answer to read-only files.)
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from shared.runtime.messaging import STREAM_NAME
from tests.faults.disk import can_mount, small_disk
from tests.faults.harness import FAULT_ENV, query
from tests.support import ROOT, NatsServer, System, free_port, wait_for

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(not can_mount(), reason="needs `mount -t tmpfs` (root in a privileged box)"),
]
UNAVAILABLE = (
    "penyimpanan kejadian sedang tidak tersedia; tidak ada yang tersimpan, silakan coba lagi"
    " / the event store is unavailable; nothing was stored, please retry"
)
# A submission with contact details writes the reporter's key before the event: in the store's own
# database (its full disk is the store being unavailable), or in the data directory's views' disk.


@dataclass
class LoggedElsewhere(System):
    """The system with its logs outside the data directory (a full disk must not stop them)."""

    log_dir: Path = field(default_factory=Path)

    def start(self, name: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "run", name],
                cwd=ROOT,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def start(data_dir: Path, logs: Path, nats: NatsServer, env: dict[str, str]) -> LoggedElsewhere:
    system = LoggedElsewhere(
        data_dir, nats.url, {"intake": free_port()}, extra_env={**FAULT_ENV, **env}, log_dir=logs
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        system.start("relay")
        system.start("intake")
        system.wait_ready("intake", timeout=120)
    except BaseException:
        system.stop_all()
        raise
    return system


def report(title: str, email: str | None = None, long: bool = False) -> dict[str, Any]:
    text = "Jembatan kayu di desa ini patah, anak sekolah memutar dua kilometer."
    body: dict[str, Any] = {
        "title": title,
        "body": (text + " ") * 130 if long else text,
        "category": "infrastruktur",
        "location": {"region_code": "5371"},
    }
    if email:
        body["reporter"] = {"email": email}
    return body


def submit(
    system: System, title: str, key: str, email: str | None = None, long: bool = False
) -> httpx.Response:
    return httpx.post(
        f"{system.url('intake')}/api/v1/reports",
        json=report(title, email, long),
        headers={"Idempotency-Key": key},
        timeout=60,
    )


def views_hit_the_full_disk(log: str) -> bool:
    """The consumer's handler failed on the disk (FastStream logs the error per subject)."""
    return any("lapor.v1.events" in line and "disk is full" in line for line in log.splitlines())


def gave_up_on(log: str, stream_seq: int) -> bool:
    for line in log.splitlines():
        if (
            line.startswith("{")
            and '"max_deliveries_reached"' in line
            and json.loads(line).get("stream_seq") == stream_seq
        ):
            return True
    return False


def events_in(store: Path) -> int:
    return int(query(store, "SELECT COUNT(*) FROM events")[0][0])


def published_through(url: str, stored: int) -> int | None:
    """JetStream's last sequence once it holds as many messages as the store holds events."""

    async def last() -> tuple[int, int]:
        nc = await nats.connect(url)
        try:
            info = await nc.jetstream().stream_info(STREAM_NAME)
            return int(info.state.messages), int(info.state.last_seq)
        finally:
            await nc.close()

    messages, seq = asyncio.run(last())
    return seq if messages >= stored else None


def titles_in_store(store: Path, run: str) -> list[str]:
    rows = query(
        store,
        "SELECT json_extract(data, '$.title') FROM events WHERE event_type = 'ReportSubmitted'"
        " AND json_extract(data, '$.title') LIKE ?",
        (f"{run}%",),
    )
    return sorted(row[0] for row in rows)


def test_a_full_disk_answers_503_stores_nothing_and_recovers(
    tmp_path: Path, fresh_nats: NatsServer
) -> None:
    """The event store on one small disk, the views, keys and checkpoints on another, each
    filled in turn."""
    run = f"penuh-{uuid.uuid4().hex[:6]}"
    with (
        small_disk(tmp_path / "store", 8 * 1024) as store_disk,
        small_disk(tmp_path / "data", 24 * 1024) as data_disk,
    ):
        store = store_disk.path / "events.db"
        data = data_disk.path / "data"
        system = start(
            data, tmp_path / "logs", fresh_nats, {"LAPOR_EVENT_STORE": f"sqlite:///{store}"}
        )
        intake = system.url("intake")

        def batch(label: str) -> list[httpx.Response]:
            # Half with contact details: intake writes the reporter's key before the event.
            return [
                submit(
                    system,
                    f"{run} {label} {i}",
                    f"{run}-{label}{i}",
                    f"w{i}@example.org" if i % 2 else None,
                )
                for i in range(4)
            ]

        try:
            first = [submit(system, f"{run} awal {i}", f"{run}-a{i}") for i in range(3)]
            assert [r.status_code for r in first] == [201] * 3, [r.text for r in first]
            tracking_id = first[0].json()["tracking_id"]

            # The event store's disk is full: nothing is acknowledged, nothing is stored.
            store_disk.fill()
            refused = batch("b")
            assert [r.status_code for r in refused] == [503] * 4, [r.text for r in refused]
            assert all(r.json()["detail"] == UNAVAILABLE for r in refused), [
                r.text for r in refused
            ]
            assert all(r.headers.get("retry-after") for r in refused)
            assert (
                httpx.get(f"{intake}/api/v1/reports/{tracking_id}", timeout=30).status_code == 200
            )
            assert titles_in_store(store, run) == sorted(f"{run} awal {i}" for i in range(3))
            store_disk.free()

            # The views' disk is full: the store has room, so reports are stored (201) while the
            # views cannot take them (long bodies make sure they need room). Consumers NACK and
            # JetStream redelivers until it gives up (max_deliver); no event may be skipped.
            data_disk.fill()
            stored_meanwhile = [
                submit(system, f"{run} c {i}", f"{run}-c{i}", long=True) for i in range(12)
            ]
            assert [r.status_code for r in stored_meanwhile] == [201] * 12, [
                r.text for r in stored_meanwhile
            ]
            wait_for(
                lambda: views_hit_the_full_disk(system.log("intake")),
                timeout=60,
                what="intake's views to hit the full disk",
            )
            last = wait_for(
                lambda: published_through(fresh_nats.url, events_in(store)),
                timeout=60,
                what="the relay to publish every stored event",
            )
            wait_for(
                lambda: gave_up_on(system.log("intake"), last),
                timeout=120,
                what=f"JetStream to give up redelivering message {last} to intake",
            )
            data_disk.free()
            # No new event comes to trigger the consumer: the views must catch up on their own.
            ids = [r.json()["tracking_id"] for r in (*first, *stored_meanwhile)]
            wait_for(
                lambda: all(
                    httpx.get(f"{intake}/api/v1/reports/{t}", timeout=30).status_code == 200
                    for t in ids
                ),
                timeout=120,
                interval=0.5,
                what="every stored report in the view after the disk has room again",
            )
            dead = query(data / "intake.db", "SELECT position, error FROM dead_letters")
            assert not [tuple(r) for r in dead], "events skipped while the disk was full"

            # The reporter's key lives in the store's database, not on the data directory's disk:
            # with that disk full a report with contact details is still stored, once (a full
            # store disk answered 503 for them above, with the others).
            data_disk.fill()
            answers = [submit(system, f"{run} d 0", f"{run}-d0", "d0@example.org")]
            assert answers[-1].status_code == 201, answers[-1].text
            data_disk.free()
            retried = submit(system, f"{run} d 0", f"{run}-d0", "d0@example.org")
            assert retried.status_code in (200, 201), retried.text  # the same request: no copy
            assert retried.json()["tracking_id"] == answers[-1].json()["tracking_id"]
            stored = titles_in_store(store, run)
            assert stored == sorted(
                [f"{run} awal {i}" for i in range(3)]
                + [f"{run} c {i}" for i in range(12)]
                + [f"{run} d {k}" for k in range(len(answers))]
            ), stored
            assert system.processes["relay"].poll() is None, system.log("relay")[-3000:]
        finally:
            system.stop_all()


def test_a_read_only_data_directory_is_a_clear_error(
    tmp_path: Path, fresh_nats: NatsServer
) -> None:
    run = f"baca-{uuid.uuid4().hex[:6]}"
    with small_disk(tmp_path / "disk", 24 * 1024) as disk:
        data = disk.path / "data"
        system = start(data, tmp_path / "logs", fresh_nats, {})
        try:
            created = submit(system, f"{run} awal", f"{run}-a")
            assert created.status_code == 201, created.text
            tracking_id = created.json()["tracking_id"]
            wait_for(
                lambda: (
                    httpx.get(
                        f"{system.url('intake')}/api/v1/reports/{tracking_id}", timeout=30
                    ).status_code
                    == 200
                ),
                timeout=60,
                what="the report in the view",
            )
        finally:
            system.stop_all()
        disk.read_only()

        # The whole data directory read-only: intake stops at once and names the file.
        system = start_failing(data, tmp_path / "logs-ro", fresh_nats)
        log = system.log("intake").replace("\n", "")  # the console wraps long lines
        assert f"cannot open the event store {data / 'events.db'}" in log, log[-3000:]

        # Writable again: intake starts and serves what was stored.
        disk.writable()
        system = start(data, tmp_path / "logs-again", fresh_nats, {})
        try:
            read = httpx.get(f"{system.url('intake')}/api/v1/reports/{tracking_id}", timeout=30)
            assert read.status_code == 200, read.text
            assert submit(system, f"{run} lagi", f"{run}-c").status_code == 201
        finally:
            system.stop_all()


def start_failing(data: Path, logs: Path, nats: NatsServer) -> LoggedElsewhere:
    system = LoggedElsewhere(
        data, nats.url, {"intake": free_port()}, extra_env=dict(FAULT_ENV), log_dir=logs
    )
    system.start("intake")
    process = system.processes["intake"]
    try:
        process.wait(120)
    except subprocess.TimeoutExpired:
        system.stop_all()
        raise AssertionError("intake started on a read-only data directory") from None
    assert process.returncode != 0
    return system
