"""The AsyncAPI document of every event LAPOR publishes on `lapor.v1.events.>`.

Generated from a FastStream app (every event type of `shared.events.registry`, one publisher
each, with its payload schema) and completed with what FastStream does not declare: the headers
the relay sends (`Nats-Msg-Id`, `Lapor-Position`, `Lapor-Event-Type`, `correlation_id`,
`traceparent`, `Lapor-Copy-For`), the production and local servers, and each institution's
durable pull consumer `agency-<CODE>`. Routing serves it at `GET /asyncapi.json` and a readable
page at `GET /asyncapi`; `faststream docs gen services.routing.asyncapi:app` works as well.

Nothing here connects anywhere: the broker only carries the declarations. The relay is the only
real publisher (`services/relay`), one message per stored event, `Nats-Msg-Id` = `event_id`.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Literal

from faststream import FastStream
from faststream.nats import JStream, NatsBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel, Field, create_model

from shared.events.base import Actor, DomainEvent
from shared.events.registry import ALL_EVENTS
from shared.runtime.messaging import POSITION_HEADER, STREAM_NAME, SUBJECT_PREFIX

TITLE = "LAPOR events"
VERSION = "1.1.0"
DEFAULT_PRODUCTION_HOST = "nats.lapor.go.id:4222"


class Envelope(BaseModel):
    """What every message body is: the stored event (its envelope) with the payload in `data`."""

    event_id: str = Field(description="UUID; also the Nats-Msg-Id header (deduplicate on it)")
    event_type: str
    schema_version: int = Field(description="The payload's schema version")
    stream: str = Field(
        description="report-<tracking_id> (a report), directory, poll-<id>, notifications-<id>…"
    )
    stream_version: int = Field(description="The event's place in its stream, from 1")
    position: int = Field(description="Global order in the event store (also Lapor-Position)")
    occurred_at: str = Field(description="ISO 8601, UTC")
    correlation_id: str = Field(description="Same for every event one request caused")
    causation_id: str = Field(description="The request or event that caused this one")
    actor: Actor = Field(description="Who acted: citizen|admin|agency|system and an id")
    region_code: str | None = Field(description="Kemendagri code without dots, or null")
    agency_code: str | None = Field(description="The institution the report is with, or null")
    prev_hash: str = Field(description="Hash of the previous event in the stream")
    hash: str = Field(description="SHA-256 chain over the stream (tamper evidence)")


# What an institution's system most needs to know of each event; the rest say it themselves.
DESCRIPTIONS: dict[str, str] = {
    "ReportSubmitted": "A citizen's report arrived (any channel). The reporter is encrypted.",
    "ReportCompletionRequested": "The administrators asked the reporter for missing details.",
    "ReportAmended": "The reporter completed or corrected the report.",
    "ReportVerified": "The administrators verified the report.",
    "ReportRejected": "The administrators rejected the report (with a reason).",
    "ReportPostponed": "The administrators postponed deciding, never past the due date.",
    "ProtectionChanged": "The report became (or stopped being) anonymous or confidential.",
    "ForwardedToOPD": "The report is forwarded to the institution; `follow_up_due` is the last "
    "day for its first follow-up.",
    "ReportReturned": "The institution returned the report to the administrators (not its "
    "authority); the subject still names it.",
    "ReportTransferred": "An institution handed the report to another under the same parent. "
    "The subject names the receiver; the relay publishes a copy on the leaver's subject "
    "(header `Lapor-Copy-For`).",
    "ReportDelegated": "An institution handed the report to one of its own units. The subject "
    "names the unit; the relay publishes a copy on the delegating institution's subject.",
    "FollowUpPosted": "The institution posted a follow-up (`interim`, `final` or `question`).",
    "ReporterReplied": "The reporter answered a follow-up (never who they are).",
    "ReportClosed": "The report was closed (by the reporter, the admins, for no response, or "
    "as incomplete).",
    "ReportRated": "The reporter rated the handling of the report.",
    "ReportReopened": "A low rating reopened the report; it is with the institution again.",
    "SlaBreached": "A time limit passed (e.g. the first follow-up).",
    "SlaDueSoon": "A time limit ends on `due`: a warning.",
    "EscalatedToOmbudsman": "The reporter took the report to the Ombudsman.",
    "PollOpened": "A public consultation (poll) opened.",
    "OpinionSubmitted": "Someone answered a poll (sealed until the poll closes).",
    "PollClosed": "A poll closed.",
    "AgencyResponsePublished": "The institution published its response to a poll's results.",
    "DirectoryChanged": "An institution's directory entry, or a routing rule to it, changed.",
    "NotificationSent": "LAPOR told someone about the report (channel and template, no address).",
    "NotificationFailed": "Telling someone failed on a channel (it is retried).",
}

HEADERS: dict[str, Any] = {
    "type": "object",
    "required": ["Nats-Msg-Id", POSITION_HEADER, "Lapor-Event-Type", "correlation_id"],
    "properties": {
        "Nats-Msg-Id": {
            "type": "string",
            "description": "The event_id (a copy: `<event_id>:<AGENCY>`); JetStream drops a "
            "republished duplicate within 15 minutes. Deduplicate on the body's event_id.",
        },
        POSITION_HEADER: {
            "type": "string",
            "pattern": "^[0-9]+$",
            "description": "The event's global position in the store (the body's `position`).",
        },
        "Lapor-Event-Type": {"type": "string", "description": "The body's event_type."},
        "correlation_id": {
            "type": "string",
            "description": "The body's correlation_id: one for all events a request caused.",
        },
        "traceparent": {
            "type": "string",
            "description": "W3C trace context of the relay's publish (when tracing is on).",
        },
        "Lapor-Copy-For": {
            "type": "string",
            "description": "Only on a copy: the institution whose subject it was published on "
            "(the one the report left).",
        },
        "content-type": {"type": "string", "const": "application/json"},
    },
}


def describe(event: type[DomainEvent]) -> str:
    known = DESCRIPTIONS.get(event.event_type)
    if known:
        return known
    own = event.__doc__ if event.__doc__ != DomainEvent.__doc__ else None
    return " ".join((own or f"The {event.event_type} event.").split())


def message_model(event: type[DomainEvent]) -> type[BaseModel]:
    fields: dict[str, Any] = {
        "event_type": (Literal[event.event_type], Field(description="The event's name")),
        "data": (event, Field(description=f"The {event.event_type} payload")),
    }
    return create_model(f"{event.event_type}Message", __base__=Envelope, **fields)


broker = NatsBroker()  # never connected: it only carries the declarations
events_stream = JStream(STREAM_NAME, declare=False)
for _event in ALL_EVENTS:
    broker.publisher(
        f"{SUBJECT_PREFIX}.{_event.event_type}.{{region_code}}.{{agency_code}}",
        stream=events_stream,
        title=_event.event_type,
        description=(
            f"{describe(_event)} An institution receives it through its consumer "
            f"`agency-<CODE>` (subjects `{SUBJECT_PREFIX}.*.*.<CODE>`); `_` stands for a missing "
            "region or agency."
        ),
        schema=message_model(_event),
    )

app = FastStream(
    broker,
    specification=AsyncAPI(
        broker,
        title=TITLE,
        version=VERSION,
        description=(
            "Every event of the LAPOR event store is published once, by the relay, to JetStream "
            f"stream {STREAM_NAME} on `{SUBJECT_PREFIX}.<EventType>.<region_code or _>.<agency_code"
            " or _>`. Each institution has a durable pull consumer `agency-<CODE>` on it, filtered"
            f" to `{SUBJECT_PREFIX}.*.*.<CODE>`: `lapor nats credentials --agency CODE` gives the "
            "NATS URL whose user may only pull and acknowledge it. Delivery is at least once: "
            "deduplicate on `event_id`. See docs/agency-integration.md."
        ),
    ),
)


def _agency_consumer_operation() -> dict[str, Any]:
    return {
        "action": "receive",
        "channel": {"$ref": "#/channels/AgencyConsumer"},
        "title": "An institution pulls its own consumer",
        "summary": "js.pull_subscribe_bind('agency-<CODE>', 'LAPOR_EVENTS'), then fetch and ack",
        "description": (
            "Durable pull consumer `agency-<CODE>` on stream LAPOR_EVENTS, kept by LAPOR for every "
            "institution in the directory (created when it is added, removed with it): "
            "`filter_subject` `lapor.v1.events.*.*.<CODE>`, `deliver_policy` all, `ack_policy` "
            "explicit; what is not acknowledged within `ack_wait` (60 s) is delivered again. "
            "Connect with the URL of `lapor nats credentials --agency CODE` and "
            "`inbox_prefix='_INBOX.agency-<CODE>'`. The user may do nothing else: no other "
            "subject, no publishing, no other consumer (a permissions violation)."
        ),
    }


@lru_cache(maxsize=4)
def document(production_url: str | None = None) -> dict[str, Any]:
    """The whole AsyncAPI 3.0 document (a fresh copy is cheap to make from the cached text)."""
    doc: dict[str, Any] = json.loads(app.schema.to_specification().to_json())
    host = DEFAULT_PRODUCTION_HOST
    if production_url:
        host = production_url.split(",")[0].split("@")[-1].removeprefix("nats://").rstrip("/")
    doc["servers"] = {
        "production": {
            "host": host,
            "protocol": "nats",
            "description": "LAPOR's NATS cluster; each institution has its own user.",
        },
        "local": {
            "host": "127.0.0.1:4222",
            "protocol": "nats",
            "description": "`lapor up` on one machine (no anonymous clients here either).",
        },
    }
    servers = [{"$ref": "#/servers/production"}, {"$ref": "#/servers/local"}]
    messages = doc["components"]["messages"]
    for message in messages.values():
        message["headers"] = HEADERS
        message["contentType"] = "application/json"
    for channel in doc["channels"].values():
        channel["servers"] = servers
        channel.pop("bindings", None)  # FastStream's "custom" binding versions say nothing
        channel["parameters"] = {
            "region_code": {"description": "Kemendagri region code without dots, or `_`"},
            "agency_code": {"description": "The institution's code, or `_`"},
        }
    doc["channels"]["AgencyConsumer"] = {
        "address": f"{SUBJECT_PREFIX}.*.*.{{agency_code}}",
        "title": "One institution's events",
        "description": "Every event on an institution's subject, through its consumer.",
        "servers": servers,
        "parameters": {"agency_code": {"description": "The institution's code"}},
        "messages": {
            name.replace(":", "_"): {"$ref": f"#/components/messages/{name}"} for name in messages
        },
    }
    operation = _agency_consumer_operation()
    operation["messages"] = [
        {"$ref": f"#/channels/AgencyConsumer/messages/{name.replace(':', '_')}"}
        for name in messages
    ]
    doc["operations"]["AgencyConsumer"] = operation
    return doc


def event_types(doc: dict[str, Any]) -> list[str]:
    """The event types a document declares (its publishers' channels)."""
    return sorted(name for name in doc["channels"] if name != "AgencyConsumer")
