"""The directory as it is now: the seed file plus every `DirectoryChanged` on its stream.

Three parts, like the report aggregate:
- **evolve**: `DirectoryDraft.apply` folds one change into a working copy (never raises);
- **decide**: `decide_*` compare what is wanted with the current directory and return the changes
  (none when nothing differs, so a repeated command or a re-import appends nothing); `validated`
  checks that the directory after the changes is still valid;
- **the stream**: `Directories` tells the generic repository how to load and append.

Pure: the repository (`shared.runtime.directory`) does the I/O, and keeps the in-memory copy
every service reads (`LiveDirectory`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

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
from shared.events.aggregate import Aggregate
from shared.events.base import DomainEvent
from shared.logs import get_logger
from shared.store.port import RecordedEvent

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


class Entries(Protocol):
    """What an import brings: a whole directory, or only some institutions and rules."""

    @property
    def institutions(self) -> Sequence[Institution]: ...

    @property
    def rules(self) -> Sequence[RoutingRule]: ...


def decide_import(
    directory: Directory, wanted: Entries, progress: Callable[[int], None] | None = None
) -> list[DirectoryChanged]:
    """Every institution and rule of `wanted` that is new or different; nothing is removed.
    `progress(n)` is told after every n institutions compared (for a progress bar)."""
    changes: list[DirectoryChanged] = []
    for index, inst in enumerate(wanted.institutions, 1):
        if progress is not None and index % 100 == 0:
            progress(100)
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


Decide = Callable[[Directory], list[DirectoryChanged]]


class Directories(Aggregate[Directory, Decide]):
    """The `directory` stream for the repository. A command is a function of the current
    directory (one of the `decide_*` above); the changes it returns must leave a valid directory.
    Each change is published under its institution's region and code."""

    def __init__(self, base: DirectoryFile | None = None) -> None:
        self.base = base or default_directory().data

    def stream(self, key: str) -> str:
        return DIRECTORY_STREAM

    def initial(self) -> Directory:
        return build_directory(self.base, [])

    def fold(self, history: Iterable[tuple[DomainEvent, datetime]]) -> Directory:
        # One build for the whole history (an import brings thousands of changes at once).
        changes = [e for e, _ in history if isinstance(e, DirectoryChanged)]
        return build_directory(self.base, changes)

    def evolve(self, state: Directory, event: DomainEvent, at: datetime) -> Directory:
        # Only `address` looks at the state after a change, and it needs the change alone.
        return state

    def decide(self, state: Directory, command: Decide) -> list[DomainEvent]:
        changes = command(state)
        if changes:
            validated(state, changes)
        return list(changes)

    def address(
        self, before: Directory, event: DomainEvent, after: Directory
    ) -> tuple[str | None, str | None]:
        assert isinstance(event, DirectoryChanged)
        # An agency's own systems see the changes to their institution on its subject.
        return _region_of(event), event.code
