"""#18 finding 4: the embedded NATS of a fresh `lapor up` refuses anonymous clients, and no
process but the relay may publish events (a forged `Lapor-Position` could stall the relay, a
forged event would reach every institution). Real `lapor up`, real nats-server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest

from shared.runtime.nats_auth import SERVICE_USERS, nats_password
from tests.support import ROOT, free_port, wait_for

SECRET = "nats-auth-test-secret"


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    tmp = tmp_path_factory.mktemp("nats-up")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_")}
    ports = {name: free_port() for name in SERVICE_USERS}
    env.update({f"LAPOR_{n.upper()}_PORT": str(p) for n, p in ports.items()})
    env.update(
        LAPOR_DATA_DIR=str(tmp / "data"),
        LAPOR_NATS_PORT=str(free_port()),
        LAPOR_RELAY_METRICS_PORT=str(free_port()),
        LAPOR_SECRET_KEY=SECRET,
    )
    out = (tmp / "up.out").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "up"], cwd=ROOT, env=env, stdout=out, stderr=out
    )
    try:

        def ready() -> bool:
            assert process.poll() is None, (tmp / "up.out").read_text()
            return all(
                httpx.get(f"http://127.0.0.1:{p}/readyz", timeout=1).status_code == 200
                for p in ports.values()
            )

        wait_for(ready, 120, what="lapor up ready")
        yield env | {"url": f"nats://127.0.0.1:{env['LAPOR_NATS_PORT']}"}
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)


def _as(user: str) -> dict[str, str]:
    return {"user": user, "password": nats_password(SECRET.encode(), user)}


async def test_an_anonymous_client_is_refused(up: dict[str, str]) -> None:
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(up["url"], allow_reconnect=False, max_reconnect_attempts=0)
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(
            up["url"],
            user="intake",
            password="guessed",
            allow_reconnect=False,
            max_reconnect_attempts=0,
        )


@pytest.mark.parametrize("user", [*SERVICE_USERS, "ops"])
async def test_no_process_but_the_relay_publishes_events(up: dict[str, str], user: str) -> None:
    errors: list[str] = []

    async def on_error(error: Exception) -> None:
        errors.append(str(error))

    inbox = "_INBOX.ops" if user == "ops" else "_INBOX"
    nc = await nats.connect(up["url"], error_cb=on_error, inbox_prefix=inbox, **_as(user))
    js = nc.jetstream()
    before = (await js.stream_info("LAPOR_EVENTS")).state.messages if user == "ops" else None
    try:
        forged = {"Nats-Msg-Id": "forged", "Lapor-Position": "99999999"}
        await nc.publish("lapor.v1.events.ReportClosed._._", b"{}", headers=forged)
        with pytest.raises(nats.errors.TimeoutError):
            await js.publish("lapor.v1.events.ReportClosed._._", b"{}", headers=forged, timeout=1)
        await nc.flush()
        wait_for(
            lambda: sum("permissions violation for publish" in e for e in errors) >= 2,
            10,
            what=f"{user} refused: {errors}",
        )
        if before is not None:  # ops looks (read-only) and changes nothing
            assert (await js.stream_info("LAPOR_EVENTS")).state.messages == before
    finally:
        await nc.close()


async def test_the_relay_is_the_one_publisher(up: dict[str, str]) -> None:
    nc = await nats.connect(up["url"], **_as("relay"))
    try:
        info = await nc.jetstream().stream_info("LAPOR_EVENTS")
        assert info.config.subjects == ["lapor.v1.events.>"]
    finally:
        await nc.close()
    config = Path(up["LAPOR_DATA_DIR"]) / "nats" / "nats.conf"
    assert config.stat().st_mode & 0o777 == 0o600  # it holds every password
    text = config.read_text()
    assert text.count('"lapor.v1.events.>"') == 1  # in the relay's publish permissions only
