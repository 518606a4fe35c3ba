"""The poll aggregate told as stories: opening, answering once, changing, closing, sealed results.

Pure: no store, no clock (time travels inside the commands).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.events.base import DomainEvent
from shared.polls.events import (
    AgencyResponsePublished,
    CloseReason,
    OpinionChanged,
    OpinionSubmitted,
    PollChoice,
    PollClosed,
    PollOpened,
    PollQuestion,
    PollResultsPublished,
    QuestionKind,
)
from shared.polls.lifecycle import (
    ClosePoll,
    Command,
    InvalidAnswer,
    NotYourPoll,
    OpenPoll,
    PollCodeTaken,
    PollError,
    PollNotFound,
    PollNotOpen,
    PollState,
    PublishResponse,
    ResponseNotAllowed,
    ResultsSealed,
    SubmitOpinion,
    decide,
    evolve,
    fold,
    parse_sms_choice,
    read_results,
)
from shared.values import Channel

OPENS = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
CLOSES = OPENS + timedelta(days=7)
DURING = OPENS + timedelta(days=1)
AGENCY = "PEMKOT-KUPANG"
SITI = "a" * 64
BUDI = "b" * 64
ANI = "c" * 64

QUESTIONS = (
    PollQuestion(
        key="1",
        text="Setuju tarif air naik 10%?",
        choices=(
            PollChoice(key="A", label="Setuju"),
            PollChoice(key="B", label="Tidak setuju"),
            PollChoice(key="C", label="Ragu-ragu"),
        ),
    ),
    PollQuestion(
        key="2",
        text="Layanan yang perlu diperbaiki dulu?",
        kind=QuestionKind.MULTIPLE,
        choices=(
            PollChoice(key="A", label="Tekanan air"),
            PollChoice(key="B", label="Kualitas air"),
            PollChoice(key="C", label="Tagihan"),
        ),
    ),
)


def open_command(**changes: object) -> OpenPoll:
    fields: dict[str, object] = {
        "code": "AIR26",
        "title": "Penyesuaian tarif air minum 2026",
        "policy_text": "Rancangan Perwali tentang tarif PDAM.",
        "questions": QUESTIONS,
        "opens_at": OPENS,
        "closes_at": CLOSES,
        "agency_code": AGENCY,
        "now": OPENS - timedelta(hours=1),
        "region_code": "5371",
    }
    fields.update(changes)
    return OpenPoll(**fields)  # type: ignore[arg-type]


def vote(
    voter: str = SITI,
    q1: str = "A",
    q2: tuple[str, ...] = ("B",),
    at: datetime = DURING,
    **changes: object,
) -> SubmitOpinion:
    fields: dict[str, object] = {
        "voter_hash": voter,
        "answers": {"1": [q1], "2": list(q2)},
        "channel": Channel.WEB,
        "now": at,
        "region_code": "537103",
    }
    fields.update(changes)
    return SubmitOpinion(**fields)  # type: ignore[arg-type]


def run(state: PollState | None, command: Command) -> tuple[PollState | None, list[DomainEvent]]:
    """Decide, then fold the new events in: what the repository does."""
    events = decide(state, command)
    for event in events:
        state = evolve(state, event)
    return state, events


def opened() -> PollState:
    state, _ = run(None, open_command())
    assert state is not None
    return state


# --- opening ----------------------------------------------------------------------------------
def test_an_institution_opens_a_poll_once() -> None:
    state, events = run(None, open_command())
    assert [type(e) for e in events] == [PollOpened]
    assert isinstance(events[0], PollOpened) and events[0].code == "AIR26"

    again = decide(state, open_command())  # a retried request

    assert again == []


def test_a_taken_code_is_refused() -> None:
    with pytest.raises(PollCodeTaken, match="code: poll code AIR26 is taken"):
        decide(opened(), open_command(title="Another consultation"))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"closes_at": OPENS}, "closes_at"),
        ({"closes_at": OPENS - timedelta(days=1)}, "closes_at"),
        ({"now": CLOSES + timedelta(seconds=1)}, "closes_at"),
        ({"code": "no"}, "code"),
        ({"questions": ()}, "questions"),
        # instants no page can show in a local zone (the poll list answered 500 for everyone)
        ({"closes_at": datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)}, "closes_at"),
        ({"closes_at": datetime(2101, 1, 1, tzinfo=UTC)}, "closes_at"),
        (
            {
                "opens_at": datetime(9999, 12, 31, tzinfo=UTC),
                "closes_at": datetime(9999, 12, 31, 23, tzinfo=UTC),
            },
            "opens_at",
        ),
        ({"opens_at": datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC)}, "opens_at"),
    ],
)
def test_an_unusable_poll_is_refused_naming_the_field(
    changes: dict[str, object], field: str
) -> None:
    with pytest.raises(PollError, match=f"^{field}"):
        decide(None, open_command(**changes))


def test_question_and_choice_keys_must_be_in_order_and_unique() -> None:
    twice = QUESTIONS[0].model_copy(
        update={"choices": (PollChoice(key="A", label="x"), PollChoice(key="A", label="y"))}
    )
    with pytest.raises(PollError, match=r"^questions: .* in order"):
        decide(None, open_command(questions=(QUESTIONS[1], QUESTIONS[0])))
    with pytest.raises(PollError, match=r"^questions\.1: choice keys must be unique"):
        decide(None, open_command(questions=(twice,)))


# --- answering --------------------------------------------------------------------------------
def test_a_citizen_answers_once_and_the_same_answer_again_changes_nothing() -> None:
    state, events = run(opened(), vote())
    assert [type(e) for e in events] == [OpinionSubmitted]

    state, again = run(state, vote())  # double voting: the same person, the same answer

    assert again == []
    assert state is not None and len(state.ballots) == 1


def test_a_different_answer_before_closing_replaces_the_first() -> None:
    state, _ = run(opened(), vote(q1="A", comment="Tekanan air lemah"))
    state, events = run(state, vote(q1="B", at=CLOSES - timedelta(seconds=1)))

    assert [type(e) for e in events] == [OpinionChanged]
    change = events[0]
    assert isinstance(change, OpinionChanged)
    assert change.answers == {"1": ("B",), "2": ("B",)}
    assert change.comment == "Tekanan air lemah"  # left out: the earlier comment stays
    state, _ = run(state, ClosePoll(now=CLOSES))
    results = read_results(state)
    assert results.total_voters == 1
    assert results.tallies["1"] == {"A": 0, "B": 1, "C": 0}


@pytest.mark.parametrize(
    ("at", "phase"),
    [
        (CLOSES, "closed"),  # closes_at itself is late
        (CLOSES + timedelta(days=3), "closed"),
        (OPENS - timedelta(seconds=1), "upcoming"),
    ],
)
def test_an_answer_outside_the_window_is_refused_and_changes_nothing(
    at: datetime, phase: str
) -> None:
    state = opened()

    with pytest.raises(PollNotOpen) as refused:
        decide(state, vote(at=at))

    assert refused.value.phase == phase
    assert state.ballots == {}


def test_after_an_early_close_even_a_change_is_refused() -> None:
    state, _ = run(opened(), vote(q1="A"))
    state, _ = run(state, ClosePoll(now=DURING, by_agency=AGENCY))
    assert state is not None

    with pytest.raises(PollNotOpen, match="closed"):
        decide(state, vote(q1="B", at=DURING + timedelta(minutes=1)))


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ({"1": ["Z"], "2": ["A"]}, "answers.1"),  # unknown choice
        ({"1": ["A", "B"], "2": ["A"]}, "answers.1"),  # two choices on a single-choice question
        ({"1": ["A"], "2": ["A", "A"]}, "answers.2"),  # a choice twice
        ({"1": ["A"]}, "answers.2"),  # a question left out
        ({"1": ["A"], "2": []}, "answers.2"),
        ({"1": ["A"], "2": ["A"], "9": ["A"]}, "answers.9"),  # no such question
    ],
)
def test_a_malformed_answer_is_refused_naming_the_question(
    answers: dict[str, list[str]], field: str
) -> None:
    with pytest.raises(InvalidAnswer, match=f"^{field}: "):
        decide(opened(), vote(answers=answers))


def test_a_multiple_choice_question_takes_several_choices_in_choice_order() -> None:
    _, events = run(opened(), vote(q2=("c", "A")))
    assert isinstance(events[0], OpinionSubmitted)
    assert events[0].answers["2"] == ("A", "C")


def test_a_poll_without_comments_refuses_one() -> None:
    state, _ = run(None, open_command(allow_comment=False))
    with pytest.raises(InvalidAnswer, match=r"^comment: "):
        decide(state, vote(comment="Saya keberatan"))
    assert decide(state, vote(comment="   "))  # blank is no comment


def test_nothing_can_be_done_to_a_poll_that_does_not_exist() -> None:
    for command in (vote(), ClosePoll(now=DURING), PublishResponse(text="x", now=DURING)):
        with pytest.raises(PollNotFound):
            decide(None, command)


# --- closing and results ----------------------------------------------------------------------
def test_results_are_sealed_until_the_poll_closes_whenever_anyone_asks() -> None:
    state, _ = run(opened(), vote())
    assert state is not None

    # read_results takes no role and no clock: before PollClosed nobody (an administrator
    # included) reads anything, not even after closes_at has passed.
    with pytest.raises(ResultsSealed):
        read_results(state)
    with pytest.raises(PollNotFound):
        read_results(None)


def test_the_institution_closes_its_poll_and_the_results_are_published_with_regions() -> None:
    state, _ = run(opened(), vote(SITI, q1="A", q2=("A", "B"), region_code="537103"))
    state, _ = run(state, vote(BUDI, q1="B", q2=("B",), region_code="537101", comment="Mahal"))
    state, _ = run(state, vote(ANI, q1="A", q2=("C",), region_code=None, channel=Channel.SMS))
    assert state is not None

    with pytest.raises(NotYourPoll):
        decide(state, ClosePoll(now=DURING, by_agency="PEMKAB-KUPANG"))
    state, events = run(state, ClosePoll(now=DURING, by_agency=AGENCY))

    assert [type(e) for e in events] == [PollClosed, PollResultsPublished]
    closed = events[0]
    assert isinstance(closed, PollClosed) and closed.reason is CloseReason.EARLY
    assert closed.closed_at == DURING
    results = read_results(state)
    assert results.total_voters == 3
    assert results.tallies == {"1": {"A": 2, "B": 1, "C": 0}, "2": {"A": 1, "B": 2, "C": 1}}
    # No region has 5 voters, nor have all three together: nothing is shown by region (a lone
    # voter's answers would be their region's results); the comment names no region either.
    assert results.by_region == {}
    assert results.by_channel == {"sms": 1, "web": 2}
    assert [(c.text, c.region_code) for c in results.comments] == [("Mahal", None)]
    assert decide(state, ClosePoll(now=DURING, by_agency=AGENCY)) == []  # closing again


def test_a_close_noticed_after_closes_at_is_the_scheduled_one() -> None:
    state, events = run(opened(), ClosePoll(now=CLOSES + timedelta(hours=5)))
    closed = events[0]
    assert isinstance(closed, PollClosed)
    assert (closed.reason, closed.closed_at) == (CloseReason.SCHEDULE, CLOSES)
    assert read_results(state).total_voters == 0


def test_the_institution_responds_once_after_closing() -> None:
    respond = PublishResponse(text="Tarif ditunda.", now=CLOSES, by_agency=AGENCY)
    with pytest.raises(ResponseNotAllowed, match="still open"):
        decide(opened(), respond)

    state, _ = run(opened(), ClosePoll(now=CLOSES))
    with pytest.raises(NotYourPoll):
        decide(state, PublishResponse(text="x", now=CLOSES, by_agency="PEMKAB-KUPANG"))
    state, events = run(state, respond)
    assert [type(e) for e in events] == [AgencyResponsePublished]
    assert decide(state, respond) == []
    with pytest.raises(ResponseNotAllowed, match="already"):
        decide(state, PublishResponse(text="Lain.", now=CLOSES, by_agency=None))


def test_an_answer_recorded_after_the_close_never_counts() -> None:
    state, _ = run(opened(), ClosePoll(now=DURING))
    late = OpinionSubmitted(
        voter_hash=SITI, answers={"1": ("A",), "2": ("A",)}, channel=Channel.WEB
    )
    state = evolve(state, late)  # evolve never raises, and ignores it
    assert state is not None and state.ballots == {}


# --- idempotency, as a property ---------------------------------------------------------------
ballots = st.lists(
    st.tuples(
        st.sampled_from([SITI, BUDI, ANI]),
        st.sampled_from("ABC"),
        st.sets(st.sampled_from("ABC"), min_size=1).map(lambda s: tuple(sorted(s))),
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(ballots)
def test_any_command_repeated_right_away_yields_no_events(
    history: list[tuple[str, str, tuple[str, ...]]],
) -> None:
    state = opened()
    latest: dict[str, tuple[str, tuple[str, ...]]] = {}
    for voter, q1, q2 in history:
        command = vote(voter, q1=q1, q2=q2, region_code=None)
        next_state, _ = run(state, command)
        assert next_state is not None
        state = next_state
        assert decide(state, command) == []
        latest[voter] = (q1, q2)
    close = ClosePoll(now=DURING)
    final, _ = run(state, close)
    assert decide(final, close) == []
    results = read_results(final)
    assert results.total_voters == len(latest)
    assert sum(results.tallies["1"].values()) == len(latest)


def test_fold_rebuilds_the_same_state_from_the_events() -> None:
    events: list[DomainEvent] = []
    state: PollState | None = None
    for command in (open_command(), vote(SITI), vote(BUDI, q1="C"), vote(SITI, q1="B")):
        state, new = run(state, command)
        events += new
    rebuilt = fold(events)
    assert rebuilt is not None and state is not None
    assert rebuilt.ballots == state.ballots


# --- SMS choices ------------------------------------------------------------------------------
def single_choice_poll() -> PollOpened:
    state, _ = run(None, open_command(questions=(QUESTIONS[0],)))
    assert state is not None
    return state.opened


@pytest.mark.parametrize(
    ("text", "expected"),
    [("b", ("B",)), (" B. ", ("B",)), ("tidak  SETUJU", ("B",)), ("Setuju", ("A",))],
)
def test_an_sms_choice_is_a_key_or_a_label(text: str, expected: tuple[str, ...]) -> None:
    assert parse_sms_choice(single_choice_poll(), text) == {"1": expected}


@pytest.mark.parametrize("text", ["Z", "A B", "AB", "1", "mungkin"])
def test_an_sms_choice_that_fits_no_answer_is_refused(text: str) -> None:
    with pytest.raises(InvalidAnswer):
        parse_sms_choice(single_choice_poll(), text)


def test_an_sms_answers_several_questions_in_order() -> None:
    poll = opened().opened
    assert parse_sms_choice(poll, "A CB") == {"1": ("A",), "2": ("B", "C")}
    assert parse_sms_choice(poll, "b,a") == {"1": ("B",), "2": ("A",)}
    with pytest.raises(InvalidAnswer, match="2 questions"):
        parse_sms_choice(poll, "A")
    with pytest.raises(InvalidAnswer, match=r"answers\.1"):
        parse_sms_choice(poll, "AB C")
