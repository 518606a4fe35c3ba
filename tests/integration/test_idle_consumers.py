"""A service waiting for events costs almost nothing, and still hears the next one at once.

Each service's durable pull consumer keeps one pull request open on the server for a whole period
(`IDLE_PULL_SECONDS`) and handles whatever a pull brings as soon as it comes. Before, FastStream's
batch loop asked every 20 ms to fill its batch: 50 requests a second per service while nothing
happened (≈ 4% of a core each, and nats-server answering them all)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.runtime.bus import IDLE_PULL_SECONDS
from tests.support import NatsServer, System, nats_server, start_system, wait_for

SERVICES = ("intake", "verification", "routing", "sla")
QUIET_SECONDS = 3.0


@pytest.fixture
def monitored_nats(tmp_path: Path) -> Iterator[NatsServer]:
    with nats_server(tmp_path, monitor=True) as server:
        yield server


@pytest.fixture
def idle_system(monitored_nats: NatsServer, tmp_path: Path) -> Iterator[System]:
    # Quiet means quiet: no audit checkpoint (an event every service would pull) in the window.
    quiet = {"LAPOR_AUDIT_CHECKPOINT_SECONDS": "3600"}
    running = start_system(tmp_path / "data", monitored_nats.url, SERVICES, extra_env=quiet)
    try:
        yield running
    finally:
        running.stop_all()


def messages_from_clients(server: NatsServer) -> int:
    """Every message the server has received from its clients (pull requests are messages)."""
    connz = httpx.get(f"http://127.0.0.1:{server.monitor_port}/connz", timeout=5).json()
    return sum(int(c["in_msgs"]) for c in connz["connections"])


def projection_position(system: System, service: str) -> float:
    metrics = httpx.get(f"{system.url(service)}/metrics", timeout=5).text
    for line in metrics.splitlines():
        if line.startswith(f'lapor_projection_position{{service="{service}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_idle_services_barely_ask_and_still_hear_the_next_event_at_once(
    idle_system: System, monitored_nats: NatsServer
) -> None:
    def every_consumer_waiting() -> bool:
        connz = httpx.get(f"http://127.0.0.1:{monitored_nats.monitor_port}/connz", timeout=5)
        return len(connz.json()["connections"]) >= len(SERVICES) + 1  # and the relay

    wait_for(every_consumer_waiting, 30, what="every service connected")
    before = messages_from_clients(monitored_nats)
    time.sleep(QUIET_SECONDS)  # a measured quiet period, not a wait for anything
    asked = messages_from_clients(monitored_nats) - before
    # A pull per period per service (and, rarely, one just re-armed): not 50 a second each.
    periods = QUIET_SECONDS / IDLE_PULL_SECONDS + 1
    assert asked <= len(SERVICES) * 2 * periods + 2, f"{asked} requests in {QUIET_SECONDS} s"

    heard_before = {s: projection_position(idle_system, s) for s in ("verification", "sla")}
    answer = httpx.post(
        f"{idle_system.url('intake')}/api/v1/reports",
        json={"title": "Lampu jalan mati", "body": "Lampu jalan di depan sekolah mati sebulan."},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    # The open pull answers with the event the moment the relay publishes it: each service's
    # view moves well within one idle period (the limit stretches with the machine's load).
    for service, before_position in heard_before.items():
        wait_for(
            lambda s=service, p=before_position: projection_position(idle_system, s) > p,
            IDLE_PULL_SECONDS / 2,
            interval=0.02,
            what=f"{service} to hear the report",
        )
