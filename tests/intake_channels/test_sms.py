"""SMS 1708 end to end: a handset (fakesmsc) -> the real Kannel -> intake -> the reply SMS (real
processes). The webhook's behaviour for calls a handset cannot produce: test_sms_webhook.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.sms.grammar import HELP_TEXT
from tests.intake_channels.conftest import ChannelSystem, one_sms, receipt
from tests.intake_channels.kannel import KannelGateway, require_kannel
from tests.support import SMS_WEBHOOK_TOKEN, wait_for


@pytest.fixture(scope="module")
def kannel(
    channels: ChannelSystem, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KannelGateway]:
    require_kannel()
    with KannelGateway(tmp_path_factory.mktemp("kannel"), channels.url) as gateway:
        yield gateway


def sms_get(channels: ChannelSystem, sender: str, text: str, message_id: str) -> httpx.Response:
    """What Kannel's get-url does, for cases a handset cannot produce (same id twice, empty)."""
    return httpx.get(
        f"{channels.url}/channels/sms",
        params={
            "from": sender,
            "to": "1708",
            "text": text,
            "id": message_id,
            "token": SMS_WEBHOOK_TOKEN,
        },
    )


def test_a_citizen_reports_by_sms_and_gets_the_tracking_id_back(
    kannel: KannelGateway, channels: ChannelSystem
) -> None:
    reply = kannel.send("+6281234500001", "KOTA KUPANG: jalan di depan pasar Oebobo rusak parah")

    tracking_id, _ = receipt(reply)
    assert f"CEK {tracking_id}" in reply
    report = channels.report(tracking_id)
    assert report["channel"] == "sms"
    assert report["location"]["region_code"] == "5371"
    assert report["body"] == "jalan di depan pasar Oebobo rusak parah"
    assert "6281234500001" not in str(report)
    # The phone number lives only in the encrypted reporter blob: not in the store, not in logs.
    assert b"81234500001" not in (channels.data_dir / "events.db").read_bytes()
    assert "81234500001" not in channels.system.log("intake")


def test_a_multi_word_keyword_in_any_case_names_the_region(
    kannel: KannelGateway, channels: ChannelSystem
) -> None:
    reply = kannel.send("081234500002", "timor  tengah UTARA sekolah dasar di desa Noemuti roboh")

    tracking_id, _ = receipt(reply)
    report = channels.report(tracking_id)
    assert report["location"]["region_code"] == "5303"  # Kemendagri 53.03
    assert report["body"] == "sekolah dasar di desa Noemuti roboh"


def test_no_keyword_goes_to_the_national_desk_and_the_reply_explains_the_format(
    kannel: KannelGateway, channels: ChannelSystem
) -> None:
    reply = kannel.send("+6281234500003", "Tolong perbaiki lampu jalan di kampung kami – “parah”")

    tracking_id, _ = receipt(reply)
    assert "Format: NAMA WILAYAH isi laporan" in reply
    report = channels.report(tracking_id)
    assert report["location"]["region_code"] is None
    assert report["body"].endswith("“parah”")  # the citizen's text is kept exactly


def test_empty_and_unusable_messages_get_the_format_not_an_error(
    kannel: KannelGateway, channels: ChannelSystem
) -> None:
    empty = sms_get(channels, "+6281234500004", "", "empty-1")
    assert empty.status_code == 200
    assert empty.headers["content-type"].startswith("text/plain")
    assert empty.text == HELP_TEXT

    assert "Isi laporan kosong" in one_sms(kannel.send("+6281234500004", "KUPANG"))
    assert "ID laporan tidak valid" in one_sms(kannel.send("+6281234500004", "CEK ABCDEFGHJ2"))
    assert "terlalu pendek" in one_sms(kannel.send("+6281234500004", "jalan"))
    no_sender = httpx.get(
        f"{channels.url}/channels/sms",
        params={"text": "KUPANG jalan rusak", "token": SMS_WEBHOOK_TOKEN},
    )
    assert (no_sender.status_code, no_sender.text) == (200, HELP_TEXT)


def test_cek_answers_the_status_and_balas_answers_the_follow_up(
    kannel: KannelGateway, channels: ChannelSystem
) -> None:
    phone = "+6281234500006"
    tracking_id, _ = receipt(kannel.send(phone, "KUPANG jalan berlubang di Jl. El Tari"))
    channels.report(tracking_id)

    status = kannel.send(phone, f"cek {tracking_id}")
    day = r"\d{1,2} [A-Z][a-z]{2} \d{4}"  # the day the status changed, e.g. 6 Des 2026
    assert re.fullmatch(rf"Laporan {tracking_id}: diterima, menunggu verifikasi, {day}\.", status)

    channels.drive(tracking_id, "verify", "forward", "follow_up")
    wait_for(
        lambda: channels.report(tracking_id)["status"] == "followed_up", what="follow-up in view"
    )
    status = one_sms(kannel.send("081234500006", f"CEK {tracking_id[:5]}-{tracking_id[5:]}"))
    # One SMS: status, institution and day; the answer itself only when it fits whole (this
    # one does not: the follow-up notice carried it), never cut mid-sentence.
    assert re.fullmatch(
        rf"Laporan {tracking_id}: sudah ditindaklanjuti - Pemerintah Kota Kupang, {day}\."
        rf" Balas: BALAS {tracking_id} pesan",
        status,
    ), status

    # Only the reporter's phone is answered; another phone hears what an unknown ID gets.
    not_found = f"Laporan {tracking_id} tidak ditemukan. Periksa ID Anda."
    assert one_sms(kannel.send("+6281234500007", f"CEK {tracking_id}")) == not_found
    other = kannel.send("+6281234500007", f"BALAS {tracking_id} bukan saya")
    assert one_sms(other) == not_found
    answer = kannel.send(phone, f"BALAS {tracking_id} Sudah baik, terima kasih")
    assert (
        one_sms(answer) == f"Balasan Anda untuk laporan {tracking_id} sudah diterima. Terima kasih."
    )
    wait_for(
        lambda: channels.timeline(tracking_id)[-1] == "ReporterReplied", what="reply in timeline"
    )
    assert channels.timeline(tracking_id).count("ReporterReplied") == 1


def test_kannel_post_url_works_too(channels: ChannelSystem, tmp_path: Path) -> None:
    require_kannel()
    with KannelGateway(tmp_path, channels.url, mode="post") as gateway:
        reply = gateway.send("+6281234500013", "NTT: jembatan gantung di desa putus")

    tracking_id, _ = receipt(reply)
    assert channels.report(tracking_id)["location"]["region_code"] == "53"


def test_the_gateway_delivers_what_lapor_sends_through_sendsms(kannel: KannelGateway) -> None:
    """The harness's other half, for notify: sendsms -> Kannel -> the citizen's handset."""
    with kannel.handset() as phone:
        accepted = kannel.sendsms("+6281234500014", "Laporan ABCDEFGHJK sudah ditindaklanjuti.")
        assert accepted.status_code == 202, accepted.text
        sms = phone.wait_for(lambda m: m.to == "+6281234500014")
    assert (sms.sender, sms.text) == ("1708", "Laporan ABCDEFGHJK sudah ditindaklanjuti.")
    wrong = httpx.get(kannel.sendsms_url.replace("rahasia", "salah") + "&to=1&text=x")
    assert wrong.status_code == 403


def test_a_unicode_sms_keeps_its_text(kannel: KannelGateway, channels: ChannelSystem) -> None:
    text = "KUPANG banjir di Oesapa 🌊\nair setinggi lutut, rumah warga terendam"
    reply = kannel.send("+6281234500015", text, ucs2=True)

    tracking_id, _ = receipt(reply)
    report = channels.report(tracking_id)
    assert report["body"] == "banjir di Oesapa 🌊\nair setinggi lutut, rumah warga terendam"
    assert report["title"] == "banjir di Oesapa 🌊"
