"""What notify's routes do: read the delivery log, and tell whether a reporter may read theirs.

The log joins two sources. The outbox knows what is still on its way (attempt times, the masked
address); the view knows every outcome the event store holds, so a notice whose outbox row was
lost still shows. A notice in both is shown as the outbox has it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime

from services.notify import views
from services.notify.models import Notification
from services.notify.outbox import Outbox, OutboxRow
from shared.auth import access_code_matches
from shared.crypto import KeyStore
from shared.reports.events import ReportSubmitted
from shared.reports.lifecycle import stream_name
from shared.runtime.projection import ViewReader
from shared.store.port import EventStore

# The outbox says `skipped` where the log (and NotificationSkipped's view) says `unreachable`.
_OUTBOX_STATE = {"skipped": "unreachable"}
_LOG_STATUS = {"unreachable": "skipped"}
# The most entries one request reads to fill a regional officer's page.
_MOST_READ = 100_000


class DeliveryLog:
    def __init__(
        self,
        *,
        outbox: Outbox,
        view: ViewReader,
        keys: KeyStore,
        store: EventStore,
        master_secret: bytes,
    ) -> None:
        self.outbox = outbox
        self.view = view
        self.keys = keys
        self.store = store
        self.master_secret = master_secret

    async def reporter_may_read(self, tracking_id: str, access_code: str) -> bool:
        events = await self.store.read(stream_name(tracking_id))
        submitted = events[0].payload() if events else None
        return isinstance(submitted, ReportSubmitted) and access_code_matches(
            self.master_secret, tracking_id, access_code, submitted.access_code_hash
        )

    async def region_of(self, tracking_ids: set[str]) -> dict[str, str | None]:
        """Each report's region now: from the view, else (a report older than the view's
        region table, or not projected yet) from the envelope of its newest stored event."""
        found = await views.regions(self.view, tracking_ids)
        for tracking_id in tracking_ids - found.keys():
            events = await self.store.read(stream_name(tracking_id))
            found[tracking_id] = events[-1].region_code if events else None
        return found

    async def entries(
        self,
        *,
        tracking_id: str | None,
        status: str | None,
        limit: int,
        reporter_only: bool,
        region: str | None = None,
    ) -> list[Notification]:
        """Notices in the report's order (the outbox's first, then outcomes only the store has);
        a reporter sees the notices to them only; a regional officer (`region`) those of the
        reports in their region."""
        if region is None:
            return await self._entries(tracking_id, status, limit, reporter_only)
        # Reports elsewhere are left out; read further until the page is full or all is read.
        fetch = limit
        while True:
            items = await self._entries(tracking_id, status, fetch, reporter_only)
            places = await self.region_of({i.tracking_id for i in items})
            mine = [i for i in items if (places.get(i.tracking_id) or "").startswith(region)]
            if len(mine) >= limit or len(items) < fetch or fetch >= _MOST_READ:
                return mine[:limit]
            fetch = min(fetch * 4, _MOST_READ)

    async def _entries(
        self, tracking_id: str | None, status: str | None, limit: int, reporter_only: bool
    ) -> list[Notification]:
        outbox_state = _LOG_STATUS.get(status or "", status)
        rows = await asyncio.to_thread(self.outbox.rows_for, tracking_id, outbox_state, limit)
        erased = {
            tid: await asyncio.to_thread(self.keys.is_erased, tid)
            for tid in {r.tracking_id for r in rows}
        }
        merged = {str(r.notification_id): _from_outbox(r, erased[r.tracking_id]) for r in rows}
        for row in await views.outcomes(self.view, tracking_id, status, limit):
            merged.setdefault(row["notification_id"], _from_view(row))
        items = list(merged.values())
        if reporter_only:
            items = [i for i in items if i.recipient == "reporter"]
        return items[:limit]


def _iso_epoch(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).isoformat() if epoch is not None else None


def _from_outbox(row: OutboxRow, erased: bool) -> Notification:
    # The mask of an erased reporter's address goes with their key.
    masked = None if erased and row.recipient_kind == "reporter" else row.recipient_masked
    return Notification.model_validate(
        {
            "notification_id": str(row.notification_id),
            "tracking_id": row.tracking_id,
            "event_type": row.cause_event_type,
            "cause_event_id": str(row.cause_event_id),
            "recipient": row.recipient_kind,
            "agency_code": row.agency_code,
            "recipient_masked": masked,
            "channel": row.channel,
            "template": row.template,
            "language": row.language,
            "status": _OUTBOX_STATE.get(row.state, row.state),
            "attempts": row.attempts,
            "detail": row.detail,
            "possible_duplicate": row.possible_duplicate,
            "recorded": row.recorded,
            "correlation_id": row.correlation_id,
            "created_at": row.created_at,
            "first_attempt_at": row.first_attempt_at,
            "last_attempt_at": row.last_attempt_at,
            "next_attempt_at": _iso_epoch(row.next_attempt_epoch),
            "completed_at": row.completed_at,
        }
    )


def _from_view(row: sqlite3.Row) -> Notification:
    # Only the outcome is in the store: no address, no attempt times.
    return Notification.model_validate(
        {
            "notification_id": row["notification_id"],
            "tracking_id": row["tracking_id"],
            "event_type": row["cause_event_type"],
            "cause_event_id": row["cause_event_id"],
            "recipient": row["recipient_kind"],
            "agency_code": row["agency_code"],
            "recipient_masked": None,
            "channel": row["channel"],
            "template": row["template"],
            "language": row["language"],
            "status": row["status"],
            "attempts": row["attempts"],
            "detail": row["detail"],
            "possible_duplicate": bool(row["possible_duplicate"]),
            "recorded": True,
            "correlation_id": row["correlation_id"],
            "created_at": None,
            "first_attempt_at": None,
            "last_attempt_at": None,
            "next_attempt_at": None,
            "completed_at": row["completed_at"],
        }
    )
