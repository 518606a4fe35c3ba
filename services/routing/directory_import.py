"""`lapor directory import FILE`: bring directory entries into the event store, thousands at a
time: an institution's own OPDs and units (Dinas, Puskesmas, UPT…) or a whole national file.

The file has the seed's format (docs/directory-format.md). A whole directory (with
`national_desk` and `ombudsman`) is validated on its own first; a file of some institutions and
rules (without them: an institution's own units under parents already in the directory) is checked
entry by entry. Then the directory it would make is validated as a whole. Each institution that is
new or different becomes one `DirectoryChanged` event, each new or different routing rule another;
everything the file says already is skipped, so importing the same file again appends nothing.
Nothing is removed: an institution missing from the file stays as it is. All events of one import
are appended in one atomic append, so a failed import leaves the directory exactly as it was.
`progress` (the CLI's progress bar) is told what the import is doing.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.clock import Clock, SystemClock, clock_from
from shared.directory.events import DirectoryChanged
from shared.directory.model import (
    Directory,
    DirectoryError,
    DirectoryFile,
    Institution,
    RoutingRule,
    pydantic_problems,
)
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


class Progress(Protocol):
    def __call__(self, phase: str, advance: int = 0, total: int | None = None) -> None: ...


@dataclass(frozen=True)
class Entries:
    """Some institutions and rules (a file without `national_desk`/`ombudsman`)."""

    institutions: tuple[Institution, ...]
    rules: tuple[RoutingRule, ...]
    whole: DirectoryFile | None = None


class ImportFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    national_desk: str | None = None
    ombudsman: str | None = None
    institutions: tuple[Institution, ...] = ()
    routing_rules: tuple[RoutingRule, ...] = ()


MERGED_INDEX = re.compile(r"^institutions\[\d+\] (?=[A-Z0-9-]+:)")


def read_entries(path: Path | str) -> Entries:
    """The file's institutions and rules; `DirectoryError` listing every problem in it."""
    source = Path(path)
    try:
        raw = json.loads(source.read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DirectoryError([f"cannot read the file: {error}"], str(source)) from None
    if isinstance(raw, dict) and "national_desk" in raw and "ombudsman" in raw:
        whole = Directory.load(source)  # a whole directory: valid on its own
        return Entries(whole.institutions, whole.rules, whole.data)
    try:
        parsed = ImportFile.model_validate(raw)
    except ValidationError as error:
        raise DirectoryError(pydantic_problems(error, raw), str(source)) from None
    seen: set[str] = set()
    twice: list[str] = []
    for inst in parsed.institutions:
        if inst.code in seen:
            twice.append(inst.code)
        seen.add(inst.code)
    if twice:
        raise DirectoryError([f"{code}: listed twice" for code in twice], str(source))
    return Entries(parsed.institutions, parsed.routing_rules)


async def import_directory(
    store: EventStore,
    path: Path | str,
    *,
    clock: Clock | None = None,
    actor: Actor | None = None,
    dry_run: bool = False,
    correlation_id: str | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import `path`; raises `DirectoryError` (listing every problem) if the file, or the
    directory it would make, is invalid: then nothing is appended."""
    tell = progress or (lambda phase, advance=0, total=None: None)
    tell("read", 0, 1)
    wanted = read_entries(path)
    tell("read", 1, 1)
    repository = DirectoryRepository(store, clock or SystemClock())
    result = ImportResult(dry_run=dry_run)

    def decide(current: Directory) -> list[DirectoryChanged]:
        result.added.clear()
        result.updated.clear()
        result.warnings.clear()
        tell("compare", 0, len(wanted.institutions))
        changes = decide_import(current, wanted, lambda n: tell("compare", n))
        tell("compare", len(wanted.institutions) % 100)
        tell("check", 0, 1)
        result.added.extend(c.code for c in changes if c.change == "institution_added")
        result.updated.extend(c.code for c in changes if c.change == "institution_updated")
        result.rules_set = sum(1 for c in changes if c.change == "rule_set")
        result.unchanged = len(wanted.institutions) + len(wanted.rules) - len(changes)
        for role in ("national_desk", "ombudsman"):
            named = getattr(wanted.whole, role) if wanted.whole is not None else None
            if named is not None and named != getattr(current.data, role):
                result.warnings.append(
                    f"{role}: the file names {named}, the directory keeps"
                    f" {getattr(current.data, role)} (change it in the seed file)"
                )
        if dry_run:
            # Check that the changes fit the current directory, but append nothing.
            validated(current, changes)
            tell("check", 1)
            return []
        tell("store", 0, len(changes) or 1)
        return changes

    try:
        stored = await repository.decide(
            decide,
            Meta(
                actor=actor or Actor(kind="admin", id="cli"),
                correlation_id=correlation_id or f"directory-import-{uuid.uuid4()}",
            ),
            retry_on_conflict=True,
        )
    except DirectoryError as error:
        # Found in the directory the import would make: its index there is no line of the file.
        problems = [MERGED_INDEX.sub("", problem) for problem in error.problems]
        raise DirectoryError(problems, str(path)) from None
    tell("store", len(stored) or 1)
    return result


def run_import(
    settings: Settings,
    path: Path | str,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Synchronous entry point for the CLI."""

    async def go() -> ImportResult:
        store = open_store(settings.event_store_url)
        try:
            return await import_directory(
                store,
                path,
                clock=clock_from(settings.clock_file),
                dry_run=dry_run,
                progress=progress,
            )
        finally:
            await store.close()

    return asyncio.run(go())
