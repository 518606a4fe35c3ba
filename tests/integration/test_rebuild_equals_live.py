"""A service's views rebuilt from the store (`Projector.rebuild`, pages of thousands of events in
one transaction, as `lapor rebuild` and a start after a schema change do) hold exactly what the
same views hold when built live, one delivery at a time: every row of every table, for the
lifecycles the domain itself decides (submitted, completed, rejected, verified, forwarded,
followed up, replied, breached, closed, rated), interleaved as a busy day interleaves them."""

from __future__ import annotations

import asyncio
import importlib
import sqlite3
from pathlib import Path

import pytest

from bench.common import _generate
from shared.settings import Settings
from shared.store.sqlite import SqliteEventStore

SERVICES = ("intake", "verification", "routing", "sla", "notify")


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store") / "events.db"
    _generate(path, events=None, reports=400, progress=1.0, seed=21)
    return path


def _tables(path: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    names = [
        row[0]
        for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not row[0].startswith("sqlite_")
    ]
    virtual = {
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL%'"
        )
    }
    # An FTS index's own tables lay out their segments by how the rows came in; its content
    # (read through the virtual table) is what must be equal.
    names = [n for n in names if not any(n.startswith(f"{v}_") for v in virtual)]
    found = {
        name: sorted(
            conn.execute(f'SELECT * FROM "{name}"').fetchall(),
            key=repr,
        )
        for name in names
    }
    conn.close()
    return found


async def build_views(
    service: str, store_path: Path, directory: Path, *, live: bool, batch: int = 10_000
) -> Path:
    """`service`'s views of the store in `directory`: built live (one delivery, one
    transaction, as from NATS) or rebuilt (`Projector.rebuild`, in pages of `batch`)."""
    bootstrap = importlib.import_module(f"services.{service}.bootstrap")
    settings = Settings(data_dir=directory, event_store=f"sqlite:///{store_path}")
    projector = bootstrap.create_projector(settings)
    store = SqliteEventStore(store_path)
    try:
        if live:
            position = 0
            while events := await store.read_all(position, 500):
                for event in events:
                    assert projector.apply_batch([event]) == 1
                position = events[-1].position
        else:
            assert await projector.rebuild(store, batch=batch) == await store.last_position()
    finally:
        projector.close()
        await store.close()
    return Path(settings.view_db(service))


@pytest.mark.parametrize("service", SERVICES)
def test_rebuilt_views_equal_views_built_live(
    service: str, store_path: Path, tmp_path: Path
) -> None:
    live = asyncio.run(build_views(service, store_path, tmp_path / "live", live=True))
    rebuilt = asyncio.run(build_views(service, store_path, tmp_path / "rebuilt", live=False))
    live_tables, rebuilt_tables = _tables(live), _tables(rebuilt)
    assert live_tables.keys() == rebuilt_tables.keys()
    assert any(rows for name, rows in live_tables.items() if name != "checkpoint")
    for name in live_tables:
        assert live_tables[name] == rebuilt_tables[name], name
