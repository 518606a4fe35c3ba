"""The fault suite's system and the hands to break it.

One nats-server (JetStream on file storage), the relay, the five services and an SMTP server
that keeps every mail, shared by the tests in this folder (starting them all costs tens of
seconds on a loaded machine). `Faults` kills any of them with SIGKILL, starts it again on the same
port and data, and reads what the system holds straight from its SQLite files: the event store,
each service's views and checkpoint, notify's outbox and the relay's checkpoint.
"""

from __future__ import annotations

import importlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from shared.audit.events import CHECKPOINT_STREAM
from shared.settings import SERVICE_NAMES
from shared.store.sqlite import readonly_uri
from tests.notify.harness import SmtpSink
from tests.support import ROOT, NatsServer, System, wait_for, wait_for_port

# Every wait returns as soon as its condition holds; the slack is for a machine that other test
# suites keep busy.
READY_TIMEOUT = 120.0
SECRET_META = "meta-app-secret-for-fault-tests"
SECRET_X = "x-consumer-secret-for-fault-tests"

FAULT_ENV = {
    # The load comes from one address; the abuse limits are not what is under test here.
    "LAPOR_INTAKE_SUBMISSIONS_PER_MINUTE": "0",
    "LAPOR_CHANNEL_MESSAGES_PER_HOUR": "0",
    # Social webhooks answer 503 without their secrets; the fuzz tests sign with these.
    "LAPOR_META_APP_SECRET": SECRET_META,
    "LAPOR_META_VERIFY_TOKEN": "meta-verify-token",
    "LAPOR_X_CONSUMER_SECRET": SECRET_X,
    # Notify sends real e-mail to the sink, fast enough for thousands of notices.
    "LAPOR_NOTIFY_RATE_LIMITS": json.dumps({"email": 5000, "sms": 5000}),
    "LAPOR_NOTIFY_RATE_BURST": "200",
    "LAPOR_NOTIFY_CONCURRENCY": "16",
    "LAPOR_NOTIFY_RETRY_BASE_SECONDS": "0.05",
    "LAPOR_NOTIFY_RETRY_MAX_SECONDS": "0.5",
    "LAPOR_PUBLIC_BASE_URL": "https://lapor.example",
}

COMPONENTS = ("relay", *SERVICE_NAMES, "nats")


def connect_ro(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(readonly_uri(path), uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    return conn


def query(path: Path, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
    with closing(connect_ro(path)) as conn:
        return conn.execute(sql, tuple(params)).fetchall()


@dataclass(frozen=True)
class Quiet:
    """What the system looked like when nothing moved any more."""

    last_position: int
    checkpoints: dict[str, int]
    open_notices: int
    vouched: bool = True  # the store's newest event is the relay's signed audit checkpoint


@dataclass
class Faults:
    nats: NatsServer
    system: System
    sink: SmtpSink
    kills: Counter[str] = field(default_factory=Counter)
    # Copies of events the redelivery test put into LAPOR_EVENTS under new message ids.
    copies_published: int = 0

    # -- where things are ---------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.system.data_dir

    @property
    def store_path(self) -> Path:
        return self.data_dir / "events.db"

    def view_path(self, service: str) -> Path:
        return self.data_dir / f"{service}.db"

    @property
    def outbox_path(self) -> Path:
        return self.data_dir / "notify_outbox.db"

    def url(self, service: str) -> str:
        return self.system.url(service)

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.system.token('admin')}"}

    # -- breaking and mending -----------------------------------------------------------------
    def alive(self, name: str) -> bool:
        if name == "nats":
            return self.nats.process is not None and self.nats.process.poll() is None
        process = self.system.processes.get(name)
        return process is not None and process.poll() is None

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed that was not flushed already."""
        self.kills[name] += 1
        if name == "nats":
            self.nats.stop(signal.SIGKILL)
        else:
            self.system.kill(name, signal.SIGKILL)

    def start(self, name: str) -> None:
        """Start again on the same port and the same data (JetStream's store dir included)."""
        if name == "nats":
            self.nats.start()
        else:
            self.system.start(name)

    def relay_starts(self) -> int:
        return self.system.log("relay").count('"relay_started"')

    def wait_ready(self, name: str, relay_starts_before: int = 0) -> None:
        if name == "nats":
            wait_for_port(self.nats.port, timeout=READY_TIMEOUT)
        elif name == "relay":

            def started() -> bool:
                if not self.alive("relay"):
                    raise AssertionError(f"relay exited: {self.system.log('relay')[-3000:]}")
                return self.relay_starts() > relay_starts_before

            wait_for(started, READY_TIMEOUT, interval=0.2, what="relay started")
        else:
            self.system.wait_ready(name, timeout=READY_TIMEOUT)

    def kill_and_restart(self, name: str) -> None:
        before = self.relay_starts()
        self.kill(name)
        self.start(name)
        self.wait_ready(name, before)

    def ensure_up(self) -> None:
        """Whatever an earlier test left dead is started again (each test begins whole)."""
        if not self.alive("nats"):
            self.nats.start()
        for name in ("relay", *SERVICE_NAMES):
            if not self.alive(name):
                before = self.relay_starts()
                self.system.start(name)
                self.wait_ready(name, before)
        for name in SERVICE_NAMES:
            self.system.wait_ready(name, timeout=READY_TIMEOUT)

    # -- reading what the system holds --------------------------------------------------------
    def store(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        return query(self.store_path, sql, params)

    def store_view(
        self, service: str, sql: str, params: Sequence[object] = ()
    ) -> list[sqlite3.Row]:
        return query(self.view_path(service), sql, params)

    def store_outbox(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        return query(self.outbox_path, sql, params)

    def last_position(self) -> int:
        return int(self.store("SELECT COALESCE(MAX(position), 0) FROM events")[0][0])

    def checkpoint(self, service: str) -> int:
        path = self.view_path(service)
        if not path.exists():
            return 0
        rows = query(path, "SELECT position FROM checkpoint WHERE name = ?", (service,))
        return int(rows[0][0]) if rows else 0

    def relay_checkpoint(self) -> int:
        rows = query(self.data_dir / "relay.db", "SELECT position FROM relay_checkpoint")
        return int(rows[0][0]) if rows else 0

    def open_notices(self) -> int:
        if not self.outbox_path.exists():
            return 0
        rows = query(
            self.outbox_path,
            "SELECT COUNT(*) FROM outbox WHERE recorded = 0"
            " OR state IN ('pending', 'sending', 'retrying')",
        )
        return int(rows[0][0])

    def observe(self) -> Quiet:
        return Quiet(
            last_position=self.last_position(),
            checkpoints={
                "relay": self.relay_checkpoint(),
                **{name: self.checkpoint(name) for name in SERVICE_NAMES},
            },
            open_notices=self.open_notices(),
            vouched=self.vouched(),
        )

    def vouched(self) -> bool:
        """The relay has checkpointed everything: the newest event is its StoreCheckpointed and
        covers every event before it (or nothing was ever stored). A checkpoint whose read
        raced appends (it covers up to 7000, events 7001-7006 came before it was stored) is
        followed by another within LAPOR_AUDIT_CHECKPOINT_SECONDS: not settled yet."""
        rows = self.store(
            "SELECT stream, position, json_extract(data, '$.to_position') FROM events"
            " ORDER BY position DESC LIMIT 1"
        )
        if not rows:
            return True
        stream, position, covered = rows[0]
        return bool(stream == CHECKPOINT_STREAM and covered == position - 1)

    def wait_quiet(self, timeout: float = 180.0) -> Quiet:
        """Until every consumer has handled every stored event, notify has nothing left to send,
        the relay has signed its audit checkpoint over all of it, and that stays so over three
        polls a second apart (sla's ticker may still append)."""
        seen: list[Quiet] = []

        def quiet() -> Quiet | None:
            now = self.observe()
            settled = (
                now.open_notices == 0
                and now.vouched
                and all(position == now.last_position for position in now.checkpoints.values())
            )
            if not settled:
                seen.clear()
                return None
            if seen and seen[-1] != now:
                seen.clear()
            seen.append(now)
            return now if len(seen) >= 3 else None

        try:
            return wait_for(quiet, timeout, interval=1.0, what="the system to settle")
        except AssertionError as error:
            raise AssertionError(f"{error}; last seen {self.observe()}") from None

    # -- the CLI ------------------------------------------------------------------------------
    def lapor(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 180.0
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli.main", *args],
            cwd=ROOT,
            env={**self.system.env(), **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def audit(self) -> str:
        result = self.lapor("audit", "verify")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "audit OK" in result.stdout
        return result.stdout.strip()

    def rebuild_all(self, services: Sequence[str] = SERVICE_NAMES) -> dict[str, Path]:
        """`lapor rebuild NAME` for each service, in parallel, into a scratch data directory of
        its own (same event store), so the live views stay as the crashes left them."""
        scratch = self.data_dir.parent / f"rebuild-{time.monotonic_ns()}"
        procs: dict[str, subprocess.Popen[str]] = {}
        for name in services:
            target = scratch / name
            target.mkdir(parents=True)
            env = {
                **self.system.env(),
                "LAPOR_DATA_DIR": str(target),
                "LAPOR_EVENT_STORE": f"sqlite:///{self.store_path.resolve()}",
            }
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "rebuild", name, "--force"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        outputs = {name: proc.communicate(timeout=300)[0] for name, proc in procs.items()}
        for name, proc in procs.items():
            assert proc.returncode == 0, f"lapor rebuild {name}: {outputs[name][-3000:]}"
            assert f"rebuilt {name}" in outputs[name], outputs[name][-3000:]
        return {name: scratch / name / f"{name}.db" for name in services}


def view_tables(service: str) -> tuple[str, ...]:
    module = importlib.import_module(f"services.{service}.views")
    return tuple(module.TABLES)


def table_rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    """Every row, in an order that does not depend on how the rows were written."""
    rows = query(path, f"SELECT * FROM {table}")  # table names from the code
    return sorted((tuple(row) for row in rows), key=repr)


def table_as_written(path: Path, table: str) -> list[tuple[Any, ...]]:
    """Every row in storage order (rowid, or the key of a WITHOUT ROWID table): cheap, for
    comparing one file with itself later."""
    return [tuple(row) for row in query(path, f"SELECT * FROM {table}")]


def view_differences(live: Path, rebuilt: Path, service: str) -> list[str]:
    """Table by table: rows only in the live views, rows only in the rebuilt ones."""
    problems: list[str] = []
    for table in view_tables(service):
        a, b = table_rows(live, table), table_rows(rebuilt, table)
        if a == b:
            continue
        only_live = [r for r in a if r not in set(b)]
        only_rebuilt = [r for r in b if r not in set(a)]
        problems.append(
            f"{service}.{table}: {len(a)} live rows, {len(b)} rebuilt;"
            f" only live {only_live[:3]}; only rebuilt {only_rebuilt[:3]}"
        )
    live_dead = query(live, "SELECT position, event_type, error FROM dead_letters")
    if live_dead:
        problems.append(f"{service}: dead letters {[tuple(r) for r in live_dead][:5]}")
    return problems


def start_faults(tmp: Path, extra_env: dict[str, str] | None = None) -> Iterator[Faults]:
    """The shared system for this folder's tests (a generator for a pytest fixture)."""
    from tests.support import free_port, start_system

    sink = SmtpSink()
    sink.start()
    nats = NatsServer(free_port(), tmp / "nats")
    nats.start()
    system: System | None = None
    try:
        system = start_system(
            tmp / "data",
            nats.url,
            extra_env={**FAULT_ENV, "LAPOR_SMTP_URL": sink.url, **(extra_env or {})},
        )
        faults = Faults(nats, system, sink)
        yield faults
    finally:
        if system is not None:
            system.stop_all()
        nats.stop()
        sink.stop()


def healthy(faults: Faults, service: str) -> bool:
    try:
        return httpx.get(f"{faults.url(service)}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
