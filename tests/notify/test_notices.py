"""Which notices a report event causes, told as a report's life: pure, no processes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import ClassVar

import pytest

from services.notify.notices import (
    Dates,
    Links,
    Notice,
    Officer,
    ReportFacts,
    StaffGroup,
    notification_id,
    plan,
    report_facts,
)
from shared.crypto import EncryptedBlob
from shared.events.base import Actor, DomainEvent
from shared.notifications.events import NotificationChannel
from shared.reports.events import (
    AdministratorReplied,
    Classification,
    CloseReason,
    CompletionReminded,
    EscalatedToOmbudsman,
    EscalationGrounds,
    FollowUpKind,
    FollowUpPosted,
    ForwardedToOPD,
    Location,
    RejectionReason,
    ReportAmended,
    ReportClosed,
    ReportCompletionRequested,
    ReportDelegated,
    ReporterReplied,
    ReportReferred,
    ReportRejected,
    ReportReturned,
    ReportSubmitted,
    ReportVerified,
    SlaBreached,
    SlaDueSoon,
    SlaStage,
    Status,
)
from shared.store.port import RecordedEvent
from shared.values import Channel

T = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
TID = "ABCDEFGH2K"
LINKS = Links(
    "https://lapor.example",
    desk_base_url="https://desk.lapor.example",
    console_base_url="https://console.lapor.example",
    evidence_base_url="https://sla.lapor.example",
)
BLOB = EncryptedBlob(key_id=TID, nonce="bm9uY2U=", ciphertext="Y2lwaGVy")
OPENS_ON = date(2026, 5, 27)


class FakeStaff:
    """The directory as notify sees it: two officers per institution, one administrator of the
    region's desk, one officer at the province's Ombudsman office."""

    names: ClassVar[dict[str, str]] = {
        "DINKES-KOTA-KUPANG": "Dinas Kesehatan",
        "PUSKESMAS-OEPOI": "Puskesmas Oepoi",
        "PEMKOT-KUPANG": "Pemerintah Kota Kupang",
        "OMBUDSMAN-53": "Ombudsman RI Perwakilan NTT",
    }

    def officers(self, agency_code: str) -> StaffGroup | None:
        members: Sequence[Officer] = (
            [
                Officer(f"ref-{agency_code}-1", "a@x.example"),
                Officer(f"ref-{agency_code}-2", "b@x.example"),
            ]
            if agency_code
            else []
        )
        return StaffGroup(agency_code, self.names.get(agency_code, agency_code), tuple(members))

    def administrators(self, region_code: str | None) -> StaffGroup | None:
        if region_code is None:  # the national desk
            return StaffGroup("NASIONAL", "Meja Nasional", (Officer("admin-n", "n@x.example"),))
        return StaffGroup(
            "PEMKOT-KUPANG", self.names["PEMKOT-KUPANG"], (Officer("admin-1", "c@x.example"),)
        )

    def ombudsman(self, region_code: str | None) -> StaffGroup | None:
        return StaffGroup(
            "OMBUDSMAN-53", self.names["OMBUDSMAN-53"], (Officer("omb-1", "o@x.example"),)
        )

    def name_of(self, agency_code: str) -> str | None:
        return self.names.get(agency_code)

    def category_name(self, code: str | None) -> str | None:
        return {"kesehatan": "Kesehatan"}.get(code or "")


STAFF = FakeStaff()


def recorded(payload: DomainEvent, version: int, correlation_id: str = "cid-1") -> RecordedEvent:
    return RecordedEvent(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{TID}/{version}"),
        event_type=payload.event_type,
        occurred_at=T,
        correlation_id=correlation_id,
        causation_id=correlation_id,
        actor=Actor(kind="admin", id="a"),
        data=payload.model_dump(mode="json"),
        stream=f"report-{TID}",
        stream_version=version,
        prev_hash="0" * 64,
        hash="1" * 64,
        position=version,
    )


def submitted(channel: Channel = Channel.SMS, reporter: bool = True) -> ReportSubmitted:
    return ReportSubmitted(
        tracking_id=TID,
        classification=Classification.COMPLAINT,
        title="Jalan rusak",
        body="Jalan berlubang besar.",
        location=Location(region_code="5371"),
        channel=channel,
        reporter=BLOB if reporter else None,
        access_code_hash="a" * 64,
    )


def history(*payloads: DomainEvent) -> list[RecordedEvent]:
    return [recorded(p, i + 1) for i, p in enumerate(payloads)]


def notices_for(
    events: list[RecordedEvent], channel: NotificationChannel | None = None
) -> list[Notice]:
    facts = report_facts(events)
    assert facts is not None
    dates = Dates(escalation_opens_on=OPENS_ON, completion_closes_on=date(2026, 3, 16))
    return plan(events[-1], facts, STAFF, LINKS, reporter_channel=channel, dates=dates)


FORWARDED = ForwardedToOPD(
    agency_code="DINKES-KOTA-KUPANG", agency_name="Dinas Kesehatan", follow_up_due=date(2026, 3, 9)
)
VERIFIED = ReportVerified(
    classification=Classification.COMPLAINT, category="kesehatan", region_code="5371"
)


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        (Channel.SMS, NotificationChannel.SMS),
        (Channel.EMAIL, NotificationChannel.EMAIL),
        (Channel.WHATSAPP, NotificationChannel.WHATSAPP),
        (Channel.FACEBOOK, NotificationChannel.MESSENGER),
        (Channel.INSTAGRAM, NotificationChannel.INSTAGRAM),
        (Channel.TWITTER, NotificationChannel.X),
        (Channel.WEB, NotificationChannel.WEB),
        (Channel.MOBILE, NotificationChannel.WEB),
        (Channel.OPEN311, NotificationChannel.WEB),
        (Channel.OFFLINE, NotificationChannel.WEB),
    ],
)
def test_a_reporter_hears_back_on_the_channel_they_wrote_on(
    channel: Channel, expected: NotificationChannel
) -> None:
    [notice] = notices_for(history(submitted(channel), VERIFIED))
    assert (notice.channel, notice.template, notice.recipient_kind) == (
        expected,
        "verified",
        "reporter",
    )


@pytest.mark.parametrize("channel", [Channel.WEB, Channel.OPEN311, Channel.OFFLINE, Channel.MOBILE])
@pytest.mark.parametrize("contact", [NotificationChannel.EMAIL, NotificationChannel.SMS])
def test_a_web_reporter_who_left_a_contact_hears_there_from_the_receipt_on(
    channel: Channel, contact: NotificationChannel
) -> None:
    events = history(submitted(channel))
    [received] = notices_for(events, contact)
    assert (received.template, received.channel) == ("received", contact)
    events.append(recorded(VERIFIED, 2))
    [verified] = notices_for(events, contact)
    assert verified.channel is contact


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.EMAIL, Channel.WHATSAPP, Channel.TWITTER])
def test_where_the_channel_answered_at_once_the_receipt_is_only_recorded_for_the_page(
    channel: Channel,
) -> None:
    """The SMS reply (or the confirmation mail, the chat answer) already carried the tracking ID
    and access code: one receipt per report."""
    [notice] = notices_for(history(submitted(channel)))
    assert (notice.template, notice.channel) == ("received", NotificationChannel.WEB)


def test_a_reporter_who_left_no_contact_reads_notices_on_the_report_page() -> None:
    [notice] = notices_for(history(submitted(Channel.SMS, reporter=False), VERIFIED))
    assert notice.channel is NotificationChannel.WEB


def test_every_step_of_a_report_tells_the_reporter() -> None:
    steps: list[tuple[DomainEvent, list[str]]] = [
        (submitted(), ["received"]),
        (VERIFIED, ["verified"]),
        (FORWARDED, ["forwarded", "officer_forwarded", "officer_forwarded"]),
        (
            SlaBreached(
                stage=SlaStage.FOLLOW_UP, due=date(2026, 3, 9), agency_code=FORWARDED.agency_code
            ),
            ["escalation_possible", "officer_sla_breached", "officer_sla_breached"],
        ),
        (
            FollowUpPosted(
                agency_code=FORWARDED.agency_code,
                text="Di mana tepatnya?",
                kind=FollowUpKind.QUESTION,
            ),
            ["question"],
        ),
        (ReporterReplied(text="Di depan pasar."), ["officer_reporter_answered"] * 2),
        (
            FollowUpPosted(
                agency_code=FORWARDED.agency_code, text="Sudah diperbaiki.", kind=FollowUpKind.FINAL
            ),
            ["follow_up"],
        ),
        (AdministratorReplied(text="Mohon dikonfirmasi."), ["administrator_replied"]),
        (ReportClosed(reason=CloseReason.RESOLVED), ["closed"]),
    ]
    events: list[RecordedEvent] = []
    for payload, templates in steps:
        events.append(recorded(payload, len(events) + 1))
        assert [n.template for n in notices_for(events)] == templates, payload.event_type


def test_what_the_notices_say() -> None:
    events = history(submitted(), VERIFIED, FORWARDED)
    forwarded, *to_officers = notices_for(events)
    assert forwarded.context["agency_name"] == "Dinas Kesehatan"
    assert forwarded.context["follow_up_due"] == "2026-03-09"
    assert {n.recipient_ref for n in to_officers} == {
        "ref-DINKES-KOTA-KUPANG-1",
        "ref-DINKES-KOTA-KUPANG-2",
    }
    assert all(n.channel is NotificationChannel.EMAIL for n in to_officers)
    assert all(n.agency_code == "DINKES-KOTA-KUPANG" for n in to_officers)

    assert forwarded.context["report_url"] == f"https://lapor.example/laporan/{TID}"
    assert {n.context["report_url"] for n in to_officers} == {
        f"https://desk.lapor.example/desk/reports/{TID}"
    }

    events.append(recorded(ReportClosed(reason=CloseReason.RESOLVED), 4))
    [closed] = notices_for(events)
    assert closed.context["rate_url"] == f"https://lapor.example/laporan/{TID}"

    rejected = notices_for(
        history(submitted(), ReportRejected(reason=RejectionReason.SPAM, note="iklan"))
    )
    assert (rejected[0].context["reason"], rejected[0].context["note"]) == ("spam", "iklan")

    question = notices_for(
        history(
            submitted(),
            VERIFIED,
            FORWARDED,
            FollowUpPosted(
                agency_code=FORWARDED.agency_code, text="Kapan?", kind=FollowUpKind.QUESTION
            ),
        )
    )
    assert (question[0].template, question[0].context["text"]) == ("question", "Kapan?")
    assert question[0].context["agency_name"] == "Dinas Kesehatan"


def test_the_administrators_of_the_region_hear_what_waits_for_them() -> None:
    asked = ReportCompletionRequested(note="Alamat?")
    amended = notices_for(history(submitted(), asked, ReportAmended(text="Jl. Sudirman")))
    assert [(n.template, n.context["what"], n.agency_code) for n in amended] == [
        ("admin_attention", "amended", "PEMKOT-KUPANG")
    ]
    assert (
        amended[0].context["report_url"] == f"https://console.lapor.example/console/reports/{TID}"
    )
    breach = SlaBreached(stage=SlaStage.VERIFICATION, due=date(2026, 3, 5))
    assert [n.context["what"] for n in notices_for(history(submitted(), breach))] == ["breached"]
    soon = SlaDueSoon(stage=SlaStage.VERIFICATION, due=date(2026, 3, 5))
    assert [n.context["what"] for n in notices_for(history(submitted(), soon))] == ["due_soon"]
    returned = ReportReturned(agency_code=FORWARDED.agency_code, reason="not_our_authority")
    [back] = notices_for(history(submitted(), VERIFIED, FORWARDED, returned))
    assert (back.context["what"], back.context["agency_name"]) == ("returned", "Dinas Kesehatan")


def test_the_desk_a_report_is_referred_to_hears_it_is_theirs() -> None:
    """A returned report sent up to the national desk: its administrators (not the region's)
    are told, with the re-forward day the system keeps for them (issue 16)."""
    returned = ReportReturned(agency_code=FORWARDED.agency_code, reason="not_our_authority")
    up = ReportReferred(to_region=None, note="Jalan nasional")
    events = history(submitted(), VERIFIED, FORWARDED, returned, up)
    facts = report_facts(events)
    assert facts is not None
    # The national desk's own re-forward day, as reactions derive it after the referral.
    dates = Dates(reforward_due=date(2026, 3, 10), escalation_opens_on=OPENS_ON)
    [sent_up] = plan(events[-1], facts, STAFF, LINKS, reporter_channel=None, dates=dates)
    assert (sent_up.template, sent_up.agency_code) == ("admin_attention", "NASIONAL")
    assert (sent_up.context["what"], sent_up.context["note"]) == ("referred", "Jalan nasional")
    assert (sent_up.context["stage"], sent_up.context["due"]) == ("reforward", "2026-03-10")
    # Referred at verification (nobody returned it): no re-forward day to tell.
    [fresh] = notices_for(history(submitted(), ReportReferred(to_region=None)))
    assert (fresh.context["what"], fresh.context["due"]) == ("referred", None)


def test_a_completion_request_and_its_reminder_say_when_the_report_closes() -> None:
    events = history(submitted(), ReportCompletionRequested(note="Alamat?"))
    [asked] = notices_for(events)
    assert (asked.template, asked.context["closes_on"]) == ("completion_requested", "2026-03-16")
    events.append(recorded(CompletionReminded(closes_on=date(2026, 3, 16)), 3))
    [reminded] = notices_for(events)
    assert (reminded.template, reminded.context["closes_on"]) == (
        "completion_reminded",
        "2026-03-16",
    )
    events.append(recorded(ReportClosed(reason=CloseReason.INCOMPLETE), 4))
    [closed] = notices_for(events)
    assert (closed.template, closed.context["reason"]) == ("closed", "incomplete")


def test_a_delegated_report_reaches_the_units_officers() -> None:
    delegated = ReportDelegated(
        from_agency="DINKES-KOTA-KUPANG",
        to_agency="PUSKESMAS-OEPOI",
        to_agency_name="Puskesmas Oepoi",
    )
    events = history(submitted(), VERIFIED, FORWARDED, delegated)
    notices = notices_for(events)
    assert {(n.template, n.agency_code) for n in notices} == {
        ("officer_forwarded", "PUSKESMAS-OEPOI")
    }
    assert notices[0].context["delegated_by"] == "Dinas Kesehatan"
    events.append(recorded(ReporterReplied(text="Terima kasih."), 5))
    assert {n.agency_code for n in notices_for(events)} == {"PUSKESMAS-OEPOI"}


def test_an_answer_to_a_question_is_told_to_the_officers_as_one() -> None:
    question = FollowUpPosted(
        agency_code=FORWARDED.agency_code, text="Kapan?", kind=FollowUpKind.QUESTION
    )
    events = history(submitted(), VERIFIED, FORWARDED, question, ReporterReplied(text="Kemarin."))
    assert {n.context["answered_question"] for n in notices_for(events)} == {True}
    events = history(submitted(), VERIFIED, FORWARDED, ReportAmended(text="Foto terlampir."))
    answered = notices_for(events)
    assert {(n.template, n.context["amended"]) for n in answered} == {
        ("officer_reporter_answered", True)
    }


def test_every_notice_that_mentions_the_ombudsman_says_from_when() -> None:
    breach = SlaBreached(
        stage=SlaStage.FOLLOW_UP, due=date(2026, 3, 9), agency_code=FORWARDED.agency_code
    )
    for notice in notices_for(history(submitted(), VERIFIED, FORWARDED, breach)):
        assert notice.context["escalation_opens_on"] == OPENS_ON.isoformat()


def test_an_escalation_reaches_the_ombudsman_office_of_the_province() -> None:
    escalated = EscalatedToOmbudsman(
        ombudsman_office="OMBUDSMAN-53",
        province_code="53",
        grounds=EscalationGrounds.NO_FINAL_ANSWER,
    )
    notices = notices_for(history(submitted(), VERIFIED, FORWARDED, escalated))
    reporter, office = notices
    assert (reporter.template, reporter.context["ombudsman_office"]) == (
        "escalated",
        "Ombudsman RI Perwakilan NTT",
    )
    assert (office.template, office.agency_code, office.recipient_kind) == (
        "ombudsman_escalated",
        "OMBUDSMAN-53",
        "officer",
    )
    assert (
        office.context["report_url"]
        == f"https://sla.lapor.example/api/v1/reports/{TID}/evidence.html"
    )


def test_a_confidential_reports_links_lead_to_its_sign_in() -> None:
    secret = submitted(Channel.WEB).model_copy(update={"confidential": True})
    [notice] = notices_for(history(secret, VERIFIED), NotificationChannel.EMAIL)
    assert notice.context["report_url"] == f"https://lapor.example/laporan/{TID}/masuk"


def test_officer_notices_never_carry_the_reporters_identity() -> None:
    events = history(submitted(), VERIFIED, FORWARDED)
    for notice in notices_for(events):
        if notice.recipient_kind == "officer":
            assert set(notice.context) <= {
                "tracking_id",
                "title",
                "category",
                "category_name",
                "region_code",
                "report_url",
                "channel",
                "agency_code",
                "agency_name",
                "desk_name",
                "office_name",
                "follow_up_due",
                "delegated_by",
                "note",
            }


def test_the_same_event_planned_twice_gives_the_same_notices() -> None:
    events = history(submitted(), VERIFIED, FORWARDED)
    assert notices_for(events) == notices_for(list(events))
    ids = [n.notification_id for n in notices_for(events)]
    assert len(set(ids)) == len(ids)
    assert ids[0] == notification_id(events[-1].event_id, "reporter", NotificationChannel.SMS)
    assert ids[1] == notification_id(
        events[-1].event_id, "officer", NotificationChannel.EMAIL, "ref-DINKES-KOTA-KUPANG-1"
    )


def test_facts_follow_the_report_up_to_the_event() -> None:
    facts = report_facts(history(submitted(), VERIFIED, FORWARDED))
    assert facts == ReportFacts(
        tracking_id=TID,
        channel=Channel.SMS,
        language="id",
        has_reporter=True,
        title="Jalan rusak",
        category="kesehatan",
        region_code="5371",
        agency_code="DINKES-KOTA-KUPANG",
        agency_name="Dinas Kesehatan",
        status_before=Status.VERIFIED,
    )
