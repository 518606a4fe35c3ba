"""The AsyncAPI document of the events an institution's own systems receive.

    .venv/bin/faststream docs gen services.routing.asyncapi:app --yaml --out asyncapi-agency.yaml
    .venv/bin/faststream docs serve services.routing.asyncapi:app

Nothing here connects anywhere: the broker only carries the publisher declarations (subject,
title, description and message schema) for the documentation. The relay is the only real publisher
(`services/relay`), one message per stored event, `Nats-Msg-Id` = `event_id`.
"""

from __future__ import annotations

from typing import Any, Literal

from faststream import FastStream
from faststream.nats import JStream, NatsBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel, Field, create_model

from shared.directory.events import DirectoryChanged
from shared.events.base import Actor, DomainEvent
from shared.reports.events import (
    EscalatedToOmbudsman,
    FollowUpPosted,
    ForwardedToOPD,
    ReportClosed,
    ReporterReplied,
    ReportReopened,
    ReportReturned,
    ReportTransferred,
    SlaBreached,
)
from shared.runtime.messaging import STREAM_NAME, SUBJECT_PREFIX


class Envelope(BaseModel):
    """What every message body is: the stored event (its envelope) with the payload in `data`."""

    event_id: str = Field(description="UUID; also the Nats-Msg-Id header (deduplicate on it)")
    event_type: str
    schema_version: int = Field(description="The payload's schema version")
    stream: str = Field(description="report-<tracking_id> (the report), or directory")
    stream_version: int = Field(description="The event's place in its stream, from 1")
    position: int = Field(description="Global order in the event store")
    occurred_at: str = Field(description="ISO 8601, UTC")
    correlation_id: str = Field(description="Same for every event one request caused")
    causation_id: str = Field(description="The request or event that caused this one")
    actor: Actor = Field(description="Who acted: citizen|admin|agency|system and an id")
    region_code: str | None = Field(description="Kemendagri code without dots, or null")
    agency_code: str | None = Field(description="The institution the report is with, or null")
    prev_hash: str = Field(description="Hash of the previous event in the stream")
    hash: str = Field(description="SHA-256 chain over the stream (tamper evidence)")


AGENCY_EVENTS: tuple[tuple[type[DomainEvent], str], ...] = (
    (
        ForwardedToOPD,
        "A verified report is forwarded to the institution; `follow_up_due` is the "
        "last day for its first follow-up.",
    ),
    (
        ReportTransferred,
        "An institution handed the report to another under the same parent; the "
        "subject names the receiving institution.",
    ),
    (
        ReportReturned,
        "The institution returned the report to the admins (not its authority); "
        "the subject still names it.",
    ),
    (FollowUpPosted, "The institution posted a follow-up (interim, final or a question)."),
    (ReporterReplied, "The reporter answered a follow-up (never who they are)."),
    (ReportClosed, "The report was closed (by the reporter, the admins, or for no response)."),
    (ReportReopened, "A low rating reopened the report; it is with the institution again."),
    (SlaBreached, "A time limit passed (e.g. the first follow-up)."),
    (EscalatedToOmbudsman, "The reporter took the report to the Ombudsman."),
    (DirectoryChanged, "The institution's directory entry (or a routing rule to it) changed."),
)


def message_model(event: type[DomainEvent]) -> type[BaseModel]:
    fields: dict[str, Any] = {
        "event_type": (Literal[event.event_type], Field(description="The event's name")),
        "data": (event, Field(description=f"The {event.event_type} payload")),
    }
    return create_model(f"{event.event_type}Message", __base__=Envelope, **fields)


broker = NatsBroker()  # never connected: it only carries the declarations
events_stream = JStream(STREAM_NAME, declare=False)
for _event, _description in AGENCY_EVENTS:
    broker.publisher(
        f"{SUBJECT_PREFIX}.{_event.event_type}.{{region_code}}.{{agency_code}}",
        stream=events_stream,
        title=f"{_event.event_type}",
        description=(
            f"{_description} Subscribe with `{SUBJECT_PREFIX}.*.*.<AGENCY>` for every event of one "
            "institution; `_` stands for a missing region or agency."
        ),
        schema=message_model(_event),
    )

app = FastStream(
    broker,
    specification=AsyncAPI(
        broker,
        title="LAPOR events for institutions",
        version="1.0.0",
        description=(
            "Every event of a report is published once to JetStream stream LAPOR_EVENTS on "
            "`lapor.v1.events.<EventType>.<region_code or _>.<agency_code or _>`. An institution's "
            "system filters on `lapor.v1.events.*.*.<AGENCY>`. See docs/agency-integration.md."
        ),
    ),
)
