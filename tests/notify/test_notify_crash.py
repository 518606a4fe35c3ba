"""Notify as a real process, killed mid-stream: relay, intake and notify on a real nats-server,
sending through the real Kannel (fakesmsc is the reporters' handset).

A SIGKILL between two sends is what only a real process can show: the outbox on disk is all a
restart has, and nothing may be lost or sent twice beyond the one-request window the log owns
up to. (Everything else about deliveries runs in process: test_delivery.py.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from pathlib import Path

from shared.reports.commands import VerifyReport
from shared.values import Channel
from tests.intake_channels.kannel import KannelGateway
from tests.notify.harness import FAST_RETRIES, PUBLIC, WAIT, Hands, outcomes_settled, sentinel
from tests.support import NatsServer, System, async_wait_for, start_system


@contextmanager
def lapor_system(tmp_path: Path, nats: NatsServer, env: dict[str, str]) -> Iterator[System]:
    system = start_system(
        tmp_path / "data",
        nats.url,
        services=("intake", "notify"),
        extra_env={"LAPOR_PUBLIC_BASE_URL": PUBLIC, **FAST_RETRIES, **env},
    )
    try:
        yield system
    finally:
        system.stop_all()
        print(system.log("notify")[-4000:])


@asynccontextmanager
async def hands(system: System) -> AsyncIterator[Hands]:
    lapor = Hands.on(system.data_dir, system.secret)
    try:
        yield lapor
    finally:
        await lapor.close()


async def test_killing_notify_mid_stream_loses_and_duplicates_nothing(
    tmp_path: Path, fresh_nats: NatsServer, kannel: KannelGateway
) -> None:
    # A slow SMS channel (3 per second) so the kill lands while most notices still wait.
    env = {
        "LAPOR_SMS_SENDSMS_URL": kannel.sendsms_url,
        "LAPOR_NOTIFY_RATE_LIMITS": '{"sms": 3}',
        "LAPOR_NOTIFY_RATE_BURST": "1",
    }
    phones = [f"+628110000{i:04d}" for i in range(12)]
    with lapor_system(tmp_path, fresh_nats, env) as system, kannel.handset() as phone:
        async with hands(system) as lapor:
            # Web reporters who left only a phone number: every notice goes by SMS.
            reports = [await lapor.submit(Channel.WEB, {"phone": p}) for p in phones]
            # A few notices out, then SIGKILL between two sends.
            phone.wait_for(
                lambda m: len([r for r in phone.received if r.to in phones]) >= 2, timeout=WAIT
            )
            system.kill("notify")
            unfinished = _unfinished_notices(system)
            assert unfinished > 0, "the kill came too late to test anything"
            # The stream goes on while notify is dead...
            for report in reports:
                await lapor.do(report.tracking_id, VerifyReport())
            # ...and notify comes back to it.
            system.start("notify")
            system.wait_ready("notify")
            for report in reports:
                await async_wait_for(
                    outcomes_settled(lapor, report.tracking_id, 2),
                    timeout=WAIT,
                    what=f"both notices of {report.tracking_id}",
                )
            got = sentinel(kannel, phone)
            outcomes = [e for r in reports for e in await lapor.outcomes(r.tracking_id)]

        assert len(outcomes) == 24 and all(e.event_type == "NotificationSent" for e in outcomes)
        assert len({e.data["notification_id"] for e in outcomes}) == 24
        maybe_twice = {
            (e.data["tracking_id"], e.data["template"])
            for e in outcomes
            if e.data["possible_duplicate"]
        }
        for report, number in zip(reports, phones, strict=True):
            for template, word in (("received", "diterima"), ("verified", "diverifikasi")):
                copies = [
                    m
                    for m in got
                    if m.to == number and report.tracking_id in m.text and word in m.text
                ]
                # Nothing lost; a second copy only where the log owns up to the telco window.
                allowed = 2 if (report.tracking_id, template) in maybe_twice else 1
                assert 1 <= len(copies) <= allowed, (report.tracking_id, template, copies)


def _unfinished_notices(system: System) -> int:
    """Notices planned but not yet recorded, in the outbox a killed notify left behind."""
    path = system.data_dir / "notify_outbox.db"
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM outbox WHERE recorded = 0").fetchone()[0])
