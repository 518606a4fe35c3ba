"""Acting as the other services would (admin, agency) by appending to the shared store directly,
so intake's tests need only intake running."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

from shared.clock import FixedClock
from shared.events.base import Actor
from shared.reports.commands import Command
from shared.runtime.repository import Meta, ReportRepository
from shared.store import open_store


def act(data_dir: Path, tracking_id: str, command: Command, kind: str = "admin") -> None:
    async def run() -> None:
        store = open_store(f"sqlite:///{(data_dir / 'events.db').resolve()}")
        try:
            repo = ReportRepository(store, FixedClock(datetime.now(UTC)))
            actor = Actor.model_validate({"kind": kind, "id": f"{kind}-test"})
            meta = Meta(actor=actor, correlation_id="test")
            await repo.execute(tracking_id, command, meta)
        finally:
            await store.close()

    asyncio.run(run())


def forward_and_follow_up(data_dir: Path, tracking_id: str, due: date, agency: str) -> None:
    from shared.reports.commands import ForwardReport, PostFollowUp, VerifyReport

    act(data_dir, tracking_id, VerifyReport())
    act(
        data_dir,
        tracking_id,
        ForwardReport(agency_code=agency, agency_name=f"Dinas {agency}", follow_up_due=due),
    )
    act(
        data_dir,
        tracking_id,
        PostFollowUp(agency_code=agency, text="Sudah kami periksa dan perbaiki."),
        kind="agency",
    )
