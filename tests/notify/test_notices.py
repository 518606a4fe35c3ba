"""Which notices a report event causes, told as a report's life: pure, no processes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime

import pytest

from services.notify.notices import (
    Links,
    Notice,
    Officer,
    ReportFacts,
    notification_id,
    plan,
    report_facts,
)
from shared.crypto import EncryptedBlob
from shared.events.base import Actor, DomainEvent
from shared.notifications.events import NotificationChannel
from shared.reports.events import (
    Classification,
    CloseReason,
    FollowUpKind,
    FollowUpPosted,
    ForwardedToOPD,
    Location,
    RejectionReason,
    ReportAmended,
    ReportClosed,
    ReportRejected,
    ReportSubmitted,
    ReportVerified,
    SlaBreached,
    SlaStage,
)
from shared.store.port import RecordedEvent
from shared.values import Channel

T = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
TID = "ABCDEFGH2K"
LINKS = Links("https://lapor.example")
BLOB = EncryptedBlob(key_id=TID, nonce="bm9uY2U=", ciphertext="Y2lwaGVy")


def officers(agency: str) -> Sequence[Officer]:
    return [Officer("ref-1", "a@x.example"), Officer("ref-2", "b@x.example")] if agency else []


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


def notices_for(events: list[RecordedEvent]) -> list[Notice]:
    facts = report_facts(events)
    assert facts is not None
    return plan(events[-1], facts, officers, LINKS)


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
    [notice] = notices_for(history(submitted(channel)))
    assert (notice.channel, notice.template, notice.recipient_kind) == (
        expected,
        "received",
        "reporter",
    )


def test_a_reporter_who_left_no_contact_reads_notices_on_the_report_page() -> None:
    [notice] = notices_for(history(submitted(Channel.SMS, reporter=False)))
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
        (
            FollowUpPosted(
                agency_code=FORWARDED.agency_code, text="Sudah diperbaiki.", kind=FollowUpKind.FINAL
            ),
            ["follow_up"],
        ),
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
    assert {n.recipient_ref for n in to_officers} == {"ref-1", "ref-2"}
    assert all(n.channel is NotificationChannel.EMAIL for n in to_officers)
    assert all(n.agency_code == "DINKES-KOTA-KUPANG" for n in to_officers)

    events.append(recorded(ReportClosed(reason=CloseReason.RESOLVED), 4))
    [closed] = notices_for(events)
    assert closed.context["rate_url"] == f"https://lapor.example/reports/{TID}"

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


def test_events_nobody_is_told_about_plan_nothing() -> None:
    assert notices_for(history(submitted(), ReportAmended(text="tambahan"))) == []
    breach = SlaBreached(stage=SlaStage.VERIFICATION, due=date(2026, 3, 5))
    assert notices_for(history(submitted(), breach)) == []  # no agency yet: the admins' desk


def test_officer_notices_never_carry_the_reporters_identity() -> None:
    events = history(submitted(), VERIFIED, FORWARDED)
    for notice in notices_for(events):
        if notice.recipient_kind == "officer":
            assert set(notice.context) <= {
                "tracking_id",
                "title",
                "category",
                "region_code",
                "report_url",
                "channel",
                "agency_code",
                "agency_name",
                "follow_up_due",
            }


def test_the_same_event_planned_twice_gives_the_same_notices() -> None:
    events = history(submitted(), VERIFIED, FORWARDED)
    assert notices_for(events) == notices_for(list(events))
    ids = [n.notification_id for n in notices_for(events)]
    assert len(set(ids)) == len(ids)
    assert ids[0] == notification_id(events[-1].event_id, "reporter", NotificationChannel.SMS)


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
    )
