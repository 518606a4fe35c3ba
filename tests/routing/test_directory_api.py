"""The directory through routing's API and `lapor directory import`, in process: every change is
an audited event on the `directory` stream, and routing follows it at once."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from services.routing.directory_import import run_import
from shared.directory.model import DirectoryError, default_directory
from shared.runtime.bus import read_range
from tests.driver import Driver
from tests.harness import InProcessSystem
from tests.routing.steps import DINKES, admin, agency, forwarded, item

ALAK = {
    "code": "PUSKESMAS-ALAK",
    "name": "Puskesmas Alak",
    "level": "unit",
    "region_code": "537101",
    "parent": DINKES,
    "categories": ["kesehatan"],
}


async def directory_events(lapor: InProcessSystem) -> list[tuple[str, str]]:
    """(stream, code) of every DirectoryChanged in the store, in order."""
    events = await read_range(lapor.store, 0, await lapor.store.last_position())
    return [(e.stream, e.data["code"]) for e in events if e.event_type == "DirectoryChanged"]


async def test_directory_changes_are_audited_events_and_route_at_once(
    lapor: InProcessSystem, drive: Driver, tmp_path: Path
) -> None:
    boss = admin(drive, "routing")  # one admin: a retry is the same person's same request
    public = drive.client("routing")
    retry = {"Idempotency-Key": "add-alak"}
    assert (await public.post("/api/v1/agencies", json=ALAK)).status_code == 401
    refused = await agency(drive, DINKES).post("/api/v1/agencies", json=ALAK)
    assert refused.status_code == 403
    added = await boss.post("/api/v1/agencies", json=ALAK, headers=retry)
    assert added.status_code == 201, added.text
    assert (await boss.post("/api/v1/agencies", json=ALAK, headers=retry)).status_code == 201
    # Another institution under the same key was answered 201 as Alak while nothing was stored.
    other = {**ALAK, "code": "PUSKESMAS-NAIOLA", "name": "Puskesmas Naiola"}
    reused = await boss.post("/api/v1/agencies", json=other, headers=retry)
    assert reused.status_code == 422, reused.text
    (problem,) = reused.json()["detail"]
    assert problem["loc"] == ["header", "Idempotency-Key"]
    assert problem["msg"].startswith("sudah dipakai untuk perubahan direktori lain")
    assert await directory_events(lapor) == [("directory", "PUSKESMAS-ALAK")]
    listed = (await public.get("/api/v1/agencies", params={"parent": DINKES})).json()
    assert {
        "code": "PUSKESMAS-ALAK",
        "name": "Puskesmas Alak",
        "level": "unit",
        "region_code": "537101",
        "parent": DINKES,
    } in listed

    # Refusals name the field: an unknown parent, a taken code, a malformed code.
    orphan = await boss.post(
        "/api/v1/agencies", json={**ALAK, "code": "PUSKESMAS-X", "parent": "NOWHERE"}
    )
    assert orphan.status_code == 400 and orphan.json()["detail"][0]["field"] == "parent"
    taken = await boss.post("/api/v1/agencies", json={**ALAK, "name": "Lain"})
    assert taken.status_code == 409 and taken.json()["detail"][0]["field"] == "code"
    malformed = await boss.post("/api/v1/agencies", json={**ALAK, "code": "alak"})
    assert malformed.status_code == 422 and malformed.json()["detail"][0]["field"] == "code"

    # A more specific rule for the new unit's district wins from now on.
    rule = {"region_prefix": "537101", "category": "kesehatan", "agency_code": "PUSKESMAS-ALAK"}
    assert (await boss.post("/api/v1/routing-rules", json=rule)).status_code == 200
    tracking_id, code = await forwarded(
        drive, "Bidan tidak ada", region="537101", category="kesehatan"
    )
    assert code == "PUSKESMAS-ALAK"
    shown = item(await drive.inbox("PUSKESMAS-ALAK"), tracking_id)
    assert shown is not None and shown["routed_by"] == "rule"

    renamed = await boss.put(
        "/api/v1/agencies/PUSKESMAS-ALAK", json={**ALAK, "name": "UPTD Puskesmas Alak"}
    )
    assert renamed.status_code == 200, renamed.text
    detail = (await public.get("/api/v1/agencies/PUSKESMAS-ALAK")).json()
    assert detail["name"] == "UPTD Puskesmas Alak" and detail["categories"] == ["kesehatan"]

    # `lapor directory import FILE`: one event per new or changed institution, then nothing.
    data = default_directory().to_dict()
    data["institutions"].append(
        {
            "code": "DINKES-PROV-NTT",
            "name": "Dinas Kesehatan Provinsi NTT",
            "level": "opd",
            "region_code": "53",
            "parent": "PEMPROV-NTT",
            "categories": ["kesehatan"],
        }
    )
    file = tmp_path / "directory.json"
    file.write_text(json.dumps(data))
    # The CLI's own entry point, with its own store connection (as `lapor` would have).
    first = await asyncio.to_thread(run_import, lapor.settings, file)
    assert (first.added, first.updated, first.rules_set) == (["DINKES-PROV-NTT"], [], 0)
    assert (await asyncio.to_thread(run_import, lapor.settings, file)).events == 0
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**data, "routing_rules": [{"agency_code": "NOWHERE"}]}))
    with pytest.raises(DirectoryError):
        await asyncio.to_thread(run_import, lapor.settings, broken)
    codes = [code for _, code in await directory_events(lapor)]
    assert codes == ["PUSKESMAS-ALAK", "PUSKESMAS-ALAK", "PUSKESMAS-ALAK", "DINKES-PROV-NTT"]
    # The running service learns of the import through the event stream.
    await lapor.settle()
    served = (await public.get("/api/v1/agencies")).json()
    assert any(a["code"] == "DINKES-PROV-NTT" for a in served)


async def test_an_institution_imports_thousands_of_its_own_units_with_progress(
    tmp_path: Path,
) -> None:
    """Jawa Timur's health offices bring their Puskesmas: 2,664 units under the 38 regencies and
    cities already in the directory, in a file without national_desk/ombudsman. (Routing alone
    runs here: every service follows the directory's events the same way.)"""
    from shared.regions import regions
    from tests.harness import in_process

    async with in_process(tmp_path / "lapor", ("routing",)) as lapor:
        await import_units(lapor, tmp_path, regions())


async def import_units(lapor: InProcessSystem, tmp_path: Path, regions: Any) -> None:

    governments = {
        i.region_code: i.code for i in default_directory() if i.level in ("regency", "city")
    }
    units = []
    for regency in regions.children("35"):
        for district in regions.children(regency.code):
            for n in range(1, 5):
                units.append(
                    {
                        "code": f"PKM-{district.code}-{n}",
                        "name": f"Puskesmas {district.name} {n}",
                        "level": "unit",
                        "region_code": district.code,
                        "parent": governments[regency.code],
                        "categories": ["kesehatan"],
                    }
                )
    assert len(units) > 2500
    file = tmp_path / "puskesmas-jatim.json"
    file.write_text(json.dumps({"version": 1, "institutions": units}))
    seen: list[tuple[str, int, int | None]] = []

    def progress(phase: str, advance: int = 0, total: int | None = None) -> None:
        seen.append((phase, advance, total))

    result = await asyncio.to_thread(run_import, lapor.settings, file, progress=progress)
    assert len(result.added) == len(units) and result.events == len(units)
    compared = sum(advance for phase, advance, _ in seen if phase == "compare")
    assert compared == len(units)
    assert ("store", len(units), None) in seen
    again = await asyncio.to_thread(run_import, lapor.settings, file)
    assert again.events == 0 and again.unchanged == len(units)

    await lapor.settle()
    async with lapor.client("routing") as http:
        served = await http.get("/api/v1/agencies", params={"region": "3578"})
    assert any(a["code"] == "PKM-357801-1" for a in served.json())
    # a unit whose parent is not in the directory: the whole file is refused, by name
    orphan = tmp_path / "orphan.json"
    orphan.write_text(
        json.dumps({"institutions": [{**units[0], "code": "PKM-X", "parent": "NOPE"}]})
    )
    with pytest.raises(DirectoryError) as refused:
        await asyncio.to_thread(run_import, lapor.settings, orphan)
    assert any("unknown parent 'NOPE'" in p for p in refused.value.problems)
    # Named by code, not by its index in the directory the import would make (the file has one
    # entry; "institutions[1185]" sent the operator looking for a line that is not there).
    assert [p for p in refused.value.problems if "NOPE" in p] == ["PKM-X: unknown parent 'NOPE'"]
