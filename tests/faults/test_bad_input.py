"""Bad input never makes a server error.

- schemathesis reads every service's OpenAPI document from the running service and sends a
  bounded number of generated requests to every operation (valid and invalid ones, with an
  officer's token so the checks reach past authentication); no answer may be a 5xx, and every
  answer must match the document (response schema and media type).
- hypothesis fuzzes what arrives from outside without a schema worth the name: SMS text through
  the Kannel webhook (always a 2xx plain-text answer, never the "busy, resend" reply that means
  an internal error), tracking IDs (`normalize_tracking_id` raises nothing but
  InvalidTrackingId; a report URL with any ID gives 4xx, never 5xx), and webhook deliveries with
  valid signatures (random JSON, and random values in the shapes the parsers walk).

`LAPOR_FUZZ_EXAMPLES` sets the examples per operation (default 5; CI keeps it small) and
`LAPOR_FUZZ_RANDOM=1` drops the fixed seed to explore.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation.case import Case
from schemathesis.schemas import APIOperation, BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from services.intake.channels.conversation import BUSY
from services.intake.channels.social import meta_signature, x_signature
from shared.reports.tracking import InvalidTrackingId, is_valid_tracking_id, normalize_tracking_id
from shared.settings import SERVICE_NAMES
from tests.faults.harness import SECRET_META, SECRET_X, Faults
from tests.support import SMS_WEBHOOK_TOKEN

pytestmark = pytest.mark.timeout(600)

EXAMPLES = int(os.environ.get("LAPOR_FUZZ_EXAMPLES", "5"))
FIXED = not os.environ.get("LAPOR_FUZZ_RANDOM")
AGENCY = "DINKES-KOTA-KUPANG"
# Operations an agency officer calls (routing's desk); everything else with an admin's token.
AGENCY_PATHS = ("/inbox", "/follow-ups", "/return", "/transfer", "/desk")
# No 5xx; and every answer as the OpenAPI document describes it (status, schema, media type).
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=FIXED,
    suppress_health_check=list(HealthCheck),
    database=None,
)


def load_schema(faults: Faults, service: str) -> BaseSchema:
    schema = schemathesis.openapi.from_url(f"{faults.url(service)}/openapi.json")
    schema.config.generation.update(with_security_parameters=False, database="none")
    return schema


def officer(faults: Faults, path: str) -> dict[str, str]:
    if any(p in path for p in AGENCY_PATHS):
        token = faults.system.token("agency", agency=AGENCY)
    else:
        token = faults.system.token("admin")
    return {"Authorization": f"Bearer {token}"}


def fuzz_operation(
    faults: Faults, service: str, operation: APIOperation[Any, Any, Any, Any]
) -> str | None:
    """A bounded number of valid and invalid requests to one operation; the first 5xx, if any."""
    headers = officer(faults, operation.path)
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=FIXED,
        suppress_health_check=list(HealthCheck),
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    @given(case=cases)
    def run(case: Case[Any]) -> None:
        case.call_and_validate(
            base_url=faults.url(service), headers=headers, checks=CHECKS, timeout=60
        )

    try:
        run()
    except (Exception, BaseExceptionGroup) as error:  # the checks' failures, with the request
        return f"{operation.method.upper()} {operation.path}: {str(error)[:2000]}"
    return None


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_no_generated_request_makes_a_server_error(whole: Faults, service: str) -> None:
    schema = load_schema(whole, service)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"{service}: an operation schemathesis cannot read: {result}"
        operations.append(result.ok())
    assert operations, f"{service} publishes no operation"
    failures = [f for op in operations if (f := fuzz_operation(whole, service, op))]
    assert not failures, "\n\n".join(failures)


# --- hypothesis: what channels send ------------------------------------------------------------
PHONES = st.from_regex(r"\+62[0-9]{8,12}", fullmatch=True)
SMS_TEXT = st.one_of(
    st.text(max_size=200),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789", max_size=60),
    st.builds(
        lambda kw, rest: f"{kw} {rest}",
        st.sampled_from(["CEK", "BALAS", "cek", "KUPANG", "TIMOR TENGAH UTARA", "POLL", "JAWAB"]),
        st.text(max_size=120),
    ),
)


@FUZZ
@given(sender=PHONES, text=SMS_TEXT, message_id=st.text(max_size=30))
def test_any_sms_gets_a_2xx_answer(faults: Faults, sender: str, text: str, message_id: str) -> None:
    response = httpx.get(
        f"{faults.url('intake')}/channels/sms",
        params={
            "from": sender,
            "to": "1708",
            "text": text,
            "id": message_id,
            "token": SMS_WEBHOOK_TOKEN,
        },
        timeout=60,
    )
    assert 200 <= response.status_code < 300, (response.status_code, response.text)
    assert response.text != BUSY, f"an internal error answered {text!r}"


@settings(max_examples=2000, deadline=None, derandomize=FIXED, database=None)
@given(
    raw=st.one_of(
        st.text(), st.text(alphabet="23456789ABCDEFGHJKLMNPQRSTUVWXYZ -.oOiIl1", max_size=14)
    )
)
def test_normalizing_a_tracking_id_raises_nothing_but_invalid(raw: str) -> None:
    try:
        normalized = normalize_tracking_id(raw)
    except InvalidTrackingId:
        return
    assert is_valid_tracking_id(normalized)


@FUZZ
@given(raw=st.text(min_size=1, max_size=40))
def test_any_tracking_id_in_a_url_is_a_4xx(faults: Faults, raw: str) -> None:
    response = httpx.get(f"{faults.url('intake')}/api/v1/reports/{quote(raw, safe='')}", timeout=60)
    assert response.status_code < 500, (raw, response.status_code, response.text)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
ANY = st.one_of(JSON, st.text(max_size=10))


def whatsapp(value: Any, message: Any) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [{"field": "messages", "value": {**value, "messages": [message]}}],
            }
        ],
    }


def messaging(kind: str, event: Any, message: Any) -> dict[str, Any]:
    body = {**event, "message": message} if isinstance(event, dict) else event
    return {"object": kind, "entry": [{"id": "1", "messaging": [body]}]}


def x_payload(event: Any, create: Any) -> dict[str, Any]:
    wrapped = {**event, "message_create": create} if isinstance(event, dict) else event
    return {"for_user_id": "42", "direct_message_events": [wrapped]}


MESSAGES = st.fixed_dictionaries(
    {},
    optional={
        "from": ANY,
        "id": ANY,
        "type": st.sampled_from(["text", "image", "audio"]) | ANY,
        "text": st.fixed_dictionaries({}, optional={"body": ANY}) | ANY,
    },
)
PAYLOADS = st.one_of(
    st.tuples(st.just("whatsapp"), JSON),
    st.tuples(
        st.just("whatsapp"),
        st.builds(whatsapp, st.dictionaries(st.text(max_size=10), JSON, max_size=3), MESSAGES),
    ),
    st.tuples(
        st.sampled_from(["messenger", "instagram"]),
        st.builds(
            messaging,
            st.sampled_from(["page", "instagram"]),
            st.fixed_dictionaries({}, optional={"sender": ANY, "recipient": ANY}),
            st.fixed_dictionaries({}, optional={"mid": ANY, "text": ANY, "is_echo": ANY}) | ANY,
        ),
    ),
    st.tuples(
        st.just("x"),
        st.builds(
            x_payload,
            st.fixed_dictionaries(
                {}, optional={"type": st.just("message_create") | ANY, "id": ANY}
            ),
            st.fixed_dictionaries({}, optional={"sender_id": ANY, "message_data": ANY}) | ANY,
        ),
    ),
    st.tuples(st.sampled_from(["messenger", "instagram", "x"]), JSON),
)


@FUZZ
@given(payload=PAYLOADS)
def test_any_signed_webhook_delivery_is_never_a_server_error(
    faults: Faults, payload: tuple[str, Any]
) -> None:
    channel, content = payload
    body = json.dumps(content).encode()
    if channel == "x":
        headers = {"x-twitter-webhooks-signature": x_signature(SECRET_X, body)}
    else:
        headers = {"X-Hub-Signature-256": meta_signature(SECRET_META, body)}
    response = httpx.post(
        f"{faults.url('intake')}/channels/{channel}",
        content=body,
        headers={**headers, "Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code < 500, (channel, content, response.status_code, response.text)


def test_after_all_that_nothing_was_skipped_and_the_audit_passes(whole: Faults) -> None:
    """What the fuzzing got accepted went through every consumer: no event dead-lettered, every
    view at the store's last position, every hash chain intact. (The views' equality with a
    rebuild is the load test's; here it would cost another replay of the whole store.)"""
    quiet = whole.wait_quiet()
    assert all(position == quiet.last_position for position in quiet.checkpoints.values())
    dead = {
        name: [tuple(r) for r in whole.store_view(name, "SELECT * FROM dead_letters")]
        for name in SERVICE_NAMES
    }
    assert not any(dead.values()), dead
    whole.audit()
