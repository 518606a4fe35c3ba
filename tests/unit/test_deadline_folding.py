"""Folding a report's facts one at a time (`shared.reports.folding.Derivation`) gives exactly the
deadlines `derive` gives from all of them at once: after every fact, for random sequences of
facts (any order, repeats, region changes, every event type the rules read) and for lifecycles
the domain itself decided (the benchmark's generator)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.common import lifecycle
from shared.calendar import WorkingDayCalendar
from shared.events.registry import parse_payload
from shared.reports.deadlines import Stage, Status, derive
from shared.reports.facts import RELEVANT_EVENT_TYPES, Fact, fact_of
from shared.reports.folding import Derivation
from shared.reports.policy import DEFAULT_POLICY, SlaPolicy

CAL = WorkingDayCalendar.default()
TID = "ABCDEFGH2K"
START = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
# Jakarta (WIB), Kupang (WITA), Jayapura (WIT), a village of Aceh, none.
REGIONS = ("3171", "5371", "9171", "1101012001", None)
AGENCIES = ("DINKES-KOTA-KUPANG", "DISHUB-KOTA-KUPANG", None)
# An institution with limits of its own, so the holder's limits matter.
POLICY = SlaPolicy.model_validate(
    {"agencies": {"DINKES-KOTA-KUPANG": {"follow_up": {"days": 2}, "auto_close": {"days": 4}}}}
)


@st.composite
def fact_sequences(draw: st.DrawFn) -> list[Fact]:
    count = draw(st.integers(1, 24))
    facts: list[Fact] = []
    at = START
    for version in range(1, count + 1):
        at += timedelta(hours=draw(st.integers(0, 24 * 9)))
        event_type = (
            "ReportSubmitted"
            if version == 1 and draw(st.booleans())
            else draw(st.sampled_from(sorted(RELEVANT_EVENT_TYPES)))
        )
        due = (at + timedelta(days=draw(st.integers(-3, 12)))).date()
        facts.append(
            Fact(
                event_type=event_type,
                version=version,
                at=at,
                event_id=f"e{version}",
                correlation_id="cid-1",
                agency_code=draw(st.sampled_from(AGENCIES)),
                follow_up_due=due if draw(st.booleans()) else None,
                region_code=draw(st.sampled_from(REGIONS)),
                requires_field_inspection=draw(st.sampled_from((True, False, None))),
                kind=draw(st.sampled_from(("interim", "final", "question", None))),
                stage=draw(st.sampled_from(("verification", "follow_up", "resolution", None))),
                due=due,
                reason=draw(st.sampled_from(("no_response", "incomplete", "resolved", None))),
            )
        )
    # Sometimes delivered out of order or twice, as a redelivery or a catch-up may.
    order = draw(st.permutations(facts)) if draw(st.integers(0, 4)) == 0 else facts
    repeats = draw(st.lists(st.sampled_from(facts), max_size=3))
    return [*order, *repeats]


def assert_folds_like_derive(facts: list[Fact], policy: SlaPolicy) -> None:
    derivation = Derivation(TID, CAL, policy)
    seen: list[Fact] = []
    for fact in facts:
        seen.append(fact)
        assert derivation.fold(fact) == derive(TID, seen, CAL, policy), [
            (f.event_type, f.version) for f in seen
        ]
    assert Derivation.of(TID, seen, CAL, policy).result == derive(TID, seen, CAL, policy)
    # Several facts added, the deadlines made once (a view's transaction of several events):
    # settled after every third fact, and the region and institution known before settling.
    batched = Derivation(TID, CAL, policy)
    for n, fact in enumerate(facts, start=1):
        batched.add(fact)
        derived = derive(TID, facts[:n], CAL, policy)
        assert (batched.region_code, batched.agency_code, batched.status) == (
            derived.region_code,
            derived.agency_code,
            derived.status,
        )
        # Whether each stage's latest deadline runs, and its days left, known before settling.
        for stage in Stage:
            latest = derived.of_stage(stage)[-1:]
            assert batched.running(stage) == (
                (True, latest[0].remaining_working_days)
                if latest and latest[0].status in (Status.OPEN, Status.PAUSED)
                else (False, None)
            )
        if n % 3 == 0 or n == len(facts):
            assert batched.settle() == derived
    # Made for some stages only (the desk's): those deadlines, the same.
    desk = {Stage.VERIFICATION, Stage.REFORWARD}
    some = Derivation(TID, CAL, policy, desk)
    for n, fact in enumerate(facts, start=1):
        derived = derive(TID, facts[:n], CAL, policy)
        folded = some.fold(fact)
        assert folded.status == derived.status
        assert folded.deadlines == tuple(d for d in derived.deadlines if d.stage in desk)


@settings(max_examples=400, deadline=None)
@given(fact_sequences(), st.sampled_from((DEFAULT_POLICY, POLICY)))
def test_folding_random_facts_equals_deriving_from_all_of_them(
    facts: list[Fact], policy: SlaPolicy
) -> None:
    assert_folds_like_derive(facts, policy)


def test_folding_lifecycles_the_domain_decided_equals_deriving_from_all_of_them() -> None:
    rng = random.Random(21)
    for n in range(300):
        _, events = lifecycle(rng, START + timedelta(days=n))
        facts = [
            fact
            for version, event in enumerate(events, start=1)
            if (
                fact := fact_of(
                    parse_payload(event.event_type, event.schema_version, event.data),
                    version=version,
                    at=event.occurred_at,
                    event_id=str(event.event_id),
                    correlation_id=event.correlation_id,
                )
            )
            is not None
        ]
        assert_folds_like_derive(facts, DEFAULT_POLICY)
        assert_folds_like_derive(facts, POLICY)


def test_a_deadline_whose_inputs_did_not_change_is_the_same_object() -> None:
    """What lets a view write only the rows an event changed."""
    at = START
    facts = [
        Fact(event_type="ReportSubmitted", version=1, at=at, event_id="e1", correlation_id="c",
             region_code="5371"),
        Fact(event_type="ReportVerified", version=2, at=at + timedelta(days=1), event_id="e2",
             correlation_id="c", region_code="5371"),
        Fact(event_type="ForwardedToOPD", version=3, at=at + timedelta(days=1), event_id="e3",
             correlation_id="c", agency_code="DINKES-KOTA-KUPANG",
             follow_up_due=date(2026, 3, 20)),
    ]  # fmt: skip
    derivation = Derivation.of(TID, facts[:2], CAL, DEFAULT_POLICY)
    before = {d.key: d for d in derivation.result.deadlines}
    after = {d.key: d for d in derivation.fold(facts[2]).deadlines}
    assert after[f"{TID}:escalation:1"] is before[f"{TID}:escalation:1"]
    assert after[f"{TID}:verification:1"] is before[f"{TID}:verification:1"]
    assert f"{TID}:follow_up:1" in after and f"{TID}:follow_up:1" not in before
