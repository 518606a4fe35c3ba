"""`POLL <CODE> <CHOICE>` from a phone (SMS to 1708): the number the telco delivered is the
verified identity, so no one-time code is needed. The reply is one GSM-7 SMS."""

from __future__ import annotations

from collections.abc import Callable

from services.intake.polls.codes import voter_hash
from services.intake.polls.ports import Desk, MessageSender
from services.intake.polls.usecases import VOTER, PollRepository, outcome_of
from shared.i18n import N_, translator
from shared.logs import get_logger
from shared.polls.events import Answers
from shared.polls.lifecycle import (
    InvalidAnswer,
    PollNotOpen,
    check_open,
    choice_keys,
    parse_sms_choice,
    sms_example,
)
from shared.runtime.repository import Meta

log = get_logger(__name__)

# Each answer is a catalog text: an SMS says it in Bahasa Indonesia (one SMS holds one
# language), a chat channel in Bahasa Indonesia and then in English.
Words = Callable[[str], str]


def _words(key: str, **values: str) -> Words:
    return lambda language: translator(language)(key, **values)


def _picked(answers: Answers) -> str:
    if len(answers) == 1:
        return ",".join(next(iter(answers.values())))
    return " ".join(f"{q}:{''.join(c)}" for q, c in answers.items())


async def answer_by_sms(
    desk: Desk, sender: MessageSender, code: str, choice: str, key: str | None, cid: str
) -> tuple[Words, str]:
    """`POLL <CODE> <CHOICE>` from a phone: the number the telco delivered is the verified
    identity. Returns the reply, `words(language)` (the SMS channel sends the Indonesian one,
    cut to one GSM-7 SMS), and the outcome for the channel metric."""
    phone = sender.phone
    if phone is None:
        return _words(N_("sms.poll.no_phone")), "poll_no_phone"
    repo = PollRepository(desk.ctx.store, desk.ctx.clock, desk.intake.secret)
    now = desk.ctx.clock.now()
    state = await repo.state(code)
    if state is None:
        return _words(N_("sms.poll.unknown"), code=code), "poll_unknown"
    try:
        check_open(state, now)
        answers = parse_sms_choice(state.opened, choice)
        command = repo.opinion(
            code,
            voter_hash=voter_hash(desk.intake.secret, code, phone),
            answers=answers,
            channel=sender.channel,
            now=now,
        )
        meta = Meta(actor=VOTER, correlation_id=cid, idempotency_key=key and f"poll|{key}")
        events = await repo.execute(code, command, meta, retry_on_conflict=True)
    except PollNotOpen as error:
        if error.phase == "upcoming":
            return _words(N_("sms.poll.upcoming"), code=code), "poll_upcoming"
        return _words(N_("sms.poll.closed"), code=code), "poll_closed"
    except InvalidAnswer:
        choices, example = choice_keys(state.opened), sms_example(state.opened)
        bad_choice = _words(N_("sms.poll.bad_choice"), code=code, choices=choices, example=example)
        return bad_choice, "poll_bad_choice"
    picked = _picked(answers)
    outcome = outcome_of(events)
    log.info("poll_answered", poll=code, channel=sender.channel.value, outcome=outcome)
    if outcome == "submitted":
        return _words(N_("sms.poll.submitted"), code=code, picked=picked), "poll_submitted"
    if outcome == "changed":
        return _words(N_("sms.poll.changed"), code=code, picked=picked), "poll_changed"
    return _words(N_("sms.poll.same"), code=code, picked=picked), f"poll_{outcome}"
