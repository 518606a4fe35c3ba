"""The event store: a port and its adapters, chosen by `LAPOR_EVENT_STORE`."""

from __future__ import annotations

from pathlib import Path

from shared.store.port import EventStore


def open_store(url: str) -> EventStore:
    if url.startswith("sqlite:///"):
        from shared.store.sqlite import SqliteEventStore

        return SqliteEventStore(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("kurrentdb://", "esdb://", "kurrentdb+discover://", "esdb+discover://")):
        raise NotImplementedError("the KurrentDB adapter is not built yet (issue 8)")
    raise ValueError(f"LAPOR_EVENT_STORE: unsupported URL scheme in {url!r}")
