"""NATS JetStream: the one declaration of the LAPOR_EVENTS stream, subjects, and connections.

The relay is the only publisher of events and the only place that declares the stream; services
consume it with durable pull consumers and wait for it to exist.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from shared.logs import get_logger
from shared.store.port import RecordedEvent

STREAM_NAME = "LAPOR_EVENTS"
SUBJECT_PREFIX = "lapor.v1.events"
ALL_EVENTS = f"{SUBJECT_PREFIX}.>"
DEAD_LETTER_PREFIX = "lapor.v1.deadletter"
DUPLICATE_WINDOW_SECONDS = 15 * 60
POSITION_HEADER = "Lapor-Position"
# A durable consumer per institution (over a thousand) besides the services': nats-server caps a
# stream whose max_consumers is left unset (-1) at 1000, so the stream says how many it allows.
MAX_CONSUMERS = 20_000

_TOKEN = re.compile(r"^[A-Za-z0-9-]+$")
log = get_logger(__name__)


def subject_token(value: str | None) -> str:
    # Subject tokens must not contain dots, spaces or wildcards; anything odd becomes "_".
    if value and _TOKEN.match(value):
        return value
    return "_"


def subject_for(event: RecordedEvent) -> str:
    """lapor.v1.events.<EventType>.<region_code or _>.<agency_code or _>"""
    return (
        f"{SUBJECT_PREFIX}.{subject_token(event.event_type)}."
        f"{subject_token(event.region_code)}.{subject_token(event.agency_code)}"
    )


def stream_config(replicas: int = 1) -> StreamConfig:
    return StreamConfig(
        name=STREAM_NAME,
        subjects=[ALL_EVENTS],
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        max_consumers=MAX_CONSUMERS,
        num_replicas=replicas,
        description="Every LAPOR event, in the event store's global order (published by the relay)",
    )


async def declare_event_stream(js: JetStreamContext, replicas: int = 1) -> None:
    """The one place the stream is declared (called by the relay)."""
    config = stream_config(replicas)
    try:
        await js.stream_info(STREAM_NAME)
        await js.update_stream(config)
    except NotFoundError:
        await js.add_stream(config)


async def wait_for_event_stream(js: JetStreamContext, timeout: float = 120.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    delay = 0.1
    while True:
        try:
            await js.stream_info(STREAM_NAME)
            return
        except NotFoundError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            log.info("waiting_for_event_stream", stream=STREAM_NAME)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def release_unacked(nc: NatsClient, js: JetStreamContext, durable: str) -> int:
    """Take back what a killed predecessor held: reset the durable to its ack floor.

    Messages delivered to a process that died stay "pending" on the server until `ack_wait`
    (minutes) runs out, and while `max_ack_pending` of them are held the consumer delivers
    nothing at all: a service restarted after a crash would see no event for that long. When no
    one else is pulling from the durable, what is pending belongs to the dead, so the consumer is
    reset to its ack floor (nats-server 2.14+, ADR-60) and redelivers it at once; handlers skip
    what their checkpoint already holds. Returns how many messages were released (0 when there
    was nothing to do, or the server cannot or may not reset: then `ack_wait` applies).
    """
    try:
        info = await js.consumer_info(STREAM_NAME, durable)
    except NotFoundError:
        return 0
    held = int(info.num_ack_pending or 0)
    if held == 0 or (info.num_waiting or 0) > 0:
        return 0
    try:
        reply = await nc.request(f"$JS.API.CONSUMER.RESET.{STREAM_NAME}.{durable}", b"", timeout=5)
        answer = json.loads(reply.data or b"{}")
    except Exception as error:  # no such API (older server), no permission, timeout
        log.warning("consumer_reset_failed", consumer=durable, error=type(error).__name__)
        return 0
    if "error" in answer:
        log.warning("consumer_reset_refused", consumer=durable, error=answer["error"])
        return 0
    log.info("consumer_reset", consumer=durable, released=held)
    return held


_shutting_down = False


def mark_shutting_down() -> None:
    """Called when the process stops on purpose, so a closed connection is not an error."""
    global _shutting_down
    _shutting_down = True


def _exit_when_closed_for_good() -> None:
    # With max_reconnect_attempts=-1 the client closes only when told to, or when the
    # connection is beyond repair: then the process stops and its supervisor restarts it.
    if _shutting_down:
        return
    log.error("nats_connection_closed")
    os.kill(os.getpid(), signal.SIGTERM)


def connection_options(name: str, credentials: dict[str, str] | None = None) -> dict[str, Any]:
    """nats.py options; `credentials` (`user`, `password`) when the URL carries none."""

    async def closed_cb() -> None:
        _exit_when_closed_for_good()

    async def disconnected_cb() -> None:
        log.warning("nats_disconnected")

    async def reconnected_cb() -> None:
        log.info("nats_reconnected")

    async def error_cb(error: Exception) -> None:
        log.warning("nats_error", error=str(error))

    return {
        "name": name,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 1,
        "connect_timeout": 5,
        "closed_cb": closed_cb,
        "disconnected_cb": disconnected_cb,
        "reconnected_cb": reconnected_cb,
        "error_cb": error_cb,
        **(credentials or {}),
    }


async def connect(url: str, name: str, credentials: dict[str, str] | None = None) -> NatsClient:
    return await nats.connect(servers=url.split(","), **connection_options(name, credentials))


def _fetch_timeouts_as_nats_errors() -> None:
    """Work around nats-py 2.16 + FastStream 0.7.8: `PullSubscription.fetch` may raise a bare
    `asyncio.TimeoutError` (nats/js/client.py, the lingering-request path), but FastStream's pull
    loop only catches `nats.errors.TimeoutError`. The loop then crashes and is restarted, and the
    partial batch it had already fetched is dropped unacknowledged: JetStream redelivers it only
    after `ack_wait`, when the consumer's checkpoint has moved past it, so a view loses events and
    a reaction runs minutes late. Re-raising the timeout as the nats error keeps the batch."""
    from nats.errors import TimeoutError as NatsTimeoutError
    from nats.js.client import JetStreamContext

    pull = JetStreamContext.PullSubscription
    original = pull.fetch
    if getattr(original, "_lapor_timeout_fix", False):
        return

    async def fetch(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await original(self, *args, **kwargs)
        except NatsTimeoutError:
            raise
        except TimeoutError as error:  # asyncio.TimeoutError is TimeoutError since 3.11
            raise NatsTimeoutError from error

    fetch._lapor_timeout_fix = True  # type: ignore[attr-defined]
    pull.fetch = fetch  # type: ignore[method-assign]


_fetch_timeouts_as_nats_errors()
