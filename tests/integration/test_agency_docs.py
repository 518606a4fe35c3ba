"""The worked example of docs/agency-integration.md, run as it is written, against nats-server
configured as in deploy/ (`lapor nats serve --base deploy/nats/single.conf`, its ports and
store moved to the test's own) with the relay, intake, verification and routing."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import types
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from tests.driver import driving, eventually
from tests.routing.steps import DINKES, forwarded
from tests.support import ROOT, LaporNats, System, free_port, start_system

DOC = ROOT / "docs" / "agency-integration.md"


def the_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 1, "the page has one Python example"
    return blocks[0]


def deploy_config(tmp: Path, port: int) -> Path:
    """deploy/nats/single.conf on the test's port and store (nothing else changed)."""
    text = (ROOT / "deploy" / "nats" / "single.conf").read_text()
    text = text.replace("0.0.0.0:4222", f"127.0.0.1:{port}")
    text = text.replace("0.0.0.0:8222", f"127.0.0.1:{free_port()}")
    text = text.replace("/data/jetstream", json.dumps(str(tmp / "jetstream")))
    text = re.sub(r"max_file_store: \S+", "max_file_store: 1G", text)
    path = tmp / "single.conf"
    path.write_text(text)
    return path


@pytest.fixture
def system(tmp_path: Path) -> Iterator[tuple[LaporNats, System]]:
    port = free_port()
    server = LaporNats(port, tmp_path / "data", base=deploy_config(tmp_path, port)).start()
    try:
        running = start_system(
            server.data_dir,
            server.url,
            ("intake", "verification", "routing"),
            extra_env={"LAPOR_AGENCY_CONSUMERS": "true"},
        )
        try:
            yield server, running
        finally:
            running.stop_all()
    finally:
        server.stop()


async def test_the_documented_example_receives_its_institutions_events(
    system: tuple[LaporNats, System], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, running = system
    url = server.credentials("--agency", DINKES)
    async with driving(running) as drive:
        tracking_id, agency = await forwarded(
            drive, "Obat di puskesmas habis", region="5371", category="kesehatan"
        )
        assert agency == DINKES
        assert (await drive.follow_up(tracking_id, DINKES, "Obat dikirim.")).status_code == 201

    async def consumer_ready() -> bool:  # the relay makes 1000+ consumers after a fresh start
        nc = await nats.connect(url, inbox_prefix=f"_INBOX.agency-{DINKES}")
        try:
            await nc.jetstream().consumer_info("LAPOR_EVENTS", f"agency-{DINKES}")
            return True
        finally:
            await nc.close()

    await eventually(consumer_ready, 60, what="the institution's consumer")
    monkeypatch.setenv("LAPOR_AGENCY_NATS_URL", url)
    monkeypatch.setenv("LAPOR_AGENCY", DINKES)
    example = types.ModuleType("agency_example")
    exec(compile(the_example(), str(DOC), "exec"), example.__dict__)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        await asyncio.wait_for(example.main(stop_after=2), timeout=60)
    lines = printed.getvalue().splitlines()
    assert any(
        line.startswith(f"new report {tracking_id} first follow-up due 20") for line in lines
    ), lines
    assert f"FollowUpPosted {tracking_id}" in lines
