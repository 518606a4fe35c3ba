"""Real peers for notify's end-to-end tests: Kannel with a fake SMSC, and an SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.intake_channels.kannel import KannelGateway, require_kannel
from tests.notify.harness import SmtpSink


@pytest.fixture
def kannel(tmp_path: Path) -> Iterator[KannelGateway]:
    """bearerbox + smsbox + fake SMSC on free ports. Without Kannel: skip, but fail under CI."""
    require_kannel()
    # Notify only sends (sendsms); the citizen-to-1708 direction is not used here.
    with KannelGateway(tmp_path / "kannel", "http://127.0.0.1:9") as gateway:
        yield gateway


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()
