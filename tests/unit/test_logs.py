"""Every line a service writes is one JSON object, whoever wrote it (structlog, uvicorn,
FastStream, nats-py, httpx), and what an event handler logs carries that event's correlation_id
and tracking_id. Run in a child process: logging is configured once per process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.support import ROOT

SCRIPT = textwrap.dedent(
    """
    import asyncio, logging, uuid
    from datetime import UTC, datetime

    from shared.events.base import Actor
    from shared.logs import configure_logging, get_logger
    from shared.runtime.bus import EventConsumer, Service
    from shared.store.port import RecordedEvent

    configure_logging("intake")
    logging.getLogger("uvicorn.error").warning("uvicorn says hello")
    logging.getLogger("faststream").warning("faststream says hello")
    logging.getLogger("faststream.access.nats").warning(
        "faststream access line", extra={"subject": "lapor.v1.events.>", "phone": "+62812"}
    )
    logging.getLogger("nats.aio.client").error("nats says hello")
    logging.getLogger("httpx").warning("httpx says hello")
    get_logger("lapor").info("structlog says hello", tracking_id=None)

    async def react(event):
        get_logger("reaction").info("reacting")
        logging.getLogger("httpx").warning("a library inside the reaction")

    event = RecordedEvent(
        event_id=uuid.uuid4(), event_type="ReportSubmitted", occurred_at=datetime.now(UTC),
        correlation_id="corr-42", causation_id="corr-42", actor=Actor(kind="citizen", id="x"),
        data={}, stream="report-7XK4PQ2MHT", stream_version=1, prev_hash="", hash="", position=1,
    )
    consumer = EventConsumer("intake", Service(react=react), None, None)
    asyncio.run(consumer._react(event))
    get_logger("after").info("after the event")
    """
)


def test_every_line_is_json_and_an_event_handlers_lines_carry_its_ids() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # no coloured or plain line in between
    assert all(record["service"] == "intake" for record in records)
    said = {record["event"]: record for record in records}
    for text in (
        "uvicorn says hello",
        "faststream says hello",
        "faststream access line",
        "nats says hello",
        "httpx says hello",
        "structlog says hello",
    ):
        assert text in said, text
    assert said["faststream access line"]["subject"] == "lapor.v1.events.>"  # its context kept
    assert said["faststream access line"]["phone"] == "[redacted]"  # never personal data
    for text in ("reacting", "a library inside the reaction"):
        assert said[text]["correlation_id"] == "corr-42"
        assert said[text]["tracking_id"] == "7XK4PQ2MHT"
    assert "correlation_id" not in said["after the event"]  # unbound once handled
