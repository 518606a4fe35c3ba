"""Notify end to end: relay, intake and notify as real processes on a real nats-server, the real
Kannel (fakesmsc is the reporter's handset) and a real SMTP server on loopback.

The other services' decisions (verify, forward, follow up, close, SLA breach) are appended by the
test to the same SQLite event store, as those services would.
"""

from __future__ import annotations

import re
import sqlite3
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from pathlib import Path
from typing import Any

import httpx

from shared.reports.commands import (
    AmendReport,
    CloseReport,
    ForwardReport,
    PostFollowUp,
    RecordBreach,
    RejectReport,
    ReplyAsReporter,
    RequestCompletion,
    VerifyReport,
)
from shared.reports.events import CloseReason, FollowUpKind, RejectionReason, SlaStage
from shared.reports.tracking import is_valid_tracking_id
from shared.store.port import RecordedEvent
from shared.values import Channel
from tests.intake_channels.kannel import Handset, KannelGateway, Sms
from tests.notify.harness import (
    AGENCY,
    AGENCY_NAME,
    AGENCY_OFFICER,
    OFFICER,
    SLA,
    Lapor,
    Mail,
    SmtpSink,
    Submitted,
    due_in,
)
from tests.support import NatsServer, System, async_wait_for, free_port, start_system, wait_for

PUBLIC = "https://lapor.example"
# Generous: a wait returns as soon as its condition holds; a loaded machine needs the slack.
WAIT = 60.0
FAST_RETRIES = {
    "LAPOR_NOTIFY_RETRY_BASE_SECONDS": "0.05",
    "LAPOR_NOTIFY_RETRY_MAX_SECONDS": "0.2",
    "LAPOR_NOTIFY_MAX_ATTEMPTS": "5",
}


@contextmanager
def lapor_system(tmp_path: Path, nats: NatsServer, env: dict[str, str]) -> Iterator[System]:
    system = start_system(
        tmp_path / "data",
        nats.url,
        services=("intake", "notify"),
        extra_env={"LAPOR_PUBLIC_BASE_URL": PUBLIC, **FAST_RETRIES, **env},
    )
    try:
        yield system
    finally:
        system.stop_all()
        print(system.log("notify")[-4000:])


@asynccontextmanager
async def hands(system: System) -> AsyncIterator[Lapor]:
    lapor = Lapor(system.data_dir, system.secret)
    try:
        yield lapor
    finally:
        await lapor.close()


def admin(system: System) -> dict[str, str]:
    return {"Authorization": f"Bearer {system.token('admin')}"}


def delivery_log(system: System, tracking_id: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{system.url('notify')}/api/v1/notifications",
        params={"tracking_id": tracking_id},
        headers=admin(system),
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


def delivery_log_of(system: System, tracking_id: str, count: int) -> list[dict[str, Any]]:
    """The delivery log once it holds `count` notices (the outbox and view catch up)."""

    def complete() -> list[dict[str, Any]] | None:
        rows = delivery_log(system, tracking_id)
        return rows if len(rows) == count else None

    return wait_for(complete, WAIT, what=f"{count} notices in the log of {tracking_id}")


def outcomes_settled(lapor: Lapor, tracking_id: str, count: int) -> Callable[[], Any]:
    async def settled() -> list[RecordedEvent] | None:
        events = await lapor.outcomes(tracking_id)
        return events if len(events) >= count else None

    return settled


async def submit_by_sms(system: System, lapor: Lapor, phone: str) -> Submitted:
    """Through intake's /channels/sms as Kannel would call it, when intake has it; otherwise
    the ReportSubmitted that endpoint would append (channel sms, the phone encrypted)."""
    async with httpx.AsyncClient(base_url=system.url("intake")) as http:
        paths = (await http.get("/openapi.json")).json().get("paths", {})
        if "/channels/sms" not in paths:
            return await lapor.submit(Channel.SMS, {"name": "Yohanes", "phone": phone})
        reply = await http.get(
            "/channels/sms",
            params={
                "from": phone,
                "to": "1708",
                "text": "KUPANG Jalan rusak di depan Puskesmas Oepoi sudah tiga minggu",
                "id": str(uuid.uuid4()),
            },
        )
    ids = [t for t in re.findall(r"[2-9A-HJ-NP-Z]{10}", reply.text) if is_valid_tracking_id(t)]
    assert ids, f"no tracking ID in intake's SMS reply: {reply.text!r}"
    return Submitted(ids[0], "", "")


_PART = re.compile(r"^%05%00%03%([0-9A-F]{2})%([0-9A-F]{2})%([0-9A-F]{2}) data (.*)$")


def whole(received: list[Sms]) -> list[Sms]:
    """fakesmsc prints each part of a concatenated SMS (UDH + data): join them again."""
    out: list[Sms] = []
    pending: dict[tuple[str, str, str], dict[int, str]] = {}
    for sms in received:
        part = _PART.match(sms.text)
        if part is None:
            out.append(sms)
            continue
        ref, total, index, data = part.groups()
        parts = pending.setdefault((sms.sender, sms.to, ref), {})
        parts[int(index, 16)] = urllib.parse.unquote_plus(data)
        if len(parts) == int(total, 16):
            out.append(Sms(sms.sender, sms.to, "".join(parts[i] for i in sorted(parts))))
            del pending[(sms.sender, sms.to, ref)]
    return out


def sms_to(phone: str, *words: str) -> Callable[[Sms], bool]:
    return lambda m: m.to == phone and all(w in m.text for w in words)


def arrived(handset: Handset, phone: str, *words: str) -> Sms:
    """Wait for a whole SMS (all its parts) to `phone` that says all `words`."""
    match = sms_to(phone, *words)
    handset.wait_for(lambda _: any(match(m) for m in whole(handset.received)), timeout=WAIT)
    return next(m for m in whole(handset.received) if match(m))


def mail_to(address: str, *words: str) -> Callable[[Mail], bool]:
    return lambda m: (
        address in m.recipients and all(w in m.subject + m.part("plain") for w in words)
    )


def sentinel(kannel: KannelGateway, phone: Handset) -> list[Sms]:
    """Everything the handset got before a marker SMS sent last (Kannel keeps the order)."""
    marker = f"SENTINEL-{uuid.uuid4().hex[:8]}"
    # httpx replaces a URL's query with `params`: keep the credentials in.
    query = urllib.parse.urlencode({"to": "+620000", "text": marker})
    response = httpx.get(f"{kannel.sendsms_url}&{query}")
    assert response.status_code == 202, response.text
    phone.wait_for(lambda m: marker in m.text, timeout=WAIT)
    return [m for m in whole(phone.received) if marker not in m.text]


async def test_each_reporter_hears_every_step_on_their_own_channel(
    tmp_path: Path, fresh_nats: NatsServer, kannel: KannelGateway, smtp: SmtpSink
) -> None:
    sms_phone, web_phone = "+6281234567801", "+6281234567802"
    env = {"LAPOR_SMS_SENDSMS_URL": kannel.sendsms_url, "LAPOR_SMTP_URL": smtp.url}
    with lapor_system(tmp_path, fresh_nats, env) as system, kannel.handset() as phone:
        async with hands(system) as lapor, httpx.AsyncClient() as http:
            # A reporter who wrote by SMS hears back by SMS at every step.
            a = await submit_by_sms(system, lapor, sms_phone)
            tid = a.tracking_id
            received = arrived(phone, sms_phone, tid, "diterima")
            assert "kode akses" in received.text and received.sender == "1708"

            await lapor.do(tid, RequestCompletion(note="Mohon sebutkan nama jalannya."))
            arrived(phone, sms_phone, tid, "lengkapi", "nama jalannya")
            await lapor.do(tid, AmendReport(text="Jalan Frans Seda."), OFFICER)  # no notice
            verify_cid = await lapor.do(tid, VerifyReport())
            arrived(phone, sms_phone, tid, "diverifikasi")
            forward = ForwardReport(
                agency_code=AGENCY, agency_name=AGENCY_NAME, follow_up_due=due_in(7)
            )
            await lapor.do(tid, forward)
            arrived(phone, sms_phone, tid, "diteruskan ke Dinas Kesehatan Kota Kupang")
            await lapor.do(tid, RecordBreach(stage=SlaStage.FOLLOW_UP, due=due_in(7)), SLA)
            arrived(phone, sms_phone, tid, "Ombudsman")
            question = PostFollowUp(
                agency_code=AGENCY, text="Di depan gedung yang mana?", kind=FollowUpKind.QUESTION
            )
            await lapor.do(tid, question, OFFICER)
            arrived(phone, sms_phone, tid, "bertanya", "Di depan gedung yang mana?")
            await lapor.do(tid, ReplyAsReporter(text="Gedung B."), OFFICER)
            # A long answer goes out as a concatenated SMS and arrives whole.
            answer = "Sudah ditambal. " + "Tim kami meninjau lokasi dan menutup lubang. " * 3
            final = PostFollowUp(agency_code=AGENCY, text=answer, kind=FollowUpKind.FINAL)
            await lapor.do(tid, final, OFFICER)
            arrived(phone, sms_phone, tid, "Tanggapan akhir", answer.strip())
            await lapor.do(tid, CloseReport(reason=CloseReason.RESOLVED))
            arrived(phone, sms_phone, tid, "selesai", f"{PUBLIC}/reports/{tid}")

            # A second SMS reporter is rejected, and told why.
            c = await lapor.submit(Channel.SMS, {"phone": sms_phone})
            await lapor.do(c.tracking_id, RejectReport(reason=RejectionReason.NOT_PUBLIC_SERVICE))
            arrived(phone, sms_phone, c.tracking_id, "bukan tentang pelayanan publik")

            # A reporter who wrote by e-mail (in English) gets a mail at every step.
            email = "siti.rahma@example.com"
            b = await lapor.submit(Channel.EMAIL, {"name": "Siti", "email": email}, language="en")
            welcome = smtp.wait_for(mail_to(email, b.tracking_id, "received"))
            assert "access code" in welcome.part("plain") and "<html" in welcome.part("html")
            await lapor.do(b.tracking_id, VerifyReport())
            smtp.wait_for(mail_to(email, b.tracking_id, "verified"))
            await lapor.do(b.tracking_id, forward)
            smtp.wait_for(mail_to(email, b.tracking_id, "forwarded to Dinas Kesehatan"))
            interim = PostFollowUp(agency_code=AGENCY, text="Tim kami sedang meninjau.")
            await lapor.do(b.tracking_id, interim, OFFICER)
            smtp.wait_for(mail_to(email, b.tracking_id, "Tim kami sedang meninjau."))
            await lapor.do(b.tracking_id, CloseReport(reason=CloseReason.RESOLVED))
            closed = smtp.wait_for(mail_to(email, b.tracking_id, "closed"))
            assert f'href="{PUBLIC}/reports/{b.tracking_id}"' in closed.part("html")

            # A web reporter's notices stay on the report page, whatever contact they left.
            created = await http.post(
                f"{system.url('intake')}/api/v1/reports",
                json={
                    "title": "Lampu jalan mati",
                    "body": "Lampu jalan di Jalan Timor Raya mati sejak seminggu.",
                    "location": {"region_code": "5371"},
                    "reporter": {"phone": web_phone},
                },
            )
            assert created.status_code == 201, created.text
            web_tid = created.json()["tracking_id"]
            [web] = await async_wait_for(
                outcomes_settled(lapor, web_tid, 1), timeout=WAIT, what="web notice"
            )
            assert (web.event_type, web.data["channel"]) == ("NotificationSent", "web")

            # The liaison officers heard of the new reports and of the breach, without the
            # reporter's name, number or address.
            wait_for(
                lambda: len(smtp.received(lambda m: AGENCY_OFFICER in m.recipients)) >= 3,
                WAIT,
                what="three officer mails",
            )
            officer_mails = smtp.received(lambda m: AGENCY_OFFICER in m.recipients)
            subjects = sorted(m.subject for m in officer_mails)
            assert subjects == sorted(
                [
                    f"[LAPOR!] Laporan baru {tid} untuk {AGENCY_NAME}",
                    f"[LAPOR!] Laporan baru {b.tracking_id} untuk {AGENCY_NAME}",
                    f"[LAPOR!] Batas waktu tindak lanjut pertama terlampaui: laporan {tid}",
                ]
            )
            for mail in officer_mails:
                source = mail.message.as_string()
                for secret in (sms_phone, "Yohanes", email, "Siti"):
                    assert secret not in source

            # Exactly once: one SMS per step, none for the web reporter.
            got = sentinel(kannel, phone)
            assert [m.to for m in got].count(web_phone) == 0
            assert len([m for m in got if tid in m.text]) == 8
            assert len([m for m in got if c.tracking_id in m.text]) == 2
            assert len(smtp.received(lambda m: email in m.recipients)) == 5

            # The delivery log: what, where, how it ended; contact details masked at most.
            events = await async_wait_for(
                outcomes_settled(lapor, tid, 10), timeout=WAIT, what="outcomes of A"
            )
            assert all(e.event_type == "NotificationSent" for e in events)
            verified = next(e for e in events if e.data["template"] == "verified")
            assert verified.correlation_id == verify_cid  # carried end to end
            log = delivery_log_of(system, tid, 10)
            reporter_rows = [r for r in log if r["recipient"] == "reporter"]
            assert [r["template"] for r in reporter_rows] == [
                "received",
                "completion_requested",
                "verified",
                "forwarded",
                "escalation_possible",
                "question",
                "follow_up",
                "closed",
            ]
            assert {(r["channel"], r["status"], r["attempts"]) for r in reporter_rows} == {
                ("sms", "sent", 1)
            }
            assert {r["recipient_masked"] for r in reporter_rows} == {"+62*********01"}
            assert all(r["completed_at"] and r["first_attempt_at"] for r in reporter_rows)
            officer_rows = [r for r in log if r["recipient"] == "officer"]
            assert {(r["channel"], r["agency_code"]) for r in officer_rows} == {("email", AGENCY)}
            raw = (
                await http.get(
                    f"{system.url('notify')}/api/v1/notifications",
                    params={"tracking_id": tid},
                    headers=admin(system),
                )
            ).text
            assert sms_phone not in raw and AGENCY_OFFICER not in raw

            # A reporter sees their own notices with their access code; nobody else does.
            mine = await http.get(
                f"{system.url('notify')}/api/v1/notifications",
                params={"tracking_id": b.tracking_id},
                headers={"X-Access-Code": b.access_code},
            )
            assert mine.status_code == 200
            assert {r["recipient"] for r in mine.json()} == {"reporter"}
            assert len(mine.json()) == 5
            wrong = await http.get(
                f"{system.url('notify')}/api/v1/notifications",
                params={"tracking_id": b.tracking_id},
                headers={"X-Access-Code": "WRONGCODE"},
            )
            assert wrong.status_code == 403
            anonymous = await http.get(f"{system.url('notify')}/api/v1/notifications")
            assert anonymous.status_code == 401

            metrics = (await http.get(f"{system.url('notify')}/metrics")).text
            assert _metric(metrics, "sms", "sent") >= 10
            assert _metric(metrics, "email", "sent") >= 8
            assert _metric(metrics, "web", "sent") >= 1

        notify_log = system.log("notify")
        for secret in (sms_phone, web_phone, email, "Yohanes", AGENCY_OFFICER):
            assert secret not in notify_log


def _metric(text: str, channel: str, outcome: str) -> float:
    pattern = (
        r'^lapor_notifications_total\{channel="'
        + channel
        + r'",outcome="'
        + outcome
        + r'"\} (\S+)$'
    )
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_killing_notify_mid_stream_loses_and_duplicates_nothing(
    tmp_path: Path, fresh_nats: NatsServer, kannel: KannelGateway
) -> None:
    # A slow SMS channel (3 per second) so the kill lands while most notices still wait.
    env = {
        "LAPOR_SMS_SENDSMS_URL": kannel.sendsms_url,
        "LAPOR_NOTIFY_RATE_LIMITS": '{"sms": 3}',
        "LAPOR_NOTIFY_RATE_BURST": "1",
    }
    phones = [f"+628110000{i:04d}" for i in range(12)]
    with lapor_system(tmp_path, fresh_nats, env) as system, kannel.handset() as phone:
        async with hands(system) as lapor:
            reports = [await lapor.submit(Channel.SMS, {"phone": p}) for p in phones]
            # A few notices out, then SIGKILL between two sends.
            phone.wait_for(
                lambda m: len([r for r in phone.received if r.to in phones]) >= 2, timeout=WAIT
            )
            system.kill("notify")
            unfinished = _unfinished_notices(system)
            assert unfinished > 0, "the kill came too late to test anything"
            # The stream goes on while notify is dead...
            for report in reports:
                await lapor.do(report.tracking_id, VerifyReport())
            # ...and notify comes back to it.
            system.start("notify")
            system.wait_ready("notify")
            for report in reports:
                await async_wait_for(
                    outcomes_settled(lapor, report.tracking_id, 2),
                    timeout=WAIT,
                    what=f"both notices of {report.tracking_id}",
                )
            got = sentinel(kannel, phone)
            outcomes = [e for r in reports for e in await lapor.outcomes(r.tracking_id)]

        assert len(outcomes) == 24 and all(e.event_type == "NotificationSent" for e in outcomes)
        assert len({e.data["notification_id"] for e in outcomes}) == 24
        maybe_twice = {
            (e.data["tracking_id"], e.data["template"])
            for e in outcomes
            if e.data["possible_duplicate"]
        }
        for report, number in zip(reports, phones, strict=True):
            for template, word in (("received", "diterima"), ("verified", "diverifikasi")):
                copies = [
                    m
                    for m in got
                    if m.to == number and report.tracking_id in m.text and word in m.text
                ]
                # Nothing lost; a second copy only where the log owns up to the telco window.
                allowed = 2 if (report.tracking_id, template) in maybe_twice else 1
                assert 1 <= len(copies) <= allowed, (report.tracking_id, template, copies)


def _unfinished_notices(system: System) -> int:
    """Notices planned but not yet recorded, in the outbox a killed notify left behind."""
    path = system.data_dir / "notify_outbox.db"
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM outbox WHERE recorded = 0").fetchone()[0])


async def test_a_failing_channel_ends_in_notification_failed_after_its_retries(
    tmp_path: Path, fresh_nats: NatsServer, kannel: KannelGateway
) -> None:
    env = {
        "LAPOR_SMS_SENDSMS_URL": kannel.sendsms_url.replace("rahasia", "salah"),  # 403
        "LAPOR_SMTP_URL": f"smtp://127.0.0.1:{free_port()}",  # nobody listens
    }
    with lapor_system(tmp_path, fresh_nats, env) as system:
        async with hands(system) as lapor:
            by_sms = await lapor.submit(Channel.SMS, {"phone": "+6281234567809"})
            by_mail = await lapor.submit(Channel.EMAIL, {"email": "rina@example.com"})
            [sms_failed] = await async_wait_for(
                outcomes_settled(lapor, by_sms.tracking_id, 1), timeout=WAIT, what="sms outcome"
            )
            [mail_failed] = await async_wait_for(
                outcomes_settled(lapor, by_mail.tracking_id, 1), timeout=WAIT, what="mail outcome"
            )
        assert sms_failed.event_type == "NotificationFailed"
        assert sms_failed.data["attempts"] == 5
        assert sms_failed.data["error"] == "sendsms refused our credentials (HTTP 403)"
        assert mail_failed.event_type == "NotificationFailed"
        assert mail_failed.data["attempts"] == 5
        assert "SMTP server unreachable" in mail_failed.data["error"]

        [row] = wait_for(lambda: delivery_log(system, by_sms.tracking_id), WAIT, what="log")
        assert (row["status"], row["attempts"], row["channel"]) == ("failed", 5, "sms")
        assert row["detail"] == "sendsms refused our credentials (HTTP 403)"
        assert row["first_attempt_at"] <= row["last_attempt_at"] <= row["completed_at"]
        async with httpx.AsyncClient() as http:
            failed = (
                await http.get(
                    f"{system.url('notify')}/api/v1/notifications",
                    params={"status": "failed"},
                    headers=admin(system),
                )
            ).json()
            metrics = (await http.get(f"{system.url('notify')}/metrics")).text
        assert {r["tracking_id"] for r in failed} == {by_sms.tracking_id, by_mail.tracking_id}
        assert _metric(metrics, "sms", "failed") == 1 and _metric(metrics, "sms", "retry") == 4
        assert _metric(metrics, "email", "failed") == 1
        assert "rahasia" not in system.log("notify") and "salah" not in system.log("notify")


async def test_an_erased_reporter_cannot_be_reached(
    tmp_path: Path, fresh_nats: NatsServer, kannel: KannelGateway
) -> None:
    number = "+6281234567810"
    env = {"LAPOR_SMS_SENDSMS_URL": kannel.sendsms_url}
    with lapor_system(tmp_path, fresh_nats, env) as system, kannel.handset() as phone:
        async with hands(system) as lapor:
            report = await lapor.submit(Channel.SMS, {"phone": number})
            arrived(phone, number, report.tracking_id, "diterima")
            lapor.erase(report.tracking_id)  # the reporter asked to be forgotten
            await lapor.do(report.tracking_id, VerifyReport())
            _, skipped = await async_wait_for(
                outcomes_settled(lapor, report.tracking_id, 2), timeout=WAIT, what="second outcome"
            )
            got = sentinel(kannel, phone)
        assert skipped.event_type == "NotificationSkipped"
        assert skipped.data["detail"] == "cannot reach reporter (identity erased)"
        assert [m.to for m in got].count(number) == 1  # only the notice before the erasure
        log = delivery_log_of(system, report.tracking_id, 2)
        assert [(r["template"], r["status"]) for r in log] == [
            ("received", "sent"),
            ("verified", "unreachable"),
        ]
        assert log[1]["detail"] == "cannot reach reporter (identity erased)"
        assert {r["recipient_masked"] for r in log} == {None}  # the mask goes with the key
        assert "notification_unreachable" in system.log("notify")
