"""Fixtures for the KurrentDB adapter: the in-process double, or a real server when
LAPOR_TEST_KURRENTDB_URL names one (e.g. kurrentdb://admin:changeit@localhost:2113?Tls=false)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from shared.store.kurrentdb import KurrentDbEventStore
from tests.contract.store_contract import StoreFactory
from tests.kurrentdb_double import KurrentDbDouble

REAL_SERVER_URL = os.environ.get("LAPOR_TEST_KURRENTDB_URL", "")


@pytest.fixture(scope="module")
def shared_double() -> Iterator[KurrentDbDouble]:
    """One double for a module's contract tests (they never assume the store is empty)."""
    with KurrentDbDouble() as double:
        yield double


@pytest.fixture
def double() -> Iterator[KurrentDbDouble]:
    """A double of a test's own, for tests that stop, restart or break it."""
    with KurrentDbDouble() as one:
        yield one


@pytest.fixture(
    params=[
        "double",
        pytest.param(
            "server",
            marks=pytest.mark.skipif(
                not REAL_SERVER_URL, reason="set LAPOR_TEST_KURRENTDB_URL to run against a server"
            ),
        ),
    ]
)
def kurrentdb_url(request: pytest.FixtureRequest) -> str:
    if request.param == "server":
        return REAL_SERVER_URL
    double: KurrentDbDouble = request.getfixturevalue("shared_double")
    return double.url


@pytest.fixture
async def store(kurrentdb_url: str) -> AsyncIterator[KurrentDbEventStore]:
    opened = KurrentDbEventStore(kurrentdb_url)
    yield opened
    await opened.close()


@pytest.fixture
async def store_factory(kurrentdb_url: str) -> AsyncIterator[StoreFactory]:
    opened: list[KurrentDbEventStore] = []

    async def another() -> KurrentDbEventStore:
        opened.append(KurrentDbEventStore(kurrentdb_url))
        return opened[-1]

    yield another
    for one in opened:
        await one.close()
