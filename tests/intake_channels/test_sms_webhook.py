"""The SMS webhook as Kannel calls it (get-url, post-url, a form post), for what a handset cannot
produce: the same message id twice, replies, limits, odd encodings. In process; the end to end
path through a real Kannel is in test_sms.py."""

from __future__ import annotations

import re
from datetime import date, timedelta

import httpx

from shared.calendar import WorkingDayCalendar
from shared.i18n.dates import short_day
from tests.intake_channels.conftest import Hooks, one_sms, receipt
from tests.support import SMS_WEBHOOK_TOKEN

CAL = WorkingDayCalendar.default()


async def sms_get(hooks: Hooks, sender: str, text: str, message_id: str) -> httpx.Response:
    """What Kannel's get-url does."""
    return await hooks.http.get(
        "/channels/sms",
        params={
            "from": sender,
            "to": "1708",
            "text": text,
            "id": message_id,
            "token": SMS_WEBHOOK_TOKEN,
        },
    )


async def test_the_same_kannel_message_id_twice_is_one_report(hooks: Hooks) -> None:
    text = "KOTA KUPANG air PDAM tidak mengalir tiga hari"
    first = await sms_get(hooks, "+6281234500005", text, "2f1c6c9e-dup-0001")
    again = await sms_get(hooks, "+6281234500005", text, "2f1c6c9e-dup-0001")

    assert first.status_code == again.status_code == 200
    assert first.text == again.text  # same tracking ID and access code
    tracking_id, _ = receipt(first.text)
    await hooks.report(tracking_id)
    assert await hooks.timeline(tracking_id) == ["ReportSubmitted"]


async def test_balas_while_completion_is_requested_adds_the_missing_information(
    hooks: Hooks,
) -> None:
    phone = "+6281234500008"
    tracking_id, _ = receipt((await sms_get(hooks, phone, "KUPANG pungli di kantor", "c-1")).text)
    await hooks.drive(tracking_id, "request_completion")

    answer = await sms_get(
        hooks, phone, f"BALAS {tracking_id} Kantor kelurahan Oebobo, Senin", "c-2"
    )
    assert answer.text.startswith("Keterangan tambahan")
    assert "ReportAmended" in await hooks.timeline(tracking_id)


async def test_a_confidential_report_is_not_confirmed_to_another_phone(hooks: Hooks) -> None:
    created = await hooks.http.post(
        "/api/v1/offline-reports",
        headers={"Authorization": f"Bearer {hooks.lapor.token('admin')}"},
        json={
            "source": "walk_in",
            "title": "Dugaan pungli",
            "body": "Petugas meminta uang untuk KTP elektronik.",
            "confidential": True,
            "reporter": {"phone": "0812-3450-0009"},
        },
    )
    assert created.status_code == 201, created.text
    tracking_id = created.json()["tracking_id"]

    stranger = (await sms_get(hooks, "+6281234500010", f"CEK {tracking_id}", "conf-1")).text
    assert stranger == f"Laporan {tracking_id} tidak ditemukan. Periksa ID Anda."
    reporter = (await sms_get(hooks, "+6281234500009", f"CEK {tracking_id}", "conf-2")).text
    assert reporter.startswith(f"Laporan {tracking_id}: diterima")


async def test_too_many_messages_from_one_phone_get_a_polite_reply(hooks: Hooks) -> None:
    phone = "+6281234500011"
    replies = [await sms_get(hooks, phone, f"CEK ABCDEFGHJK{i}", f"rate-{i}") for i in range(11)]

    assert all(r.status_code == 200 for r in replies)
    assert "terlalu banyak pesan" not in replies[9].text
    assert one_sms(replies[10].text).startswith("Maaf, terlalu banyak pesan")
    other = await sms_get(hooks, "+6281234500012", "CEK X", "rate-x")
    assert "terlalu banyak" not in other.text


async def test_post_calls_without_kannel_headers_or_as_a_form(hooks: Hooks) -> None:
    """post-url with only X-Kannel-From (no %p in the URL), and a plain form post."""
    by_header = await hooks.http.post(
        f"/channels/sms?id=hdr-1&token={SMS_WEBHOOK_TOKEN}",
        content="KUPANG jalan rusak di Oebufu".encode("latin-1"),
        headers={"Content-Type": "text/plain", "X-Kannel-From": "+6281234500016"},
    )
    as_form = await hooks.http.post(
        "/channels/sms",
        data={
            "from": "+6281234500017",
            "to": "1708",
            "text": "KUPANG mampet",
            "id": "f-1",
            "token": SMS_WEBHOOK_TOKEN,
        },
    )
    garbage = await hooks.http.get(
        f"/channels/sms?from=%2B6281234500018&text=%FF%FE%00&id=g-1&token={SMS_WEBHOOK_TOKEN}"
    )

    receipt(by_header.text)
    assert "terlalu pendek" in as_form.text  # "mampet" alone is not a report yet
    assert garbage.status_code == 200 and one_sms(garbage.text)


async def test_cek_says_status_institution_and_day_in_one_sms(hooks: Hooks) -> None:
    """Issue 17: CEK cut the follow-up mid-sentence and dropped its date."""
    phone = "+6281234500021"
    tracking_id, _ = receipt((await sms_get(hooks, phone, "KUPANG jalan rusak parah", "k-1")).text)
    await hooks.drive(tracking_id, "verify", "forward", "follow_up")
    status = one_sms((await sms_get(hooks, phone, f"CEK {tracking_id}", "k-2")).text)
    assert status.startswith(f"Laporan {tracking_id}: sudah ditindaklanjuti - ")
    assert "Pemerintah Kota Kupang" in status
    assert re.search(r", \d{1,2} [A-Z][a-z]{2} \d{4}\.", status), status
    assert "..." not in status and status.endswith(f"BALAS {tracking_id} pesan")


async def test_balas_without_text_explains_balas(hooks: Hooks) -> None:
    phone = "+6281234500022"
    tracking_id, _ = receipt((await sms_get(hooks, phone, "KUPANG lampu mati", "b-1")).text)
    answer = one_sms((await sms_get(hooks, phone, f"BALAS {tracking_id}", "b-2")).text)
    assert answer.startswith("BALAS untuk menanggapi")
    assert f"BALAS {tracking_id} isi pesan" in answer
    assert "NAMA WILAYAH" not in answer  # not the report format


async def test_eskalasi_from_the_reporters_phone_takes_the_report_to_the_ombudsman(
    hooks: Hooks,
) -> None:
    """DESIGN §9: `ESKALASI <ID>` escalates, from the reporter's own number only; before it is
    open the answer says from which day it is. (Found before: it became a new junk report.)"""
    hooks.lapor.set_clock("2026-03-02T09:00:00+08:00")  # Monday, Kupang (WITA)
    phone = "+6281234500020"
    tracking_id, _ = receipt((await sms_get(hooks, phone, "KUPANG lampu jalan mati", "e-1")).text)
    opens = CAL.add_working_days(date(2026, 3, 2), 60, "5371") + timedelta(days=1)

    early = one_sms((await sms_get(hooks, phone, f"eskalasi {tracking_id}", "e-2")).text)
    assert early == (
        f"Laporan {tracking_id} belum dapat diteruskan ke Ombudsman RI. Jika belum ada tanggapan"
        f" akhir, kirim ESKALASI {tracking_id} mulai {short_day(opens, 'id')}."
    )
    stranger = await sms_get(hooks, "+6281234500021", f"ESKALASI {tracking_id}", "e-3")
    assert stranger.text == f"Laporan {tracking_id} tidak ditemukan. Periksa ID Anda."
    assert await hooks.timeline(tracking_id) == ["ReportSubmitted"]  # nothing appended

    # Never verified for 60 working days: open, wherever the report is stuck.
    hooks.lapor.set_clock(f"{opens.isoformat()}T08:00:00+08:00")
    stranger = await sms_get(hooks, "+6281234500021", f"ESKALASI {tracking_id}", "e-4")
    assert stranger.text == f"Laporan {tracking_id} tidak ditemukan. Periksa ID Anda."
    done = one_sms((await sms_get(hooks, phone, f"ESKALASI {tracking_id}", "e-5")).text)
    assert done == (
        f"Laporan {tracking_id} telah diteruskan ke Ombudsman RI Perwakilan Nusa Tenggara Timur."
        f" Cek: CEK {tracking_id}"
    )
    again = one_sms((await sms_get(hooks, phone, f"ESKALASI {tracking_id}", "e-6")).text)
    assert again == (  # a repeat is told it is one (issue 16)
        f"Laporan {tracking_id} sudah diteruskan ke Ombudsman RI Perwakilan Nusa Tenggara Timur"
        f" sebelumnya. Cek: CEK {tracking_id}"
    )
    (escalated,) = [
        e
        for e in await hooks.lapor.store.read(f"report-{tracking_id}")
        if e.event_type == "EscalatedToOmbudsman"
    ]
    assert escalated.data["ombudsman_office"] == "OMBUDSMAN-53"
    assert escalated.data["grounds"] == "no_final_answer"
    assert escalated.actor.kind == "citizen"
    assert (await hooks.timeline(tracking_id))[-1] == "EscalatedToOmbudsman"
