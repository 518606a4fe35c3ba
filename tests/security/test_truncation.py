"""Deleting a report's newest event is caught, and named (issue 18, #6).

A stream's hash chain stays intact when its newest event is deleted, so `lapor audit verify ID`
passed and the evidence pack said `verified: true` with the wrong status; only the global audit
saw a gap in the positions, without naming the report. The relay now appends signed checkpoints
(`StoreCheckpointed`: a digest chain over the global order and a Merkle root over the heads of
the streams that changed, Ed25519-signed) and publishes them to JetStream like every event.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats as nats_client

from services.relay.audit import Checkpointer, StandingFile
from shared.audit.checkpoints import head_evidence_holds
from shared.audit.events import CHECKPOINT_STREAM
from shared.events.base import Actor
from shared.reports.events import ReportCompletionRequested
from shared.runtime.messaging import STREAM_NAME
from shared.signing import Signer, verify_bytes
from shared.store.port import NewEvent
from shared.store.sqlite import SqliteEventStore
from tests.driver import driving
from tests.harness import InProcessSystem, in_process
from tests.support import ROOT, NatsServer, async_wait_for, start_system


async def _checkpoint(lapor: InProcessSystem) -> Checkpointer:
    """What the relay does after publishing: fold the store in and sign a checkpoint."""
    conn = sqlite3.connect(lapor.data_dir / "relay.db", isolation_level=None)
    writer = Checkpointer(
        lapor.store, Signer(lapor.data_dir / "keys"), StandingFile(conn), interval=0
    )
    await writer.start(await lapor.store.last_position())
    await lapor.settle()
    return writer


def _delete_newest(data_dir: Path, stream: str) -> str:
    """The insider: drop the append-only guard, delete the stream's newest event."""
    conn = sqlite3.connect(data_dir / "events.db", isolation_level=None)
    try:
        conn.execute("DROP TRIGGER events_are_append_only_no_delete")
        event_type, version = conn.execute(
            "SELECT event_type, stream_version FROM events WHERE stream = ?"
            " ORDER BY stream_version DESC LIMIT 1",
            (stream,),
        ).fetchone()
        conn.execute(
            "DELETE FROM events WHERE stream = ? AND stream_version = ?", (stream, version)
        )
        return str(event_type)
    finally:
        conn.close()


def _audit(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "audit", "verify", *args],
        cwd=ROOT,
        env={"LAPOR_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def _evidence(lapor: InProcessSystem, tracking_id: str) -> dict[str, Any]:
    async with lapor.client("sla", lapor.token("admin")) as sla:
        got = await sla.get(f"/api/v1/reports/{tracking_id}/evidence.json")
    assert got.status_code == 200, got.text
    document: dict[str, Any] = got.json()
    return document


async def test_a_deleted_newest_event_is_named_by_the_audit_and_the_evidence_pack(
    tmp_path: Path,
) -> None:
    async with in_process(tmp_path / "lapor") as lapor, driving(lapor) as drive:
        report = await drive.submit(category="kesehatan")
        await drive.verify(report.tracking_id)  # verified, then forwarded by routing
        other = await drive.submit()
        await _checkpoint(lapor)
        stream = f"report-{report.tracking_id}"

        before = await _evidence(lapor, report.tracking_id)
        assert before["chain"]["verified"] is True
        assert before["report"]["status"] == "forwarded"
        vouched = before["checkpoint"]
        assert vouched["head"]["stream"] == stream
        assert vouched["head"]["version"] == len(before["trail"])
        public_key = Signer(lapor.data_dir / "keys").public_key_raw
        assert head_evidence_holds(vouched, lambda data, sig: verify_bytes(public_key, data, sig))
        assert _audit(lapor.data_dir, report.tracking_id).returncode == 0

        assert _delete_newest(lapor.data_dir, stream) == "ForwardedToOPD"

        # The report's own audit names it, and so does the whole store's.
        one = _audit(lapor.data_dir, report.tracking_id)
        assert one.returncode == 1, one.stdout + one.stderr
        assert f"{stream}: its newest event(s) were deleted" in one.stdout
        everything = _audit(lapor.data_dir)
        assert everything.returncode == 1
        assert f"{stream}: its newest event(s) were deleted" in everything.stdout
        assert "global order" in everything.stdout
        assert f"report-{other.tracking_id}" not in everything.stdout  # only the culprit

        # The evidence pack no longer vouches for the shortened trail.
        after = await _evidence(lapor, report.tracking_id)
        assert after["report"]["status"] == "verified"  # what the shortened trail says…
        assert after["chain"]["verified"] is False  # …and that it cannot be trusted
        assert any("newest event(s) were deleted" in p for p in after["chain"]["problems"])
        untouched = await _evidence(lapor, other.tracking_id)
        assert untouched["chain"]["verified"] is True


async def test_a_forged_checkpoint_is_refused(tmp_path: Path) -> None:
    async with in_process(tmp_path / "lapor", ("intake",)) as lapor, driving(lapor) as drive:
        await drive.submit()
        await _checkpoint(lapor)
        # Someone without the key signs a checkpoint of their own, continuing the chain.
        forger = Checkpointer(lapor.store, Signer(tmp_path / "not-the-key"), None, interval=0)
        await drive.submit()
        await forger.start(await lapor.store.last_position())
        audit = _audit(lapor.data_dir)
        assert audit.returncode == 1
        assert "signature or heads do not verify" in audit.stdout


def _event(note: str) -> NewEvent:
    return NewEvent.of(
        ReportCompletionRequested(note=note),
        occurred_at=datetime.now(UTC),
        actor=Actor(kind="admin", id="test"),
        correlation_id=str(uuid.uuid4()),
        region_code="5371",
    )


async def test_the_relay_signs_checkpoints_and_publishes_them(
    tmp_path: Path, module_nats: NatsServer
) -> None:
    data = tmp_path / "data"
    system = start_system(
        data, module_nats.url, services=(), extra_env={"LAPOR_AUDIT_CHECKPOINT_SECONDS": "0.2"}
    )
    try:
        store = SqliteEventStore(data / "events.db")
        try:
            await store.append("report-CHKPT2345A", [_event("a"), _event("b")], 0)

            async def checkpointed() -> list[Any]:
                return await store.read(CHECKPOINT_STREAM)

            found = await async_wait_for(checkpointed, 30, what="a signed checkpoint")
            heads = {stream for stream, _, _ in found[0].data["heads"]}
            assert "report-CHKPT2345A" in heads
        finally:
            await store.close()

        async def in_jetstream() -> bool:
            nc = await nats_client.connect(module_nats.url)
            try:
                js = nc.jetstream()
                msg = await js.get_last_msg(STREAM_NAME, "lapor.v1.events.StoreCheckpointed._._")
                return msg is not None
            except Exception:
                return False
            finally:
                await nc.close()

        assert await async_wait_for(in_jetstream, 30, what="the checkpoint in JetStream")
    finally:
        system.stop_all()
