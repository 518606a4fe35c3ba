"""What a notice says and how it leaves: templates, GSM-7, masks, rate limits, channel adapters.

No processes here: templates render in memory, the HTTP channels talk to an httpx mock transport,
and SMTP goes to a real aiosmtpd server on loopback.
"""

from __future__ import annotations

import json
import uuid
from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any

import httpx
import pytest

from services.notify.notices import REPORTER_TEMPLATES, STAFF_TEMPLATES
from services.notify.ratelimit import TokenBucket
from services.notify.rendering import NOTICES, Renderer
from shared.i18n.dates import day as long_date
from shared.notifications.events import NotificationChannel
from shared.privacy import mask_email, mask_phone, scrub
from shared.senders.base import Address, Message, PermanentSendError, TransientSendError
from shared.senders.kannel import KannelSms
from shared.senders.smtp import SmtpEmail
from shared.senders.social import MetaSendApi, WhatsAppCloud, XDirectMessage
from shared.sms.gsm7 import (
    MAX_PARTS,
    SINGLE_GSM7,
    is_gsm7,
    septet_length,
    sms_segments,
    sms_text,
    to_gsm7,
)
from tests.notify.harness import SmtpSink
from tests.support import free_port

TID = "ABCDEFGH2K"
CONTEXT: dict[str, Any] = {
    "tracking_id": TID,
    "title": "Jalan rusak <di> depan “puskesmas” & pasar",
    "report_url": f"https://lapor.example/laporan/{TID}",
    "rate_url": f"https://lapor.example/laporan/{TID}",
    "channel": "sms",
    "note": "Mohon sertakan foto dan alamat lengkap.",
    "agency_name": "Dinas Kesehatan Kota Kupang",
    "agency_code": "DINKES-KOTA-KUPANG",
    "follow_up_due": "2026-03-09",
    "due": "2026-03-09",
    "text": "Apakah lokasinya di depan Puskesmas Oepoi?",
    "final": False,
    "reason": "resolved",
    "duplicate_of": None,
    "ombudsman_office": "OMBUDSMAN-53",
    "stage": "follow_up",
    "category": "kesehatan",
    "category_name": "Kesehatan",
    "region_code": "5371",
    "verification_due": "2026-03-05",
    "closes_on": "2026-03-16",
    "escalation_opens_on": "2026-05-27",
    "replyable": False,
    "delegated_by": None,
    "answered_question": True,
    "amended": False,
    "what": "returned",
    "desk_name": "Pemerintah Kota Kupang",
    "office_name": "Ombudsman RI Perwakilan Nusa Tenggara Timur",
    "grounds": "no_final_answer",
}
# With ordinary texts these fit one SMS; only a long note or answer needs concatenation.
ONE_SMS = (
    "received",
    "verified",
    "forwarded",
    "question",
    "follow_up",
    "closed",
    "rejected",
    "escalated",
    "completion_reminded",
)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(reply_address="pengaduan@lapor.example")


def test_every_template_is_a_notice_the_planner_knows() -> None:
    assert set(NOTICES) == set(REPORTER_TEMPLATES + STAFF_TEMPLATES)


@pytest.mark.parametrize("language", ["id", "en"])
@pytest.mark.parametrize("template", REPORTER_TEMPLATES + STAFF_TEMPLATES)
def test_every_notice_renders_in_both_languages(
    renderer: Renderer, template: str, language: str
) -> None:
    context = CONTEXT | ({"reason": "spam"} if template == "rejected" else {})
    message = renderer.render(template, language, context)
    assert message.subject and TID in message.subject
    assert TID in message.sms and TID in message.text
    assert is_gsm7(message.sms) and "\n" not in message.sms
    assert sms_segments(message.sms) <= MAX_PARTS
    if template in ONE_SMS:
        assert septet_length(message.sms) <= SINGLE_GSM7, message.sms
    assert message.html.startswith("<!DOCTYPE html>")
    assert f'lang="{language}"' in message.html
    # The HTML part escapes what citizens and agencies wrote; the text part keeps it as it is.
    assert "<di>" not in message.html
    if "<di>" in message.text:
        assert "&lt;di&gt;" in message.html


def test_the_received_notice_gives_the_tracking_id_and_keeps_the_access_code_secret(
    renderer: Renderer,
) -> None:
    message = renderer.render("received", "id", CONTEXT)
    assert "Nomor pelacakan: ABCDEFGH2K" in message.sms
    assert "kode akses" in message.sms  # keep the code you got at submission
    english = renderer.render("received", "en", CONTEXT)
    assert "access code" in english.text and "never send the access code again" in english.text


def test_the_received_notice_states_the_desks_due_day_and_no_fixed_count_of_days(
    renderer: Renderer,
) -> None:
    """It said "paling lambat <the due day> (3 hari kerja)": the day is counted with the SLA
    policy, the "3" was written into the text, so under a policy that gives the desk 5 working
    days (or an institution's own) the mail contradicted itself. The due day alone is said."""
    for language, said, fixed in (
        ("id", "paling lambat 5 Maret 2026.", "3 hari kerja"),
        ("en", "by 5 March 2026.", "3 working days"),
    ):
        message = renderer.render("received", language, CONTEXT)
        assert said in message.text and fixed not in message.text, message.text


def test_a_report_closed_for_no_response_names_no_fixed_count_of_days(
    renderer: Renderer,
) -> None:
    """The words "… tidak ada tanggapan dalam 10 hari kerja …" were said of every report
    closed for no response, also of an institution whose policy closes after 5 (the final
    answer's notice gave the day it would close, counted with that policy)."""
    for language, said, fixed in (
        ("id", "tidak ada tanggapan", "10 hari"),
        ("en", "no reply", "10 working days"),
    ):
        message = renderer.render("closed", language, CONTEXT | {"reason": "no_response"})
        assert said in message.text and fixed not in message.text, message.text


def test_closed_links_to_the_rating_and_rejected_gives_the_reason(renderer: Renderer) -> None:
    closed = renderer.render("closed", "id", CONTEXT)
    assert f"https://lapor.example/laporan/{TID}" in closed.sms
    assert 'href="https://lapor.example/laporan/ABCDEFGH2K"' in closed.html
    assert "Beri penilaian" in closed.html
    rejected = renderer.render(
        "rejected", "en", CONTEXT | {"reason": "duplicate", "duplicate_of": "XYZ", "note": "Sama."}
    )
    assert "the same report already exists (XYZ)" in rejected.sms
    assert "Sama." in rejected.text


def test_sms_and_email_reporters_are_told_how_to_answer_on_their_own_channel(
    renderer: Renderer,
) -> None:
    by_sms = renderer.render("question", "id", CONTEXT)
    assert f"BALAS {TID}" in by_sms.text
    by_mail = renderer.render("question", "id", CONTEXT | {"channel": "email", "replyable": True})
    assert "BALAS" not in by_mail.text and CONTEXT["report_url"] in by_mail.text
    assert "membalas e-mail ini" in by_mail.text  # a reply to the mail lands on the report


def test_a_long_answer_from_an_agency_is_cut_to_fit(renderer: Renderer) -> None:
    long_text = "Kami sudah meninjau lokasi. " * 60
    message = renderer.render("follow_up", "id", CONTEXT | {"text": long_text})
    assert sms_segments(message.sms) <= MAX_PARTS
    assert "..." in message.sms and message.sms.endswith("ke 1708.")
    assert long_text.strip() in " ".join(message.text.split())  # the e-mail keeps it whole


def test_gsm7() -> None:
    assert to_gsm7("“Halo” – naïve café…") == '"Halo" - naive café...'
    assert to_gsm7("emoji 🙂 ok") == "emoji ? ok"
    assert (
        septet_length("a€b") == 4 and sms_segments("x" * 160) == 1 and sms_segments("x" * 161) == 2
    )
    assert sms_text("baris 1\nbaris 2") == "baris 1 baris 2"
    assert sms_segments(sms_text("y" * 1000)) == MAX_PARTS
    assert long_date("2026-12-01", "id") == "1 Desember 2026"
    assert long_date("2026-12-01", "en") == "1 December 2026"


def test_masks_and_scrubbing_keep_contact_details_out() -> None:
    assert mask_phone("+6281234567890") == "+62*********90"
    assert mask_email("siti.rahma@example.co.id") == "s***@e***.id"
    text = scrub("550 <siti@example.com> at http://kannel/cgi-bin/sendsms?password=x&to=+628123")
    assert "siti" not in text and "password" not in text and "628123" not in text
    assert scrub("call +62 812-3456-7890 now") == "call [number] now"


async def test_the_token_bucket_spaces_sends_after_the_burst() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2, burst=2, monotonic=lambda: now[0])
    assert [bucket.try_acquire() for _ in range(3)] == [0.0, 0.0, 0.5]
    now[0] += 0.5
    assert bucket.try_acquire() == 0.0
    assert bucket.try_acquire() == pytest.approx(0.5)
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1)


# --- channels ------------------------------------------------------------------------------
PHONE = Address("+6281234567890", "+62*********90")
MAIL = Address("siti@example.com", "s***@e***.com")
MESSAGE = Message(subject="Subjek", text="Teks", html="<p>Teks</p>", sms="SMS", language="id")
NID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def kannel(status: int, seen: list[httpx.Request]) -> KannelSms:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, text="0: Accepted for delivery")

    return KannelSms(
        "http://127.0.0.1:13013/cgi-bin/sendsms?username=lapor&password=rahasia",
        client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )


async def test_kannel_sendsms_request() -> None:
    seen: list[httpx.Request] = []
    await kannel(202, seen).send(PHONE, MESSAGE, NID)
    params = dict(seen[0].url.params)
    assert seen[0].url.path == "/cgi-bin/sendsms"
    assert params == {
        "username": "lapor",
        "password": "rahasia",
        "from": "1708",
        "to": "+6281234567890",
        "text": "SMS",
        "charset": "UTF-8",
        "coding": "0",
    }


@pytest.mark.parametrize(
    ("status", "error"),
    [(403, TransientSendError), (503, TransientSendError), (400, PermanentSendError)],
)
async def test_kannel_refusals_say_why_without_the_number_or_password(
    status: int, error: type[Exception]
) -> None:
    with pytest.raises(error) as raised:
        await kannel(status, []).send(PHONE, MESSAGE, NID)
    assert str(status) in str(raised.value)
    assert "628123" not in str(raised.value) and "rahasia" not in str(raised.value)


async def test_kannel_unreachable_is_transient() -> None:
    sms = KannelSms(f"http://127.0.0.1:{free_port()}/cgi-bin/sendsms?username=u&password=p")
    with pytest.raises(TransientSendError, match="unreachable"):
        await sms.send(PHONE, MESSAGE, NID)
    await sms.close()


async def test_an_email_has_a_text_and_an_html_part_and_a_stable_message_id(
    smtp: SmtpSink,
) -> None:
    mailer = SmtpEmail(smtp.url, "LAPOR! <noreply@lapor.example>")
    await mailer.send(MAIL, MESSAGE, NID)
    [mail] = smtp.received()
    assert mail.recipients == ("siti@example.com",) and mail.sender == "noreply@lapor.example"
    assert mail.subject == "Subjek"
    assert mail.message["Message-ID"] == f"<{NID}@lapor.example>"
    assert mail.part("plain").strip() == "Teks" and mail.part("html").strip() == "<p>Teks</p>"
    again = message_from_bytes(mailer.build(MAIL, MESSAGE, NID).as_bytes(), policy=default_policy)
    assert again["Message-ID"] == mail.message["Message-ID"]


async def test_smtp_errors_are_sorted_into_retry_or_give_up(smtp: SmtpSink) -> None:
    down = SmtpEmail(f"smtp://127.0.0.1:{free_port()}", "noreply@lapor.example", timeout=2)
    with pytest.raises(TransientSendError, match="unreachable"):
        await down.send(MAIL, MESSAGE, NID)

    async def refuse(server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        return "550 5.1.1 <siti@example.com>: mailbox unavailable"

    smtp.handle_RCPT = refuse  # type: ignore[attr-defined]
    mailer = SmtpEmail(smtp.url, "noreply@lapor.example")
    with pytest.raises(PermanentSendError) as raised:
        await mailer.send(MAIL, MESSAGE, NID)
    assert "550" in str(raised.value) and "siti" not in str(raised.value)


def social_transport(status: int, seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json={})

    return httpx.MockTransport(handler)


async def test_social_send_apis() -> None:
    seen: list[httpx.Request] = []
    whatsapp = WhatsAppCloud(
        "https://wa.test/v21.0", "tok", "PNID", transport=social_transport(200, seen)
    )
    await whatsapp.send(PHONE, MESSAGE, NID)
    messenger = MetaSendApi(
        NotificationChannel.MESSENGER,
        "https://fb.test/v21.0",
        "tok",
        transport=social_transport(200, seen),
    )
    await messenger.send(Address("PSID-1", "P***"), MESSAGE, NID)
    x = XDirectMessage("https://x.test", "tok", transport=social_transport(201, seen))
    await x.send(Address("42", "4***"), MESSAGE, NID)
    assert [str(r.url) for r in seen] == [
        "https://wa.test/v21.0/PNID/messages",
        "https://fb.test/v21.0/me/messages",
        "https://x.test/2/dm_conversations/with/42/messages",
    ]
    assert all(r.headers["authorization"] == "Bearer tok" for r in seen)
    bodies = [json.loads(r.content) for r in seen]
    assert bodies[0]["to"] == "6281234567890" and bodies[0]["text"]["body"] == "Teks"
    assert bodies[1]["recipient"] == {"id": "PSID-1"} and bodies[1]["message"]["text"] == "Teks"
    assert bodies[2] == {"text": "Teks"}

    with pytest.raises(TransientSendError):
        await XDirectMessage("https://x.test", "t", transport=social_transport(429, [])).send(
            Address("42", "4***"), MESSAGE, NID
        )
    with pytest.raises(PermanentSendError):
        await XDirectMessage("https://x.test", "t", transport=social_transport(404, [])).send(
            Address("42", "4***"), MESSAGE, NID
        )


@pytest.mark.parametrize("template", REPORTER_TEMPLATES + STAFF_TEMPLATES)
def test_every_subject_survives_the_trip_through_smtp(renderer: Renderer, template: str) -> None:
    message = renderer.render(template, "id", CONTEXT | {"title": "ümlaut “judul” " * 3})
    raw = SmtpEmail("smtp://127.0.0.1:25", "LAPOR! <noreply@lapor.example>").build(
        MAIL, message, NID
    )
    wire = raw.as_bytes()
    assert all(byte < 128 for byte in wire)  # 7-bit: any relay takes it
    parsed = message_from_bytes(wire, policy=default_policy)
    assert str(parsed["Subject"]).strip() == message.subject  # see Mail.subject
    text = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.replace("\r\n", "\n") == message.text


@pytest.mark.parametrize(
    ("language", "said"),
    [("id", "dirujuk ke meja verifikasi Anda"), ("en", "referred to your verification desk")],
)
def test_a_referral_tells_the_receiving_desk_it_is_theirs_and_by_when(
    renderer: Renderer, language: str, said: str
) -> None:
    context = CONTEXT | {"what": "referred", "stage": "reforward", "due": "2026-03-10"}
    message = renderer.render("admin_attention", language, context)
    assert TID in message.subject and said in message.text
    assert ("10 Maret 2026" if language == "id" else "10 March 2026") in message.text


def test_the_ombudsmans_notice_names_the_grounds_and_no_fixed_count_of_days(
    renderer: Renderer,
) -> None:
    """The Ombudsman office was told "tidak ada tanggapan akhir dalam 60 hari kerja" (or "… dalam
    5 hari kerja" after a reopening) whatever the SLA policy: where the institution's policy
    opens escalation after 40 working days the notice gave grounds the case does not have. The
    event says which grounds; the notice names them without a count of days."""
    for grounds, language, said, fixed in (
        ("no_final_answer", "id", "tidak ada tanggapan akhir", "60 hari"),
        ("reopened_without_answer", "id", "dibuka kembali", "5 hari"),
        ("no_final_answer", "en", "no final answer", "60 working days"),
        ("reopened_without_answer", "en", "reopened", "5 working days"),
    ):
        context = CONTEXT | {"grounds": grounds, "office_name": "Ombudsman RI Perwakilan NTT"}
        message = renderer.render("ombudsman_escalated", language, context)
        assert said in message.text and fixed not in message.text, message.text
        assert "batas waktu" in message.text or "time limit" in message.text, message.text
