"""One fresh LAPOR per test module (every service, its own nats-server and data directory), with
a fake Kannel sendsms behind notify. A module may set `SYSTEM_ENV` for more environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.support import Lapor, SendsmsSink, lapor_system
from tests.support import NatsServer, System, nats_server


@pytest.fixture(scope="module")
def module_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    with nats_server(tmp_path_factory.mktemp("security-nats")) as server:
        yield server


@pytest.fixture(scope="module")
def sendsms() -> Iterator[SendsmsSink]:
    sink = SendsmsSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def system(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    module_nats: NatsServer,
    sendsms: SendsmsSink,
) -> Iterator[System]:
    env = {"LAPOR_SMS_SENDSMS_URL": sendsms.url} | getattr(request.module, "SYSTEM_ENV", {})
    running = lapor_system(tmp_path_factory.mktemp("security-data"), module_nats, env)
    try:
        yield running
    finally:
        running.stop_all()
        for name in ("relay", "intake", "verification", "routing", "sla", "notify"):
            log = running.log(name)
            if "Traceback" in log:
                print(f"--- {name} log (tail) ---", log[-3000:], sep="\n")


@pytest.fixture(scope="module")
def lapor(system: System) -> Iterator[Lapor]:
    users = Lapor(system)
    yield users
    users.close()
