"""A service whose views must be rebuilt when it starts (its view schema changed in an upgrade)
replays the store in a child process: the views are complete once the service says it is ready,
and the service itself never holds the replay's memory. A replay in the service's own process
left it at two to three times its idle size for the rest of its life (CPython keeps an arena
while anything in it lives; verification held ≈ 210 MB after 20,000 events, sla 287 MB after
100,000, against ≈ 100 MB idle)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from bench.common import _generate
from services.intake import views as intake_views
from services.verification import views as desk_views
from shared.runtime.rebuild import rebuild_here
from shared.settings import Settings
from tests.support import nats_server, start_system
from tests.view_batches import view_rows

REPORTS = 4000  # ≈ 20,000 events: a replay in the service's own process would take it past 200 MB
PEAK_MB = 150  # what the service may reach at its busiest while starting (idle: ≈ 100 MB)


def peak_resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc")


# Each service's view file as an older release left it: the previous schema, a position reached.
OLD_VIEWS = {
    "verification": (
        desk_views.TABLES,
        "CREATE TABLE checkpoint (name TEXT PRIMARY KEY, position INTEGER NOT NULL);"
        "CREATE TABLE desk_reports (tracking_id TEXT PRIMARY KEY);"
        "INSERT INTO checkpoint VALUES ('verification', 7);"
        f"PRAGMA user_version = {desk_views.VERSION - 1};",
    ),
    "intake": (
        tuple(t for t in intake_views.TABLES if t != "reports_fts"),  # its rows are rowids
        "CREATE TABLE checkpoint (name TEXT PRIMARY KEY, position INTEGER NOT NULL);"
        "CREATE TABLE reports (tracking_id TEXT PRIMARY KEY, status TEXT);"
        "INSERT INTO checkpoint VALUES ('intake', 7);"
        f"PRAGMA user_version = {intake_views.VERSION - 1};",
    ),
}


@pytest.mark.parametrize("service", sorted(OLD_VIEWS))
def test_views_of_an_older_schema_are_rebuilt_in_a_child_and_the_service_stays_small(
    tmp_path: Path, service: str
) -> None:
    tables, old_schema = OLD_VIEWS[service]
    data = tmp_path / "data"
    data.mkdir()
    store = data / "events.db"
    _generate(store, events=None, reports=REPORTS, progress=1.0, seed=11)
    events = sqlite3.connect(store).execute("SELECT count(*) FROM events").fetchone()[0]

    # What a rebuild makes, for comparison (in this process: the test's memory does not matter).
    reference = Settings(data_dir=tmp_path / "reference", event_store=f"sqlite:///{store}")
    assert rebuild_here(f"services.{service}.bootstrap", reference, service) == events

    old = sqlite3.connect(data / f"{service}.db")
    old.executescript(old_schema)
    old.close()

    quiet = {"LAPOR_AUDIT_CHECKPOINT_SECONDS": "3600"}  # no new event while the views are read
    with nats_server(tmp_path) as nats:
        system = start_system(data, nats.url, (service,), extra_env=quiet)
        try:
            pid = system.processes[service].pid
            rebuilt = [
                json.loads(line)
                for line in system.log(service).splitlines()
                if "views_rebuilt_after_upgrade" in line
            ]
            # Every event, with the few the relay's start added (its first audit checkpoint…).
            assert len(rebuilt) == 1 and events <= rebuilt[0]["events"] < events + 20
            assert view_rows(data / f"{service}.db", tables) == view_rows(
                reference.view_db(service), tables
            )
            assert peak_resident_mb(pid) < PEAK_MB, system.log(service)[-2000:]
        finally:
            system.stop_all()
