from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.driver import Driver, driving
from tests.harness import InProcessSystem, in_process
from tests.support import NatsServer, nats_server


@pytest.fixture(scope="session")
def nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One real nats-server (JetStream on) for the whole test session, on a free port."""
    with nats_server(tmp_path_factory.mktemp("nats-session")) as server:
        yield server


@pytest.fixture
def fresh_nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server of a test's own, for tests that kill or inspect the server."""
    with nats_server(tmp_path) as server:
        yield server


@pytest.fixture
async def lapor(tmp_path: Path) -> AsyncIterator[InProcessSystem]:
    """The five services in this event loop on a real SQLite store (see tests/harness.py)."""
    async with in_process(tmp_path / "lapor") as system:
        yield system


@pytest.fixture
async def drive(lapor: InProcessSystem) -> AsyncIterator[Driver]:
    """The test driver (tests/driver.py) on the in-process `lapor`."""
    async with driving(lapor) as driver:
        yield driver
