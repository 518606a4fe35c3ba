"""The directory as it is now: the seed file plus every `DirectoryChanged` on its stream.

Three parts, like the report aggregate:
- **evolve**: `DirectoryDraft.apply` folds one change into a working copy (never raises);
- **decide**: `decide_*` compare what is wanted with the current directory and return the changes
  (none when nothing differs, so a repeated command or a re-import appends nothing); `validated`
  checks that the directory after the changes is still valid;
- **use case**: `DirectoryRepository.execute` loads the stream, decides, appends with the
  expected version.

`LiveDirectory` is the routing service's in-memory copy, kept current by its event consumer.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from shared.clock import Clock
from shared.directory.events import (
    DIRECTORY_STREAM,
    DirectoryChanged,
    InstitutionRecord,
    RoutingRuleRecord,
)
from shared.directory.model import (
    Directory,
    DirectoryError,
    DirectoryFile,
    Institution,
    RoutingRule,
    default_directory,
)
from shared.events.base import Actor
from shared.logs import get_logger
from shared.runtime.repository import fixed_event_id
from shared.store.port import EventStore, NewEvent, RecordedEvent, WrongExpectedVersion

log = get_logger(__name__)

RuleKey = tuple[str | None, str | None]


def _rule_key(rule: RoutingRuleRecord | RoutingRule) -> RuleKey:
    return (rule.region_prefix, rule.category)


def institution_record(inst: Institution) -> InstitutionRecord:
    return InstitutionRecord.model_validate(inst.model_dump(mode="json"))


def rule_record(rule: RoutingRule) -> RoutingRuleRecord:
    return RoutingRuleRecord.model_validate(rule.model_dump(mode="json"))


# --- evolve --------------------------------------------------------------------------------------
class DirectoryDraft:
    """A mutable working copy of a directory file that changes are folded into."""

    def __init__(self, base: DirectoryFile) -> None:
        self.head: dict[str, Any] = {
            "version": base.version,
            "national_desk": base.national_desk,
            "ombudsman": base.ombudsman,
        }
        self.institutions: dict[str, dict[str, Any]] = {
            i.code: i.model_dump(mode="json") for i in base.institutions
        }
        self.rules: dict[RuleKey, dict[str, Any]] = {
            _rule_key(r): r.model_dump(mode="json") for r in base.routing_rules
        }

    def copy(self) -> DirectoryDraft:
        clone = DirectoryDraft.__new__(DirectoryDraft)
        clone.head = dict(self.head)
        clone.institutions = dict(self.institutions)
        clone.rules = dict(self.rules)
        return clone

    def apply(self, change: DirectoryChanged) -> None:
        """Fold one change in. Never raises: stored events are facts."""
        if change.change in ("institution_added", "institution_updated"):
            if change.institution is not None:
                self.institutions[change.code] = change.institution.model_dump(mode="json")
        elif change.change == "rule_set" and change.rule is not None:
            self.rules[_rule_key(change.rule)] = change.rule.model_dump(
                mode="json", exclude_none=False
            )
        elif change.change == "rule_removed" and change.rule is not None:
            self.rules.pop(_rule_key(change.rule), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.head,
            "institutions": list(self.institutions.values()),
            "routing_rules": list(self.rules.values()),
        }

    def build(self) -> Directory:
        """The validated directory; `DirectoryError` if the changes made it invalid."""
        return Directory.from_dict(self.to_dict())


def build_directory(base: DirectoryFile, changes: Sequence[DirectoryChanged]) -> Directory:
    """The seed plus the changes. A change that would break the directory is skipped (and logged):
    the store keeps it as a fact, but routing must always have a valid directory."""
    draft = DirectoryDraft(base)
    for change in changes:
        draft.apply(change)
    try:
        return draft.build()
    except DirectoryError:
        pass
    # Slow path, only when something stored does not fit any more: apply one by one.
    draft = DirectoryDraft(base)
    for index, change in enumerate(changes):
        trial = draft.copy()
        trial.apply(change)
        try:
            trial.build()
        except DirectoryError as error:
            log.warning(
                "directory_change_skipped",
                index=index,
                code=change.code,
                change=change.change,
                problems=list(error.problems)[:5],
            )
            continue
        draft = trial
    return draft.build()


# --- decide --------------------------------------------------------------------------------------
class InstitutionExists(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(f"code: institution {code} already exists; use PUT to update it")
        self.code = code


def decide_add(directory: Directory, inst: Institution) -> list[DirectoryChanged]:
    existing = directory.find(inst.code)
    if existing is not None:
        if existing == inst:
            return []  # the same request again
        raise InstitutionExists(inst.code)
    return [
        DirectoryChanged(
            change="institution_added", code=inst.code, institution=institution_record(inst)
        )
    ]


def decide_update(directory: Directory, inst: Institution) -> list[DirectoryChanged]:
    existing = directory.get(inst.code)  # UnknownAgency if there is none
    if existing == inst:
        return []
    return [
        DirectoryChanged(
            change="institution_updated", code=inst.code, institution=institution_record(inst)
        )
    ]


def decide_rule(directory: Directory, rule: RoutingRule) -> list[DirectoryChanged]:
    for existing in directory.rules:
        if _rule_key(existing) == _rule_key(rule) and existing == rule:
            return []
    return [DirectoryChanged(change="rule_set", code=rule.agency_code, rule=rule_record(rule))]


def decide_rule_removal(
    directory: Directory, region_prefix: str | None, category: str | None
) -> list[DirectoryChanged]:
    for existing in directory.rules:
        if _rule_key(existing) == (region_prefix, category):
            return [
                DirectoryChanged(
                    change="rule_removed", code=existing.agency_code, rule=rule_record(existing)
                )
            ]
    return []


def decide_import(directory: Directory, wanted: Directory) -> list[DirectoryChanged]:
    """Every institution and rule of `wanted` that is new or different; nothing is removed."""
    changes: list[DirectoryChanged] = []
    for inst in wanted.institutions:
        existing = directory.find(inst.code)
        if existing == inst:
            continue
        changes.append(
            DirectoryChanged(
                change="institution_added" if existing is None else "institution_updated",
                code=inst.code,
                institution=institution_record(inst),
                source="import",
            )
        )
    current_rules = {_rule_key(r): r for r in directory.rules}
    for rule in wanted.rules:
        if current_rules.get(_rule_key(rule)) == rule:
            continue
        changes.append(
            DirectoryChanged(
                change="rule_set", code=rule.agency_code, rule=rule_record(rule), source="import"
            )
        )
    return changes


# --- the stream ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DirectoryMeta:
    actor: Actor
    correlation_id: str
    causation_id: str | None = None
    idempotency_key: str | None = None


Decide = Callable[[Directory], list[DirectoryChanged]]


class DirectoryRepository:
    """Load the `directory` stream, decide, append with the expected version."""

    def __init__(self, store: EventStore, clock: Clock, base: DirectoryFile | None = None) -> None:
        self.store = store
        self.clock = clock
        self.base = base or default_directory().data

    async def load(self) -> tuple[Directory, list[RecordedEvent]]:
        history = await self.store.read(DIRECTORY_STREAM)
        changes = [_change(e) for e in history]
        return build_directory(self.base, [c for c in changes if c is not None]), history

    async def execute(
        self, decide: Decide, meta: DirectoryMeta, *, retry_on_conflict: bool = False
    ) -> list[RecordedEvent]:
        """Run one decision; returns the stored events (none when nothing changed).

        Raises whatever `decide` raises, `DirectoryError` when the changes would leave an invalid
        directory, and `WrongExpectedVersion` on a conflict unless `retry_on_conflict`.
        """
        for attempt in range(5):
            directory, history = await self.load()
            if meta.idempotency_key is not None:
                first = fixed_event_id(DIRECTORY_STREAM, meta.idempotency_key, 0)
                done = [i for i, e in enumerate(history) if e.event_id == first]
                if done:
                    ids = {
                        fixed_event_id(DIRECTORY_STREAM, meta.idempotency_key, i)
                        for i in range(len(history) - done[0])
                    }
                    return [e for e in history[done[0] :] if e.event_id in ids]
            changes = decide(directory)
            if not changes:
                return []
            validated(directory, changes)
            try:
                return await self.store.append(
                    DIRECTORY_STREAM, self._envelopes(changes, meta), expected_version=len(history)
                )
            except WrongExpectedVersion:
                if not retry_on_conflict or attempt == 4:
                    raise
        raise AssertionError("unreachable")

    def _envelopes(
        self, changes: Sequence[DirectoryChanged], meta: DirectoryMeta
    ) -> list[NewEvent]:
        now = self.clock.now()
        return [
            NewEvent.of(
                change,
                occurred_at=now,
                actor=meta.actor,
                correlation_id=meta.correlation_id,
                causation_id=meta.causation_id,
                event_id=(
                    fixed_event_id(DIRECTORY_STREAM, meta.idempotency_key, index)
                    if meta.idempotency_key is not None
                    else uuid.uuid4()
                ),
                region_code=_region_of(change),
                # An agency's own systems see the changes to their institution on its subject.
                agency_code=change.code,
            )
            for index, change in enumerate(changes)
        ]


def validated(directory: Directory, changes: Iterable[DirectoryChanged]) -> Directory:
    """The directory after `changes`; `DirectoryError` naming the problems if it is not valid."""
    draft = DirectoryDraft(directory.data)
    for change in changes:
        draft.apply(change)
    return draft.build()


def _region_of(change: DirectoryChanged) -> str | None:
    if change.institution is not None:
        return change.institution.region_code
    if change.rule is not None:
        return change.rule.region_prefix
    return None


def _change(event: RecordedEvent) -> DirectoryChanged | None:
    if event.event_type != DirectoryChanged.event_type:
        return None
    payload = event.payload()
    return payload if isinstance(payload, DirectoryChanged) else None


# --- the routing service's copy ------------------------------------------------------------------
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
