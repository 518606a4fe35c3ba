"""A view file of an older schema is dropped and rebuilt from the store when the service starts
(the desk's columns for returned reports came with issue 16): in process."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from services.verification.views import VERSION
from tests.driver import driving
from tests.harness import in_process


async def test_an_older_desk_view_is_rebuilt_before_the_service_starts(tmp_path: Path) -> None:
    data = tmp_path / "lapor"
    async with in_process(data, ("intake", "verification")) as lapor, driving(lapor) as drive:
        report = await drive.submit()
    # The view as an older release left it: no returned-report columns, version 0.
    old = sqlite3.connect(data / "verification.db")
    old.executescript(
        "DROP TABLE desk_reports; PRAGMA user_version = 0;"
        "CREATE TABLE desk_reports (tracking_id TEXT PRIMARY KEY, status TEXT);"
    )
    assert old.execute("SELECT position FROM checkpoint").fetchone()[0] > 0  # caught up once
    old.close()
    async with in_process(data, ("intake", "verification")) as lapor, driving(lapor) as drive:
        version = sqlite3.connect(data / "verification.db").execute("PRAGMA user_version")
        assert version.fetchone()[0] == VERSION
        [row] = await drive.queue()
        assert row["tracking_id"] == report.tracking_id and row["deadline_stage"] == "verification"
