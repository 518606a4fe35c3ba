"""Real parts for tests: nats-server on a free port, LAPOR processes, waiting on conditions."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx

ROOT = Path(__file__).resolve().parent.parent
# The SMS gateway's token (`?token=` on /channels/sms), set for every system the tests start.
SMS_WEBHOOK_TOKEN = "sms-webhook-token-for-tests"
T = TypeVar("T")


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_factor() -> float:
    """How much slower than a quiet machine this one is now: the run queue per core (at least 1).
    Waits scale with it, so a test fails for its own reasons, never because the cores are busy."""
    try:
        return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    except OSError:  # pragma: no cover - no load average on this platform
        return 1.0


class Deadline:
    """A timeout that stretches while the machine is busy."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.monotonic()

    def passed(self) -> bool:
        return time.monotonic() - self.started > self.seconds * load_factor()


def wait_for(
    condition: Callable[[], T | None], timeout: float = 15.0, interval: float = 0.05, what: str = ""
) -> T:
    """Poll until `condition()` returns something truthy; fail with `what` after `timeout`
    (stretched by the machine's load)."""
    deadline = Deadline(timeout)
    last_error: Exception | None = None
    while not deadline.passed():
        try:
            result = condition()
            if result:
                return result
        except Exception as error:  # the condition may fail until the system is ready
            last_error = error
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what or condition}: {last_error}"
    )


async def async_wait_for(
    condition: Callable[[], Awaitable[T | None]],
    timeout: float = 15.0,
    interval: float = 0.05,
    what: str = "",
) -> T:
    deadline = Deadline(timeout)
    last_error: Exception | None = None
    while not deadline.passed():
        try:
            result = await condition()
            if result:
                return result
        except Exception as error:
            last_error = error
        await asyncio.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what or condition}: {last_error}"
    )


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    def open_() -> bool:
        with closing(socket.socket()) as sock:
            sock.settimeout(0.2)
            return sock.connect_ex(("127.0.0.1", port)) == 0

    wait_for(open_, timeout, what=f"port {port}")


def nats_server_binary() -> str:
    return str(Path(sys.executable).parent / "nats-server")


@dataclass
class NatsServer:
    port: int
    store_dir: Path
    process: subprocess.Popen[bytes] | None = None
    monitor_port: int | None = None  # nats-server's HTTP monitoring (/connz), when a test asks

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        monitoring = ["--http_port", str(self.monitor_port)] if self.monitor_port else []
        self.process = subprocess.Popen(
            [
                nats_server_binary(),
                "--jetstream",
                "--store_dir",
                str(self.store_dir),
                "--addr",
                "127.0.0.1",
                "--port",
                str(self.port),
                *monitoring,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(30 * load_factor())


@contextmanager
def nats_server(tmp: Path, monitor: bool = False) -> Iterator[NatsServer]:
    server = NatsServer(free_port(), tmp / "nats", monitor_port=free_port() if monitor else None)
    server.start()
    try:
        yield server
    finally:
        # At once: its data is thrown away, and a graceful stop flushes every consumer's state
        # (12 s with the institutions' 1,183 consumers).
        server.stop(signal.SIGKILL)


@dataclass
class LaporNats:
    """nats-server as LAPOR runs it (`lapor nats serve`): a user per process and institution
    from the directory in `data_dir`'s store, passwords from `secret`, no anonymous client."""

    port: int
    data_dir: Path
    secret: str = "test-secret-for-lapor"
    process: subprocess.Popen[bytes] | None = None
    base: Path | None = None  # a deploy/nats configuration instead of `lapor up`'s own

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_")}
        env.update(
            LAPOR_DATA_DIR=str(self.data_dir),
            LAPOR_SECRET_KEY=self.secret,
            LAPOR_NATS_PORT=str(self.port),
            LAPOR_NATS_URL=self.url,
        )
        return env

    def start(self) -> LaporNats:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "nats.log").open("ab")
        base = ["--base", str(self.base)] if self.base else []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "nats", "serve", *base],
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its nats-server child in its group: `stop` ends both
        )
        log.close()
        wait_for_port(self.port, 30 * load_factor())
        return self

    def stop(self, *, graceful: bool = False) -> None:
        """At the end of a test, at once (the wrapper and its nats-server: a graceful stop
        flushes every institution's consumer, 12 s); `graceful` as an operator's Ctrl-C."""
        if self.process and self.process.poll() is None:
            if graceful:
                self.process.send_signal(signal.SIGTERM)
            else:
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(60 * load_factor())

    def lapor(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A `lapor` command against this server's data directory and secret."""
        return subprocess.run(
            [sys.executable, "-m", "cli.main", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )

    def credentials(self, *args: str) -> str:
        """The URL `lapor nats credentials ARGS` prints on its last line."""
        done = self.lapor("nats", "credentials", *args)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip().splitlines()[-1]


SERVICES = ("intake", "verification", "routing", "sla", "notify")


@dataclass
class System:
    """The relay and services as real processes on free ports, sharing one data directory."""

    data_dir: Path
    nats_url: str
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    secret: str = "test-secret-for-lapor"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_")}
        env.update(
            LAPOR_DATA_DIR=str(self.data_dir),
            LAPOR_NATS_URL=self.nats_url,
            LAPOR_SECRET_KEY=self.secret,
            LAPOR_CLOCK_FILE=str(self.data_dir / "clock.txt"),
            LAPOR_SLA_TICK_SECONDS="0.5",
            LAPOR_SMS_WEBHOOK_TOKEN=SMS_WEBHOOK_TOKEN,
            PYTHONUNBUFFERED="1",
            # Institutions' consumers (over a thousand) only where a test asks for them: they
            # cost a nats-server seconds to stop (test_agency_consumer.py and others turn them on).
            LAPOR_AGENCY_CONSUMERS="false",
        )
        for name, port in self.ports.items():
            env[f"LAPOR_{name.upper()}_PORT"] = str(port)
        env.update(self.extra_env)
        return env

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def start(self, name: str) -> None:
        log = (self.data_dir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "run", name],
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def wait_ready(self, name: str, timeout: float = 60.0) -> None:
        def ready() -> bool:
            proc = self.processes[name]
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited: {self.log(name)[-3000:]}")
            return httpx.get(f"{self.url(name)}/readyz", timeout=1).status_code == 200

        wait_for(ready, timeout, what=f"{name} ready")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.processes[name]
        if proc.poll() is None:
            proc.send_signal(sig)
            proc.wait(20)

    def log(self, name: str) -> str:
        path = self.data_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def set_clock(self, iso: str) -> None:
        (self.data_dir / "clock.txt").write_text(iso)

    def stop_all(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in self.processes.items():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            del name

    def token(self, role: str, agency: str | None = None, region: str | None = None) -> str:
        from shared.auth import Role, create_token

        return create_token(self.secret.encode(), Role(role), agency=agency, region=region)


def start_system(
    data_dir: Path,
    nats_url: str,
    services: tuple[str, ...] = SERVICES,
    extra_env: dict[str, str] | None = None,
) -> System:
    data_dir.mkdir(parents=True, exist_ok=True)
    system = System(
        data_dir,
        nats_url,
        {name: free_port() for name in services} | {"relay_metrics": free_port()},
        extra_env=extra_env or {},
    )
    try:
        system.start("relay")
        for name in services:
            system.start(name)
        for name in services:
            system.wait_ready(name)
    except BaseException:
        system.stop_all()  # never leave processes behind when one fails to start
        raise
    return system
