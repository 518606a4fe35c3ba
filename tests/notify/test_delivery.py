"""Notify's deliveries, in process: intake and notify run in the test's event loop on a real
SQLite store (tests/harness.py) and send to real peers, the real Kannel (fakesmsc is the reporter's
handset) and a real SMTP server on loopback.

The other services' decisions (verify, forward, follow up, close, SLA breach) are appended by the
test to the same store, as those services would. Nothing runs behind the test's back: after each
step it delivers the events and runs notify's dispatcher (`send`).
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.events.base import Actor
from shared.reports.commands import (
    AmendReport,
    CloseReport,
    Command,
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
from tests.driver import Driver, driving
from tests.harness import InProcessSystem, in_process
from tests.intake_channels.kannel import KannelGateway
from tests.notify.harness import (
    ADMIN,
    AGENCY,
    AGENCY_NAME,
    AGENCY_OFFICER,
    FAST_RETRIES,
    OFFICER,
    PUBLIC,
    SLA,
    WAIT,
    Hands,
    SmtpSink,
    Submitted,
    arrived,
    due_in,
    mail_to,
    metric,
    sentinel,
)
from tests.support import SMS_WEBHOOK_TOKEN, async_wait_for, free_port, wait_for

ADMIN_DESK = "pemkot-kupang@penghubung.lapor.example"  # the LAPOR desk of Kota Kupang


@dataclass
class Notifying:
    """Intake and notify in process, the test's hands on the store, and the driver."""

    lapor: InProcessSystem
    hands: Hands
    drive: Driver

    async def send(self) -> None:
        """Deliver the new events (notify plans its notices), then run the dispatcher."""
        await self.lapor.settle()
        await self.lapor.run("notify", "dispatch")

    async def submit(
        self, channel: Channel, contact: dict[str, str] | None, **kw: Any
    ) -> Submitted:
        submitted = await self.hands.submit(channel, contact, **kw)
        await self.send()
        return submitted

    async def do(self, tracking_id: str, command: Command, actor: Actor = ADMIN) -> str:
        cid = await self.hands.do(tracking_id, command, actor)
        await self.send()
        return cid

    async def until_outcomes(self, tracking_id: str, count: int) -> list[RecordedEvent]:
        """Run the dispatcher until the report's notices have `count` outcomes (retries wait
        out their backoff between runs)."""

        async def settled() -> list[RecordedEvent] | None:
            await self.send()
            events = await self.hands.outcomes(tracking_id)
            return events if len(events) >= count else None

        return await async_wait_for(settled, timeout=WAIT, what=f"outcomes of {tracking_id}")

    async def metrics(self) -> str:
        return (await self.drive.client("notify").get("/metrics")).text

    async def submit_by_sms(self, phone: str) -> Submitted:
        """Through intake's /channels/sms, as Kannel calls it."""
        reply = await self.drive.client("intake").get(
            "/channels/sms",
            params={
                "from": phone,
                "to": "1708",
                "text": "KUPANG Jalan rusak di depan Puskesmas Oepoi sudah tiga minggu",
                "id": str(uuid.uuid4()),
                "token": SMS_WEBHOOK_TOKEN,
            },
        )
        ids = [t for t in re.findall(r"[2-9A-HJ-NP-Z]{10}", reply.text) if is_valid_tracking_id(t)]
        assert ids, f"no tracking ID in intake's SMS reply: {reply.text!r}"
        # The answer to the SMS is the receipt: tracking ID and access code, in one SMS.
        assert "diterima" in reply.text and "Kode akses" in reply.text
        await self.send()
        return Submitted(ids[0], "", "")


@contextlib.asynccontextmanager
async def notifying(tmp_path: Path, env: dict[str, str]) -> AsyncIterator[Notifying]:
    environment = {"LAPOR_PUBLIC_BASE_URL": PUBLIC, **FAST_RETRIES, **env}
    async with (
        in_process(tmp_path / "lapor", ("intake", "notify"), environment) as lapor,
        driving(lapor) as drive,
    ):
        hands = Hands(lapor.store, lapor.data_dir, lapor.secret)
        try:
            yield Notifying(lapor, hands, drive)
        finally:
            await hands.close()


async def test_each_reporter_hears_every_step_on_their_own_channel(
    tmp_path: Path, kannel: KannelGateway, smtp: SmtpSink, service_log: Callable[[], str]
) -> None:
    sms_phone, web_phone = "+6281234567801", "+6281234567802"
    env = {"LAPOR_SMS_SENDSMS_URL": kannel.sendsms_url, "LAPOR_SMTP_URL": smtp.url}
    async with notifying(tmp_path, env) as lapor:
        before = await lapor.metrics()
        with kannel.handset() as phone:
            # A reporter who wrote by SMS hears back by SMS at every step (the answer to their
            # SMS was the receipt: notify only records it for the report page).
            a = await lapor.submit_by_sms(sms_phone)
            tid = a.tracking_id

            await lapor.do(tid, RequestCompletion(note="Mohon sebutkan nama jalannya."))
            completion = arrived(phone, sms_phone, tid, "lengkapi", "nama jalannya")
            assert completion.sender == "1708"
            # The region's administrators hear that what they asked for arrived.
            await lapor.do(tid, AmendReport(text="Jalan Frans Seda."), OFFICER)
            smtp.wait_for(mail_to(ADMIN_DESK, tid, "melengkapi"))
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
            smtp.wait_for(mail_to(AGENCY_OFFICER, tid, "menjawab pertanyaan"))
            # A long answer goes out as a concatenated SMS and arrives whole.
            answer = "Sudah ditambal. " + "Tim kami meninjau lokasi dan menutup lubang. " * 3
            final = PostFollowUp(agency_code=AGENCY, text=answer, kind=FollowUpKind.FINAL)
            await lapor.do(tid, final, OFFICER)
            arrived(phone, sms_phone, tid, "Tanggapan akhir", answer.strip())
            await lapor.do(tid, CloseReport(reason=CloseReason.RESOLVED))
            arrived(phone, sms_phone, tid, "ditutup", f"{PUBLIC}/laporan/{tid}")

            # A second SMS reporter is rejected, and told why.
            c = await lapor.submit(Channel.SMS, {"phone": sms_phone})
            await lapor.do(c.tracking_id, RejectReport(reason=RejectionReason.NOT_PUBLIC_SERVICE))
            arrived(phone, sms_phone, c.tracking_id, "bukan tentang pelayanan publik")

            # A web reporter who left an e-mail address (in English) gets a mail at every step.
            email = "siti.rahma@example.com"
            b = await lapor.submit(Channel.WEB, {"name": "Siti", "email": email}, language="en")
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
            assert f'href="{PUBLIC}/laporan/{b.tracking_id}"' in closed.part("html")

            # A web reporter who left only a phone number hears by SMS.
            web_report = await lapor.drive.submit(
                title="Lampu jalan mati",
                body="Lampu jalan di Jalan Timor Raya mati sejak seminggu.",
                location={"region_code": "5371"},
                reporter={"phone": web_phone},
            )
            await lapor.send()
            arrived(phone, web_phone, web_report.tracking_id, "diterima")
            [web] = await lapor.hands.outcomes(web_report.tracking_id)
            assert (web.event_type, web.data["channel"]) == ("NotificationSent", "sms")

            # The liaison officers heard of the new reports and of the breach, without the
            # reporter's name, number or address.
            wait_for(
                lambda: len(smtp.received(lambda m: AGENCY_OFFICER in m.recipients)) >= 4,
                WAIT,
                what="four officer mails",
            )
            officer_mails = smtp.received(lambda m: AGENCY_OFFICER in m.recipients)
            subjects = sorted(m.subject for m in officer_mails)
            assert subjects == sorted(
                [
                    f"[LAPOR!] Laporan baru {tid} untuk {AGENCY_NAME}",
                    f"[LAPOR!] Laporan baru {b.tracking_id} untuk {AGENCY_NAME}",
                    f"[LAPOR!] Batas waktu tindak lanjut pertama terlampaui: laporan {tid}",
                    f"[LAPOR!] Pelapor menjawab pertanyaan Anda: laporan {tid}",
                ]
            )
            for mail in officer_mails:
                source = mail.message.as_string()
                for secret in (sms_phone, "Yohanes", email, "Siti"):
                    assert secret not in source

            # Exactly once: one SMS per step, none for the web reporter.
            got = sentinel(kannel, phone)
            assert [m.to for m in got].count(web_phone) == 1
            assert len([m for m in got if tid in m.text]) == 7
            assert len([m for m in got if c.tracking_id in m.text]) == 1  # the rejection
            assert len(smtp.received(lambda m: email in m.recipients)) == 5

        # The delivery log: what, where, how it ended; contact details masked at most.
        events = await lapor.hands.outcomes(tid)
        assert len(events) == 12  # 8 to the reporter, 3 to the officers, 1 to the admins
        assert all(e.event_type == "NotificationSent" for e in events)
        verified = next(e for e in events if e.data["template"] == "verified")
        assert verified.correlation_id == verify_cid  # carried end to end
        log = await lapor.drive.notifications(tracking_id=tid)
        assert len(log) == 12
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
        receipt, *by_sms = reporter_rows
        assert (receipt["channel"], receipt["status"], receipt["attempts"]) == ("web", "sent", 0)
        assert {(r["channel"], r["status"], r["attempts"]) for r in by_sms} == {("sms", "sent", 1)}
        assert {r["recipient_masked"] for r in by_sms} == {"+62*********01"}
        assert all(r["completed_at"] and r["first_attempt_at"] for r in by_sms)
        officer_rows = [r for r in log if r["recipient"] == "officer"]
        assert {(r["channel"], r["agency_code"]) for r in officer_rows} == {
            ("email", AGENCY),
            ("email", "PEMKOT-KUPANG"),
        }
        notify = lapor.drive.client("notify")
        raw = (
            await notify.get(
                "/api/v1/notifications",
                params={"tracking_id": tid},
                headers={"Authorization": f"Bearer {lapor.lapor.token('admin')}"},
            )
        ).text
        assert sms_phone not in raw and AGENCY_OFFICER not in raw

        # A reporter sees their own notices with their access code; nobody else does.
        mine = await notify.get(
            "/api/v1/notifications",
            params={"tracking_id": b.tracking_id},
            headers={"X-Access-Code": b.access_code},
        )
        assert mine.status_code == 200
        assert {r["recipient"] for r in mine.json()} == {"reporter"}
        assert len(mine.json()) == 5
        wrong = await notify.get(
            "/api/v1/notifications",
            params={"tracking_id": b.tracking_id},
            headers={"X-Access-Code": "WRONGCODE"},
        )
        assert wrong.status_code == 403
        anonymous = await notify.get("/api/v1/notifications")
        assert anonymous.status_code == 401

        after = await lapor.metrics()

        def sent(channel: str) -> float:
            return metric(after, channel, "sent") - metric(before, channel, "sent")

        assert sent("sms") >= 9
        assert sent("email") >= 8
        assert sent("web") >= 1

    notify_log = service_log()
    assert "notification_sent" in notify_log
    for secret in (sms_phone, web_phone, email, "Yohanes", AGENCY_OFFICER, ADMIN_DESK):
        assert secret not in notify_log


async def test_a_failing_channel_ends_in_notification_failed_after_its_retries(
    tmp_path: Path, kannel: KannelGateway, service_log: Callable[[], str]
) -> None:
    env = {
        "LAPOR_SMS_SENDSMS_URL": kannel.sendsms_url.replace("rahasia", "salah"),  # 403
        "LAPOR_SMTP_URL": f"smtp://127.0.0.1:{free_port()}",  # nobody listens
    }
    async with notifying(tmp_path, env) as lapor:
        before = await lapor.metrics()
        by_sms = await lapor.submit(Channel.WEB, {"phone": "+6281234567809"})
        by_mail = await lapor.submit(Channel.WEB, {"email": "rina@example.com"})
        [sms_failed] = await lapor.until_outcomes(by_sms.tracking_id, 1)
        [mail_failed] = await lapor.until_outcomes(by_mail.tracking_id, 1)
        assert sms_failed.event_type == "NotificationFailed"
        assert sms_failed.data["attempts"] == 5
        assert sms_failed.data["error"] == "sendsms refused our credentials (HTTP 403)"
        assert mail_failed.event_type == "NotificationFailed"
        assert mail_failed.data["attempts"] == 5
        assert "SMTP server unreachable" in mail_failed.data["error"]

        [row] = await lapor.drive.notifications(tracking_id=by_sms.tracking_id)
        assert (row["status"], row["attempts"], row["channel"]) == ("failed", 5, "sms")
        assert row["detail"] == "sendsms refused our credentials (HTTP 403)"
        assert row["first_attempt_at"] <= row["last_attempt_at"] <= row["completed_at"]
        failed = await lapor.drive.notifications(status="failed")
        after = await lapor.metrics()
        assert {r["tracking_id"] for r in failed} == {by_sms.tracking_id, by_mail.tracking_id}

    def delta(channel: str, outcome: str) -> float:
        return metric(after, channel, outcome) - metric(before, channel, outcome)

    assert delta("sms", "failed") == 1 and delta("sms", "retry") == 4
    assert delta("email", "failed") == 1
    log = service_log()
    assert "notification_failed" in log
    assert "rahasia" not in log and "salah" not in log


async def test_an_erased_reporter_cannot_be_reached(
    tmp_path: Path, kannel: KannelGateway, service_log: Callable[[], str]
) -> None:
    number = "+6281234567810"
    env = {"LAPOR_SMS_SENDSMS_URL": kannel.sendsms_url}
    async with notifying(tmp_path, env) as lapor:
        with kannel.handset() as phone:
            report = await lapor.submit(Channel.WEB, {"phone": number})
            arrived(phone, number, report.tracking_id, "diterima")
            lapor.hands.erase(report.tracking_id)  # the reporter asked to be forgotten
            await lapor.do(report.tracking_id, VerifyReport())
            _, skipped = await lapor.hands.outcomes(report.tracking_id)
            got = sentinel(kannel, phone)
        assert skipped.event_type == "NotificationSkipped"
        assert skipped.data["detail"] == "cannot reach reporter (identity erased)"
        assert [m.to for m in got].count(number) == 1  # only the notice before the erasure
        log = await lapor.drive.notifications(tracking_id=report.tracking_id)
        assert [(r["template"], r["status"]) for r in log] == [
            ("received", "sent"),
            ("verified", "unreachable"),
        ]
        assert log[1]["detail"] == "cannot reach reporter (identity erased)"
        assert {r["recipient_masked"] for r in log} == {None}  # the mask goes with the key
    assert "notification_unreachable" in service_log()
