"""A report's deadlines kept up to date one fact at a time: the same results as
``shared.reports.deadlines.derive`` over all the facts, without walking them all again.

`derive` walks a report's whole history at every call; a view that calls it at each event pays
for the report's n facts n times over. A `Derivation` keeps the walk's state after the last fact
and steps only the new one through the same rules (``deadlines._step``); it derives from scratch
only where the walk cannot be extended: a fact older than the last one, a repeat, or a region
change (every deadline of a report is counted in its *final* region, so a new region recounts
them all). A deadline none of whose inputs changed is the same `Deadline` object as before, so a
view can tell the rows it must write by identity. `tests/unit/test_deadline_folding.py` checks
that folding equals `derive` after every fact of many random and real lifecycles.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable

from shared.calendar import WorkingDayCalendar, timezone_for_region
from shared.reports.deadlines import (
    _REGION_EVENTS,
    Deadline,
    ReportDeadlines,
    Stage,
    Status,
    _breach_and_scope,
    _Cycle,
    _deadline,
    _final_region,
    _step,
    _Walk,
    _with_late_cycles,
)
from shared.reports.facts import Fact
from shared.reports.policy import SlaPolicy


class Derivation:
    """The deadlines of one report after the facts folded so far (`facts`, by version)."""

    def __init__(
        self,
        tracking_id: str,
        calendar: WorkingDayCalendar,
        policy: SlaPolicy,
        stages: Collection[Stage] | None = None,
    ) -> None:
        """`stages`: only the deadlines of these stages are made (all when None); the others
        are still walked, since they move each other."""
        self.tracking_id = tracking_id
        self.stages = stages
        self.calendar = calendar
        self.policy = policy
        self.facts: list[Fact] = []
        self.versions: set[int] = set()
        self.result = ReportDeadlines(tracking_id, "unknown", None, None)
        self._walk: _Walk | None = None
        # Each deadline's inputs when it was last made, and the Deadline made from them.
        self._made: dict[str, tuple[Hashable, Deadline]] = {}
        self._unsettled = False  # facts added since `result` was made

    @classmethod
    def of(
        cls,
        tracking_id: str,
        facts: Iterable[Fact],
        calendar: WorkingDayCalendar,
        policy: SlaPolicy,
        stages: Collection[Stage] | None = None,
    ) -> Derivation:
        derivation = cls(tracking_id, calendar, policy, stages)
        derivation._restart({f.version: f for f in facts}.values())
        derivation.settle()
        return derivation

    def fold(self, fact: Fact) -> ReportDeadlines:
        """The deadlines once `fact` is known too (a version already known changes nothing)."""
        self.add(fact)
        return self.settle()

    def add(self, fact: Fact) -> bool:
        """Step `fact` into the walk without making the deadlines yet (`settle` makes them): a
        view folding several facts of one report in a transaction makes them once at its end.
        False for a version already known (nothing changes)."""
        if fact.version in self.versions:
            return False
        walk = self._walk
        if (
            walk is None
            or fact.version < self.facts[-1].version
            or (fact.event_type in _REGION_EVENTS and fact.region_code != walk.region)
        ):
            self._restart([*self.facts, fact])
            return True
        self.facts.append(fact)
        self.versions.add(fact.version)
        _step(walk, fact)
        self._unsettled = True
        return True

    def settle(self) -> ReportDeadlines:
        """The deadlines after every fact added so far."""
        if self._unsettled:
            self._unsettled = False
            self.result = (
                self._settle(self._walk)
                if self._walk is not None
                else ReportDeadlines(self.tracking_id, "unknown", None, None)
            )
        return self.result

    @property
    def status(self) -> str:
        """The report's status after the facts added so far (what `settle` will say)."""
        return self._walk.status if self._walk is not None else "unknown"

    def running(self, stage: Stage) -> tuple[bool, int | None]:
        """Whether the latest deadline of `stage` runs (open or paused) after the facts added so
        far, and its working days left (`remaining_working_days`): what `settle` would say of
        them, without making a deadline (for a view that needs only these between two facts)."""
        walk = self._walk
        if walk is not None:
            for cycle in reversed(walk.cycles):
                if cycle.stage is stage:
                    if cycle.status is Status.OPEN or cycle.status is Status.PAUSED:
                        return True, cycle.remaining if stage is Stage.VERIFICATION else None
                    break
        return False, None

    @property
    def region_code(self) -> str | None:
        """The report's region after the facts added so far (what `settle` will say)."""
        return self._walk.region if self._walk is not None else None

    @property
    def agency_code(self) -> str | None:
        """The report's institution after the facts added so far (what `settle` will say)."""
        return self._walk.agency if self._walk is not None else None

    def _restart(self, facts: Iterable[Fact]) -> None:
        """Walk every fact from the first, as `derive` does."""
        self.facts = sorted(facts, key=lambda f: f.version)
        self.versions = {f.version for f in self.facts}
        self._made = {}
        self._unsettled = True
        if not self.facts or self.facts[0].event_type != "ReportSubmitted":
            self._walk = None
            return
        region = _final_region(self.facts)
        walk = _Walk(self.calendar, self.policy, region, timezone_for_region(region))
        for fact in self.facts:
            _step(walk, fact)
        self._walk = walk

    def _settle(self, walk: _Walk) -> ReportDeadlines:
        """`derive`'s ending, reusing every deadline whose inputs are those of last time."""
        stages = self.stages
        deadlines = tuple(
            self._made_again(walk, cycle)
            for cycle in _with_late_cycles(walk)
            if stages is None or cycle.stage in stages
        )
        return ReportDeadlines(
            tracking_id=self.tracking_id,
            status=walk.status,
            region_code=walk.region,
            agency_code=walk.agency,
            deadlines=deadlines,
            escalated=walk.escalated is not None,
        )

    def _made_again(self, walk: _Walk, cycle: _Cycle) -> Deadline:
        breach_recorded, current_scope = _breach_and_scope(walk, cycle)
        # Everything `_deadline` reads besides the walk's region, which never changes in a walk.
        inputs = (
            cycle.agency_code,
            cycle.limit,
            cycle.start.version,
            cycle.due,
            cycle.status,
            cycle.ended.version if cycle.ended is not None else None,
            cycle.remaining,
            cycle.closes_on,
            breach_recorded,
            current_scope,
            cycle.due is not None and (cycle.stage.value, cycle.due) in walk.warned,
        )
        key = f"{cycle.stage.value}:{cycle.cycle}"
        made = self._made.get(key)
        if made is not None and made[0] == inputs:
            return made[1]
        deadline = _deadline(self.tracking_id, walk, cycle, breach_recorded, current_scope)
        self._made[key] = (inputs, deadline)
        return deadline
