"""Acting as the other services would (admin, agency) by appending to the shared store directly,
so intake's tests need only intake running (in process: `tests/harness.py`)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from shared.clock import FixedClock
from shared.events.base import Actor
from shared.reports.commands import Command, ForwardReport, VerifyReport
from shared.reports.events import Status
from shared.runtime.repository import Meta, ReportRepository
from tests.harness import InProcessSystem

DUE = date(2099, 1, 5)


async def act(
    lapor: InProcessSystem, tracking_id: str, command: Command, kind: str = "admin"
) -> None:
    """Run `command` on the report as an officer of `kind`, then deliver it to the services."""
    repo = ReportRepository(lapor.store, FixedClock(datetime.now(UTC)))
    actor = Actor.model_validate({"kind": kind, "id": f"{kind}-test"})
    await repo.execute(tracking_id, command, Meta(actor=actor, correlation_id="test"))
    await lapor.settle()


async def publish(
    lapor: InProcessSystem, tracking_id: str, agency: str = "DINKES-KOTA-KUPANG"
) -> None:
    """Verify and forward the report, as the desk and routing would: from then on it is public
    (DESIGN §9: only forwarded reports are published)."""
    await act(lapor, tracking_id, VerifyReport())
    state, _ = await ReportRepository(lapor.store, FixedClock(datetime.now(UTC))).load(tracking_id)
    if state is not None and state.status is not Status.VERIFIED:
        return  # routing runs here and forwarded it already
    await act(
        lapor,
        tracking_id,
        ForwardReport(
            agency_code=agency, agency_name="Dinas Kesehatan Kota Kupang", follow_up_due=DUE
        ),
        kind="system",
    )
