"""Hostile input at every door: script in every field that reaches a page, injection in every
search box, traversal in file names, bodies and images too big, forged and replayed webhooks -
and an authorisation matrix over every endpoint of every service (from their OpenAPI documents)
and every kind of caller. Nothing ever answers 500."""

from __future__ import annotations

import asyncio
import io
import json
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.store.sqlite import SqliteEventStore
from tests.security.support import (
    AGENCY_A,
    CATEGORY,
    KUPANG,
    META_APP_SECRET,
    SMS_WEBHOOK_TOKEN,
    X_CONSUMER_SECRET,
    Lapor,
    csrf_of,
    meta_signature,
    new_address,
    x_signature,
)
from tests.support import SERVICES, NatsServer, System, wait_for

SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
SECRET_WORD = "Tersembunyixq5"


def _png(width: int = 8, height: int = 8) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


def _bomb() -> bytes:
    """A few hundred bytes of PNG that claim 1.2 billion pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 40_000, 30_000, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 5_001 * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def _submitted_with(system: System, message_id: str) -> list[str]:
    """Tracking IDs of the stored reports whose channel message id is `message_id`."""

    async def read() -> list[str]:
        store = SqliteEventStore(system.data_dir / "events.db")
        try:
            found, position = [], 0
            while batch := await store.read_all(position, 1000):
                position = batch[-1].position
                found += [
                    e.data["tracking_id"]
                    for e in batch
                    if e.event_type == "ReportSubmitted"
                    and e.data.get("channel_message_id") == message_id
                ]
            return found
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.fixture(scope="module")
def confidential(lapor: Lapor) -> dict[str, str]:
    """A confidential report forwarded to agency A: what injections must never reveal."""
    tid, code = lapor.submit(
        title=f"Laporan {SECRET_WORD}",
        body=f"Isi laporan rahasia {SECRET_WORD} tentang pungutan.",
        confidential=True,
    )
    lapor.seen(tid, code)
    lapor.forward(tid)
    return {"tid": tid, "code": code}


# --- XSS ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hostile(lapor: Lapor) -> dict[str, str]:
    """A report whose every free-text field carries script, taken through its life."""
    address = {"X-Forwarded-For": new_address()}
    upload = lapor.intake.post(
        "/api/v1/attachments",
        files={"file": (f"{BREAKOUT}.png", _png(), "image/png")},
        headers=address,
    )
    assert upload.status_code == 201, upload.text
    tid, code = lapor.submit(
        title=f"Jalan {SCRIPT}",
        body=f"Lubang besar {BREAKOUT} di jalan {SCRIPT} dekat pasar.",
        location=KUPANG | {"address": f"Jl. {BREAKOUT}"},
        reporter={"name": SCRIPT},
        attachments=[
            {
                "sha256": upload.json()["sha256"],
                "name": f"{BREAKOUT}.png",
                "upload_token": upload.json()["upload_token"],
            }
        ],
    )
    reporter = {"X-Access-Code": code, "X-Forwarded-For": new_address()}
    lapor.seen(tid)
    asked = lapor.verification.post(
        f"/api/v1/reports/{tid}/request-completion",
        json={"note": f"Foto? {SCRIPT}"},
        headers=lapor.auth("admin"),
    )
    assert asked.status_code == 200, asked.text
    amended = lapor.intake.post(
        f"/api/v1/reports/{tid}/amendments", json={"text": f"Ini {BREAKOUT}"}, headers=reporter
    )
    assert amended.status_code == 201, amended.text
    lapor.forward(tid)
    lapor.follow_up(tid, f"Sedang diperbaiki {SCRIPT} {BREAKOUT}", "question")
    replied = lapor.intake.post(
        f"/api/v1/reports/{tid}/replies", json={"text": f"Baik {SCRIPT}"}, headers=reporter
    )
    assert replied.status_code == 201, replied.text
    wait_for(
        lambda: (
            lapor.seen(tid)["status"] == "followed_up"
            and len(lapor.intake.get(f"/api/v1/reports/{tid}/timeline").json()) >= 7
        ),
        30,
        what="intake to show the whole story",
    )
    return {"tid": tid, "code": code}


def _signed_in(client: httpx.Client, login: str, token: str) -> httpx.Client:
    got = client.post(login, data={"token": token}, follow_redirects=False)
    assert got.status_code in (302, 303), got.text[-300:]
    return client


def _pages(lapor: Lapor, tid: str, code: str) -> Iterator[tuple[str, httpx.Response]]:
    intake = lapor.intake
    yield "report page", intake.get(f"/laporan/{tid}")
    yield "browse", intake.get("/laporan", params={"q": "Lubang"})
    yield "browse echo", intake.get("/laporan", params={"q": SCRIPT})
    yield "map page", intake.get("/peta")
    yield "stats page", intake.get("/statistik")
    yield "track echo", intake.get("/lacak", params={"id": BREAKOUT})
    with httpx.Client(base_url=lapor.system.url("intake"), timeout=20) as browser:
        address = {"X-Forwarded-For": new_address()}
        token = csrf_of(browser.get("/lacak", headers=address).text)
        yield (
            "report page as reporter",
            browser.post(
                f"/laporan/{tid}/masuk",
                headers=address,
                data={"csrf_token": token, "access_code": code},
                follow_redirects=True,
            ),
        )
        yield (
            "form echo",
            browser.post(
                "/lapor",
                headers=address,
                # Too short a body: the form comes back with what was typed in it.
                data={"csrf_token": token, "title": SCRIPT, "body": "pendek", "name": BREAKOUT},
            ),
        )
    with httpx.Client(base_url=lapor.system.url("verification"), timeout=20) as console:
        _signed_in(console, "/console/login", lapor.tokens["admin"])
        yield "console queue", console.get("/console", params={"status": "followed_up"})
        yield (
            "console queue echo",
            console.get("/console", params={"q": SCRIPT, "region": BREAKOUT}),
        )
        yield "console report", console.get(f"/console/reports/{tid}")
    with httpx.Client(base_url=lapor.system.url("routing"), timeout=20) as desk:
        _signed_in(desk, "/desk/login", lapor.tokens["agency_a"])
        yield "desk inbox", desk.get("/desk")
        yield "desk report", desk.get(f"/desk/reports/{tid}")
        yield "desk msg echo", desk.get(f"/desk/reports/{tid}", params={"msg": SCRIPT})
    yield (
        "evidence page",
        lapor.sla.get(f"/api/v1/reports/{tid}/evidence.html", headers=lapor.auth("admin")),
    )


def test_script_in_any_field_is_escaped_on_every_page(
    lapor: Lapor, hostile: dict[str, str]
) -> None:
    rendered = 0
    for name, page in _pages(lapor, hostile["tid"], hostile["code"]):
        assert page.status_code < 500, (name, page.status_code)
        html = page.text
        assert SCRIPT not in html, f"{name}: raw <script> on the page"
        assert BREAKOUT not in html and "<img src=x" not in html, f"{name}: raw <img onerror>"
        if "&lt;script&gt;" in html:
            rendered += 1
    assert rendered >= 8, "the hostile fields did not reach the pages (nothing was tested)"
    # The reporter's own page lists the file by its (escaped) name.
    pages = dict(_pages(lapor, hostile["tid"], hostile["code"]))
    own = pages["report page as reporter"].text
    assert 'id="reporter-actions"' in own and "&lt;img src=x onerror=alert(1)&gt;.png" in own
    # Pages forbid inline script anyway (defence in depth).
    assert "script-src 'self'" in pages["report page"].headers["content-security-policy"]


# --- injection in search -------------------------------------------------------------------------
INJECTIONS = [
    '" OR 1=1 --',
    "' OR '1'='1",
    "title:*",
    "body:Tersembunyi*",
    "NEAR(",
    'NEAR("a" "b", 2)',
    '"unbalanced',
    "unbalanced'",
    f"{SECRET_WORD} OR 1=1",
    f"{SECRET_WORD}*",
    f'"{SECRET_WORD}"',
    f"{SECRET_WORD} NOT x",
    "*",
    "^x",
    "((",
    ")",
    "%",
    "_",
    "\\",
    "z" * 200,
    " ".join(["kata"] * 60),
    "x' UNION SELECT access_code_hash FROM reports --",
    "🙂 ☃ \u202e",
]


def test_sql_and_fts_injection_in_search_never_fails_nor_leaks(
    lapor: Lapor, confidential: dict[str, str]
) -> None:
    secret = confidential["tid"]
    for q in INJECTIONS:
        for label, response in (
            ("api", lapor.intake.get("/api/v1/reports", params={"q": q})),
            ("api category", lapor.intake.get("/api/v1/reports", params={"category": q[:64]})),
            ("browse", lapor.intake.get("/laporan", params={"q": q})),
            (
                "open311",
                lapor.intake.get("/open311/v2/requests.json", params={"service_code": q}),
            ),
            (
                "open311 ids",
                lapor.intake.get("/open311/v2/requests.json", params={"service_request_id": q}),
            ),
            (
                "queue",
                lapor.verification.get(
                    "/api/v1/queue", params={"q": q}, headers=lapor.auth("regional_admin")
                ),
            ),
            (
                "inbox",
                lapor.routing.get("/api/v1/inbox", params={"q": q}, headers=lapor.auth("agency_b")),
            ),
            ("agencies", lapor.routing.get("/api/v1/agencies", params={"q": q[:100]})),
        ):
            assert response.status_code < 500, (label, q, response.text)
            assert secret not in response.text, (label, q)
            assert not re.search(r"[0-9a-f]{64}", response.text), (label, q)  # no hash leaks
    # The search still works, for what it may find.
    assert lapor.intake.get("/api/v1/reports", params={"q": SECRET_WORD}).json() == []
    admin = lapor.verification.get(
        "/api/v1/queue",
        params={"q": SECRET_WORD, "status": "forwarded"},
        headers=lapor.auth("admin"),
    )
    assert [r["tracking_id"] for r in admin.json()] == [secret]


# --- files -------------------------------------------------------------------------------------
def _files_outside(system: System, module_nats: NatsServer) -> set[Path]:
    """Files under the test's temporary root, except the attachment store, the nats-server's
    directory and the services' own databases and logs (which change as they run)."""
    store = system.data_dir / "attachments"
    return {
        p
        # The session's own temporary root (data_dir is <basetemp>/security-data0): its parent
        # holds other pytest sessions' folders, which change while this test runs.
        for p in system.data_dir.parent.rglob("*")
        if p.is_file()
        and not p.is_relative_to(store)
        and not p.is_relative_to(module_nats.store_dir)
        and not p.name.endswith(("-wal", "-shm", "-journal", ".log", ".db"))
    }


def test_attachment_names_cannot_escape_the_store(
    lapor: Lapor, system: System, module_nats: NatsServer
) -> None:
    store = system.data_dir / "attachments"
    outside_before = _files_outside(system, module_nats)
    for name in (
        "../../etc/passwd.png",
        "..\\..\\..\\windows\\win.png",
        "/etc/passwd",
        "....//....//x.png",
        "%2e%2e%2fx.png",
        "x.png%00.sh",
        ".",
        "..",
    ):
        got = lapor.intake.post(
            "/api/v1/attachments",
            files={"file": (name, _png(9, 9), "image/png")},
            headers={"X-Forwarded-For": new_address()},
        )
        assert got.status_code == 201, (name, got.text)
        stored = got.json()
        assert "/" not in stored["name"] and "\\" not in stored["name"], stored
        assert stored["name"] not in (".", "..") and "\x00" not in stored["name"], stored
        assert (store / stored["sha256"][:2] / stored["sha256"]).is_file()
    assert _files_outside(system, module_nats) - outside_before == set()
    for path in store.rglob("*"):
        if path.is_file():
            assert re.fullmatch(r"[0-9a-f]{64}", path.name), path
            assert path.parent.name == path.name[:2]
    # Reading by a crafted name finds nothing either.
    tid = lapor.submit()[0]
    lapor.seen(tid)
    for crafted in ("..%2F..%2Fetc%2Fpasswd", "%2e%2e", "../keys.db", "0" * 64):
        for url in (
            f"/api/v1/reports/{tid}/attachments/{crafted}",
            f"/laporan/{tid}/lampiran/{crafted}",
            f"/static/{crafted}",
        ):
            got = lapor.intake.get(url, headers=lapor.auth("admin"))
            assert got.status_code in (403, 404, 422), (url, got.status_code)
            assert b"SQLite format" not in got.content and b"root:" not in got.content


def test_oversized_bodies_and_images_are_refused(lapor: Lapor) -> None:
    intake = lapor.intake
    address = {"X-Forwarded-For": new_address()}
    huge = {"title": "Besar", "body": "x" * 1_500_000}
    assert intake.post("/api/v1/reports", json=huge, headers=address).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        yield b'{"title": "Besar", "body": "'
        for _ in range(200):
            yield b"x" * 10_000
        yield b'"}'

    streamed = intake.post(
        "/api/v1/reports",
        content=chunks(),
        headers=address | {"Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    big_file = intake.post(
        "/api/v1/attachments",
        files={"file": ("besar.pdf", b"%PDF-1.4\n" + b"0" * 6_000_000 + b"\n%%EOF")},
        headers=address,
    )
    assert big_file.status_code == 413, big_file.text
    bomb = intake.post(
        "/api/v1/attachments", files={"file": ("bom.png", _bomb(), "image/png")}, headers=address
    )
    assert bomb.status_code in (400, 413, 422) and "attachments" in bomb.text, bomb.text
    fake = intake.post(
        "/api/v1/attachments",
        files={"file": ("foto.png", b"<svg onload=alert(1)>", "image/png")},
        headers=address,
    )
    assert fake.status_code in (400, 415, 422), fake.text
    webhook = intake.post("/channels/whatsapp", content=b"{" + b" " * 1_100_000 + b"}")
    assert webhook.status_code == 413
    long_sms = intake.post(
        "/channels/sms",
        params={"from": "+6281200000099", "id": "long-1", "token": SMS_WEBHOOK_TOKEN},
        content=b"KUPANG " + b"x" * 50_000,
    )
    assert long_sms.status_code == 200 and "terlalu panjang" in long_sms.text


def test_officer_services_cap_request_bodies(lapor: Lapor, confidential: dict[str, str]) -> None:
    body = json.dumps({"text": "x" * 3_000_000}).encode()
    got = lapor.routing.post(
        f"/api/v1/reports/{confidential['tid']}/follow-ups",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert got.status_code == 413


# --- webhooks ----------------------------------------------------------------------------------
def _whatsapp(message_id: str, text: str) -> bytes:
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "waba-1",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {"phone_number_id": "PNID-1"},
                                "contacts": [{"wa_id": "6281200000055", "profile": {"name": "W"}}],
                                "messages": [
                                    {
                                        "from": "6281200000055",
                                        "id": message_id,
                                        "type": "text",
                                        "text": {"body": text},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()


def test_forged_webhooks_are_refused_and_replays_are_idempotent(
    lapor: Lapor, system: System
) -> None:
    intake = lapor.intake
    body = _whatsapp("wamid.replay-1", "KUPANG lampu jalan mati di depan sekolah dasar")
    json_type = {"Content-Type": "application/json"}
    good = meta_signature(META_APP_SECRET, body)
    for label, headers in (
        ("unsigned", {}),
        ("garbage", {"X-Hub-Signature-256": "sha256=00"}),
        ("other secret", {"X-Hub-Signature-256": meta_signature("not-our-secret", body)}),
        ("no prefix", {"X-Hub-Signature-256": good.removeprefix("sha256=")}),
    ):
        refused = intake.post("/channels/whatsapp", content=body, headers=json_type | headers)
        assert refused.status_code == 403, (label, refused.text)
    tampered = body.replace(b"lampu jalan", b"LAMPU JALAN")
    assert (
        intake.post(
            "/channels/whatsapp",
            content=tampered,
            headers=json_type | {"X-Hub-Signature-256": good},
        ).status_code
        == 403
    )
    handshake = intake.get(
        "/channels/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "c"},
    )
    assert handshake.status_code == 403
    assert _submitted_with(system, "wamid.replay-1") == []
    for _ in range(2):  # the platform redelivers
        accepted = intake.post(
            "/channels/whatsapp", content=body, headers=json_type | {"X-Hub-Signature-256": good}
        )
        assert accepted.status_code == 200, accepted.text
    assert len(_submitted_with(system, "wamid.replay-1")) == 1

    # X: the CRC answer is the documented HMAC; deliveries need their signature.
    crc = intake.get("/channels/x", params={"crc_token": "abc"}).json()
    assert crc["response_token"] == x_signature(X_CONSUMER_SECRET, b"abc")
    dm = json.dumps(
        {
            "for_user_id": "999",
            "direct_message_events": [
                {
                    "type": "message_create",
                    "id": "x-replay-1",
                    "message_create": {
                        "sender_id": "12345",
                        "message_data": {"text": "KUPANG sampah menumpuk di pasar inpres"},
                    },
                }
            ],
        }
    ).encode()
    for headers in ({}, {"x-twitter-webhooks-signature": x_signature("nope", dm)}):
        assert (
            intake.post("/channels/x", content=dm, headers=json_type | headers).status_code == 403
        )
    signed = {"x-twitter-webhooks-signature": x_signature(X_CONSUMER_SECRET, dm)}
    for _ in range(2):
        assert intake.post("/channels/x", content=dm, headers=json_type | signed).status_code == 200
    assert len(_submitted_with(system, "x-replay-1")) == 1

    # Kannel: the webhook token; the same SMS id twice is one report, answered the same way.
    sms = {
        "from": "+6281200000066",
        "to": "1708",
        "text": "KUPANG jembatan retak",
        "id": "k-replay-1",
    }
    assert intake.get("/channels/sms", params=sms).status_code == 403
    assert intake.get("/channels/sms", params=sms | {"token": "guess"}).status_code == 403
    first = intake.get("/channels/sms", params=sms | {"token": SMS_WEBHOOK_TOKEN})
    again = intake.get("/channels/sms", params=sms | {"token": SMS_WEBHOOK_TOKEN})
    assert first.status_code == again.status_code == 200
    assert "ID:" in first.text and first.text == again.text
    assert len(_submitted_with(system, "k-replay-1")) == 1
    # Open311 wants a client key.
    form = {"service_code": CATEGORY, "lat": "-10.17", "long": "123.6", "description": "x" * 20}
    for key in (None, "garbage", lapor.tokens["admin"], lapor.tokens["forged"]):
        got = intake.post(
            "/open311/v2/requests.json",
            data=form | ({"api_key": key} if key else {}),
            headers={"X-Forwarded-For": new_address()},
        )
        assert got.status_code == 403, (key and key[:10], got.text)


# --- the officers' HTML desks ---------------------------------------------------------------------
def test_officer_consoles_refuse_the_wrong_people(
    lapor: Lapor, confidential: dict[str, str]
) -> None:
    tid = confidential["tid"]
    with httpx.Client(base_url=lapor.system.url("verification"), timeout=20) as console:
        assert console.get("/console", follow_redirects=False).status_code == 303
        for who in ("agency_a", "client", "ombudsman"):
            refused = console.post("/console/login", data={"token": lapor.tokens[who]})
            assert refused.status_code == 403, who
        for who in ("forged", "expired", "alg_none"):
            assert (
                console.post("/console/login", data={"token": lapor.tokens[who]}).status_code == 401
            )
        _signed_in(console, "/console/login", lapor.tokens["admin"])
        # A state change without the form's CSRF token is refused and changes nothing.
        forged = console.post(f"/console/reports/{tid}/reject", data={"reason": "spam"})
        assert forged.status_code in (400, 403), forged.status_code
        assert lapor.seen(tid, confidential["code"])["status"] == "forwarded"
    with httpx.Client(base_url=lapor.system.url("routing"), timeout=20) as desk:
        assert desk.get("/desk", follow_redirects=False).status_code in (302, 303)
        for who in ("admin", "client", "ombudsman", "forged", "expired", "alg_none"):
            assert desk.post("/desk/login", data={"token": lapor.tokens[who]}).status_code == 401
        _signed_in(desk, "/desk/login", lapor.tokens["agency_b"])
        assert desk.get(f"/desk/reports/{tid}").status_code == 404
        assert SECRET_WORD not in desk.get("/desk").text


# --- the authorisation matrix ---------------------------------------------------------------
# Who may call what: ("public" | "officer" | "reporter" | "reporter_or_officer" | "webhook" |
# "api_key", roles an officer needs). An endpoint missing here fails the test: a new endpoint
# must come with its rule.
ADMIN = ("officer", {"admin"})
AGENCY = ("officer", {"agency"})
PUBLIC: tuple[str, set[str]] = ("public", set())
REPORTER: tuple[str, set[str]] = ("reporter", set())
WEBHOOK: tuple[str, set[str]] = ("webhook", set())
POLICY: dict[tuple[str, str, str], tuple[str, set[str]]] = {
    ("intake", "GET", "/api/v1/categories"): PUBLIC,
    ("intake", "GET", "/api/v1/regions"): PUBLIC,
    ("intake", "POST", "/api/v1/attachments"): PUBLIC,
    ("intake", "POST", "/api/v1/reports"): PUBLIC,
    ("intake", "GET", "/api/v1/reports"): PUBLIC,
    ("intake", "GET", "/api/v1/reports/{tracking_id}"): PUBLIC,
    ("intake", "GET", "/api/v1/reports/{tracking_id}/timeline"): PUBLIC,
    ("intake", "GET", "/api/v1/reports/{tracking_id}/attachments/{sha256}"): PUBLIC,
    ("intake", "GET", "/api/v1/map.geojson"): PUBLIC,
    ("intake", "GET", "/api/v1/stats"): PUBLIC,
    ("intake", "POST", "/api/v1/reports/{tracking_id}/amendments"): REPORTER,
    ("intake", "POST", "/api/v1/reports/{tracking_id}/replies"): REPORTER,
    ("intake", "POST", "/api/v1/reports/{tracking_id}/close"): REPORTER,
    ("intake", "POST", "/api/v1/reports/{tracking_id}/rating"): REPORTER,
    ("intake", "GET", "/channels/sms"): WEBHOOK,
    ("intake", "POST", "/channels/sms"): WEBHOOK,
    ("intake", "GET", "/channels/whatsapp"): WEBHOOK,
    ("intake", "POST", "/channels/whatsapp"): WEBHOOK,
    ("intake", "GET", "/channels/messenger"): WEBHOOK,
    ("intake", "POST", "/channels/messenger"): WEBHOOK,
    ("intake", "GET", "/channels/instagram"): WEBHOOK,
    ("intake", "POST", "/channels/instagram"): WEBHOOK,
    ("intake", "GET", "/channels/x"): WEBHOOK,
    ("intake", "POST", "/channels/x"): WEBHOOK,
    ("intake", "GET", "/open311/v2/discovery.{fmt}"): PUBLIC,
    ("intake", "GET", "/open311/v2/services.{fmt}"): PUBLIC,
    ("intake", "GET", "/open311/v2/services/{service_code}.{fmt}"): PUBLIC,
    ("intake", "POST", "/open311/v2/requests.{fmt}"): ("api_key", set()),
    ("intake", "GET", "/open311/v2/requests.{fmt}"): PUBLIC,
    ("intake", "GET", "/open311/v2/requests/{service_request_id}.{fmt}"): PUBLIC,
    ("intake", "GET", "/open311/v2/tokens/{token}.{fmt}"): PUBLIC,
    ("intake", "POST", "/api/v1/offline-reports"): ADMIN,
    ("intake", "GET", "/api/v1/polls"): PUBLIC,
    ("intake", "POST", "/api/v1/polls"): ("officer", {"admin", "agency"}),
    ("intake", "GET", "/api/v1/polls/{code}"): PUBLIC,
    ("intake", "POST", "/api/v1/polls/{code}/verification"): PUBLIC,
    ("intake", "POST", "/api/v1/polls/{code}/answers"): PUBLIC,
    ("intake", "GET", "/api/v1/polls/{code}/results"): PUBLIC,
    ("intake", "POST", "/api/v1/polls/{code}/close"): ("officer", {"admin", "agency"}),
    ("intake", "POST", "/api/v1/polls/{code}/response"): ("officer", {"admin", "agency"}),
    ("verification", "GET", "/api/v1/queue"): ADMIN,
    ("verification", "GET", "/api/v1/reports/{tracking_id}"): ADMIN,
    ("verification", "GET", "/api/v1/reports/{tracking_id}/duplicates"): ADMIN,
    ("verification", "POST", "/api/v1/reports/{tracking_id}/verify"): ADMIN,
    ("verification", "POST", "/api/v1/reports/{tracking_id}/request-completion"): ADMIN,
    ("verification", "POST", "/api/v1/reports/{tracking_id}/reject"): ADMIN,
    ("verification", "POST", "/api/v1/reports/{tracking_id}/postpone"): ADMIN,
    ("verification", "POST", "/api/v1/reports/{tracking_id}/not-our-authority"): ADMIN,
    ("verification", "POST", "/api/v1/reports/{tracking_id}/protection"): ADMIN,
    ("verification", "POST", "/api/v1/bulk-verify"): ADMIN,
    ("verification", "POST", "/api/v1/reports/{tracking_id}/forward"): ADMIN,
    ("verification", "POST", "/api/v1/reports/{tracking_id}/reply"): ADMIN,
    ("verification", "POST", "/api/v1/reports/{tracking_id}/public-text"): ADMIN,
    ("routing", "GET", "/api/v1/agencies"): PUBLIC,
    ("routing", "POST", "/api/v1/agencies"): ADMIN,
    ("routing", "GET", "/api/v1/agencies/{code}"): PUBLIC,
    ("routing", "PUT", "/api/v1/agencies/{code}"): ADMIN,
    ("routing", "GET", "/api/v1/routing-rules"): PUBLIC,
    ("routing", "POST", "/api/v1/routing-rules"): ADMIN,
    ("routing", "DELETE", "/api/v1/routing-rules"): ADMIN,
    ("routing", "GET", "/api/v1/inbox"): AGENCY,
    ("routing", "GET", "/api/v1/inbox/{tracking_id}"): AGENCY,
    ("routing", "POST", "/api/v1/reports/{tracking_id}/follow-ups"): AGENCY,
    ("routing", "POST", "/api/v1/reports/{tracking_id}/return"): AGENCY,
    ("routing", "POST", "/api/v1/reports/{tracking_id}/transfer"): AGENCY,
    ("routing", "POST", "/api/v1/reports/{tracking_id}/delegate"): AGENCY,
    ("routing", "GET", "/api/v1/handed-on"): AGENCY,
    ("routing", "POST", "/api/v1/reports/{tracking_id}/forward"): ADMIN,
    ("routing", "GET", "/api/v1/returned"): ADMIN,
    ("sla", "GET", "/api/v1/calendar/working-days"): PUBLIC,
    ("sla", "GET", "/api/v1/calendar/holidays"): PUBLIC,
    ("sla", "GET", "/api/v1/deadlines"): ("officer", {"admin", "ombudsman", "agency"}),
    ("sla", "GET", "/api/v1/compliance"): ("officer", {"admin", "ombudsman", "agency"}),
    ("sla", "GET", "/api/v1/evidence-key"): PUBLIC,
    ("sla", "POST", "/api/v1/reports/{tracking_id}/escalate"): REPORTER,
    ("sla", "GET", "/api/v1/escalations"): ("officer", {"admin", "ombudsman"}),
    ("sla", "GET", "/api/v1/reports/{tracking_id}/evidence.json"): (
        "reporter_or_officer",
        {"admin", "ombudsman", "agency"},
    ),
    ("sla", "GET", "/api/v1/reports/{tracking_id}/evidence.html"): (
        "reporter_or_officer",
        {"admin", "ombudsman", "agency"},
    ),
    ("notify", "GET", "/api/v1/notifications"): ("reporter_or_officer", {"admin", "ombudsman"}),
}
CALLERS = (
    "none",
    "forged",
    "expired",
    "alg_none",
    "admin",
    "regional_admin",
    "agency_a",
    "agency_b",
    "client",
    "ombudsman",
)
ROLE_OF = {
    "admin": "admin",
    "regional_admin": "admin",
    "agency_a": "agency",
    "agency_b": "agency",
    "client": "client",
    "ombudsman": "ombudsman",
}
SCOPED = {"regional_admin", "agency_b"}  # may be refused a report outside their scope


# A valid body where one is needed to reach the authorisation check (else {} is sent).
BODIES: dict[str, dict[str, Any]] = {
    "/api/v1/reports/{tracking_id}/amendments": {"text": "tambahan"},
    "/api/v1/reports/{tracking_id}/replies": {"text": "balasan"},
    "/api/v1/reports/{tracking_id}/rating": {"rating": 5},
}


def _fill(path: str, tid: str) -> str:
    values = {
        "tracking_id": tid,
        "sha256": "0" * 64,
        "code": "PQRS2345" if "/polls/" in path else AGENCY_A,  # a well-formed poll code
        "fmt": "json",
        "service_code": CATEGORY,
        "service_request_id": tid,
        "token": tid,
    }
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x"), path)


def _expected(kind: str, roles: set[str], caller: str, status: int) -> str | None:
    """None when the status is right for this caller; else what was expected."""
    if status >= 500:
        return "never a 5xx"
    bad_token = caller in ("forged", "expired", "alg_none")
    if kind == "webhook":
        return None if status in (400, 403) else "400/403: unsigned or unknown"
    if kind == "api_key":
        return None if status == 403 else "403: no api_key"
    if kind == "reporter":
        return None if status == 401 else "401: no access code"
    if kind == "public":
        return None if status != 401 or bad_token else "no 401 on a public endpoint"
    if caller == "none" or bad_token:
        return None if status == 401 else "401"
    role = ROLE_OF[caller]
    if role in roles:
        if status == 401 or (status == 403 and caller not in SCOPED):
            return "allowed (not 401/403)"
        return None
    if kind == "reporter_or_officer":
        return None if status in (403, 404) else "403/404: role may not read it"
    return None if status == 403 else "403: wrong role"


def test_authorisation_matrix_over_every_endpoint_and_caller(
    lapor: Lapor, confidential: dict[str, str]
) -> None:
    """Runs last in the module: officers' calls with `{}` may change the target report."""
    tid = confidential["tid"]
    problems: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    for service in SERVICES:
        client = lapor.clients[service]
        spec = client.get("/openapi.json").json()
        for path, operations in spec["paths"].items():
            for method in operations:
                key = (service, method.upper(), path)
                seen.add(key)
                if key not in POLICY:
                    problems.append(f"{key}: no authorisation rule in POLICY")
                    continue
                kind, roles = POLICY[key]
                url = _fill(path, tid)
                for caller in CALLERS:
                    headers = {"X-Forwarded-For": new_address()}
                    if caller != "none":
                        headers |= lapor.auth(caller)
                    body = BODIES.get(path, {})
                    response = client.request(
                        method.upper(),
                        url,
                        headers=headers,
                        json=body if method in ("post", "put") else None,
                    )
                    wrong = _expected(kind, roles, caller, response.status_code)
                    if wrong:
                        problems.append(
                            f"{service} {method.upper()} {path} as {caller}: "
                            f"{response.status_code} (expected {wrong}) {response.text[:120]}"
                        )
    assert set(POLICY) - seen == set(), "rules for endpoints that no longer exist"
    assert problems == [], "\n".join(problems)
