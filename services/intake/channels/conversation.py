"""A text conversation with LAPOR!: the 1708 grammar (shared.sms.grammar) on SMS and chat.

`converse` turns one incoming text into intake commands and the answer to send back. Answers are
in Bahasa Indonesia, GSM-7 only, with what must survive (tracking ID, access code) first, so
`fit_one_sms` can cut the rest for SMS (one SMS holds one language); chat channels, which have
room, send them whole with the same answer in English after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError

from services.intake.channels.common import (
    BODY_MIN,
    CHANNEL_MESSAGES,
    ChannelDesk,
    EscalationOutcome,
    Sender,
    StatusInfo,
)
from services.intake.polls import answer_by_sms
from shared.directory.model import default_directory
from shared.i18n import N_, translator
from shared.i18n.dates import short_day
from shared.logs import get_logger
from shared.regions import regions
from shared.reports.events import Status
from shared.sms.grammar import (
    HELP_TEXT,
    Escalate,
    Invalid,
    NewReport,
    PollAnswer,
    Reply,
    StatusQuery,
    parse_sms,
)
from shared.sms.gsm7 import fit_one_sms, septet_length, shorten, to_gsm7
from shared.values import Attachment

log = get_logger(__name__)

# The answers to 1708 are Bahasa Indonesia (GSM-7), from the catalogs like every other text.
t = translator("id")
STATUS_KEYS: dict[Status, str] = {
    Status.SUBMITTED: N_("sms.status.submitted"),
    Status.COMPLETION_REQUESTED: N_("sms.status.completion_requested"),
    Status.VERIFIED: N_("sms.status.verified"),
    Status.FORWARDED: N_("sms.status.forwarded"),
    Status.RETURNED: N_("sms.status.returned"),
    Status.FOLLOWED_UP: N_("sms.status.followed_up"),
    Status.CLOSED: N_("sms.status.closed"),
    Status.REJECTED: N_("sms.status.rejected"),
}
STATUS_LABELS: dict[Status, str] = {status: t(key) for status, key in STATUS_KEYS.items()}
INVALID_KEYS: dict[str, str] = {
    "too_long": N_("sms.invalid.too_long"),
    "missing_text": N_("sms.invalid.missing_text"),
    "missing_tracking_id": N_("sms.invalid.missing_tracking_id"),
    "bad_tracking_id": N_("sms.invalid.bad_tracking_id"),
    "bad_poll_code": N_("sms.invalid.bad_poll_code"),
    "missing_choice": N_("sms.invalid.missing_choice"),
}


def help_text(language: str = "id") -> str:
    """The 1708 format (shared.sms.grammar's HELP_TEXT, in English from the catalogs)."""
    return HELP_TEXT if language == "id" else translator(language)(N_("sms.help"))


def invalid_reply(code: str, language: str = "id") -> str:
    key = INVALID_KEYS.get(code)
    if key is None:
        return help_text(language)
    say = translator(language)
    return say(key, short_format=say(N_("sms.short_format")))


INVALID_REPLIES: dict[str, str] = {"empty": HELP_TEXT} | {
    code: invalid_reply(code) for code in INVALID_KEYS
}
HELD_BY_AGENCY = frozenset({Status.FORWARDED, Status.FOLLOWED_UP, Status.CLOSED})
BUSY = t("sms.busy")
RATE_LIMITED = t("sms.rate_limited")
REPORT_LIMITED = t("sms.report_limited")


@dataclass(frozen=True)
class Answer:
    """The text to send back, the outcome (a metric label) and the report it concerns."""

    text: str
    outcome: str
    tracking_id: str | None = None
    english: str | None = None  # the same answer in English (chat channels send both)


def said(words: Callable[[str], str], outcome: str, tracking_id: str | None = None) -> Answer:
    """An answer in Bahasa Indonesia and in English: `words(language)` says it."""
    return Answer(words("id"), outcome, tracking_id, words("en"))


def report_limited(language: str) -> str:
    return translator(language)(N_("sms.report_limited"))


def too_short(language: str) -> str:
    say = translator(language)
    return say(N_("sms.too_short"), short_format=say(N_("sms.short_format")))


def receipt(
    tracking_id: str,
    access_code: str,
    national: bool,
    region_code: str | None = None,
    alternatives: tuple[str, ...] = (),
    language: str = "id",
) -> str:
    t = translator(language)
    text = t("sms.receipt", tracking_id=tracking_id, access_code=access_code)
    if national:
        # No region keyword: the national desk takes it; say how to name a region next time.
        return text + " " + t("sms.receipt.national") + " " + t("sms.short_format")
    if alternatives:
        # A bare name several regions share (MALANG): say which one was taken and how to name
        # the other; the verification desk corrects this report's region if it was the other.
        place = regions().get(region_code) if region_code else None
        others = t("sms.or").join(alternatives)
        name = place.name if place else region_code
        return text + " " + t("sms.receipt.ambiguous", region=name, others=others)
    return text + " " + t("sms.receipt.check", tracking_id=tracking_id)


def status_text(info: StatusInfo, limit: int | None = None, language: str = "id") -> str:
    """`CEK <ID>` in one SMS: the status, the institution that holds the report and the day the
    status last changed, then what the reporter can do. The latest answer is added only when it
    fits whole (never cut mid-sentence: the notice with the answer carried it in full)."""
    t = translator(language)
    key = STATUS_KEYS.get(info.status)
    label = t(key) if key else info.status.value
    head = t("sms.status", tracking_id=info.tracking_id, label=label)
    tail = ""
    if info.status is Status.FOLLOWED_UP:
        tail = " " + t("sms.status.reply", tracking_id=info.tracking_id)
    elif info.status is Status.COMPLETION_REQUESTED:
        tail = " " + t("sms.status.complete", tracking_id=info.tracking_id)
    when = f", {short_day(info.changed_on, language)}" if info.changed_on else ""
    budget = (limit or 10_000) - septet_length(to_gsm7(head + when + "." + tail))
    agency = ""
    if info.agency_name and info.status in HELD_BY_AGENCY:
        name = to_gsm7(" ".join(info.agency_name.split()))
        room = budget - len(" - ")
        if room >= 12:
            agency = " - " + (name if septet_length(name) <= room else shorten(name, room))
    text = to_gsm7(head + agency + when + ".")
    answer = ""
    if info.last_follow_up and info.status in (Status.FOLLOWED_UP, Status.CLOSED):
        answer = to_gsm7(" " + t("sms.status.answer", text=" ".join(info.last_follow_up.split())))
        if limit is not None and septet_length(text + answer + tail) > limit:
            answer = ""
    return text + answer + to_gsm7(tail)


def reply_text(kind: str, tracking_id: str, status: Status | None, language: str = "id") -> str:
    t = translator(language)
    if kind == "replied":
        return t("sms.reply.replied", tracking_id=tracking_id)
    if kind == "amended":
        return t("sms.reply.amended", tracking_id=tracking_id)
    if kind == "closed":
        key = STATUS_KEYS.get(status) if status else None
        label = t(key) if key else ""
        return t("sms.reply.closed", tracking_id=tracking_id, label=label)
    return t("sms.not_found", tracking_id=tracking_id)


def escalation_text(tracking_id: str, outcome: EscalationOutcome, language: str = "id") -> str:
    """The answer to `ESKALASI <ID>`; every text that names the Ombudsman says when."""
    t = translator(language)
    office = outcome.office_name or "Ombudsman RI"
    if outcome.kind == "escalated":
        return t("sms.escalation.done", tracking_id=tracking_id, office=office)
    if outcome.kind == "already":  # escalated before, or by a request at the same moment
        return t("sms.escalation.already", tracking_id=tracking_id, office=office)
    if outcome.kind == "not_open" and outcome.opens_on is not None:
        opens_on = short_day(outcome.opens_on, language)
        return t("sms.escalation.not_open", tracking_id=tracking_id, opens_on=opens_on)
    if outcome.kind == "not_possible":
        return t("sms.escalation.final_given", tracking_id=tracking_id)
    if outcome.kind == "finished":
        return t("sms.escalation.finished", tracking_id=tracking_id)
    return reply_text("not_found", tracking_id, None, language)


async def converse(
    desk: ChannelDesk,
    sender: Sender,
    text: str,
    message_id: str | None,
    cid: str,
    limit: int | None = None,
    attachments: tuple[Attachment, ...] = (),
) -> Answer:
    """Handle one message to 1708 (or its chat equivalent); returns what to answer.

    `limit`: the answer must fit that many GSM-7 septets (one SMS: 160). `attachments`: files
    that came with a chat message (a WhatsApp photo), stored already.
    """
    answer = await _converse(desk, sender, text, message_id, cid, limit, attachments)
    CHANNEL_MESSAGES.labels(sender.channel.value, answer.outcome).inc()
    if limit is not None:
        return Answer(fit_one_sms(answer.text, limit), answer.outcome, answer.tracking_id)
    if answer.english and answer.english != answer.text:  # chat: Indonesian first, then English
        text = f"{answer.text}\n\n{answer.english}"
        return Answer(text, answer.outcome, answer.tracking_id, answer.english)
    return answer


async def _converse(
    desk: ChannelDesk,
    sender: Sender,
    text: str,
    message_id: str | None,
    cid: str,
    limit: int | None,
    attachments: tuple[Attachment, ...] = (),
) -> Answer:
    key = f"{sender.channel.value}:{message_id}" if message_id else None
    if not desk.limits.allow(sender, key):
        return said(lambda lang: translator(lang)(N_("sms.rate_limited")), "rate_limited")
    parsed = parse_sms(text, default_directory())
    match parsed:
        case Invalid(code="missing_text", reason=reason) if reason.startswith("BALAS"):
            words = text.split()
            tracking_id = words[1].upper() if len(words) > 1 and len(words[1]) <= 12 else "ID"
            return said(
                lambda lang: translator(lang)(N_("sms.balas_help"), tracking_id=tracking_id),
                "invalid_missing_reply",
            )
        case Invalid(code="empty") if attachments:
            # A photo without a caption (WhatsApp): say what is missing, not the SMS format.
            return said(
                lambda lang: translator(lang)(N_("sms.media_without_text")),
                "invalid_media_without_text",
            )
        case Invalid(code=code):
            return said(lambda lang: invalid_reply(code, lang), f"invalid_{code}")
        case StatusQuery(tracking_id=tracking_id):
            # Reserved before the lookup, refunded when it was the reporter's own: the per-report
            # budget holds however many misses are on their way at once. A spent budget refuses
            # only misses: strangers probing an ID (a published one is on every public list)
            # never lock its reporter out of their own report.
            reserved = desk.lookups.hit(tracking_id) == 0
            info = await desk.status(tracking_id, sender)
            if info is None:
                if not reserved:
                    return said(report_limited, "rate_limited_report")
                return said(
                    lambda lang: reply_text("not_found", tracking_id, None, lang), "status_unknown"
                )
            if reserved:
                desk.lookups.refund(tracking_id)
            found = info
            return said(lambda lang: status_text(found, limit, lang), "status", tracking_id)
        case Reply(tracking_id=tracking_id, text=reply):
            reserved = desk.lookups.hit(tracking_id) == 0  # as for CEK
            outcome = await desk.reply(tracking_id, reply, sender, key, cid, attachments)
            if outcome.kind == "not_found" and not reserved:
                return said(report_limited, "rate_limited_report")
            if outcome.kind != "not_found" and reserved:
                desk.lookups.refund(tracking_id)
            return said(
                lambda lang: reply_text(outcome.kind, tracking_id, outcome.status, lang),
                f"reply_{outcome.kind}",
                tracking_id if outcome.kind != "not_found" else None,
            )
        case Escalate(tracking_id=tracking_id):
            escalation = await desk.escalate(tracking_id, sender, cid)
            return said(
                lambda lang: escalation_text(tracking_id, escalation, lang),
                f"escalate_{escalation.kind}",
                tracking_id if escalation.kind != "not_found" else None,
            )
        case PollAnswer(code=code, choice=choice):
            poll_words, poll_outcome = await answer_by_sms(desk, sender, code, choice, key, cid)
            return said(poll_words, poll_outcome)
        case NewReport(
            text=body, region_code=region_code, keyword=keyword, alternatives=alternatives
        ):
            if len(body.strip()) < BODY_MIN:
                return said(too_short, "invalid_too_short")
            try:
                created = await desk.new_report(
                    channel=sender.channel,
                    text=body,
                    sender=sender,
                    idempotency_key=key,
                    message_id=message_id,
                    cid=cid,
                    region_code=region_code,
                    attachments=attachments,
                )
            except ValidationError as error:
                fields = ",".join(str(e["loc"][0]) for e in error.errors() if e.get("loc"))
                log.info("channel_report_invalid", channel=sender.channel.value, fields=fields)
                return said(help_text, "invalid_report")
            return said(
                lambda lang: receipt(
                    created.tracking_id,
                    created.access_code,
                    keyword is None,
                    region_code,
                    alternatives,
                    lang,
                ),
                "report",
                created.tracking_id,
            )
    return Answer(HELP_TEXT, "invalid")  # pragma: no cover - the match is exhaustive
