"""A text conversation with LAPOR!: the 1708 grammar (shared.sms.grammar) on SMS and chat.

`converse` turns one incoming text into intake commands and the answer to send back. Answers are
in Bahasa Indonesia, GSM-7 only, with what must survive (tracking ID, access code) first, so
`fit_one_sms` can cut the rest for SMS; chat channels send them whole.
"""

from __future__ import annotations

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
from shared.i18n.dates import short_day
from shared.logs import get_logger
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

SHORT_FORMAT = "Format: NAMA WILAYAH isi laporan, mis. KUPANG jalan rusak."
STATUS_LABELS: dict[Status, str] = {
    Status.SUBMITTED: "diterima, menunggu verifikasi",
    Status.COMPLETION_REQUESTED: "perlu dilengkapi",
    Status.VERIFIED: "terverifikasi, menunggu diteruskan",
    Status.FORWARDED: "diteruskan",
    Status.RETURNED: "sedang dialihkan ke instansi lain",
    Status.FOLLOWED_UP: "sudah ditindaklanjuti",
    Status.CLOSED: "selesai",
    Status.REJECTED: "ditolak",
}
INVALID_REPLIES: dict[str, str] = {
    "empty": HELP_TEXT,
    "too_long": "Pesan terlalu panjang. " + SHORT_FORMAT,
    "missing_text": "Isi laporan kosong. " + SHORT_FORMAT,
    "missing_tracking_id": "ID laporan belum ditulis. Cek: CEK ID. Balas: BALAS ID pesan.",
    "bad_tracking_id": "ID laporan tidak valid, periksa lagi. Cek: CEK ID. Balas: BALAS ID pesan.",
    "bad_poll_code": "Kode jajak pendapat tidak valid. Format: POLL KODE PILIHAN.",
    "missing_choice": "Pilihan belum ditulis. Format: POLL KODE PILIHAN.",
}
# `BALAS <ID>` with nothing after it: say what BALAS is for (not the report format).
BALAS_HELP = (
    "BALAS untuk menanggapi tindak lanjut atau melengkapi laporan. Format: BALAS {tracking_id}"
    " isi pesan Anda. Cek status: CEK {tracking_id}"
)
HELD_BY_AGENCY = frozenset({Status.FORWARDED, Status.FOLLOWED_UP, Status.CLOSED})
BUSY = "Maaf, LAPOR! sedang sibuk. Laporan Anda belum tersimpan, silakan kirim ulang nanti."
RATE_LIMITED = "Maaf, terlalu banyak pesan dari nomor/akun Anda. Silakan coba lagi dalam satu jam."
REPORT_LIMITED = "Maaf, terlalu banyak permintaan untuk ID ini. Silakan coba lagi dalam satu jam."


@dataclass(frozen=True)
class Answer:
    """The text to send back, the outcome (a metric label) and the report it concerns."""

    text: str
    outcome: str
    tracking_id: str | None = None


def receipt(tracking_id: str, access_code: str, national: bool) -> str:
    text = f"LAPOR! Laporan diterima. ID: {tracking_id} Kode akses: {access_code}."
    if national:
        # No region keyword: the national desk takes it; say how to name a region next time.
        return text + " Wilayah tak dikenal, ke pusat. " + SHORT_FORMAT
    return text + f" Cek status: CEK {tracking_id}"


def status_text(info: StatusInfo, limit: int | None = None) -> str:
    """`CEK <ID>` in one SMS: the status, the institution that holds the report and the day the
    status last changed, then what the reporter can do. The latest answer is added only when it
    fits whole (never cut mid-sentence: the notice with the answer carried it in full)."""
    label = STATUS_LABELS.get(info.status, info.status.value)
    head = f"Laporan {info.tracking_id}: {label}"
    tail = ""
    if info.status is Status.FOLLOWED_UP:
        tail = f" Balas: BALAS {info.tracking_id} pesan"
    elif info.status is Status.COMPLETION_REQUESTED:
        tail = f" Lengkapi: BALAS {info.tracking_id} keterangan"
    when = f", {info.changed_on}" if info.changed_on else ""
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
        answer = to_gsm7(" Tanggapan: " + " ".join(info.last_follow_up.split()))
        if limit is not None and septet_length(text + answer + tail) > limit:
            answer = ""
    return text + answer + to_gsm7(tail)


def reply_text(kind: str, tracking_id: str, status: Status | None) -> str:
    if kind == "replied":
        return f"Balasan Anda untuk laporan {tracking_id} sudah diterima. Terima kasih."
    if kind == "amended":
        return f"Keterangan tambahan untuk laporan {tracking_id} sudah diterima. Terima kasih."
    if kind == "closed":
        label = STATUS_LABELS.get(status, "") if status else ""
        return (
            f"Laporan {tracking_id} tidak sedang menunggu balasan ({label}). Cek: CEK {tracking_id}"
        )
    return f"Laporan {tracking_id} tidak ditemukan. Periksa ID Anda."


def escalation_text(tracking_id: str, outcome: EscalationOutcome) -> str:
    """The answer to `ESKALASI <ID>`; every text that names the Ombudsman says when."""
    office = outcome.office_name or "Ombudsman RI"
    if outcome.kind in ("escalated", "already"):
        return f"Laporan {tracking_id} telah diteruskan ke {office}. Cek: CEK {tracking_id}"
    if outcome.kind == "not_open" and outcome.opens_on is not None:
        return (
            f"Laporan {tracking_id} belum dapat diteruskan ke Ombudsman RI. Jika belum ada"
            f" tanggapan akhir, kirim ESKALASI {tracking_id} mulai"
            f" {short_day(outcome.opens_on, 'id')}."
        )
    if outcome.kind == "not_possible":
        return (
            f"Instansi sudah memberi tanggapan akhir untuk laporan {tracking_id}. Jika tidak"
            f" puas, beri penilaian di halaman laporan. Cek: CEK {tracking_id}"
        )
    if outcome.kind == "finished":
        return f"Laporan {tracking_id} sudah selesai atau ditolak. Cek: CEK {tracking_id}"
    return reply_text("not_found", tracking_id, None)


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
        return Answer(RATE_LIMITED, "rate_limited")
    parsed = parse_sms(text, default_directory())
    match parsed:
        case Invalid(code="missing_text", reason=reason) if reason.startswith("BALAS"):
            words = text.split()
            tracking_id = words[1].upper() if len(words) > 1 and len(words[1]) <= 12 else "ID"
            return Answer(BALAS_HELP.format(tracking_id=tracking_id), "invalid_missing_reply")
        case Invalid(code=code):
            return Answer(INVALID_REPLIES.get(code, HELP_TEXT), f"invalid_{code}")
        case StatusQuery(tracking_id=tracking_id):
            # Reserved before the lookup, refunded when it was the reporter's own: the per-report
            # budget holds however many lookups are on their way at once.
            if desk.lookups.hit(tracking_id) > 0:
                return Answer(REPORT_LIMITED, "rate_limited_report")
            info = await desk.status(tracking_id, sender)
            if info is None:
                return Answer(reply_text("not_found", tracking_id, None), "status_unknown")
            desk.lookups.refund(tracking_id)
            return Answer(status_text(info, limit), "status", tracking_id)
        case Reply(tracking_id=tracking_id, text=reply):
            if desk.lookups.hit(tracking_id) > 0:
                return Answer(REPORT_LIMITED, "rate_limited_report")
            outcome = await desk.reply(tracking_id, reply, sender, key, cid, attachments)
            if outcome.kind != "not_found":
                desk.lookups.refund(tracking_id)
            return Answer(
                reply_text(outcome.kind, tracking_id, outcome.status),
                f"reply_{outcome.kind}",
                tracking_id if outcome.kind != "not_found" else None,
            )
        case Escalate(tracking_id=tracking_id):
            escalation = await desk.escalate(tracking_id, sender, cid)
            return Answer(
                escalation_text(tracking_id, escalation),
                f"escalate_{escalation.kind}",
                tracking_id if escalation.kind != "not_found" else None,
            )
        case PollAnswer(code=code, choice=choice):
            reply_sms, poll_outcome = await answer_by_sms(desk, sender, code, choice, key, cid)
            return Answer(reply_sms, poll_outcome)
        case NewReport(text=body, region_code=region_code, keyword=keyword):
            if len(body.strip()) < BODY_MIN:
                return Answer("Laporan terlalu pendek. " + SHORT_FORMAT, "invalid_too_short")
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
                return Answer(HELP_TEXT, "invalid_report")
            return Answer(
                receipt(created.tracking_id, created.access_code, keyword is None),
                "report",
                created.tracking_id,
            )
    return Answer(HELP_TEXT, "invalid")  # pragma: no cover - the match is exhaustive
