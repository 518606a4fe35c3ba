"""E-mail end to end: a real SMTP client -> intake's SMTP server -> a report -> the reply mail."""

from __future__ import annotations

import io
import re
import smtplib
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import make_msgid

import httpx
from PIL import Image

from tests.intake_channels.conftest import ChannelSystem
from tests.support import wait_for

INBOX = "pengaduan@lapor.localhost"


def photo_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "KameraHP"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "S", 2: (10.0, 9.0, 30.0), 3: "E", 4: (123.0, 35.0, 0.0)})
    out = io.BytesIO()
    Image.new("RGB", (48, 32), (200, 30, 30)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def mail(sender: str, subject: str, body: str, **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = INBOX
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="mail.example.id")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def deliver(
    channels: ChannelSystem, message: EmailMessage, mail_from: str | None = None
) -> tuple[int, str]:
    """One SMTP transaction over loopback; the server's answer to DATA."""
    with smtplib.SMTP("127.0.0.1", channels.smtp_port, timeout=20) as smtp:
        smtp.ehlo("client.example.id")
        smtp.mail(
            mail_from if mail_from is not None else str(message["From"].addresses[0].addr_spec)
        )
        smtp.rcpt(INBOX)
        code, answer = smtp.data(message.as_bytes(policy=SMTP_POLICY))  # CRLF lines
    return code, answer.decode()


def reply_to(channels: ChannelSystem, address: str, message_id: str) -> EmailMessage:
    def find() -> EmailMessage | None:
        for m in channels.mailbox.to(address):
            if m.message["In-Reply-To"] == message_id:
                return m.message
        return None

    return wait_for(find, timeout=20, what=f"reply mail to {address}")


def test_a_mail_becomes_a_report_and_the_reply_carries_the_tracking_id(
    channels: ChannelSystem,
) -> None:
    original = photo_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the photo tells where
    message = mail(
        "Siti Aminah <siti.aminah@example.id>",
        "KUPANG: Lampu jalan mati di Jl. Timor Raya",
        "Sudah dua minggu lampu jalan di depan SD Inpres mati, rawan kecelakaan malam hari.",
    )
    message.add_attachment(original, maintype="image", subtype="jpeg", filename="foto lampu.jpg")
    message.add_attachment(
        b"MZ\x90\x00 not a photo",
        maintype="application",
        subtype="octet-stream",
        filename="lihat.exe",
    )

    code, answer = deliver(channels, message)

    assert code == 250, answer
    tracking_id = re.search(r"report ([2-9A-Z]{10})", answer)[1]  # type: ignore[index]
    reply = reply_to(channels, "siti.aminah@example.id", str(message["Message-ID"]))
    assert (
        reply["Subject"] == f"[LAPOR! {tracking_id}] Re: KUPANG: Lampu jalan mati di Jl. Timor Raya"
    )
    assert reply["Auto-Submitted"] == "auto-replied"
    text = reply.get_content()
    assert f"ID laporan: {tracking_id}" in text
    code_line = re.search(r"Kode akses: ([2-9A-Z]{8})", text)
    assert code_line
    assert "lihat.exe" in text  # the refused attachment is named in the reply
    # ... and why, in both halves: Indonesian first, then English (it was in Indonesian only).
    indonesian, english = re.split(r"\n--\s*\n", text, maxsplit=1)
    assert "tidak dapat kami terima" in indonesian and "lihat.exe" in indonesian
    assert "could not be accepted" in english and "lihat.exe" in english

    public = httpx.get(f"{channels.url}/api/v1/reports/{tracking_id}").json()
    assert "title" not in public  # not published yet: status and dates only
    report = channels.report(tracking_id, code_line[1])
    assert report["channel"] == "email"
    assert report["title"] == "Lampu jalan mati di Jl. Timor Raya"
    assert report["location"]["region_code"] == "5371"
    assert "siti" not in str(report).lower()
    (submitted,) = [e for e in channels.events(tracking_id) if e.event_type == "ReportSubmitted"]
    (attachment,) = submitted.data["attachments"]
    assert attachment["media_type"] == "image/jpeg" and attachment["name"] == "foto lampu.jpg"
    sha = attachment["sha256"]
    stored = (channels.data_dir / "attachments" / sha[:2] / sha).read_bytes()
    assert not Image.open(io.BytesIO(stored)).getexif().get_ifd(0x8825)  # location stripped
    assert b"siti.aminah" not in (channels.data_dir / "events.db").read_bytes()
    assert "siti.aminah" not in channels.system.log("intake")

    # The reporter's access code from the mail works on the API.
    replies = httpx.get(
        f"{channels.url}/api/v1/reports/{tracking_id}",
        headers={"X-Access-Code": code_line[1]},
    )
    assert replies.status_code == 200


def test_the_same_mail_delivered_twice_is_one_report_and_one_reply(channels: ChannelSystem) -> None:
    message = mail(
        "budi@example.id",
        "Pungli pembuatan KTP",
        "Petugas kecamatan meminta uang Rp 50.000 untuk mempercepat KTP elektronik.",
    )
    before = channels.metric("lapor_channel_replies_total", channel="email", outcome="duplicate")

    first = deliver(channels, message)
    reply_to(channels, "budi@example.id", str(message["Message-ID"]))
    second = deliver(channels, message)

    assert first == second  # same report
    wait_for(
        lambda: (
            channels.metric("lapor_channel_replies_total", channel="email", outcome="duplicate")
            == before + 1
        ),
        what="the second delivery recognised as answered",
    )
    assert len(channels.mailbox.to("budi@example.id")) == 1
    tracking_id = first[1].rsplit(" ", 1)[1]
    channels.report(tracking_id)
    assert channels.timeline(tracking_id) == ["ReportSubmitted"]


def test_anonymous_and_confidential_are_asked_for_in_the_subject(channels: ChannelSystem) -> None:
    message = mail(
        "rahasia@example.id",
        "[RAHASIA] [ANONIM] Guru meminta uang ujian",
        "Wali kelas meminta uang ujian Rp 100.000 per siswa di SMP negeri kami.",
    )
    code, answer = deliver(channels, message)
    assert code == 250, answer
    tracking_id = answer.rsplit(" ", 1)[1]
    reply = reply_to(channels, "rahasia@example.id", str(message["Message-ID"]))
    access_code = re.search(r"Kode akses: ([2-9A-Z]{8})", reply.get_content())[1]  # type: ignore[index]

    report = channels.report(tracking_id, access_code)
    assert report["anonymous"] is True and report["confidential"] is True
    assert report["title"] == "Guru meminta uang ujian"
    public = httpx.get(f"{channels.url}/api/v1/reports/{tracking_id}")
    assert public.status_code == 404  # confidential: not for anyone else
    listed = httpx.get(f"{channels.url}/api/v1/reports", params={"q": "uang ujian"}).json()
    assert tracking_id not in str(listed)


def test_a_mail_without_a_report_in_it_bounces_with_the_reason(channels: ChannelSystem) -> None:
    code, answer = deliver(channels, mail("kosong@example.id", "", "ok"))
    assert code == 550
    assert "at least 10 characters" in answer


def test_every_bounce_tells_the_citizen_why_in_indonesian_first(channels: ChannelSystem) -> None:
    """A mail that was too long bounced with "The text is too long for a report", one whose
    subject held nothing readable with "Unusable report: title" (a field name of ours), and an
    unusable From with "From: not a usable address": English only, to an Indonesian citizen.
    Every refusal now says it in Bahasa Indonesia first, then in English, naming the part of
    the mail."""
    long = mail("panjang@example.id", "Jalan rusak", "Jalan rusak. " * 1000)
    code, answer = deliver(channels, long)
    assert code == 550 and answer.startswith("5.6.0 Teks terlalu panjang"), answer
    assert " / The text is too long" in answer

    unreadable = mail(
        "judul@example.id", "\u202e\u202e\u202eab", "Lampu jalan mati di Oebobo sejak Senin."
    )
    code, answer = deliver(channels, unreadable)
    assert code == 550 and answer.startswith("5.6.0 Laporan tidak dapat dibaca, periksa subjek")
    assert answer.endswith("/ Unusable report: check the subject"), answer

    nobody = b"To: " + INBOX.encode() + b"\r\nSubject: Jalan rusak\r\nFrom: <>\r\n\r\nisi\r\n"
    code, answer = deliver_raw(channels, nobody, "tanpa-at")
    assert code == 550 and answer.startswith("5.1.7 Alamat pengirim (From) tidak dapat"), answer
    assert answer.endswith("/ From: not a usable address"), answer


def test_automatic_mail_gets_neither_a_report_nor_a_reply(channels: ChannelSystem) -> None:
    auto = mail(
        "robot@example.id",
        "Out of office",
        "I am away until Monday and will answer your mail then.",
        Auto_Submitted="auto-replied",
    )
    assert deliver(channels, auto)[1].startswith("2.0.0 OK (automatic")
    bounce = mail("mailer-daemon@example.id", "Undelivered", "Your message could not be delivered.")
    assert deliver(channels, bounce, mail_from="")[1].startswith("2.0.0 OK (automatic")


def test_an_oversized_mail_is_refused_by_the_smtp_server(channels: ChannelSystem) -> None:
    message = mail("besar@example.id", "File besar", "Lampiran video kejadian di jalan raya.")
    message.add_attachment(b"\0" * 2_500_000, maintype="video", subtype="mp4", filename="v.mp4")
    code, _ = deliver(channels, message)  # LAPOR_INTAKE_SMTP_MAX_BYTES is 3 MB here
    assert code == 552


def deliver_raw(channels: ChannelSystem, raw: bytes, mail_from: str) -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", channels.smtp_port, timeout=20) as smtp:
        smtp.ehlo("client.example.id")
        smtp.mail(mail_from)
        smtp.rcpt(INBOX)
        code, answer = smtp.data(raw)
    return code, answer.decode()


def test_a_reply_to_the_confirmation_lands_on_the_report_without_the_quote_or_the_code(
    channels: ChannelSystem,
) -> None:
    """Issue 17: answering LAPOR's mail is the reporter's answer on that report, never a new
    (public) report quoting the access code."""
    reporter = "dewi.lestari@example.id"
    first = mail(
        f"Dewi Lestari <{reporter}>",
        "KUPANG: Sampah menumpuk di Pasar Oeba",
        "Sampah di Pasar Oeba tidak diangkut sejak seminggu, baunya sampai ke rumah warga.",
    )
    code, answer = deliver(channels, first)
    assert code == 250, answer
    tracking_id = answer.rsplit(" ", 1)[1]
    confirmation = reply_to(channels, reporter, str(first["Message-ID"]))
    access_code = re.search(r"Kode akses: ([2-9A-Z]{8})", confirmation.get_content())[1]  # type: ignore[index]
    assert tracking_id in str(confirmation["Message-ID"])
    assert f"+{tracking_id}@" in str(confirmation["Reply-To"])

    answer_text = "Tambahan: tumpukan sampah ada di sisi timur pasar, dekat los ikan."
    quoted = "\n".join(f"> {line}" for line in confirmation.get_content().splitlines())
    reply = mail(
        f"Dewi Lestari <{reporter}>",
        f"Re: {confirmation['Subject']}",
        f"{answer_text}\n\nKode akses saya {access_code}.\n\n"
        f"Pada 5 Mar 2026, LAPOR! menulis:\n{quoted}\n\n-- \nDewi\nDikirim dari HP saya",
        In_Reply_To=str(confirmation["Message-ID"]),
        References=str(confirmation["Message-ID"]),
    )
    before = len(httpx.get(f"{channels.url}/api/v1/reports").json())
    code, answer = deliver(channels, reply)
    assert code == 250 and f"reply recorded on report {tracking_id}" in answer, answer

    # No new report, and the answer is on this one, as the reporter wrote it.
    assert wait_for(
        lambda: "ReportAmended" in channels.timeline(tracking_id) or None,
        what="the reply on the report",
    )
    entries = httpx.get(
        f"{channels.url}/api/v1/reports/{tracking_id}/timeline",
        headers={"X-Access-Code": access_code},
    ).json()
    amended = next(e for e in entries if e["event_type"] == "ReportAmended")
    assert amended["text"].startswith(answer_text)
    assert ">" not in amended["text"] and "menulis" not in amended["text"]
    assert "Dikirim dari" not in amended["text"]
    assert access_code not in amended["text"]  # even where they wrote it themselves
    assert len(httpx.get(f"{channels.url}/api/v1/reports").json()) == before
    for url in (
        f"/api/v1/reports/{tracking_id}",
        f"/api/v1/reports/{tracking_id}/timeline",
        "/api/v1/reports",
        f"/laporan/{tracking_id}",
    ):
        assert access_code not in httpx.get(channels.url + url).text, url


def test_only_the_reporters_own_address_may_answer_by_mail(channels: ChannelSystem) -> None:
    reporter = "yakob@example.id"
    first = mail(
        reporter,
        "KUPANG: Air PDAM keruh",
        "Air PDAM di Kelurahan Oebobo keruh dan berbau sejak tiga hari.",
    )
    tracking_id = deliver(channels, first)[1].rsplit(" ", 1)[1]
    confirmation = reply_to(channels, reporter, str(first["Message-ID"]))
    forged = mail(
        "orang.lain@example.id",
        f"Re: {confirmation['Subject']}",
        "Laporan ini palsu, tolong ditutup saja.",
        In_Reply_To=str(confirmation["Message-ID"]),
    )
    code, answer = deliver(channels, forged)
    assert code == 550 and "reporter's own address" in answer
    assert channels.timeline(tracking_id) == ["ReportSubmitted"]
    # A reply naming a report that does not exist is refused the same way.
    made_up = mail(
        "orang.lain@example.id",
        "Re: [LAPOR! 23456789AB] Laporan diterima",
        "Ini balasan untuk laporan yang tidak ada.",
    )
    assert deliver(channels, made_up)[0] in (250, 550)
    assert "orang.lain" not in channels.system.log("intake")


def test_headers_that_decode_to_line_breaks_neither_crash_nor_stall(
    channels: ChannelSystem,
) -> None:
    """Security finding 9: a Message-ID decoding to CR/LF crashed the reply task; a From with an
    encoded CR/LF got 451 (the sending server retries forever)."""
    body = "Jalan di depan kantor lurah Oepura berlubang besar dan membahayakan pengendara."
    injected_id = (
        b"From: Rina <rina.crlf@example.id>\r\nTo: " + INBOX.encode() + b"\r\n"
        b"Subject: KUPANG: Jalan berlubang di Oepura\r\n"
        b"Message-ID: =?utf-8?q?=3Cabc=0D=0ABcc=3A_victim=40example=2Eid=3E?=\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + body.encode() + b"\r\n"
    )
    code, answer = deliver_raw(channels, injected_id, "rina.crlf@example.id")
    assert code == 250, answer
    tracking_id = answer.rsplit(" ", 1)[1]

    def confirmation() -> EmailMessage | None:
        mails = channels.mailbox.to("rina.crlf@example.id")
        return mails[0].message if mails else None

    sent = wait_for(confirmation, timeout=20, what="the confirmation despite the bad Message-ID")
    assert tracking_id in str(sent["Subject"])
    assert "victim" not in sent.as_string()
    assert channels.mailbox.to("victim@example.id") == []

    injected_from = (
        b"From: =?utf-8?q?Evil=0D=0ABcc=3A_x=40example=2Eid?= <evil@example.id>\r\n"
        b"To: " + INBOX.encode() + b"\r\nSubject: Jalan rusak\r\n"
        b"Message-ID: <crlf-from@example.id>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + body.encode() + b"\r\n"
    )
    code, answer = deliver_raw(channels, injected_from, "evil@example.id")
    assert code == 550 and "From" in answer, answer  # final: no retries forever
    assert "evil@example.id" not in channels.system.log("intake")
