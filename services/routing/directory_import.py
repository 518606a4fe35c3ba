"""`lapor directory import FILE`: bring a full (national) directory file into the event store.

The file has the seed's format (docs/directory-format.md) and is validated on its own first, then
together with the current directory. Each institution that is new or different becomes one
`DirectoryChanged` event, each new or different routing rule another; everything the file says
already is skipped, so importing the same file again appends nothing. Nothing is removed: an
institution missing from the file stays as it is. All events of one import are appended in one
atomic append, so a failed import leaves the directory exactly as it was.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from shared.clock import Clock, SystemClock, clock_from
from shared.directory.events import DirectoryChanged
from shared.directory.model import Directory
from shared.directory.state import decide_import, validated
from shared.events.base import Actor
from shared.runtime.directory import DirectoryRepository
from shared.runtime.repository import Meta
from shared.settings import Settings
from shared.store import open_store
from shared.store.port import EventStore


@dataclass
class ImportResult:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    rules_set: int = 0
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def events(self) -> int:
        return len(self.added) + len(self.updated) + self.rules_set

    def summary(self) -> str:
        verb = "would append" if self.dry_run else "appended"
        return (
            f"directory import: {len(self.added)} institution(s) added,"
            f" {len(self.updated)} updated, {self.rules_set} routing rule(s) set,"
            f" {self.unchanged} unchanged; {verb} {self.events} DirectoryChanged event(s)"
        )


async def import_directory(
    store: EventStore,
    path: Path | str,
    *,
    clock: Clock | None = None,
    actor: Actor | None = None,
    dry_run: bool = False,
    correlation_id: str | None = None,
) -> ImportResult:
    """Import `path`; raises `DirectoryError` (listing every problem) if the file, or the
    directory it would make, is invalid: then nothing is appended."""
    wanted = Directory.load(path)
    repository = DirectoryRepository(store, clock or SystemClock())
    result = ImportResult(dry_run=dry_run)

    def decide(current: Directory) -> list[DirectoryChanged]:
        result.added.clear()
        result.updated.clear()
        result.warnings.clear()
        changes = decide_import(current, wanted)
        result.added.extend(c.code for c in changes if c.change == "institution_added")
        result.updated.extend(c.code for c in changes if c.change == "institution_updated")
        result.rules_set = sum(1 for c in changes if c.change == "rule_set")
        result.unchanged = len(wanted.institutions) + len(wanted.rules) - len(changes)
        for role in ("national_desk", "ombudsman"):
            if getattr(wanted.data, role) != getattr(current.data, role):
                result.warnings.append(
                    f"{role}: the file names {getattr(wanted.data, role)}, the directory keeps"
                    f" {getattr(current.data, role)} (change it in the seed file)"
                )
        if dry_run:
            # Check that the changes fit the current directory, but append nothing.
            validated(current, changes)
            return []
        return changes

    await repository.decide(
        decide,
        Meta(
            actor=actor or Actor(kind="admin", id="cli"),
            correlation_id=correlation_id or f"directory-import-{uuid.uuid4()}",
        ),
        retry_on_conflict=True,
    )
    return result


def run_import(settings: Settings, path: Path | str, *, dry_run: bool = False) -> ImportResult:
    """Synchronous entry point for the CLI."""

    async def go() -> ImportResult:
        store = open_store(settings.event_store_url)
        try:
            return await import_directory(
                store, path, clock=clock_from(settings.clock_file), dry_run=dry_run
            )
        finally:
            await store.close()

    return asyncio.run(go())
