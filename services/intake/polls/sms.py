"""`POLL <CODE> <CHOICE>` from a phone (SMS to 1708): the number the telco delivered is the
verified identity, so no one-time code is needed. The reply is one GSM-7 SMS."""

from __future__ import annotations

from services.intake.polls.codes import voter_hash
from services.intake.polls.ports import Desk, MessageSender
from services.intake.polls.usecases import VOTER, PollRepository, outcome_of
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

NO_PHONE = "Jajak pendapat lewat pesan hanya dari nomor telepon. Silakan jawab di web LAPOR!."


def _picked(answers: Answers) -> str:
    if len(answers) == 1:
        return ",".join(next(iter(answers.values())))
    return " ".join(f"{q}:{''.join(c)}" for q, c in answers.items())


async def answer_by_sms(
    desk: Desk, sender: MessageSender, code: str, choice: str, key: str | None, cid: str
) -> tuple[str, str]:
    """`POLL <CODE> <CHOICE>` from a phone: the number the telco delivered is the verified
    identity. Returns the reply (GSM-7, one SMS) and the outcome for the channel metric."""
    phone = sender.phone
    if phone is None:
        return NO_PHONE, "poll_no_phone"
    repo = PollRepository(desk.ctx.store, desk.ctx.clock, desk.intake.secret)
    now = desk.ctx.clock.now()
    state = await repo.state(code)
    if state is None:
        return (
            f"Jajak pendapat {code} tidak ditemukan. Periksa kodenya. Format: POLL KODE PILIHAN.",
            "poll_unknown",
        )
    closed = f"Jajak pendapat {code} sudah ditutup. Jawaban Anda tidak dihitung."
    upcoming = f"Jajak pendapat {code} belum dibuka. Silakan kirim lagi setelah dibuka."
    bad_choice = (
        f"Pilihan tidak dikenal untuk jajak pendapat {code}. Pilih {choice_keys(state.opened)},"
        f" mis. {sms_example(state.opened)}"
    )
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
        return (upcoming, "poll_upcoming") if error.phase == "upcoming" else (closed, "poll_closed")
    except InvalidAnswer:
        return bad_choice, "poll_bad_choice"
    picked = _picked(answers)
    outcome = outcome_of(events)
    log.info("poll_answered", poll=code, channel=sender.channel.value, outcome=outcome)
    if outcome == "submitted":
        text = (
            f"Terima kasih! Jawaban Anda untuk jajak pendapat {code} tercatat: {picked}."
            f" Bisa diubah sampai ditutup: POLL {code} PILIHAN."
        )
    elif outcome == "changed":
        text = (
            f"Jawaban Anda untuk {code} diubah menjadi {picked}. Hanya jawaban terakhir dihitung."
        )
    else:
        text = f"Jawaban Anda untuk {code} ({picked}) sudah tercatat. Satu nomor, satu jawaban."
    return text, f"poll_{outcome}"
