"""The SMS webhook speaks for phone numbers: only the gateway may call it (issue 18, #2 and #9).

Without the gateway's token nobody posts an SMS "from" a citizen's number; a webhook with no
token configured refuses every call; nothing of the call is decoded before the token is checked
(a charset with a NUL once answered 500 with a traceback). CEK and BALAS from a number that is
not the reporter's are answered exactly as for a report that does not exist, and lookups of one
tracking ID are limited whoever sends them, however many arrive at once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from services.intake.channels.conversation import REPORT_LIMITED
from shared.reports.tracking import new_tracking_id
from tests.harness import InProcessSystem, in_process
from tests.support import SMS_WEBHOOK_TOKEN

REPORTER = "+6281234500031"
STRANGER = "+6281234500032"
_ids = iter(range(1, 1_000_000))


async def sms(
    lapor: InProcessSystem, sender: str, text: str, token: str | None = SMS_WEBHOOK_TOKEN
) -> httpx.Response:
    params = {"from": sender, "to": "1708", "text": text, "id": f"sec-{next(_ids)}"}
    if token is not None:
        params["token"] = token
    async with lapor.client("intake") as intake:
        return await intake.get("/channels/sms", params=params)


async def _report_by_sms(lapor: InProcessSystem) -> str:
    receipt = await sms(lapor, REPORTER, "KUPANG pungutan liar di kantor kelurahan Oebobo")
    assert "ID: " in receipt.text, receipt.text
    return receipt.text.split("ID: ")[1].split()[0]


async def _events(lapor: InProcessSystem, tracking_id: str) -> list[str]:
    return [e.event_type for e in await lapor.store.read(f"report-{tracking_id}")]


async def test_without_the_gateways_token_nobody_speaks_for_a_phone(tmp_path: Path) -> None:
    async with in_process(tmp_path / "lapor", ("intake",)) as lapor:
        tracking_id = await _report_by_sms(lapor)
        before = await _events(lapor, tracking_id)
        for token in (None, "", "guess", SMS_WEBHOOK_TOKEN[:-1]):
            for text in (f"BALAS {tracking_id} saya pelapornya", f"CEK {tracking_id}", "KUPANG x"):
                refused = await sms(lapor, REPORTER, text, token)
                assert refused.status_code == 403, (token, text, refused.text)
                assert tracking_id not in refused.text
        async with lapor.client("intake") as intake:
            form = await intake.post(
                "/channels/sms",
                data={"from": REPORTER, "text": f"BALAS {tracking_id} palsu", "token": "guess"},
            )
            assert form.status_code == 403
            # Before the token is checked nothing is decoded: no 500 for a crafted charset.
            for query in (
                "charset=%00x&text=abc&from=%2B62812",
                "charset=%00x&coding=0&text=%FF&from=1",
                "charset=utf-8%00&text=abc",
            ):
                crafted = await intake.get(f"/channels/sms?{query}")
                assert crafted.status_code == 403, (query, crafted.text)
                assert "Traceback" not in crafted.text
            # …nor after it: an undecodable charset falls back to UTF-8/Latin-1.
            odd = await intake.get(
                f"/channels/sms?charset=%00x&text=KUPANG+air+mati&from=%2B62812&id=cs-1"
                f"&token={SMS_WEBHOOK_TOKEN}"
            )
            assert odd.status_code == 200, odd.text
        assert await _events(lapor, tracking_id) == before


async def test_a_webhook_without_a_token_configured_refuses_everyone(tmp_path: Path) -> None:
    async with in_process(
        tmp_path / "lapor", ("intake",), env={"LAPOR_SMS_WEBHOOK_TOKEN": ""}
    ) as lapor:
        for token in (None, "", "anything"):
            refused = await sms(lapor, REPORTER, "KUPANG jalan rusak di depan sekolah", token)
            assert refused.status_code == 503, refused.text
            assert "LAPOR_SMS_WEBHOOK_TOKEN" in refused.text
        # `lapor up` writes the token into the data directory; intake then wants that one.
        (lapor.data_dir / "sms-webhook.token").write_text("generated-token-Qz9\n")
    async with in_process(
        tmp_path / "lapor", ("intake",), env={"LAPOR_SMS_WEBHOOK_TOKEN": ""}
    ) as lapor:
        assert (await sms(lapor, REPORTER, "KUPANG x", "anything")).status_code == 403
        text = "KUPANG jalan rusak di depan sekolah"
        taken = await sms(lapor, REPORTER, text, "generated-token-Qz9")
        assert taken.status_code == 200 and "ID: " in taken.text


async def test_cek_and_balas_from_another_number_read_as_an_unknown_report(
    tmp_path: Path,
) -> None:
    async with in_process(tmp_path / "lapor", ("intake",)) as lapor:
        tracking_id = await _report_by_sms(lapor)
        unknown = new_tracking_id()  # well-formed, no such report
        for command in ("CEK {}", "BALAS {} saya pelapornya"):
            stranger = await sms(lapor, STRANGER, command.format(tracking_id))
            nobody = await sms(lapor, STRANGER, command.format(unknown))
            assert stranger.text == nobody.text.replace(unknown, tracking_id), command
            assert stranger.status_code == nobody.status_code == 200
        assert await _events(lapor, tracking_id) == ["ReportSubmitted"]
        # The reporter's own number is answered.
        own = await sms(lapor, REPORTER, f"CEK {tracking_id}")
        assert own.text.startswith(f"Laporan {tracking_id}: diterima")
        replied = await sms(lapor, REPORTER, f"BALAS {tracking_id} Di kantor kelurahan, pagi")
        assert replied.text.startswith("Keterangan tambahan")


async def test_lookups_of_one_report_are_limited_whoever_sends_them(tmp_path: Path) -> None:
    env = {"LAPOR_CHANNEL_LOOKUPS_PER_REPORT_PER_HOUR": "5"}
    async with in_process(tmp_path / "lapor", ("intake",), env=env) as lapor:
        tracking_id = await _report_by_sms(lapor)
        # 40 phones at once, each within its own limit: only 5 lookups of this ID are made.
        answers = await asyncio.gather(
            *(
                sms(lapor, f"+62812345{n:05d}", f"BALAS {tracking_id} coba {n}")
                for n in range(100, 140)
            )
        )
        looked_up = [a for a in answers if a.text != REPORT_LIMITED]
        assert len(looked_up) == 5, [a.text for a in answers]
        assert all("tidak ditemukan" in a.text for a in looked_up)
        # The same answer for an ID that does not exist once its budget is spent: nothing told.
        unknown = new_tracking_id()
        for n in range(5):
            await sms(lapor, f"+62812346{n:05d}", f"CEK {unknown}")
        assert (await sms(lapor, "+6281234699999", f"CEK {unknown}")).text == REPORT_LIMITED
        # Another report is not affected; the reporter's own lookups cost nothing.
        other = await _report_by_sms(lapor)
        for _ in range(6):
            assert (await sms(lapor, REPORTER, f"CEK {other}")).text.startswith(f"Laporan {other}:")


async def test_strangers_probing_an_id_never_lock_its_reporter_out(tmp_path: Path) -> None:
    """Strangers who sent `CEK <ID>` for someone's report (a published report's ID is on every
    public list) spent the ID's hourly budget, and then its own reporter got "terlalu banyak
    permintaan untuk ID ini" for an hour, to CEK and to BALAS alike: an answer the institution
    asked for, or the missing information of a completion request (the report closes when it
    does not come), could not be sent. A spent budget now refuses only misses."""
    env = {"LAPOR_CHANNEL_LOOKUPS_PER_REPORT_PER_HOUR": "3"}
    async with in_process(tmp_path / "lapor", ("intake",), env=env) as lapor:
        tracking_id = await _report_by_sms(lapor)
        for n in range(4):
            await sms(lapor, f"+62812347{n:05d}", f"CEK {tracking_id}")
        assert (await sms(lapor, STRANGER, f"CEK {tracking_id}")).text == REPORT_LIMITED
        assert (await sms(lapor, STRANGER, f"BALAS {tracking_id} saya")).text == REPORT_LIMITED

        own = await sms(lapor, REPORTER, f"CEK {tracking_id}")
        assert own.text.startswith(f"Laporan {tracking_id}: diterima"), own.text
        replied = await sms(lapor, REPORTER, f"BALAS {tracking_id} Di kantor kelurahan, pagi")
        assert replied.text.startswith("Keterangan tambahan"), replied.text
        assert await _events(lapor, tracking_id) == ["ReportSubmitted", "ReportAmended"]
        # Strangers still learn nothing, and still spend nothing but their own limit.
        assert (await sms(lapor, STRANGER, f"CEK {tracking_id}")).text == REPORT_LIMITED
