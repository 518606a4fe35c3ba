"""National coverage (issue 19), as citizens and officers meet it: every region of Indonesia in
the picker's API, every regency and city with its government and SMS keyword, national matters
to the ministry or agency, and bad places refused with nothing stored. In process."""

from __future__ import annotations

import re
from typing import Any

import pytest

from shared.regions import regions
from tests.driver import Driver
from tests.harness import InProcessSystem
from tests.support import SMS_WEBHOOK_TOKEN


async def sms(drive: Driver, text: str, message_id: str, sender: str = "+6281234509999") -> str:
    answer = await drive.client("intake").get(
        "/channels/sms",
        params={
            "from": sender,
            "to": "1708",
            "text": text,
            "id": message_id,
            "token": SMS_WEBHOOK_TOKEN,
        },
    )
    assert answer.status_code == 200, answer.text
    return answer.text


async def as_officer(drive: Driver, tracking_id: str) -> dict[str, Any]:
    admin = drive.client("intake", drive.admin())
    answer = await admin.get(f"/api/v1/reports/{tracking_id}")
    assert answer.status_code == 200, answer.text
    report: dict[str, Any] = answer.json()
    return report


def tracking_id_of(reply: str) -> str:
    found = re.search(r"ID: ([A-Z0-9]{10})", reply)
    assert found, reply
    return found.group(1)


@pytest.mark.parametrize(
    ("message", "region", "government"),
    [
        ("SURABAYA jalan di depan Pasar Turi berlubang", "3578", "PEMKOT-SURABAYA"),
        ("KAB MALANG jembatan desa putus sejak banjir", "3507", "PEMKAB-MALANG"),
        ("ALOR sekolah dasar kekurangan guru", "5305", "PEMKAB-ALOR"),
    ],
)
async def test_an_sms_keyword_lands_in_its_region_and_reaches_its_government(
    drive: Driver, message: str, region: str, government: str
) -> None:
    reply = await sms(drive, message, f"kw-{region}")
    tracking_id = tracking_id_of(reply)
    report = await as_officer(drive, tracking_id)  # unpublished: an officer sees where it is
    assert report["location"]["region_code"] == region

    await drive.verify(tracking_id)
    inbox = await drive.inbox(government)
    assert tracking_id in [item["tracking_id"] for item in inbox]


async def test_a_bare_name_two_regions_share_is_the_city_and_the_reply_names_the_other(
    drive: Driver,
) -> None:
    reply = await sms(drive, "MALANG banjir di perumahan kami", "kw-malang")
    assert "Wilayah: Kota Malang. Bukan? Tulis KAB MALANG di awal SMS." in reply
    assert len(reply) <= 160
    report = await as_officer(drive, tracking_id_of(reply))
    assert report["location"]["region_code"] == "3573"


@pytest.mark.parametrize(
    ("category", "region", "agency"),
    [
        ("kereta-api", "3171", "KAI"),  # a Jakarta commuter-train complaint
        ("infrastruktur", "357801", "PEMKOT-SURABAYA"),  # a road in Surabaya
        ("infrastruktur", "3174", "PEMPROV-DKI"),  # an administrative city: the province
        ("listrik", "5305", "PLN"),
    ],
)
async def test_national_matters_go_to_the_agency_local_ones_to_the_local_government(
    drive: Driver, category: str, region: str, agency: str
) -> None:
    report = await drive.submit(category=category, location={"region_code": region})
    await drive.verify(report.tracking_id)
    assert report.tracking_id in [item["tracking_id"] for item in await drive.inbox(agency)]


async def test_every_regency_and_city_has_its_government_in_the_directory(drive: Driver) -> None:
    answer = await drive.client("routing").get("/api/v1/agencies")
    assert answer.status_code == 200
    agencies = answer.json()
    assert len(agencies) > 1100
    assert {"national", "province", "regency", "city", "opd", "unit"} <= {
        a["level"] for a in agencies
    }
    assert all("region_code" in a for a in agencies)
    governments = {a["region_code"]: a for a in agencies if a["level"] in ("regency", "city")}
    jakarta = {a["region_code"]: a for a in agencies if a["parent"] == "PEMPROV-DKI"}
    provinces = {a["region_code"] for a in agencies if a["level"] == "province"}
    assert provinces == {p.code for p in regions().provinces()}
    for regency in regions().regencies():
        if regency.province == "31":
            # DKI Jakarta's administrative cities: listed, and run by the province
            assert jakarta[regency.code]["name"].endswith(regency.name.split(" ", 1)[1])
        else:
            government = governments[regency.code]
            assert government["level"] == ("city" if regency.name.startswith("Kota") else "regency")


async def test_the_region_api_has_every_level_with_official_codes(drive: Driver) -> None:
    http = drive.client("intake")
    provinces = (await http.get("/api/v1/regions")).json()
    assert len(provinces) == 38
    total = 0
    for province in provinces:
        total += len(
            (await http.get("/api/v1/regions", params={"parent": province["code"]})).json()
        )
    assert total == 514
    surabaya = await http.get("/api/v1/regions", params={"parent": "35.78"})
    assert surabaya.headers["cache-control"] == "public, max-age=86400"
    districts = surabaya.json()
    assert len(districts) == 31 and districts[0]["code"] == "357801"
    villages = (await http.get("/api/v1/regions", params={"parent": "357801"})).json()
    assert villages and all(len(v["code"]) == 10 and v["level"] == "village" for v in villages)
    ntt = (await http.get("/api/v1/regions", params={"parent": "53"})).json()
    assert {"code": "5305", "name": "Kabupaten Alor"}.items() <= ntt[4].items()
    unknown = await http.get("/api/v1/regions", params={"parent": "5399"})
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["field"] == "parent"
    assert unknown.json()["detail"][0]["loc"] == ["query", "parent"]  # not the body: a query
    assert unknown.json()["detail"][0]["suggestion"]["code"] == "53"
    malformed = await http.get("/api/v1/regions", params={"parent": "5x"})
    assert malformed.status_code == 422 and malformed.json()["detail"][0]["loc"][0] == "query"


@pytest.mark.parametrize(
    ("location", "field", "words"),
    [
        ({"region_code": "357899"}, "location.region_code", "3578"),  # no such district
        ({"region_code": "3578029999"}, "location.region_code", "357802"),  # no such village
        ({"region_code": "35.7"}, "location.region_code", "not a region code"),
        ({"lat": -6.2}, "location.lon", "go together"),
        ({"lat": 3.14, "lon": 101.69}, "location.lat", "outside Indonesia"),  # Kuala Lumpur
        ({"lat": 106.8, "lon": -6.2}, "location.lat", "less than or equal to 90"),  # swapped
    ],
)
async def test_a_place_that_is_not_in_indonesia_is_refused_by_name_and_nothing_is_stored(
    lapor: InProcessSystem, drive: Driver, location: dict[str, object], field: str, words: str
) -> None:
    before = await lapor.store.last_position()
    answer = await drive.client("intake").post(
        "/api/v1/reports",
        json={
            "title": "Jalan rusak",
            "body": "Jalan rusak parah sejak bulan lalu.",
            "location": location,
        },
    )
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"][0]
    assert detail["field"] == field and words in str(detail), detail
    assert await lapor.store.last_position() == before


async def test_dotted_codes_are_accepted_and_stored_as_digits(drive: Driver) -> None:
    report = await drive.submit(location={"region_code": "35.78.01", "lat": -7.3, "lon": 112.7})
    stored = (await drive.report(report.tracking_id, report.access_code)).json()
    assert stored["location"]["region_code"] == "357801"
