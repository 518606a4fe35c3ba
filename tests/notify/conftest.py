"""Real peers for notify's tests: Kannel with a fake SMSC, and an SMTP server; and what the
services running in the test's own process log."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


@pytest.fixture
def service_log(request: pytest.FixtureRequest) -> Callable[[], str]:
    """Everything logged during this test so far by the services running in this process.

    They log JSON lines to stderr, which pytest captures for the whole session; the reader takes
    them from there (and shows them with the test's report, as pytest would)."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    taken: list[str] = []

    def read() -> str:
        assert capture is not None and capture.is_globally_capturing(), (
            "reading the services' log needs pytest's output capture (run without -s)"
        )
        out, err = capture.read_global_capture()
        taken.append(err)
        request.node.add_report_section("call", "stdout", out)
        request.node.add_report_section("call", "stderr (read by the test)", err)
        return "".join(taken)

    return read
