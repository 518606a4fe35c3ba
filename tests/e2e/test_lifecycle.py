"""The walking skeleton across real processes: one report from submission to closure.

A citizen submits, an admin verifies, routing forwards by region and category, the agency sees
it in its inbox and posts a follow-up, nobody answers, and ten working days later sla closes it.
The timeline tells the whole story, notify told the reporter at each step, the audit passes, a
tampered copy of the store fails the audit, and a rebuilt read model equals the live one.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.support import ROOT, NatsServer, System, nats_server, start_system, wait_for

AGENCY = "DINKES-KOTA-KUPANG"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    tmp = tmp_path_factory.mktemp("lifecycle")
    with nats_server(tmp) as nats:
        started = start_system(tmp / "data", nats.url)
        try:
            yield started
        finally:
            started.stop_all()


def lapor(
    system: System, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env={**system.env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_report_travels_from_submission_to_closure(system: System) -> None:
    intake, verification, routing = (system.url(s) for s in ("intake", "verification", "routing"))
    created = httpx.post(
        f"{intake}/api/v1/reports",
        json={
            "classification": "complaint",
            "title": "Obat hipertensi kosong",
            "body": "Sudah dua minggu obat hipertensi kosong di Puskesmas Oepoi, Kota Kupang.",
            "category": "kesehatan",
            "location": {"region_code": "5371", "address": "Oepoi, Kota Kupang"},
            "reporter": {"name": "Maria Lende", "email": "maria.lende@example.org"},
        },
        headers={"X-Correlation-ID": "e2e-lifecycle-1"},
    )
    assert created.status_code == 201, created.text
    tid = created.json()["tracking_id"]
    report_url = f"{intake}/api/v1/reports/{tid}"

    wait_for(lambda: httpx.get(report_url).status_code == 200, what="report visible")
    admin = {"Authorization": f"Bearer {system.token('admin')}"}
    verified = httpx.post(f"{verification}/api/v1/reports/{tid}/verify", json={}, headers=admin)
    assert verified.status_code == 200, verified.text

    report = wait_for(
        lambda: (r := httpx.get(report_url).json())["status"] == "forwarded" and r,
        what="forwarded by routing",
    )
    assert report["agency_code"] == AGENCY  # the Kota Kupang + kesehatan rule

    officer = {"Authorization": f"Bearer {system.token('agency', agency=AGENCY)}"}
    inbox = httpx.get(f"{routing}/api/v1/inbox", headers=officer).json()
    items = inbox["items"] if isinstance(inbox, dict) else inbox
    assert tid in {item["tracking_id"] for item in items}
    other = {"Authorization": f"Bearer {system.token('agency', agency='DINKES-KAB-TTU')}"}
    other_inbox = httpx.get(f"{routing}/api/v1/inbox", headers=other).json()
    other_items = other_inbox["items"] if isinstance(other_inbox, dict) else other_inbox
    assert tid not in {item["tracking_id"] for item in other_items}

    followed = httpx.post(
        f"{routing}/api/v1/reports/{tid}/follow-ups",
        json={"text": "Stok obat dikirim dari gudang farmasi kota.", "kind": "final"},
        headers=officer,
    )
    assert followed.status_code == 201, followed.text
    wait_for(lambda: httpx.get(report_url).json()["status"] == "followed_up", what="follow-up")

    # Nobody answers: ten working days later the sla service closes the report.
    system.set_clock((datetime.now(UTC) + timedelta(days=21)).isoformat())
    wait_for(
        lambda: httpx.get(report_url).json()["status"] == "closed",
        timeout=30,
        what="auto-close after 10 working days",
    )

    timeline = httpx.get(f"{report_url}/timeline").json()
    assert [e["event_type"] for e in timeline] == [
        "ReportSubmitted",
        "ReportVerified",
        "ForwardedToOPD",
        "FollowUpPosted",
        "ReportClosed",
    ]
    assert timeline[-1]["reason"] == "no_response"
    for entry in timeline:
        datetime.fromisoformat(entry["occurred_at"])  # ISO 8601 with offset

    def reporter_notices() -> list[dict[str, object]] | None:
        response = httpx.get(
            f"{system.url('notify')}/api/v1/notifications",
            params={"tracking_id": tid},
            headers=admin,
        )
        items = [n for n in response.json() if n.get("recipient") == "reporter"]
        return items if len(items) >= 4 else None

    notices = wait_for(reporter_notices, what="the reporter's notices")
    assert "maria" not in str(notices).lower()

    audited = lapor(system, "audit", "verify", tid)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert "audit OK" in audited.stdout
    whole = lapor(system, "audit", "verify")
    assert whole.returncode == 0, whole.stdout + whole.stderr


def test_a_tampered_copy_of_the_store_fails_the_audit(system: System, tmp_path: Path) -> None:
    created = httpx.post(
        f"{system.url('intake')}/api/v1/reports",
        json={
            "title": "Lampu jalan mati",
            "body": "Lampu jalan di Jalan El Tari mati seminggu.",
            "location": {"region_code": "5371"},
        },
    )
    tid = created.json()["tracking_id"]
    copy = tmp_path / "events-copy.db"
    source = sqlite3.connect(system.data_dir / "events.db")
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()

    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        target.execute("UPDATE events SET data = '{}' WHERE stream = ?", (f"report-{tid}",))
    # Whoever removes the guard can edit the copy, but the hash chain names the edit.
    target.execute("DROP TRIGGER events_are_append_only_no_update")
    target.execute(
        "UPDATE events SET data = replace(data, 'Lampu jalan mati', 'Lampu jalan baik')"
        " WHERE stream = ?",
        (f"report-{tid}",),
    )
    target.commit()
    target.close()

    result = lapor(system, "audit", "verify", env={"LAPOR_EVENT_STORE": f"sqlite:///{copy}"})
    assert result.returncode == 1
    assert f"report-{tid} v1" in result.stdout
    assert "altered" in result.stdout
    whole = lapor(system, "audit", "verify", env={"LAPOR_EVENT_STORE": f"sqlite:///{copy}"})
    assert whole.returncode == 1
    assert "guard" in whole.stdout


def test_a_rebuilt_read_model_equals_the_live_one(system: System) -> None:
    intake = system.url("intake")
    live = httpx.get(f"{intake}/api/v1/reports", params={"limit": 200}).json()
    assert live
    system.kill("intake", sig=15)
    rebuilt_db = system.data_dir / "intake.db"
    before = shutil.copy(rebuilt_db, system.data_dir / "intake-before.db")
    result = lapor(system, "rebuild", "intake")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rebuilt intake" in result.stdout
    system.start("intake")
    system.wait_ready("intake")
    assert httpx.get(f"{intake}/api/v1/reports", params={"limit": 200}).json() == live
    del before
    os.environ.get("CI")


def test_bad_input_gets_a_4xx_naming_the_field(system: System) -> None:
    intake = system.url("intake")
    response = httpx.post(f"{intake}/api/v1/reports", json={"title": "x", "body": "short"})
    assert response.status_code == 422
    fields = {d["field"] for d in response.json()["detail"]}
    assert {"title", "body"} <= fields
    response = httpx.post(
        f"{intake}/api/v1/reports",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert 400 <= response.status_code < 500
    assert httpx.get(f"{intake}/api/v1/reports/NOT-AN-ID").status_code == 422
    admin = {"Authorization": f"Bearer {system.token('admin')}"}
    response = httpx.post(
        f"{system.url('verification')}/api/v1/reports/23456789AB/verify", json={}, headers=admin
    )
    assert 400 <= response.status_code < 500
    assert (
        httpx.post(
            f"{system.url('verification')}/api/v1/reports/23456789AB/verify", json={}
        ).status_code
        == 401
    )


_ = NatsServer
