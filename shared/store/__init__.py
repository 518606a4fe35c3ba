"""The event store: a port and its adapters, chosen by `LAPOR_EVENT_STORE`."""

from __future__ import annotations

from pathlib import Path

from shared.store.port import EventStore


def open_store(url: str, *, create: bool = True) -> EventStore:
    """`create=False` opens an existing store as it is, changing nothing (audits)."""
    if url.startswith("sqlite:///"):
        from shared.store.sqlite import SqliteEventStore

        return SqliteEventStore(Path(url.removeprefix("sqlite:///")), create_schema=create)
    if url.startswith(("kurrentdb://", "esdb://", "kurrentdb+discover://", "esdb+discover://")):
        from shared.store.kurrentdb import KurrentDbEventStore

        return KurrentDbEventStore(url)
    raise ValueError(f"LAPOR_EVENT_STORE: unsupported URL scheme in {url!r}")
