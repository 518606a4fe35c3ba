"""The AsyncAPI document routing serves: valid AsyncAPI 3.0, every event type the domain
defines, the headers the relay really sends, both servers and the institutions' consumer."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import jsonschema_rs

from services.relay.relay import messages_of
from shared.events.registry import EVENT_TYPES
from tests.driver import Driver
from tests.harness import InProcessSystem
from tests.routing.steps import DINKES, DPUPR, forwarded

# The official JSON schema of AsyncAPI 3.0.0 (npm @asyncapi/specs 6.11.1, Apache-2.0).
SCHEMA = Path(__file__).parents[1] / "data" / "asyncapi-3.0.0.schema.json.gz"


async def asyncapi(drive: Driver) -> dict[str, Any]:
    response = await drive.client("routing").get("/asyncapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    doc: dict[str, Any] = response.json()
    return doc


async def test_it_is_valid_asyncapi_and_lists_every_event_type(drive: Driver) -> None:
    doc = await asyncapi(drive)
    validator = jsonschema_rs.validator_for(json.loads(gzip.decompress(SCHEMA.read_bytes())))
    assert [str(e) for e in validator.iter_errors(doc)] == []
    assert doc["asyncapi"] == "3.0.0"
    published = {name for name in doc["channels"] if name != "AgencyConsumer"}
    assert published == set(EVENT_TYPES)
    for name, event in EVENT_TYPES.items():
        channel = doc["channels"][name]
        assert channel["address"] == f"lapor.v1.events.{name}.{{region_code}}.{{agency_code}}"
        schema = doc["components"]["schemas"][f"{name}Message"]
        data = schema["properties"]["data"]
        assert data["$ref"] == f"#/components/schemas/{event.__name__}"
        assert set(event.model_fields) <= set(
            doc["components"]["schemas"][event.__name__].get("properties", {})
        )
    assert set(doc["servers"]) == {"production", "local"}


async def test_headers_and_correlation_id_are_what_the_relay_sends(
    lapor: InProcessSystem, drive: Driver
) -> None:
    doc = await asyncapi(drive)
    tracking_id, agency = await forwarded(drive, "Air bersih", region="5371", category="kesehatan")
    assert agency == DINKES
    moved = await drive.agency(tracking_id, "transfer", DINKES, {"agency_code": DPUPR})
    assert moved.status_code == 200, moved.text
    events = await lapor.store.read(f"report-{tracking_id}")
    sent = [m for event in events for m in messages_of(event)]
    assert any("Lapor-Copy-For" in m.headers for m in sent)  # the transfer's copy to DINKES
    for message in doc["components"]["messages"].values():
        headers = message["headers"]
        location = message["correlationId"]["location"]
        assert location.startswith("$message.header#/")
        for m in sent:
            assert set(headers["required"]) <= m.headers.keys() <= headers["properties"].keys()
            assert location.removeprefix("$message.header#/") in m.headers
            assert m.headers["correlation_id"] == json.loads(m.body)["correlation_id"]


async def test_the_institutions_consumer_and_the_page_for_people(drive: Driver) -> None:
    doc = await asyncapi(drive)
    consumer = doc["operations"]["AgencyConsumer"]
    assert consumer["action"] == "receive"
    assert "agency-<CODE>" in consumer["description"]
    assert "lapor nats credentials --agency" in consumer["description"]
    page = await drive.client("routing").get("/asyncapi")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Peristiwa LAPOR untuk sistem instansi" in page.text
    for name in EVENT_TYPES:
        assert f'id="{name}"' in page.text
