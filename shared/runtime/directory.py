"""The directory's I/O: its repository (load, decide, append) and the in-memory copy every
service keeps current from the `directory` stream's events."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from shared.clock import Clock
from shared.directory.events import DIRECTORY_STREAM, DirectoryChanged
from shared.directory.model import Directory, DirectoryFile, default_directory
from shared.directory.state import Decide, Directories, build_directory
from shared.runtime.repository import Meta, Repository
from shared.store.port import EventStore, RecordedEvent


class DirectoryRepository(Repository[Directory, Decide]):
    """Load the `directory` stream, decide, append with the expected version."""

    def __init__(self, store: EventStore, clock: Clock, base: DirectoryFile | None = None) -> None:
        super().__init__(store, clock, Directories(base))

    async def current(self) -> tuple[Directory, list[RecordedEvent]]:
        return await self.load(DIRECTORY_STREAM)

    async def decide(
        self, decide: Decide, meta: Meta, *, retry_on_conflict: bool = False
    ) -> list[RecordedEvent]:
        """Run one decision; returns the stored events (none when nothing changed).

        Raises whatever `decide` raises, `DirectoryError` when the changes would leave an invalid
        directory, and `WrongExpectedVersion` on a conflict unless `retry_on_conflict`.
        """
        return await self.execute(
            DIRECTORY_STREAM, decide, meta, retry_on_conflict=retry_on_conflict
        )


def _change(event: RecordedEvent) -> DirectoryChanged | None:
    if event.event_type != DirectoryChanged.event_type:
        return None
    payload = event.payload()
    return payload if isinstance(payload, DirectoryChanged) else None


class LiveDirectory:
    """The current directory in memory: loaded from the store at start, then kept current by
    applying each `DirectoryChanged` the service's consumer (or its own HTTP command) sees."""

    def __init__(self, store: EventStore, base: DirectoryFile | None = None) -> None:
        self.store = store
        self.base = base or default_directory().data
        self.version = 0
        self._changes: list[DirectoryChanged] = []
        self._directory: Directory | None = None
        self._loaded = False
        self._lock = asyncio.Lock()

    def reset(self, history: Sequence[RecordedEvent]) -> None:
        self._changes = [c for c in (_change(e) for e in history) if c is not None]
        self.version = history[-1].stream_version if history else 0
        self._directory = None
        self._loaded = True

    async def get(self) -> Directory:
        """The current directory, reading the `directory` stream the first time."""
        if not self._loaded:
            async with self._lock:
                if not self._loaded:
                    await self.refresh()
        return self.current

    def observe(self, event: RecordedEvent) -> bool:
        """Apply a recorded directory event; False when it is not the next one (reload then)."""
        if not self._loaded:
            return False
        if event.stream != DIRECTORY_STREAM or event.stream_version <= self.version:
            return True
        if event.stream_version != self.version + 1:
            return False
        change = _change(event)
        if change is not None:
            self._changes.append(change)
        self.version = event.stream_version
        self._directory = None  # rebuilt lazily: an import brings thousands of changes at once
        return True

    @property
    def current(self) -> Directory:
        if self._directory is None:
            self._directory = build_directory(self.base, self._changes)
        return self._directory

    async def refresh(self) -> None:
        self.reset(await self.store.read(DIRECTORY_STREAM))


def follow(live: LiveDirectory) -> Callable[[RecordedEvent], Awaitable[None]]:
    """A reaction that keeps `live` current from the `directory` stream's events (a service
    that reads the directory passes it to its consumer, alone or with its own reactions)."""

    async def react(event: RecordedEvent) -> None:
        if event.stream == DIRECTORY_STREAM and not live.observe(event):
            await live.refresh()

    return react
