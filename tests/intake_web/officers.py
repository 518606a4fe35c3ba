"""Acting as the other services would (admin, agency) by appending to the shared store directly,
so intake's tests need only intake running (in process: `tests/harness.py`)."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.clock import FixedClock
from shared.events.base import Actor
from shared.reports.commands import Command
from shared.runtime.repository import Meta, ReportRepository
from tests.harness import InProcessSystem


async def act(
    lapor: InProcessSystem, tracking_id: str, command: Command, kind: str = "admin"
) -> None:
    """Run `command` on the report as an officer of `kind`, then deliver it to the services."""
    repo = ReportRepository(lapor.store, FixedClock(datetime.now(UTC)))
    actor = Actor.model_validate({"kind": kind, "id": f"{kind}-test"})
    await repo.execute(tracking_id, command, Meta(actor=actor, correlation_id="test"))
    await lapor.settle()
