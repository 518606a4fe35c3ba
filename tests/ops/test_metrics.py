"""The shared metrics LAPOR adds for operations, told as small stories: the relay counts a report's
lifecycle once per event and times it; a durable consumer's lag is read from the server; every
append to the store is timed."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.js.api import ConsumerConfig, StreamConfig
from prometheus_client import REGISTRY

from services.relay.lifecycle import LifecycleMetrics, agency_label, province_of
from shared.events.base import Actor
from shared.metrics import TimedAppends
from shared.reports.events import Classification, ReportSubmitted
from shared.reports.lifecycle import stream_name
from shared.reports.tracking import new_tracking_id
from shared.runtime.consumer_metrics import poll_consumer_metrics
from shared.store.port import NO_STREAM, NewEvent
from shared.store.sqlite import SqliteEventStore
from shared.values import Channel
from tests.support import NatsServer, async_wait_for

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@dataclass
class Event:
    event_type: str
    occurred_at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    stream: str = "report-TEST"
    region_code: str | None = None
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)


class Report:
    """One report's stream, published event by event as the relay would."""

    def __init__(self) -> None:
        self.lifecycle = LifecycleMetrics()

    async def publish(self, event_type: str, at: datetime, **data: Any) -> None:
        self.lifecycle.observe([Event(event_type, at, data)])


async def test_a_report_is_counted_once_per_step_and_each_step_is_timed() -> None:
    submitted = sample(
        "lapor_reports_submitted_total", channel="sms", classification="complaint", province="53"
    )
    forwards = sample("lapor_time_to_forward_seconds_count")
    forward_sum = sample("lapor_time_to_forward_seconds_sum")
    follow_ups = sample("lapor_time_to_first_follow_up_seconds_count")
    follow_up_sum = sample("lapor_time_to_first_follow_up_seconds_sum")
    to_dinkes = sample("lapor_reports_forwarded_total", agency="DINKES-KOTA-KUPANG")
    to_dpupr = sample("lapor_reports_forwarded_total", agency="DPUPR-KOTA-KUPANG")

    report = Report()
    await report.publish(
        "ReportSubmitted",
        T0,
        channel="sms",
        classification="complaint",
        location={"region_code": "53.71"},
    )
    await report.publish("ReportVerified", T0 + 2 * HOUR)
    await report.publish("ForwardedToOPD", T0 + 3 * HOUR, agency_code="DINKES-KOTA-KUPANG")
    await report.publish("FollowUpPosted", T0 + 27 * HOUR, agency_code="DINKES-KOTA-KUPANG")
    await report.publish("FollowUpPosted", T0 + 50 * HOUR, agency_code="DINKES-KOTA-KUPANG")
    # Transferred: the new institution's first follow-up is timed from the transfer.
    await report.publish(
        "ReportTransferred",
        T0 + 60 * HOUR,
        from_agency="DINKES-KOTA-KUPANG",
        to_agency="DPUPR-KOTA-KUPANG",
    )
    await report.publish("FollowUpPosted", T0 + 64 * HOUR, agency_code="DPUPR-KOTA-KUPANG")
    # Forwarded again after a return: not a *first* forward, so not timed again.
    await report.publish("ReportReturned", T0 + 70 * HOUR, agency_code="DPUPR-KOTA-KUPANG")
    await report.publish("ForwardedToOPD", T0 + 71 * HOUR, agency_code="DINKES-KOTA-KUPANG")

    assert (
        sample(
            "lapor_reports_submitted_total",
            channel="sms",
            classification="complaint",
            province="53",
        )
        == submitted + 1
    )
    assert sample("lapor_time_to_forward_seconds_count") == forwards + 1
    assert sample("lapor_time_to_forward_seconds_sum") == forward_sum + 3600
    assert sample("lapor_time_to_first_follow_up_seconds_count") == follow_ups + 2
    assert (
        sample("lapor_time_to_first_follow_up_seconds_sum") == follow_up_sum + 24 * 3600 + 4 * 3600
    )
    assert sample("lapor_reports_forwarded_total", agency="DINKES-KOTA-KUPANG") == to_dinkes + 2
    assert sample("lapor_reports_forwarded_total", agency="DPUPR-KOTA-KUPANG") == to_dpupr + 1
    assert sample("lapor_report_status_changes_total", status="returned") >= 1


async def test_labels_stay_bounded_and_odd_events_never_stop_the_relay() -> None:
    assert province_of("5371") == "53" and province_of("53.71.01") == "53"
    assert province_of(None) == "_" and province_of("jakarta") == "_" and province_of("5") == "_"
    assert agency_label("DINKES-KOTA-KUPANG") == "DINKES-KOTA-KUPANG"
    assert agency_label("dinkes kota; DROP") == "_" and agency_label(None) == "_"

    before = sample("lapor_report_status_changes_total", status="followed_up")
    odd = Event("FollowUpPosted", T0, {"agency_code": 42})
    broken = Event("ReportSubmitted", T0, {"location": "not a mapping"})
    LifecycleMetrics().observe([odd, Event("SomethingNew", T0), broken])  # no exception
    assert sample("lapor_report_status_changes_total", status="followed_up") == before + 1
    # Finished reports leave the relay's memory; past its capacity the oldest are forgotten.
    bounded = LifecycleMetrics(capacity=3)
    for i in range(5):
        bounded.observe([Event("ReportSubmitted", T0, stream=f"report-R{i}")])
    bounded.observe([Event("ReportClosed", T0, stream="report-R4")])
    assert len(bounded) == 2
    # Every status series exists from the first batch on, so increase() sees the first step.
    assert (
        REGISTRY.get_sample_value("lapor_report_status_changes_total", {"status": "closed"})
        is not None
    )


async def test_a_durables_lag_is_read_from_the_server(nats: NatsServer) -> None:
    suffix = uuid.uuid4().hex[:8]
    stream, durable = f"OPS_{suffix}", f"ops-{suffix}"
    nc = await nats_connect(nats.url)
    js = nc.jetstream(timeout=5)
    await js.add_stream(StreamConfig(name=stream, subjects=[f"ops.{suffix}.>"]))
    for i in range(5):
        await js.publish(f"ops.{suffix}.e", str(i).encode())
    sub = await js.pull_subscribe(
        f"ops.{suffix}.>", durable=durable, stream=stream, config=ConsumerConfig(ack_wait=30)
    )
    poller = asyncio.create_task(poll_consumer_metrics(js, durable, interval=0.05, stream=stream))
    try:
        await async_wait_for(
            lambda: _equals(sample("lapor_consumer_pending_messages", durable=durable), 5),
            10,
            what="5 pending",
        )
        assert (
            sample(
                "lapor_consumer_dead_letters_total", service=durable, event_type="max_deliveries"
            )
            == 0
        )
        messages = await sub.fetch(2, timeout=5)
        for message in messages:
            await message.ack_sync()
        await async_wait_for(
            lambda: _equals(sample("lapor_consumer_ack_floor_sequence", durable=durable), 2),
            10,
            what="ack floor 2",
        )
        assert sample("lapor_consumer_pending_messages", durable=durable) == 3
        assert sample("lapor_consumer_ack_pending_messages", durable=durable) == 0
    finally:
        poller.cancel()
        await asyncio.gather(poller, return_exceptions=True)
        await js.delete_stream(stream)
        await nc.close()
    # A durable that does not exist: counted as an error, the poller carries on.
    errors = sample("lapor_consumer_info_errors_total", durable=durable)
    nc = await nats_connect(nats.url)
    poller = asyncio.create_task(
        poll_consumer_metrics(nc.jetstream(timeout=1), durable, 0.05, stream)
    )
    try:
        await async_wait_for(
            lambda: _equals(
                sample("lapor_consumer_info_errors_total", durable=durable) > errors, True
            ),
            10,
            what="an info error counted",
        )
        assert not poller.done()
    finally:
        poller.cancel()
        await asyncio.gather(poller, return_exceptions=True)
        await nc.close()


async def test_every_append_is_timed(tmp_path: Path) -> None:
    store = TimedAppends(SqliteEventStore(tmp_path / "events.db"), "ops-test")
    before = sample("lapor_store_append_duration_seconds_count", service="ops-test")
    tracking_id = new_tracking_id()
    payload = ReportSubmitted(
        tracking_id=tracking_id,
        classification=Classification.COMPLAINT,
        title="Lampu jalan mati",
        body="Lampu jalan mati sejak seminggu.",
        channel=Channel.WEB,
        access_code_hash="x" * 64,
    )
    event = NewEvent.of(
        payload, occurred_at=T0, actor=Actor(kind="citizen", id="c"), correlation_id="ops-test"
    )
    try:
        stored = await store.append(stream_name(tracking_id), [event], NO_STREAM)
        assert [e.event_id for e in await store.read(stream_name(tracking_id))] == [
            stored[0].event_id
        ]
        assert await store.last_position() == stored[0].position
    finally:
        await store.close()
    assert sample("lapor_store_append_duration_seconds_count", service="ops-test") == before + 1


async def nats_connect(url: str) -> NatsClient:
    return await nats.connect(url, connect_timeout=5)


async def _equals(value: object, expected: object) -> bool:
    return value == expected
