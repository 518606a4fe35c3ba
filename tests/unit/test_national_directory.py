"""The generated national directory, SMS keywords for every regency and city, and the pilot's
region codes read as the official ones (issue 19)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from shared.directory.build import bare_name, build, keyword
from shared.directory.model import DEFAULT_DIRECTORY_PATH, default_directory
from shared.events.registry import parse_payload
from shared.regions import regions
from shared.regions.geo import in_indonesia
from shared.regions.legacy import PILOT_NAMES, official_code
from shared.reports.events import ReportReferred, ReportSubmitted, ReportVerified
from shared.sms.grammar import NewReport, SmsGrammar

NATIONAL_AGENCIES = (
    "KEMENKES", "KEMENDIKDASMEN", "KEMENHUB", "KAI", "BPJS-KESEHATAN", "PLN", "POLRI",
    "KEMENATR-BPN", "KEMENPANRB", "OMBUDSMAN",
)  # fmt: skip


@pytest.fixture(scope="module")
def grammar() -> SmsGrammar:
    return SmsGrammar.from_directory(default_directory())


def test_the_committed_directory_is_what_the_build_script_makes() -> None:
    committed = json.loads(DEFAULT_DIRECTORY_PATH.read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(build()))


def test_every_government_and_at_least_34_national_agencies() -> None:
    directory = default_directory()
    national = [i for i in directory if i.level == "national"]
    assert len(national) >= 34
    assert set(NATIONAL_AGENCIES) <= {i.code for i in national}
    assert all(i.categories for i in national if i.code != "OMBUDSMAN")
    for province in regions().provinces():
        government = directory.government_for(province.code)
        assert government is not None and government.level == "province"
        desks = [c for c in directory.children(government.code) if c.code.startswith("BAGORG-")]
        assert len(desks) == 1
    for regency in regions().regencies():
        government = directory.government_for(regency.code)
        assert government is not None
        if regency.province == "31":  # administrative cities: the province governs
            assert government.code == "PEMPROV-DKI"
            continue
        assert government.region_code == regency.code
        assert government.level == ("city" if regency.name.startswith("Kota ") else "regency")
        assert any(c.code.startswith("BAGORG-") for c in directory.children(government.code))


def test_the_keyword_of_every_regency_and_city_lands_in_its_region(grammar: SmsGrammar) -> None:
    """Each of the 514: its name with KAB/KABUPATEN or KOTA/KOT, any spacing and case."""
    started = time.perf_counter()
    messages = 0
    for regency in regions().regencies():
        name = keyword(bare_name(regency))
        city = regency.name.startswith("Kota ")
        forms = (
            [f"KOTA {name}", f"kota  {name.lower()}", f"KOT{name.replace(' ', '')}"]
            if city
            else [f"KABUPATEN {name}", f"Kab {name.title()}", f"kab. {name.lower()}"]
        )
        for form in forms:
            parsed = grammar.parse(f"{form} jalan rusak di depan sekolah")
            messages += 1
            assert isinstance(parsed, NewReport), form
            assert parsed.region_code == regency.code, (form, parsed)
            assert parsed.text == "jalan rusak di depan sekolah"
        bare = grammar.parse(f"{name} jalan rusak")
        messages += 1
        assert isinstance(bare, NewReport) and bare.region_code is not None, name
        if bare.region_code != regency.code:
            # a name another region has too: the city's (documented), the reply names the rest
            assert not city and bare.alternatives, (name, bare)
            owner = regions().get(bare.region_code)
            assert owner is not None and owner.name.startswith("Kota ")
    per_message = (time.perf_counter() - started) / messages
    assert per_message < 0.001, f"{per_message * 1e6:.0f} µs per message"


@pytest.mark.parametrize(
    ("message", "region", "others"),
    [
        ("MALANG banjir", "3573", ("KAB MALANG",)),
        ("KUPANG banjir", "5371", ("KAB KUPANG",)),
        ("GORONTALO banjir", "7571", ("KAB GORONTALO", "PROV GORONTALO")),
        ("JAMBI banjir", "1571", ("PROV JAMBI",)),
        ("SURABAYA banjir", "3578", ()),
        ("KAB MALANG banjir", "3507", ()),
        ("ALOR banjir", "5305", ()),
        ("TTU banjir", "5303", ()),
        ("JATIM banjir", "35", ()),
        ("DKI JAKARTA banjir", "31", ()),
    ],
)
def test_ambiguous_names_take_the_documented_default(
    grammar: SmsGrammar, message: str, region: str, others: tuple[str, ...]
) -> None:
    parsed = grammar.parse(message)
    assert isinstance(parsed, NewReport)
    assert (parsed.region_code, parsed.alternatives) == (region, others)


def test_pilot_codes_map_to_the_official_region_of_the_same_name() -> None:
    for pilot, (name, official) in PILOT_NAMES.items():
        found = regions().get(official)
        assert found is not None and found.name == name, pilot
    assert official_code("5305") == "5303"  # the pilot's TTU
    assert official_code("5307") == "5305"  # the pilot's Alor
    assert official_code("5371") == "5371"  # unchanged where it was official
    assert official_code("530599") == "5303"  # under a renumbered regency: the regency
    assert official_code(None) is None


def test_events_stored_with_pilot_codes_are_read_with_official_ones() -> None:
    submitted = parse_payload(
        "ReportSubmitted",
        1,
        {
            "tracking_id": "ABCDEFGHJK",
            "classification": "complaint",
            "title": "Jalan rusak",
            "body": "Jalan rusak di Kefamenanu",
            "location": {"region_code": "5305"},
            "channel": "sms",
            "access_code_hash": "x",
        },
    )
    assert isinstance(submitted, ReportSubmitted) and submitted.location.region_code == "5303"
    verified = parse_payload(
        "ReportVerified",
        1,
        {"classification": "complaint", "category": None, "region_code": "537103"},
    )
    assert isinstance(verified, ReportVerified) and verified.region_code == "537104"  # Oebobo
    referred = parse_payload("ReportReferred", 1, {"to_region": "5303"})
    assert isinstance(referred, ReportReferred) and referred.to_region == "5301"  # Kupang
    # events written now are version 2 and read as they are
    now = parse_payload("ReportReferred", 2, {"to_region": "5303"})
    assert isinstance(now, ReportReferred) and now.to_region == "5303"
    assert ReportSubmitted.schema_version == ReportVerified.schema_version == 2


async def test_a_stored_pilot_event_keeps_its_bytes_and_envelope(tmp_path: object) -> None:
    from pathlib import Path

    from shared.events.base import Actor
    from shared.store.port import NewEvent
    from shared.store.sqlite import SqliteEventStore

    store = SqliteEventStore(Path(str(tmp_path)) / "events.db")
    old = NewEvent(
        event_type="ReportReferred",
        schema_version=1,
        occurred_at=datetime(2025, 1, 6, tzinfo=UTC),
        correlation_id="c",
        causation_id="c",
        actor=Actor(kind="admin", id="a"),
        region_code="5305",
        data={"to_region": "5305", "note": None},
    )
    await store.append("report-ABCDEFGHJK", [old], expected_version=None)
    (stored,) = await store.read("report-ABCDEFGHJK")
    assert stored.data["to_region"] == "5305" and stored.region_code == "5305"  # as written
    payload = stored.payload()
    assert isinstance(payload, ReportReferred) and payload.to_region == "5303"
    assert stored.current_data()["to_region"] == "5303"
    await store.close()


def test_indonesia_is_where_reports_can_be() -> None:
    inside = [(-6.2, 106.85), (-10.17, 123.6), (-2.53, 140.7), (5.89, 95.32), (-5.0, 110.0)]
    outside = [(3.14, 101.69), (1.35, 103.82), (-8.55, 125.57), (-12.46, 130.84), (14.6, 121.0)]
    assert all(in_indonesia(lat, lon) for lat, lon in inside)
    assert not any(in_indonesia(lat, lon) for lat, lon in outside)
