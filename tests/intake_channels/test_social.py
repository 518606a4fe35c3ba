"""WhatsApp, Messenger, Instagram and X webhooks end to end, with the platforms' send APIs played
by a local server that speaks their documented formats. In process: the answer goes out (a
background task of the webhook's response) before the response reaches the test. X's direct
messages over a real process (its log) are in test_logs.py."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import uuid
from typing import Any

import httpx
from PIL import Image

from tests.harness import InProcessSystem
from tests.intake_channels.conftest import META_SECRET, META_VERIFY_TOKEN, X_SECRET, Hooks
from tests.intake_channels.fakes import Call, FakePlatforms
from tests.support import SMS_WEBHOOK_TOKEN

TRACKING = re.compile(r"ID: ([2-9A-HJ-NP-Z]{10}) Kode akses: ([2-9A-HJ-NP-Z]{8})")
PHONE_NUMBER_ID = "106540352242922"


def signed_meta(body: bytes, secret: str = META_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def signed_x(body: bytes, secret: str = X_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {
        "x-twitter-webhooks-signature": "sha256=" + base64.b64encode(digest).decode(),
        "Content-Type": "application/json",
    }


def whatsapp(sender: str, text: str, message_id: str | None = None) -> dict[str, Any]:
    """A WhatsApp Cloud API `messages` webhook, as Meta documents it."""
    return {
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
                                "display_phone_number": "6281170801708",
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            "contacts": [{"profile": {"name": "Yohanes"}, "wa_id": sender}],
                            "messages": [
                                {
                                    "from": sender,
                                    "id": message_id or f"wamid.{uuid.uuid4().hex}",
                                    "timestamp": "1750090702",
                                    "type": "text",
                                    "text": {"body": text},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }


def messaging(obj: str, account: str, sender: str, text: str, mid: str) -> dict[str, Any]:
    """A Messenger (`page`) or Instagram (`instagram`) messages webhook."""
    return {
        "object": obj,
        "entry": [
            {
                "id": account,
                "time": 1750090702000,
                "messaging": [
                    {
                        "sender": {"id": sender},
                        "recipient": {"id": account},
                        "timestamp": 1750090702000,
                        "message": {"mid": mid, "text": text},
                    }
                ],
            }
        ],
    }


# An Account Activity delivery: a citizen's DM, and our own earlier answer (not a report).
X_DIRECT_MESSAGES: dict[str, Any] = {
    "for_user_id": "1708000000",
    "direct_message_events": [
        {
            "type": "message_create",
            "id": "954491830116155396",
            "created_timestamp": "1516403560557",
            "message_create": {
                "target": {"recipient_id": "1708000000"},
                "sender_id": "3001969357",
                "message_data": {"text": "JATIM jalan provinsi berlubang di Tuban"},
            },
        },
        {
            "type": "message_create",
            "id": "954491830116155397",
            "created_timestamp": "1516403560558",
            "message_create": {
                "target": {"recipient_id": "3001969357"},
                "sender_id": "1708000000",
                "message_data": {"text": "our own earlier answer"},
            },
        },
    ],
}


async def post(hooks: Hooks, path: str, payload: dict[str, Any], sign: Any) -> httpx.Response:
    body = json.dumps(payload).encode()
    return await hooks.http.post(f"/channels/{path}", content=body, headers=sign(body))


def answer(hooks: Hooks, platform: str, account: str, recipient: str) -> Call:
    """The platform's send call answering `recipient` (made before the webhook's response)."""
    for call in hooks.platforms.calls_to(platform, account):
        body = call.json
        to = body.get("to") or (body.get("recipient") or {}).get("id") or account
        if to == recipient:
            return call
    raise AssertionError(f"no {platform} answer to {recipient}")


def stored(lapor: InProcessSystem) -> bytes:
    """The event store's bytes, its write-ahead log included."""
    files = [lapor.data_dir / name for name in ("events.db", "events.db-wal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


async def test_meta_subscription_handshake_echoes_the_challenge_only_for_our_token(
    hooks: Hooks,
) -> None:
    for path in ("whatsapp", "messenger", "instagram"):
        ok = await hooks.http.get(
            f"/channels/{path}",
            params={
                "hub.mode": "subscribe",
                "hub.verify_token": META_VERIFY_TOKEN,
                "hub.challenge": "1158201444",
            },
        )
        assert (ok.status_code, ok.text) == (200, "1158201444")
        wrong = await hooks.http.get(
            f"/channels/{path}",
            params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
        )
        assert wrong.status_code == 403


async def test_a_whatsapp_message_becomes_a_report_and_is_answered_through_the_cloud_api(
    hooks: Hooks,
) -> None:
    response = await post(
        hooks,
        "whatsapp",
        whatsapp("6281234560001", "KUPANG sampah menumpuk di pasar"),
        signed_meta,
    )

    assert response.status_code == 200, response.text
    call = answer(hooks, "graph", PHONE_NUMBER_ID, "6281234560001")
    assert call.authorization == "Bearer wa-token"
    assert call.json["messaging_product"] == "whatsapp"
    assert call.json["type"] == "text"
    tracking_id, _ = TRACKING.search(call.json["text"]["body"]).groups()  # type: ignore[union-attr]
    report = await hooks.report(tracking_id)
    assert report["channel"] == "whatsapp"
    assert report["location"]["region_code"] == "5371"
    assert b"81234560001" not in stored(hooks.lapor)


async def test_forged_or_unsigned_deliveries_are_refused(hooks: Hooks) -> None:
    payload = whatsapp("6281234560002", "KUPANG laporan palsu dari penipu")
    forged = await post(hooks, "whatsapp", payload, lambda b: signed_meta(b, "not-the-secret"))
    unsigned = await hooks.http.post("/channels/whatsapp", json=payload)
    tampered_body = json.dumps(payload).encode()
    tampered = await hooks.http.post(
        "/channels/whatsapp",
        content=tampered_body.replace(b"palsu", b"PALSU"),
        headers=signed_meta(tampered_body),
    )
    x_forged = await post(hooks, "x", {"direct_message_events": []}, lambda b: signed_x(b, "nope"))

    assert [r.status_code for r in (forged, unsigned, tampered, x_forged)] == [403] * 4
    assert not hooks.platforms.calls_to("graph", PHONE_NUMBER_ID) or all(
        c.json.get("to") != "6281234560002" for c in hooks.platforms.calls
    )


async def test_a_signed_delivery_of_an_odd_shape_is_read_or_refused_never_a_500(
    hooks: Hooks,
) -> None:
    """A signed WhatsApp delivery whose `contacts` carried a `wa_id` that is not a string
    answered 500 (the message in the same delivery was never read, and Meta retried the
    delivery for days), and a body nested deeper than the parser goes answered 500 too. The
    odd contact is skipped and the message becomes its report; the deep body is a 400."""
    payload = whatsapp("6281234560009", "KUPANG lampu jalan mati sejak minggu lalu")
    value = payload["entry"][0]["changes"][0]["value"]
    value["contacts"] = [{"wa_id": ["6281234560009"], "profile": {"name": 7}}, "x"]
    response = await post(hooks, "whatsapp", payload, signed_meta)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "messages": 1}
    call = answer(hooks, "graph", PHONE_NUMBER_ID, "6281234560009")
    tracking_id = TRACKING.search(call.json["text"]["body"])[1]  # type: ignore[index]
    assert (await hooks.report(tracking_id))["channel"] == "whatsapp"

    deep = b'{"object": "whatsapp_business_account", "entry": ' + b"[" * 100_000 + b"]" * 100_000
    for path, sign in (("whatsapp", signed_meta), ("x", signed_x)):
        refused = await hooks.http.post(
            f"/channels/{path}", content=deep + b"}", headers=sign(deep + b"}")
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["detail"].startswith("body:")


async def test_a_redelivered_message_is_one_report_answered_once(hooks: Hooks) -> None:
    payload = whatsapp("6281234560003", "NTT air bersih tidak mengalir", "wamid.redelivered-1")
    duplicates = {"channel": "whatsapp", "outcome": "duplicate"}
    before = await hooks.metric("lapor_channel_replies_total", **duplicates)

    assert (await post(hooks, "whatsapp", payload, signed_meta)).status_code == 200
    first = answer(hooks, "graph", PHONE_NUMBER_ID, "6281234560003")
    assert (await post(hooks, "whatsapp", payload, signed_meta)).status_code == 200

    # The redelivery is recognised.
    assert await hooks.metric("lapor_channel_replies_total", **duplicates) == before + 1
    sent = [c for c in hooks.platforms.calls if c.json.get("to") == "6281234560003"]
    assert sent == [first]
    tracking_id = TRACKING.search(first.json["text"]["body"])[1]  # type: ignore[index]
    await hooks.report(tracking_id)
    assert await hooks.timeline(tracking_id) == ["ReportSubmitted"]


async def test_a_failing_send_api_is_retried(hooks: Hooks) -> None:
    hooks.platforms.fail_next(1)
    payload = whatsapp("6281234560004", "KUPANG drainase tersumbat di Oepura")
    assert (await post(hooks, "whatsapp", payload, signed_meta)).status_code == 200

    # A second try after the 500.
    tries = [c for c in hooks.platforms.calls if c.json.get("to") == "6281234560004"]
    assert len(tries) == 2
    assert tries[0].json == tries[1].json


async def test_messenger_and_instagram_messages_are_answered_on_their_send_apis(
    hooks: Hooks,
) -> None:
    page_message = messaging(
        "page", "PAGE-1708", "PSID-77", "Bantuan sosial tidak tepat sasaran di desa", "m_1"
    )
    assert (await post(hooks, "messenger", page_message, signed_meta)).status_code == 200
    insta_message = messaging(
        "instagram", "IG-1708", "IGSID-88", "KUPANG trotoar rusak di Jl. Sudirman", "m_2"
    )
    assert (await post(hooks, "instagram", insta_message, signed_meta)).status_code == 200

    page = answer(hooks, "graph", "PAGE-1708", "PSID-77")
    assert page.authorization == "Bearer page-token"
    assert page.json["messaging_type"] == "RESPONSE"
    insta = answer(hooks, "instagram", "IG-1708", "IGSID-88")
    assert insta.authorization == "Bearer ig-token"
    for call, channel in ((page, "facebook"), (insta, "instagram")):
        tracking_id = TRACKING.search(call.json["message"]["text"])[1]  # type: ignore[index]
        assert (await hooks.report(tracking_id))["channel"] == channel


async def test_x_crc_check_and_direct_messages(hooks: Hooks) -> None:
    """That the account never reaches the log: test_logs.py, over a real process."""
    crc = await hooks.http.get("/channels/x", params={"crc_token": "9b4507b3-crc"})
    expected = base64.b64encode(
        hmac.new(X_SECRET.encode(), b"9b4507b3-crc", hashlib.sha256).digest()
    ).decode()
    assert crc.json() == {"response_token": f"sha256={expected}"}

    response = await post(hooks, "x", X_DIRECT_MESSAGES, signed_x)
    assert response.json()["messages"] == 1  # our own DM is not a report

    call = answer(hooks, "x", "3001969357", "3001969357")
    assert call.authorization == "Bearer x-user-token"
    tracking_id = TRACKING.search(call.json["text"])[1]  # type: ignore[index]
    report = await hooks.report(tracking_id)
    assert (report["channel"], report["location"]["region_code"]) == ("twitter", "35")


async def test_a_whatsapp_reporter_follows_up_by_chat(hooks: Hooks) -> None:
    phone = "6281234560005"
    await post(
        hooks, "whatsapp", whatsapp(phone, "KUPANG puskesmas tutup jam 10 pagi"), signed_meta
    )
    first = answer(hooks, "graph", PHONE_NUMBER_ID, phone)
    tracking_id = TRACKING.search(first.json["text"]["body"])[1]  # type: ignore[index]
    await hooks.drive(tracking_id, "verify", "forward", "follow_up")
    assert (await hooks.report(tracking_id))["status"] == "followed_up"

    await post(hooks, "whatsapp", whatsapp(phone, f"BALAS {tracking_id} Masih tutup"), signed_meta)

    assert "ReporterReplied" in await hooks.timeline(tracking_id)
    answers = [c for c in hooks.platforms.calls if c.json.get("to") == phone][1:]
    assert answers[0].json["text"]["body"].startswith(f"Balasan Anda untuk laporan {tracking_id}")


async def test_a_whatsapp_photo_with_a_caption_is_a_report_with_its_photo(
    hooks: Hooks, platforms: FakePlatforms
) -> None:
    """Issue 17: a WhatsApp photo with a caption was dropped as empty."""
    photo = io.BytesIO()
    Image.new("RGB", (3000, 2000), (30, 120, 200)).save(photo, "JPEG")
    platforms.media["media-123"] = photo.getvalue()
    payload = whatsapp("6281234560099", "")
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["type"] = "image"
    del message["text"]
    message["image"] = {
        "id": "media-123",
        "mime_type": "image/jpeg",
        "caption": "KUPANG got mampet di depan pasar Oeba",
    }
    response = await post(hooks, "whatsapp", payload, signed_meta)
    assert response.status_code == 200, response.text
    call = answer(hooks, "graph", PHONE_NUMBER_ID, "6281234560099")
    tracking_id, code = TRACKING.search(call.json["text"]["body"]).groups()  # type: ignore[union-attr]
    report = await hooks.report(tracking_id, code)
    assert report["body"] == "got mampet di depan pasar Oeba"
    assert report["location"]["region_code"] == "5371"
    [photo_file] = report["attachments"]
    assert photo_file["media_type"] == "image/jpeg"
    sha = photo_file["sha256"]
    stored_photo = (hooks.lapor.data_dir / "attachments" / sha[:2] / sha).read_bytes()
    assert max(Image.open(io.BytesIO(stored_photo)).size) == 2048  # scaled down on the way in


async def test_chat_answers_are_in_indonesian_first_then_english(hooks: Hooks) -> None:
    """Every answer on WhatsApp, Messenger, Instagram and X was in Bahasa Indonesia only, though
    a chat message has room for both (only an SMS must fit 160 characters in one language): a
    reporter who reads English could not tell what the receipt, a status or a refusal said.
    Chat answers now say it in Bahasa Indonesia, then the same in English; SMS is unchanged."""
    phone = "6281234560077"
    await post(hooks, "whatsapp", whatsapp(phone, "KUPANG got mampet di Oeba"), signed_meta)
    receipt_body = answer(hooks, "graph", PHONE_NUMBER_ID, phone).json["text"]["body"]
    indonesian, english = receipt_body.split("\n\n")
    tracking_id, code = TRACKING.search(indonesian).groups()  # type: ignore[union-attr]
    assert indonesian.startswith("LAPOR! Laporan diterima.")
    assert english.startswith(f"LAPOR! Report received. ID: {tracking_id} Access code: {code}.")

    await post(hooks, "whatsapp", whatsapp(phone, f"CEK {tracking_id}"), signed_meta)
    await post(hooks, "whatsapp", whatsapp(phone, "CEK"), signed_meta)
    status, missing = [
        c.json["text"]["body"] for c in hooks.platforms.calls if c.json.get("to") == phone
    ][1:]
    assert status.startswith(f"Laporan {tracking_id}: diterima, menunggu verifikasi")
    assert f"\n\nReport {tracking_id}: received, waiting for verification" in status
    assert missing.startswith("ID laporan belum ditulis.") and "\n\n" in missing
    assert missing.split("\n\n")[1] != missing.split("\n\n")[0]

    sms = await hooks.http.get(
        "/channels/sms",
        params={
            "from": "+6281234560078",
            "to": "1708",
            "id": "bilingual-sms-1",
            "text": "KUPANG got mampet di Oeba",
            "token": SMS_WEBHOOK_TOKEN,
        },
    )
    assert sms.text.startswith("LAPOR! Laporan diterima.") and "Report received" not in sms.text


async def test_a_whatsapp_photo_without_a_caption_is_told_what_is_missing(
    hooks: Hooks, platforms: FakePlatforms
) -> None:
    """A photo sent without a caption (what people do first) was answered with "Format SMS 1708:
    NAMA WILAYAH (spasi) isi laporan…": an SMS format, with no word that the photo arrived or
    why nothing was made of it. The answer now says the photo came and a caption is needed."""
    photo = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 30)).save(photo, "JPEG")
    platforms.media["media-no-caption"] = photo.getvalue()
    payload = whatsapp("6281234560088", "")
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["type"] = "image"
    del message["text"]
    message["image"] = {"id": "media-no-caption", "mime_type": "image/jpeg"}

    response = await post(hooks, "whatsapp", payload, signed_meta)
    assert response.status_code == 200, response.text
    said = answer(hooks, "graph", PHONE_NUMBER_ID, "6281234560088").json["text"]["body"]
    assert said.startswith("Foto atau dokumen Anda sudah kami terima, tetapi tanpa keterangan")
    assert "\n\nWe received your photo or document" in said
    assert "Format SMS 1708" not in said and not TRACKING.search(said)


async def test_poll_answers_on_chat_are_in_indonesian_first_then_english(hooks: Hooks) -> None:
    """`POLL <CODE> <CHOICE>` on WhatsApp was answered in Bahasa Indonesia only (the poll
    replies were the one chat answer left out when the others became bilingual): a citizen who
    reads English could not tell whether the vote counted. The SMS answer stays Indonesian."""
    hooks.lapor.set_clock("2026-05-04T08:00:00+07:00")
    owner = {"Authorization": f"Bearer {hooks.lapor.token('agency', agency='PEMKOT-KUPANG')}"}
    poll = {
        "code": "BBM26",
        "title": "Pembatasan BBM bersubsidi untuk kendaraan dinas",
        "policy_text": "Rancangan kebijakan pembatasan BBM bersubsidi.",
        "closes_at": "2026-05-06T08:00:00+07:00",
        "agency_code": "PEMKOT-KUPANG",
        "questions": [{"text": "Setuju?", "choices": ["Setuju", "Tidak setuju", "Ragu-ragu"]}],
    }
    opened = await hooks.http.post("/api/v1/polls", json=poll, headers=owner)
    assert opened.status_code == 201, opened.text

    phone = "6281234560091"
    for text in ("POLL BBM26 A", "POLL BBM26 Z", "POLL NOSUCH A"):
        await post(hooks, "whatsapp", whatsapp(phone, text), signed_meta)
    voted, bad_choice, unknown = [
        c.json["text"]["body"] for c in hooks.platforms.calls if c.json.get("to") == phone
    ]
    assert voted == (
        "Terima kasih! Jawaban Anda untuk jajak pendapat BBM26 tercatat: A. Bisa diubah sampai"
        " ditutup: POLL BBM26 PILIHAN.\n\nThank you! Your answer to poll BBM26 is recorded: A."
        " You can change it until the poll closes: POLL BBM26 CHOICE."
    )
    assert bad_choice.startswith("Pilihan tidak dikenal untuk jajak pendapat BBM26. Pilih A/B/C")
    assert "\n\nUnknown choice for poll BBM26. Choose A/B/C, e.g. POLL BBM26 A" in bad_choice
    assert unknown.startswith("Jajak pendapat NOSUCH tidak ditemukan.")
    assert "\n\nPoll NOSUCH not found." in unknown

    sms = await hooks.http.get(
        "/channels/sms",
        params={
            "from": "+6281234560092",
            "to": "1708",
            "id": "poll-sms-1",
            "text": "POLL BBM26 B",
            "token": SMS_WEBHOOK_TOKEN,
        },
    )
    assert sms.text.startswith("Terima kasih! Jawaban Anda") and "Thank you" not in sms.text
