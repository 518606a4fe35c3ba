"""The evidence pack in process: one key for good, a signature anyone can check, a safe page."""

from __future__ import annotations

import base64
import re
import stat
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path

from services.sla.evidence import build_document, render_html, trail_sha256
from shared.calendar import WIB, WorkingDayCalendar
from shared.clock import FixedClock
from shared.events.base import Actor
from shared.reports.commands import (
    EscalateToOmbudsman,
    ForwardReport,
    RecordBreach,
    VerifyReport,
)
from shared.reports.deadlines import derive
from shared.reports.events import Location, SlaStage
from shared.reports.facts import facts_of
from shared.reports.lifecycle import ReportState
from shared.reports.policy import DEFAULT_POLICY
from shared.runtime.repository import Meta, ReportRepository
from shared.signing import Signer as EvidenceSigner
from shared.signing import verify_document
from shared.store.port import RecordedEvent
from shared.store.sqlite import SqliteEventStore
from tests.builders import submit_command

TID = "EVIDN2345K"


def test_the_key_is_generated_once_private_and_shared_by_every_instance(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    with ThreadPoolExecutor(8) as pool:
        signers = list(pool.map(lambda _: EvidenceSigner(keys), range(8)))
    assert len({s.key_id for s in signers}) == 1
    assert EvidenceSigner(keys).public_key_raw == signers[0].public_key_raw
    [key_file] = keys.iterdir()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "PRIVATE KEY" in key_file.read_text()
    assert signers[0].public_key_json()["public_key_pem"].startswith("-----BEGIN PUBLIC KEY")


CLOCK = FixedClock(datetime(2026, 3, 2, 9, tzinfo=WIB))


async def escalated(
    tmp_path: Path, title: str = "Jalan rusak", *, breach_in_between: bool = False
) -> tuple[ReportState, list[RecordedEvent]]:
    """A report forwarded and escalated; with `breach_in_between`, a breach the ticker stores
    after the reporter's request read the trail and before the escalation is appended."""
    store = SqliteEventStore(tmp_path / "events.db")
    reports = ReportRepository(store, CLOCK)
    meta = Meta(actor=Actor(kind="admin", id="admin-1"), correlation_id="cid")
    try:
        await reports.execute(
            TID, submit_command(TID, title=title, location=Location(region_code="5371")), meta
        )
        await reports.execute(TID, VerifyReport(), meta)
        await reports.execute(
            TID,
            ForwardReport(agency_code="X", agency_name="X", follow_up_due=date(2026, 3, 9)),
            meta,
        )
        _, seen = await reports.load(TID)  # what the reporter's request read
        if breach_in_between:
            await reports.execute(
                TID, RecordBreach(stage=SlaStage.FOLLOW_UP, due=date(2026, 3, 9)), meta
            )
        await reports.execute(
            TID,
            EscalateToOmbudsman(
                ombudsman_office="OMBUDSMAN-53",
                province_code="53",
                eligible=True,
                evidence_sha256=trail_sha256(seen),
            ),
            meta,
        )
        state, events = await reports.load(TID)
    finally:
        await store.close()
    assert state is not None
    return state, events


async def test_a_signed_pack_verifies_and_any_change_breaks_it(tmp_path: Path) -> None:
    state, events = await escalated(tmp_path, "<script>alert('x')</script> Jalan rusak")
    deadlines = derive(TID, facts_of(events), WorkingDayCalendar.default(), DEFAULT_POLICY)
    signer = EvidenceSigner(tmp_path / "keys")
    document = signer.sign(
        build_document(
            state,
            events,
            deadlines,
            generated_at=CLOCK.now(),
            ombudsman_office={"code": "OMBUDSMAN-53", "name": "Ombudsman NTT"},
        )
    )
    assert verify_document(document, signer.public_key_raw)
    assert document["chain"]["verified"] and document["chain"]["length"] == 4
    assert document["escalation"]["evidence_covers_versions"] == 3
    assert document["trail_sha256"] == trail_sha256(events)
    # Change one character anywhere (a stored event, the summary, the signature) and it fails.
    altered = [dict(e) for e in document["trail"]]
    altered[0] = altered[0] | {"data": altered[0]["data"] | {"title": "Jalan bagus"}}
    assert not verify_document(document | {"trail": altered}, signer.public_key_raw)
    signature = dict(document["signature"])
    signature["value"] = base64.b64encode(b"\0" * 64).decode()
    assert not verify_document(document | {"signature": signature}, signer.public_key_raw)
    other = EvidenceSigner(tmp_path / "other-keys")
    assert not verify_document(document, other.public_key_raw)

    page = render_html(document)
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert TID in page and "Ombudsman NTT" in page and document["chain"]["head"] in page
    # One language at a time, times in the report's own zone with the month by name.
    assert "Bukti Pengaduan" in page and "Proof of a prior complaint" not in page
    assert re.search(r"\d{1,2} \w+ \d{4}, \d{2}\.\d{2} WITA", page)
    english = render_html(document, "en")
    assert "Proof of a prior complaint" in english and "WITA" in english


async def test_the_printed_pack_says_its_deadlines_and_history_in_the_readers_language(
    tmp_path: Path,
) -> None:
    """The pack the reporter prints for the Ombudsman said, on its Indonesian page, "3 working
    days", "met", "pending", "escalation", the category's code and the events' fields as
    `requires_field_inspection : False`; every one of them is now in the page's language."""
    state, events = await escalated(tmp_path)
    deadlines = derive(TID, facts_of(events), WorkingDayCalendar.default(), DEFAULT_POLICY)
    document = EvidenceSigner(tmp_path / "keys").sign(
        build_document(state, events, deadlines, generated_at=CLOCK.now(), ombudsman_office=None)
    )
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", render_html(document)))
    for said in ("3 hari kerja", "60 hari kerja", "14 hari kalender", "Terpenuhi", "eskalasi ke"):
        assert said in text, said
    assert "Kategori Kesehatan" in text or "Kategori Infrastruktur" in text, text[:600]
    assert "Diverifikasi sebagai Pengaduan." in text
    for code in ("working day", "calendar day", " met ", " pending ", "escalation", "_", " : "):
        assert code not in text.split("Keaslian")[0], code
    english = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", render_html(document, "en")))
    assert "3 working days" in english and "Verified as Complaint." in english


async def test_a_breach_recorded_between_the_request_and_the_escalation_is_not_covered(
    tmp_path: Path,
) -> None:
    """The reporter's request hashes the trail it read; a breach the ticker stores before the
    escalation's append is not in that digest, and the pack says exactly how far it reaches."""
    state, events = await escalated(tmp_path, breach_in_between=True)
    assert [e.event_type for e in events][3:] == ["SlaBreached", "EscalatedToOmbudsman"]
    document = build_document(
        state,
        events,
        derive(TID, facts_of(events), WorkingDayCalendar.default(), DEFAULT_POLICY),
        generated_at=CLOCK.now(),
        ombudsman_office=None,
    )
    assert document["escalation"]["stream_version"] == 5
    assert document["escalation"]["evidence_covers_versions"] == 3
    assert trail_sha256(events[:3]) == document["escalation"]["evidence_sha256"]


async def test_lapor_evidence_verify_checks_a_pack_offline_with_the_served_key(
    tmp_path: Path,
) -> None:
    """`lapor evidence verify FILE --key KEY`: the key as sla serves it; a pack changed anywhere,
    or checked with another key, fails with exit 1 and says what."""
    import json

    from typer.testing import CliRunner

    from cli.main import app

    state, events = await escalated(tmp_path, breach_in_between=True)
    signer = EvidenceSigner(tmp_path / "keys")
    document = signer.sign(
        build_document(
            state,
            events,
            derive(TID, facts_of(events), WorkingDayCalendar.default(), DEFAULT_POLICY),
            generated_at=CLOCK.now(),
            ombudsman_office={"code": "OMBUDSMAN-53", "name": "Ombudsman NTT"},
        )
    )
    pack = tmp_path / "evidence.json"
    pack.write_text(json.dumps(document))
    served = tmp_path / "evidence-key.json"  # what GET /api/v1/evidence-key answers
    served.write_text(json.dumps(signer.public_key_json()))
    runner = CliRunner()

    good = runner.invoke(app, ["evidence", "verify", str(pack), "--key", str(served)])
    assert good.exit_code == 0, good.output
    assert f"evidence OK: the pack of {TID}" in good.output
    assert "OK: hash chain: 5 event(s)" in good.output
    assert "OK: escalation: to OMBUDSMAN-53, its evidence_sha256 covers the first 3" in good.output
    # Without --key: this machine's key, and the verdict says so (it said "the key given").
    from shared.settings import get_settings

    get_settings.cache_clear()
    local = runner.invoke(
        app, ["evidence", "verify", str(pack)], env={"LAPOR_DATA_DIR": str(tmp_path)}
    )
    get_settings.cache_clear()
    assert local.exit_code == 0, local.output
    assert "signed by this machine's key" in local.output and "key given" not in local.output
    pem = tmp_path / "key.pem"
    pem.write_text(signer.public_key_pem)
    assert runner.invoke(app, ["evidence", "verify", str(pack), "--key", str(pem)]).exit_code == 0

    altered = json.loads(pack.read_text())
    altered["trail"][0]["data"]["title"] = "Jalan bagus"
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(altered))
    bad = runner.invoke(app, ["evidence", "verify", str(changed), "--key", str(served)])
    assert bad.exit_code == 1
    assert "FAILED: signature: does not verify" in bad.output
    assert "FAILED: chain:" in bad.output and "content altered" in bad.output
    assert "FAILED: trail_sha256" in bad.output

    other = tmp_path / "other.json"
    other.write_text(json.dumps(EvidenceSigner(tmp_path / "other-keys").public_key_json()))
    wrong = runner.invoke(app, ["evidence", "verify", str(pack), "--key", str(other)])
    assert wrong.exit_code == 1 and "not with the key given" in wrong.output
    junk = tmp_path / "junk.txt"
    junk.write_text("not a key")
    assert runner.invoke(app, ["evidence", "verify", str(pack), "--key", str(junk)]).exit_code == 2
