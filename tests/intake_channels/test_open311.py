"""Open311 GeoReport v2: every response checked against the spec's field names and types, in
JSON and in XML. In process (tests/harness.py)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.directory.model import load_categories
from shared.reports.commands import CloseReport, RejectReport
from shared.reports.events import CloseReason, RejectionReason
from tests.driver import Driver, driving
from tests.harness import InProcessSystem, in_process
from tests.intake_web.officers import act, publish

SERVICE_FIELDS = {
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
}
ATTRIBUTE_FIELDS = {
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
}
DATATYPES = {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}


async def get(drive: Driver, path: str, code: str | None = None, **params: str) -> httpx.Response:
    """An Open311 read (`code`: the reporter's access code, as `X-Access-Code`)."""
    headers = {"X-Access-Code": code} if code else {}
    return await drive.client("intake").get(f"/open311/v2/{path}", params=params, headers=headers)


def iso_with_zone(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    assert moment.tzinfo is not None, value
    return moment


async def create(drive: Driver, fmt: str = "json", **fields: str) -> httpx.Response:
    form = {
        "api_key": drive.token("client"),
        "jurisdiction_id": "lapor.go.id",
        "service_code": "infrastruktur",
        "lat": "-10.1772",
        "long": "123.6070",
        "address_string": "Jl. El Tari, Oebobo, Kota Kupang",
        "description": "Lubang besar di tengah jalan, sudah dua motor jatuh minggu ini.",
        "first_name": "Maria",
        "last_name": "Lelo",
        "email": "maria.lelo@example.id",
        "attribute[region_code]": "5371",
    }
    form.update(fields)
    return await drive.client("intake").post(
        f"/open311/v2/requests.{fmt}", data={k: v for k, v in form.items() if v}
    )


def errors_of(response: httpx.Response, status: int) -> list[dict[str, Any]]:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body, list) and body
    for error in body:
        assert set(error) == {"code", "description"}
        assert error["code"] == status and isinstance(error["description"], str)
    return body


def xml_errors(response: httpx.Response, status: int) -> None:
    assert response.status_code == status
    root = ET.fromstring(response.content)
    assert root.tag == "errors"
    assert [e.findtext("code") for e in root] == [str(status)]


async def test_discovery(drive: Driver) -> None:
    body = (await get(drive, "discovery.json")).json()
    assert {"changeset", "contact", "key_service", "endpoints"} <= set(body)
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2/")
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    iso_with_zone(endpoint["changeset"])

    xml = await get(drive, "discovery.xml")
    assert xml.headers["content-type"].startswith("text/xml")
    assert xml.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(xml.content)
    assert root.tag == "discovery"
    assert [f.text for f in root.find("endpoints/endpoint/formats")] == [  # type: ignore[union-attr]
        "text/xml",
        "application/json",
    ]


async def test_the_service_list_is_our_categories(drive: Driver) -> None:
    services = (await get(drive, "services.json")).json()
    assert [s["service_code"] for s in services] == [c.code for c in load_categories()]
    for service in services:
        assert set(service) == SERVICE_FIELDS
        assert all(isinstance(service[k], str) for k in SERVICE_FIELDS - {"metadata"})
        assert isinstance(service["metadata"], bool)
        assert service["type"] in {"realtime", "batch", "blackbox"}

    root = ET.fromstring((await get(drive, "services.xml")).content)
    assert root.tag == "services"
    assert {child.tag for child in root} == {"service"}
    first = root[0]
    assert {child.tag for child in first} == SERVICE_FIELDS
    assert first.findtext("metadata") in {"true", "false"}


async def test_a_service_definition_and_an_unknown_code(drive: Driver) -> None:
    definition = (await get(drive, "services/kesehatan.json")).json()
    assert definition["service_code"] == "kesehatan"
    orders = []
    for attribute in definition["attributes"]:
        assert set(attribute) == ATTRIBUTE_FIELDS
        assert attribute["datatype"] in DATATYPES
        assert isinstance(attribute["required"], bool) and isinstance(attribute["variable"], bool)
        assert isinstance(attribute["order"], int)
        for value in attribute["values"]:
            assert set(value) == {"key", "name"}
        orders.append(attribute["order"])
    assert orders == sorted(orders)
    codes = {a["code"] for a in definition["attributes"]}
    assert {"anonymous", "confidential", "classification"} <= codes

    root = ET.fromstring((await get(drive, "services/kesehatan.xml")).content)
    assert root.tag == "service_definition"
    assert root.find("attributes/attribute/values/value/key") is not None

    errors_of(await get(drive, "services/tidak-ada.json"), 404)
    xml_errors(await get(drive, "services/tidak-ada.xml"), 404)


async def test_posting_needs_a_client_api_key(drive: Driver) -> None:
    errors_of(await create(drive, api_key=""), 403)
    errors_of(await create(drive, api_key="not-a-token"), 403)
    errors_of(await create(drive, api_key=drive.token("admin")), 403)
    xml_errors(await create(drive, "xml", api_key=""), 403)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"service_code": ""}, "service_code"),
        ({"service_code": "tidak-ada"}, "service_code"),
        ({"lat": "", "long": "", "address_string": ""}, "location"),
        ({"lat": "95"}, "lat"),
        ({"description": "pendek"}, "description"),
        ({"description": "x" * 4001}, "description"),
        ({"attribute[anonymous]": "mungkin"}, "attribute[anonymous]"),
        ({"email": "bukan-email"}, "email"),
        # where it is (issue 19): official region codes, coordinates in Indonesia
        ({"attribute[region_code]": "537199"}, "attribute[region_code]"),
        ({"attribute[region_code]": "53-71"}, "attribute[region_code]"),
        ({"lat": "3.1390", "long": "101.6869"}, "lat"),  # Kuala Lumpur
        # round 5: a text with nothing readable was refused naming our field (`title`, `body`)
        ({"attribute[title]": "\u202e\u202e\u202eab"}, "attribute[title]"),
        ({"description": "\x01" * 12}, "description"),
    ],
)
async def test_bad_requests_name_the_field(
    drive: Driver, fields: dict[str, str], field: str
) -> None:
    (error,) = errors_of(await create(drive, **fields), 400)
    assert error["description"].startswith(field), error


async def test_an_idempotency_key_reused_for_another_request_is_an_open311_error(
    drive: Driver,
) -> None:
    form = {
        "api_key": drive.token("client"),
        "service_code": "infrastruktur",
        "description": "Lubang besar di tengah jalan, sudah dua motor jatuh minggu ini.",
        "address_string": "Jl. El Tari, Oebobo, Kota Kupang",
        "attribute[region_code]": "5371",
    }
    client = drive.client("intake")
    headers = {"Idempotency-Key": "crm-ticket-7731"}
    first = await client.post("/open311/v2/requests.json", data=form, headers=headers)
    retried = await client.post("/open311/v2/requests.json", data=form, headers=headers)
    other = {**form, "description": "Pohon tumbang menutup jalan ke pasar sejak tadi pagi."}
    reused = await client.post("/open311/v2/requests.json", data=other, headers=headers)

    assert first.status_code == retried.status_code == 200, first.text
    assert first.json() == retried.json()
    (error,) = errors_of(reused, 400)
    assert error["description"].startswith("Idempotency-Key:")
    assert first.json()[0]["access_code"] not in reused.text


async def test_a_request_is_created_and_read_back_in_both_formats(
    drive: Driver, lapor: InProcessSystem
) -> None:
    created = await create(drive)
    assert created.status_code == 200, created.text
    (result,) = created.json()
    assert set(result) >= {"service_request_id", "service_notice", "account_id"}
    tracking_id = result["service_request_id"]
    assert isinstance(tracking_id, str) and len(result["access_code"]) == 8

    # Not published yet: the public reads its status and dates, never what it says or where.
    (early,) = (await get(drive, f"requests/{tracking_id}.json")).json()
    assert set(early) == REQUEST_FIELDS and early["status"] == "open"
    assert (early["description"], early["address"], early["lat"], early["service_code"]) == (
        "",
        None,
        None,
        None,
    )
    iso_with_zone(early["requested_datetime"])
    # Its reporter reads all of it with the access code.
    (own,) = (await get(drive, f"requests/{tracking_id}.json", result["access_code"])).json()
    assert own["service_code"] == "infrastruktur" and own["description"].startswith("Lubang")
    await publish(lapor, tracking_id)

    readable = await get(drive, f"requests/{tracking_id}.json")
    assert readable.status_code == 200, readable.text
    (one,) = readable.json()
    assert set(one) == REQUEST_FIELDS
    assert one["service_request_id"] == tracking_id
    assert one["status"] == "open"
    assert one["service_code"] == "infrastruktur"
    assert one["service_name"].startswith("Infrastruktur")
    assert (one["lat"], one["long"]) == (-10.1772, 123.607)
    assert one["address"] == "Jl. El Tari, Oebobo, Kota Kupang"
    iso_with_zone(one["requested_datetime"])
    iso_with_zone(one["updated_datetime"])
    assert "maria" not in str(one).lower()

    root = ET.fromstring((await get(drive, f"requests/{tracking_id}.xml")).content)
    assert root.tag == "service_requests"
    (request,) = root
    assert request.tag == "request"
    assert {child.tag for child in request} == REQUEST_FIELDS
    assert request.findtext("status") == "open"
    assert float(request.findtext("lat") or "nan") == -10.1772

    token = (await get(drive, f"tokens/{tracking_id}.json")).json()
    assert token == [{"service_request_id": tracking_id, "token": tracking_id}]
    errors_of(await get(drive, "requests/ABCDEFGHJ2.json"), 404)
    errors_of(await get(drive, "tokens/ABCDEFGHJ2.json"), 404)
    report = (await drive.report(tracking_id)).json()
    assert (report["channel"], report["category"]) == ("open311", "infrastruktur")


async def test_listing_filters_and_the_open_closed_mapping(
    drive: Driver, lapor: InProcessSystem
) -> None:
    kept = (await create(drive, service_code="kesehatan")).json()[0]["service_request_id"]
    closed = (await create(drive, service_code="kesehatan")).json()[0]["service_request_id"]
    secret = (
        await create(drive, service_code="kesehatan", **{"attribute[confidential]": "true"})
    ).json()[0]["service_request_id"]
    spam = (await create(drive, service_code="kesehatan")).json()[0]["service_request_id"]
    waiting = (await create(drive, service_code="kesehatan")).json()[0]["service_request_id"]
    for tid in (kept, closed, secret):
        await publish(lapor, tid)
    await act(lapor, closed, CloseReport(reason=CloseReason.BY_ADMIN))
    await act(lapor, spam, RejectReport(reason=RejectionReason.SPAM))
    assert (await drive.report(closed)).json()["status"] == "closed"

    async def ids(**params: str) -> list[str]:
        response = await get(drive, "requests.json", **params)
        assert response.status_code == 200, response.text
        return [r["service_request_id"] for r in response.json()]

    listed = await ids(service_code="kesehatan")
    assert kept in listed and closed in listed
    assert secret not in listed  # confidential: never listed
    assert spam not in listed and waiting not in listed  # rejected, not yet forwarded
    assert kept in await ids(service_code="kesehatan", status="open")
    assert closed not in await ids(service_code="kesehatan", status="open")
    assert await ids(service_code="kesehatan", status="closed") == [closed]
    both = {kept, closed}
    assert set(await ids(service_request_id=f"{kept},{secret},{closed},{spam}")) == both
    errors_of(await get(drive, f"requests/{secret}.json"), 404)

    now = datetime.now(UTC)
    assert kept in await ids(start_date=(now - timedelta(hours=1)).isoformat())
    assert kept not in await ids(end_date=(now - timedelta(days=1)).isoformat())
    (error,) = errors_of(
        await get(
            drive,
            "requests.json",
            start_date="2025-01-01T00:00:00+07:00",
            end_date="2025-06-01T00:00:00Z",
        ),
        400,
    )
    assert error["description"].startswith("end_date")
    errors_of(await get(drive, "requests.json", status="pending"), 400)
    errors_of(await get(drive, "requests.json", start_date="kemarin"), 400)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        # Dates at the ends of what a date can hold: the 90-day window around them overflowed
        # (500) instead of naming the parameter.
        ({"end_date": "0001-01-01T00:00:00Z"}, "end_date"),
        ({"start_date": "9999-12-31T23:59:59Z"}, "start_date"),
        ({"start_date": "0001-01-01T00:00:00+01:00"}, "start_date"),
        ({"end_date": "9999-12-31T23:00:00-14:00"}, "end_date"),
    ],
)
async def test_a_date_no_window_can_hold_is_400_naming_it(
    drive: Driver, params: dict[str, str], field: str
) -> None:
    (error,) = errors_of(await get(drive, "requests.json", **params), 400)
    assert error["description"].startswith(f"{field}: "), error


async def test_an_anonymous_request_and_an_unsupported_format(drive: Driver) -> None:
    created = await create(
        drive, first_name="", last_name="", email="", **{"attribute[anonymous]": "true"}
    )
    tracking_id, code = created.json()[0]["service_request_id"], created.json()[0]["access_code"]
    assert (await drive.report(tracking_id, code)).json()["anonymous"] is True
    errors_of(await get(drive, "services.yaml"), 400)


async def test_a_kupang_request_expects_its_answer_in_wita_and_is_there_at_once(
    drive: Driver,
) -> None:
    """Issue 17: expected_datetime was +07:00 for every report (Kupang is WITA, +08:00); a GET
    right after the POST answered 404."""
    created = await create(drive)
    assert created.status_code == 200, created.text
    [receipt] = created.json()
    request_id = receipt["service_request_id"]
    first = await get(drive, f"requests/{request_id}.json")
    assert first.status_code == 200, first.text  # the client reads what it just wrote
    await drive.verify(request_id)
    [forwarded] = (await get(drive, f"requests/{request_id}.json")).json()
    assert forwarded["expected_datetime"].endswith("T23:59:59+08:00"), forwarded


async def test_a_dotted_region_code_is_the_official_one(
    drive: Driver, lapor: InProcessSystem
) -> None:
    created = await create(drive, **{"attribute[region_code]": "53.71.04.1001"})
    assert created.status_code == 200, created.text
    (result,) = created.json()
    events = await lapor.store.read(f"report-{result['service_request_id']}")
    assert events[0].data["location"]["region_code"] == "5371041001"


async def test_the_notice_of_a_new_request_states_the_verification_limit_the_policy_sets(
    tmp_path: Path,
) -> None:
    """The answer to a new request promised "diverifikasi dalam 3 hari kerja" whatever the
    policy: where the national policy gives the desk 5 working days, it promised a deadline
    the system does not keep. It states the policy's limit."""
    policy = tmp_path / "sla-policy.json"
    policy.write_text(json.dumps({"defaults": {"verification": 5}}))
    env = {"LAPOR_SLA_POLICY_FILE": str(policy)}
    async with (
        in_process(tmp_path / "lapor", ("intake",), env=env) as lapor,
        driving(lapor) as drive,
    ):
        created = await create(drive)
    assert created.status_code == 200, created.text
    [answer] = created.json()
    assert answer["service_notice"] == "Laporan diterima; diverifikasi dalam 5 hari kerja."


async def test_one_report_with_a_noncharacter_does_not_break_the_xml_feed(
    drive: Driver, lapor: InProcessSystem
) -> None:
    """A citizen's text with U+FFFE or U+FFFF (no one types them; a broken keyboard app or an
    attacker does) was written into the XML as it was: once the report was published, every
    client's `requests.xml` (the spec's required format) failed to parse, the whole list, not
    just that request. The XML leaves out what XML 1.0 cannot hold; JSON keeps the text."""
    created = await create(
        drive,
        description="Lubang besar \ufffe di jalan raya \uffff sudah dua minggu tidak diperbaiki.",
        **{"attribute[title]": "Jalan \uffff rusak"},
    )
    assert created.status_code == 200, created.text
    tracking_id = created.json()[0]["service_request_id"]
    await publish(lapor, tracking_id)

    for path in (f"requests/{tracking_id}.xml", "requests.xml"):
        response = await get(drive, path)
        assert response.status_code == 200, response.text
        root = ET.fromstring(response.content)  # parses: the feed is readable
        (request,) = [r for r in root if r.findtext("service_request_id") == tracking_id]
        assert request.findtext("description") == (
            "Lubang besar  di jalan raya  sudah dua minggu tidak diperbaiki."
        )


async def test_a_body_over_the_size_limit_is_refused_in_open311s_own_format(
    drive: Driver,
) -> None:
    """An integrator posting a description of more than 1 MB got `{"detail": …}`, which an
    Open311 client does not read; it is now Open311's error list, XML on an .xml path, saying
    what is too large in Bahasa Indonesia, then English."""
    description = "Jalan rusak. " * 90_000  # about 1.2 MB, over LAPOR_INTAKE_MAX_BODY_BYTES
    for fmt in ("json", "xml"):
        refused = await create(drive, fmt, description=description)
        assert refused.headers["content-type"].startswith(
            "text/xml" if fmt == "xml" else "application/json"
        ), fmt
        if fmt == "xml":
            xml_errors(refused, 413)
            said = ET.fromstring(refused.content).findtext("error/description") or ""
        else:
            (error,) = errors_of(refused, 413)
            said = error["description"]
        assert said.startswith("body: isi permintaan terlalu besar"), said
        assert " / request body too large (at most 1,000,000 bytes)" in said, said
    # Elsewhere the answer stays the API's own.
    api = await drive.client("intake").post(
        "/api/v1/reports",
        content=b"{" + b" " * 1_100_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert api.status_code == 413 and api.json()["detail"].startswith("body: ")
