"""The channels' pure parts, table by table: phones, titles, Kannel's encodings, the SMS answers,
the platforms' payloads and signatures, Open311's XML and date window, the Kannel harness."""

from __future__ import annotations

import base64
import hashlib
import hmac
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from services.intake.channels.common import (
    ReplyLog,
    Sender,
    SenderLimits,
    StatusInfo,
    normalize_phone,
    title_from,
)
from services.intake.channels.conversation import (
    INVALID_REPLIES,
    RATE_LIMITED,
    REPORT_LIMITED,
    receipt,
    reply_text,
    status_text,
)
from services.intake.channels.email import html_to_text, read_subject, smtp_target
from services.intake.channels.open311 import Open311Error, open_or_closed, to_xml, window
from services.intake.channels.sms import decode_text, parse_query
from services.intake.channels.social import (
    meta_signature,
    parse_messaging,
    parse_whatsapp,
    parse_x,
    signature_ok,
    x_signature,
)
from shared.directory.model import default_directory
from shared.reports.events import Status
from shared.sms.grammar import HELP_TEXT, SmsGrammar
from shared.sms.gsm7 import is_gsm7, septet_length
from shared.values import Channel
from tests.intake_channels.kannel import KannelGateway, _parse_got, missing_kannel, require_kannel
from tests.support import SMS_WEBHOOK_TOKEN


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+6281234567890", "+6281234567890"),
        ("081234567890", "+6281234567890"),
        ("6281234567890", "+6281234567890"),
        ("0062 812-3456-7890", "+6281234567890"),
        ("+62 (812) 3456.7890", "+6281234567890"),
        ("TELKOMSEL", None),
        ("1708", None),
        ("", None),
        (None, None),
    ],
)
def test_phone_numbers_are_compared_in_one_form(raw: str | None, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


def test_a_sender_is_the_reporter_by_phone_across_sms_and_whatsapp() -> None:
    contact = {"phone": "+6281234567890", "channel": "sms"}
    assert Sender(Channel.SMS, "081234567890").matches(contact)
    assert Sender(Channel.WHATSAPP, "6281234567890").matches(contact)
    assert not Sender(Channel.SMS, "+6281234567891").matches(contact)
    assert not Sender(Channel.SMS, "+6281234567890").matches(None)
    messenger = {"user_id": "PSID-1", "channel": "facebook"}
    assert Sender(Channel.FACEBOOK, "PSID-1").matches(messenger)
    assert not Sender(Channel.INSTAGRAM, "PSID-1").matches(messenger)


def test_a_social_sender_goes_into_the_encrypted_contact_not_reporter_in() -> None:
    whatsapp = Sender(Channel.WHATSAPP, "6281234567890", "Siti")
    reporter = whatsapp.reporter()
    assert reporter is not None
    assert reporter.phone == "+6281234567890"
    assert reporter.name == "Siti"
    assert whatsapp.contact() == {}
    assert Sender(Channel.TWITTER, "998877").contact() == {"user_id": "998877"}
    assert Sender(Channel.TWITTER, "998877").reporter() is None


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("jalan rusak", "jalan rusak"),
        ("  lampu   mati\nsudah seminggu", "lampu mati"),
        ("ok", "Laporan"),
        ("kata " * 40, ("kata " * 15).strip() + "..."),
    ],
)
def test_a_title_is_the_first_line_cut_at_a_word(text: str, title: str) -> None:
    got = title_from(text)
    assert len(got) <= 80
    assert got == title


def test_kannel_text_is_decoded_whatever_its_encoding() -> None:
    assert decode_text("jalan rusak é".encode()) == "jalan rusak é"
    assert decode_text("jalan rusak é".encode("latin-1")) == "jalan rusak é"
    assert decode_text("jalan ✓".encode("utf-16-be"), coding="2") == "jalan ✓"
    assert decode_text(b"caf\xe9", charset='"ISO-8859-1"') == "café"
    assert parse_query(b"from=%2B62812&text=KUPANG++jalan+%C3%A9&id=1") == {
        "from": b"+62812",
        "text": "KUPANG  jalan é".encode(),
        "id": b"1",
    }


@pytest.mark.parametrize("national", [True, False])
def test_the_receipt_fits_one_sms_with_id_and_code(national: bool) -> None:
    text = receipt("ABCDEFGHJK", "ABCDEFGH", national)
    assert is_gsm7(text) and septet_length(text) <= 160
    assert "ABCDEFGHJK" in text and "ABCDEFGH" in text
    assert ("Format" in text) is national


@pytest.mark.parametrize("status", list(Status))
def test_every_status_answer_fits_one_sms(status: Status) -> None:
    info = StatusInfo(
        "ABCDEFGHJK",
        status,
        "Dinas Pekerjaan Umum dan Penataan Ruang Kabupaten Timor Tengah Utara",
        "Terima kasih atas laporan Anda. " * 20,
        False,
    )
    info = StatusInfo(
        info.tracking_id,
        info.status,
        info.agency_name,
        info.last_follow_up,
        False,
        date(2026, 3, 5),
    )
    text = status_text(info, 160)
    # One SMS, whole: status, institution and date; never a follow-up cut mid-sentence.
    assert septet_length(text) <= 160, text
    assert text.startswith("Laporan ABCDEFGHJK: ") and "5 Mar 2026." in text
    assert "..." not in text
    if status in (Status.FORWARDED, Status.FOLLOWED_UP, Status.CLOSED):
        assert "Dinas Pekerjaan Umum" in text
    if status is Status.FOLLOWED_UP:
        assert text.endswith("BALAS ABCDEFGHJK pesan")


def test_a_short_answer_is_in_the_status_sms_whole() -> None:
    info = StatusInfo(
        "ABCDEFGHJK",
        Status.FOLLOWED_UP,
        "Dinas Kesehatan Kota Kupang",
        "Sudah kami perbaiki.",
        False,
        date(2026, 3, 5),
    )
    text = status_text(info, 160)
    assert text == (
        "Laporan ABCDEFGHJK: sudah ditindaklanjuti - Dinas Kesehatan Kota Kupang, 5 Mar 2026."
        " Tanggapan: Sudah kami perbaiki. Balas: BALAS ABCDEFGHJK pesan"
    )


def test_fixed_answers_are_gsm7_and_one_sms() -> None:
    texts = [*INVALID_REPLIES.values(), RATE_LIMITED, REPORT_LIMITED, HELP_TEXT]
    texts += [
        reply_text(k, "ABCDEFGHJK", Status.CLOSED)
        for k in ("replied", "amended", "closed", "not_found")
    ]
    for text in texts:
        assert is_gsm7(text), text
        assert septet_length(text) <= 160, text


def test_the_limit_counts_messages_per_sender_but_not_a_gateways_retry() -> None:
    limits = SenderLimits(per_hour=2, secret=b"s")
    phone = Sender(Channel.SMS, "+6281200000001")
    assert limits.allow(phone, "sms:1")
    assert limits.allow(phone, "sms:1")  # the same message again: not counted
    assert limits.allow(phone, "sms:2")
    assert not limits.allow(phone, "sms:3")
    assert limits.allow(Sender(Channel.SMS, "081200000002"), "sms:4")
    assert not limits.allow(Sender(Channel.WHATSAPP, "6281200000001"), "wa:1")  # same phone


def test_the_reply_log_answers_each_message_once(tmp_path: Path) -> None:
    import asyncio

    log = ReplyLog(tmp_path / "r.db", b"secret")

    async def story() -> None:
        key = log.key(Channel.WHATSAPP, "wamid.1")
        assert await log.claim(key)
        assert not await log.claim(key)  # being sent
        await log.failed(key)
        assert await log.claim(key)  # a failed send may be tried again
        await log.sent(key)
        assert not await log.claim(key)

    asyncio.run(story())
    log.close()


# --- e-mail ---------------------------------------------------------------------------------
def test_a_subject_gives_title_region_and_the_reporters_choices() -> None:
    grammar = SmsGrammar.from_directory(default_directory())
    subject = read_subject("Re: [RAHASIA] Timor Tengah Utara: sekolah roboh [anonim]", grammar)
    assert subject.title == "sekolah roboh"
    assert subject.region_code == "5303"
    assert subject.anonymous and subject.confidential
    plain = read_subject("Pungli di kantor kelurahan", grammar)
    assert plain.region_code is None and not plain.anonymous and not plain.confidential
    assert read_subject("", grammar).title is None


def test_html_mail_becomes_text() -> None:
    markup = "<p>Jalan <b>rusak</b>&nbsp;parah</p><script>x()</script><div>di Oebobo</div>"
    assert html_to_text(markup) == "Jalan rusak parah\ndi Oebobo"


def test_the_outbound_smtp_url() -> None:
    target = smtp_target("smtps://user%40x:p%3Ass@mail.example:465")
    assert (target.hostname, target.port, target.use_tls) == ("mail.example", 465, True)
    assert (target.username, target.password) == ("user@x", "p:ss")
    assert smtp_target("smtp://127.0.0.1:2525").port == 2525
    with pytest.raises(ValueError):
        smtp_target("http://x")


# --- social ---------------------------------------------------------------------------------
WHATSAPP = {
    "object": "whatsapp_business_account",
    "entry": [
        {
            "id": "102290129340398",
            "changes": [
                {
                    "field": "messages",
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {
                            "display_phone_number": "15550783881",
                            "phone_number_id": "106540352242922",
                        },
                        "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "6281299"}],
                        "messages": [
                            {
                                "from": "6281299",
                                "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0",
                                "timestamp": "1750090702",
                                "text": {"body": "KUPANG lampu jalan mati"},
                                "type": "text",
                            },
                            {"from": "6281299", "id": "wamid.2", "type": "image", "image": {}},
                        ],
                        "statuses": [{"id": "wamid.0", "status": "delivered"}],
                    },
                }
            ],
        }
    ],
}


def test_whatsapp_payloads_give_messages_and_where_to_answer() -> None:
    first, image = parse_whatsapp(WHATSAPP)
    assert first.channel is Channel.WHATSAPP
    assert (first.sender_id, first.text, first.name) == (
        "6281299",
        "KUPANG lampu jalan mati",
        "Sheena Nelson",
    )
    assert first.account_id == "106540352242922"
    assert image.text == ""  # not text: answered with the format
    assert parse_whatsapp({"entry": "nonsense"}) == []


def test_messenger_and_instagram_payloads_skip_echoes_and_reads() -> None:
    payload = {
        "object": "page",
        "entry": [
            {
                "id": "PAGE-1",
                "time": 1458692752478,
                "messaging": [
                    {
                        "sender": {"id": "PSID-9"},
                        "recipient": {"id": "PAGE-1"},
                        "timestamp": 1458692752478,
                        "message": {"mid": "m_1", "text": "CEK ABCDEFGHJK"},
                    },
                    {
                        "sender": {"id": "PAGE-1"},
                        "recipient": {"id": "PSID-9"},
                        "message": {"mid": "m_2", "text": "echo", "is_echo": True},
                    },
                    {"sender": {"id": "PSID-9"}, "recipient": {"id": "PAGE-1"}, "read": {}},
                ],
            }
        ],
    }
    (message,) = parse_messaging(payload, Channel.FACEBOOK)
    assert (message.sender_id, message.message_id, message.account_id) == (
        "PSID-9",
        "m_1",
        "PAGE-1",
    )
    assert parse_messaging(payload, Channel.INSTAGRAM)[0].channel is Channel.INSTAGRAM


def test_x_payloads_skip_our_own_direct_messages() -> None:
    payload = {
        "for_user_id": "4337869213",
        "direct_message_events": [
            {
                "type": "message_create",
                "id": "954491830116155396",
                "created_timestamp": "1516403560557",
                "message_create": {
                    "target": {"recipient_id": "4337869213"},
                    "sender_id": "3001969357",
                    "message_data": {"text": "Hello World!", "entities": {}},
                },
            },
            {
                "type": "message_create",
                "id": "954491830116155397",
                "message_create": {
                    "target": {"recipient_id": "3001969357"},
                    "sender_id": "4337869213",
                    "message_data": {"text": "our answer"},
                },
            },
        ],
    }
    (message,) = parse_x(payload)
    assert (message.sender_id, message.text, message.channel) == (
        "3001969357",
        "Hello World!",
        Channel.TWITTER,
    )


def test_signatures_as_the_platforms_compute_them() -> None:
    body = b'{"object":"page"}'
    expected = "sha256=" + hmac.new(b"secret", body, hashlib.sha256).hexdigest()
    assert meta_signature("secret", body) == expected
    assert signature_ok(expected, expected)
    assert not signature_ok(expected, expected[:-1] + "0")
    assert not signature_ok(expected, None)
    digest = hmac.new(b"consumer", b"crc", hashlib.sha256).digest()
    assert x_signature("consumer", b"crc") == "sha256=" + base64.b64encode(digest).decode()


# --- Open311 --------------------------------------------------------------------------------
def test_open311_xml_mirrors_json() -> None:
    xml = to_xml(
        "service_requests",
        [{"service_request_id": "X", "lat": 1.5, "media_url": None, "metadata": True}],
    )
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(xml)
    assert root.tag == "service_requests"
    (request,) = root
    assert request.tag == "request"
    assert request.findtext("service_request_id") == "X"
    assert request.findtext("lat") == "1.5"
    assert request.findtext("media_url") == ""
    assert request.findtext("metadata") == "true"


def test_open311_date_window_is_at_most_90_days() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert window(None, None, now) == (now - timedelta(days=90), now)
    start = now - timedelta(days=10)
    assert window(start, None, now) == (start, now)
    with pytest.raises(Open311Error) as error:
        window(now - timedelta(days=91), now, now)
    assert error.value.status == 400
    assert open_or_closed("rejected") == "closed" and open_or_closed("followed_up") == "open"


# --- the Kannel harness ---------------------------------------------------------------------
def test_the_kannel_config_gets_free_ports_and_the_intake_url(tmp_path: Path) -> None:
    gateway = KannelGateway(tmp_path, "http://127.0.0.1:12345")
    config = gateway.config_text()
    for old in ("13000", "13001", "10000", "13013", "127.0.0.1:8000", "/tmp/kannel/"):
        assert old not in config
    assert f"admin-port = {gateway.admin_port}" in config
    assert f"bearerbox-port = {gateway.box_port}" in config
    query = f"token={SMS_WEBHOOK_TOKEN}&from=%p&to=%P"
    assert f'get-url = "http://127.0.0.1:12345/channels/sms?{query}&text=%b&id=%I"' in config
    post = KannelGateway(tmp_path, "http://127.0.0.1:12345", mode="post").config_text()
    assert f'post-url = "http://127.0.0.1:12345/channels/sms?{query}&id=%I"' in post
    assert "send-sender = true" in post
    sms = _parse_got("2026 INFO: Got message 1: <1708 +62812 text LAPOR! ID: X>")
    assert sms is not None and (sms.sender, sms.to, sms.text) == ("1708", "+62812", "LAPOR! ID: X")


def test_a_missing_kannel_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.intake_channels.kannel as harness

    monkeypatch.setattr(harness, "FAKESMSC", "/nonexistent/fakesmsc")
    assert missing_kannel() is not None
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_kannel()
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception):
        require_kannel()


def test_ucs2_without_a_coding_hint_is_recognised() -> None:
    assert decode_text("KUPANG jalan ✓".encode("utf-16-be")) == "KUPANG jalan ✓"


def test_the_bundled_kannel_config_is_the_shared_one() -> None:
    from tests.intake_channels.kannel import LOCAL_TEMPLATE, SHARED_TEMPLATE

    bundled = LOCAL_TEMPLATE.read_text()
    assert "get-url" in bundled and "catch-all = true" in bundled
    if SHARED_TEMPLATE.exists():  # beside DESIGN.md on a developer's machine
        assert bundled == SHARED_TEMPLATE.read_text()
