"""`lapor up`: one command starts everything, restarts what dies; Ctrl-C leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support import ROOT, SERVICES, free_port, wait_for


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); read its state.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_up_starts_restarts_and_stops_cleanly(tmp_path: Path) -> None:
    ports = {name: free_port() for name in SERVICES}
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_")}
    env.update({f"LAPOR_{n.upper()}_PORT": str(p) for n, p in ports.items()})
    env.update(
        LAPOR_DATA_DIR=str(tmp_path / "data"),
        LAPOR_NATS_PORT=str(free_port()),
        LAPOR_SECRET_KEY="up-test-secret",
    )
    out = (tmp_path / "up.out").open("wb")
    up = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "up"],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    pids: dict[str, int] = {}
    try:

        def all_ready() -> bool:
            assert up.poll() is None, (tmp_path / "up.out").read_text()
            for name, port in ports.items():
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code != 200:
                    return False
            return True

        wait_for(all_ready, timeout=90, what="all five services ready")
        printed = (tmp_path / "up.out").read_text()
        for port in ports.values():
            assert f"http://127.0.0.1:{port}" in printed
        assert "token create" in printed
        for name, port in ports.items():
            pids[name] = int(httpx.get(f"http://127.0.0.1:{port}/healthz").json()["pid"])

        # `lapor demo` drives one report through its whole life against the running system.
        demo = subprocess.run(
            [sys.executable, "-m", "cli.main", "demo"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        for step in (
            "ReportSubmitted",
            "ReportVerified",
            "ForwardedToOPD",
            "FollowUpPosted",
            "ReporterReplied",
            "ReportClosed",
            "ReportRated",
        ):
            assert step in demo.stdout

        # A child that dies is restarted.
        os.kill(pids["verification"], signal.SIGKILL)
        port = ports["verification"]

        def restarted() -> bool:
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
            return int(health["pid"]) != pids["verification"]

        wait_for(restarted, timeout=60, what="verification restarted")
        pids["verification"] = int(httpx.get(f"http://127.0.0.1:{port}/healthz").json()["pid"])
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(60)
        out.close()
    assert up.returncode == 0
    for name, pid in pids.items():
        assert not _pid_alive(pid), f"{name} (pid {pid}) left behind"
    for port in ports.values():
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
            raise AssertionError(f"port {port} still answers after Ctrl-C")
        except httpx.TransportError:
            pass
