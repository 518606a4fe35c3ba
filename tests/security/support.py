"""The adversary's tools: a running LAPOR with every service, clients for each role, a tap on
NATS, a fake Kannel sendsms that keeps what it is sent, and byte scanners for files and logs.

Each test module starts its own system (`lapor_system`) on a nats-server of its own, so modules
never see each other's reports or rate-limit buckets. X-Forwarded-For is trusted (as behind the
production proxy), so a test can speak from an address of its own with `Lapor.from_()`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from shared.auth import Role, create_token
from tests.support import ROOT, SERVICES, NatsServer, System, start_system, wait_for

AGENCY_A = "DINKES-KOTA-KUPANG"  # gets region 5371 + kesehatan by the seed routing rules
AGENCY_B = "DPUPR-KOTA-KUPANG"
REGION = "5371"  # Kota Kupang
OTHER_REGION = "35"  # Jawa Timur: a regional admin there must not see Kupang's reports
CATEGORY = "kesehatan"
KUPANG = {"region_code": REGION, "lat": -10.1772, "lon": 123.607, "address": "Jl. El Tari"}

SENDSMS_PASSWORD = "sendsms-pw-Qx71"  # must never reach a log
META_APP_SECRET = "meta-app-secret-Qx72"
X_CONSUMER_SECRET = "x-consumer-secret-Qx73"
SMS_WEBHOOK_TOKEN = "sms-webhook-token-Qx74"

_addresses = itertools.count(1)


def new_address() -> str:
    """A client address of the test's own (TEST-NET-2), for per-address rate limits."""
    n = next(_addresses)
    return f"198.51.{100 + n // 250}.{n % 250 + 1}"


# --- a fake Kannel sendsms: what notify sends to the telco edge --------------------------------
class SendsmsSink:
    """`/cgi-bin/sendsms` answering 202 and keeping every request's parameters."""

    def __init__(self) -> None:
        received: list[dict[str, str]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                received.append({k: v[0] for k, v in query.items()})
                body = b"0: Accepted for delivery"
                self.send_response(202)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        port = self.server.server_address[1]
        return f"http://127.0.0.1:{port}/cgi-bin/sendsms?username=lapor&password={SENDSMS_PASSWORD}"

    def start(self) -> SendsmsSink:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def to(self, phone: str) -> list[dict[str, str]]:
        return [r for r in list(self.received) if r.get("to") == phone]


# --- a tap on NATS -----------------------------------------------------------------------------
@dataclass
class Captured:
    subject: str
    data: bytes
    headers: dict[str, str]

    def raw(self) -> bytes:
        heads = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
        return self.subject.encode() + b"\n" + heads.encode() + b"\n" + self.data


class NatsTap:
    """Subscribes to `lapor.v1.>` (core NATS: every JetStream publish passes through it) on a
    thread of its own, keeping every message with its headers."""

    def __init__(self, url: str, subject: str = "lapor.v1.>") -> None:
        self.url = url
        self.subject = subject
        self.messages: list[Captured] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._nc: Any = None

    def start(self) -> NatsTap:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._subscribe(), self._loop).result(15)
        return self

    async def _subscribe(self) -> None:
        import nats

        self._nc = await nats.connect(self.url, name="security-tap")

        async def keep(msg: Any) -> None:
            self.messages.append(Captured(msg.subject, bytes(msg.data), dict(msg.headers or {})))

        await self._nc.subscribe(self.subject, cb=keep)
        await self._nc.flush()

    def stop(self) -> list[Captured]:
        async def close() -> None:
            await self._nc.drain()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        return list(self.messages)


def jetstream_messages(url: str, stream: str = "LAPOR_EVENTS") -> list[Captured]:
    """Every message the JetStream stream holds (everything the relay ever published)."""

    async def dump() -> list[Captured]:
        import nats
        from nats.js.errors import NotFoundError

        nc = await nats.connect(url, name="security-dump")
        try:
            js = nc.jetstream()
            info = await js.stream_info(stream)
            found: list[Captured] = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                try:
                    msg = await js.get_msg(stream, seq)
                except NotFoundError:
                    continue
                subject = msg.subject or ""
                found.append(Captured(subject, bytes(msg.data or b""), dict(msg.headers or {})))
            return found
        finally:
            await nc.close()

    return asyncio.run(dump())


# --- scanning bytes ----------------------------------------------------------------------------
def hits(blob: bytes, needles: Iterable[str]) -> list[str]:
    """The needles that occur in `blob` (case-insensitive; also URL- and JSON-escaped)."""
    low = blob.lower()
    found = []
    for needle in needles:
        forms = {
            needle,
            needle.replace("@", "%40"),
            needle.replace("+", "%2B"),
            needle.replace(" ", "+"),
            needle.replace(" ", "%20"),
        }
        if any(form.lower().encode() in low for form in forms):
            found.append(needle)
    return found


def files_under(*roots: Path) -> Iterator[Path]:
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                yield path


def scan_files(
    needles: Iterable[str], *roots: Path, skip_suffixes: tuple[str, ...] = ()
) -> dict[str, list[str]]:
    """{file: needles found} over every file under the roots (databases, -wal, -shm, keys, …)."""
    wanted = list(needles)
    found: dict[str, list[str]] = {}
    for path in files_under(*roots):
        if path.name.endswith(skip_suffixes):
            continue
        try:
            data = path.read_bytes()
        except OSError:  # a file that vanished between listing and reading (a -wal checkpointed)
            continue
        got = hits(data, wanted)
        if got:
            found[str(path)] = got
    return found


# --- the system and its users ------------------------------------------------------------------
def lapor_system(
    data_dir: Path, nats: NatsServer, extra_env: dict[str, str] | None = None
) -> System:
    env = {
        "LAPOR_TRUSTED_PROXIES": "127.0.0.1",  # the tests speak for many addresses
        "LAPOR_META_APP_SECRET": META_APP_SECRET,
        "LAPOR_META_VERIFY_TOKEN": "meta-verify-Qx75",
        "LAPOR_X_CONSUMER_SECRET": X_CONSUMER_SECRET,
        "LAPOR_SMS_WEBHOOK_TOKEN": SMS_WEBHOOK_TOKEN,
        # Every sender may send plenty: the per-sender limit is another module's test.
        "LAPOR_CHANNEL_MESSAGES_PER_HOUR": "1000",
    } | (extra_env or {})
    return start_system(data_dir, nats.url, services=SERVICES, extra_env=env)


@dataclass
class Lapor:
    """Clients for every service and a token for every role, with the steps of a report's life."""

    system: System
    clients: dict[str, httpx.Client] = field(init=False)
    tokens: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.clients = {
            name: httpx.Client(base_url=self.system.url(name), timeout=20) for name in SERVICES
        }
        secret = self.system.secret.encode()
        self.tokens = {
            "admin": create_token(secret, Role.ADMIN, subject="admin-nasional"),
            "regional_admin": create_token(
                secret, Role.ADMIN, region=OTHER_REGION, subject="admin-jatim"
            ),
            "agency_a": create_token(secret, Role.AGENCY, agency=AGENCY_A, subject="officer-a"),
            "agency_b": create_token(secret, Role.AGENCY, agency=AGENCY_B, subject="officer-b"),
            "client": create_token(secret, Role.CLIENT, subject="client-app"),
            "ombudsman": create_token(secret, Role.OMBUDSMAN, subject="ombudsman-ri"),
            "forged": create_token(b"not-the-secret", Role.ADMIN, subject="mallory"),
            "expired": create_token(
                secret,
                Role.ADMIN,
                subject="admin-lama",
                ttl=timedelta(hours=1),
                now=datetime.now(UTC) - timedelta(days=2),
            ),
            "alg_none": unsigned_token({"sub": "mallory", "role": "admin"}),
        }

    def __getattr__(self, name: str) -> httpx.Client:
        clients = self.__dict__.get("clients", {})
        if name in clients:
            return clients[name]  # type: ignore[no-any-return]
        raise AttributeError(name)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    # -- a report's life --
    def submit(self, address: str | None = None, **fields: Any) -> tuple[str, str]:
        body: dict[str, Any] = {
            "title": "Obat hipertensi kosong",
            "body": "Obat hipertensi kosong dua minggu di Puskesmas Oebobo.",
            "category": CATEGORY,
            "location": KUPANG,
        } | fields
        created = self.clients["intake"].post(
            "/api/v1/reports", json=body, headers={"X-Forwarded-For": address or new_address()}
        )
        assert created.status_code == 201, created.text
        data = created.json()
        return data["tracking_id"], data["access_code"]

    def seen(self, tracking_id: str, code: str | None = None) -> dict[str, Any]:
        """Intake's view of the report, once projected (read as its reporter when code given)."""
        headers = {"X-Access-Code": code} if code else {}
        address = new_address()

        def get() -> dict[str, Any] | None:
            got = self.clients["intake"].get(
                f"/api/v1/reports/{tracking_id}", headers=headers | {"X-Forwarded-For": address}
            )
            return got.json() if got.status_code == 200 else None

        found: dict[str, Any] = wait_for(get, 30, what=f"{tracking_id} in intake's view")
        return found

    def verify(self, tracking_id: str) -> None:
        got = self.clients["verification"].post(
            f"/api/v1/reports/{tracking_id}/verify", json={}, headers=self.auth("admin")
        )
        assert got.status_code == 200, got.text

    def in_inbox(self, tracking_id: str, agency: str = "agency_a") -> None:
        """Wait until routing forwarded the report into the agency's inbox (the list: reading
        the list records no access; the detail of a confidential report would)."""

        def listed() -> bool:
            got = self.clients["routing"].get("/api/v1/inbox", headers=self.auth(agency))
            return got.status_code == 200 and tracking_id in {r["tracking_id"] for r in got.json()}

        wait_for(listed, 30, what=f"{tracking_id} in {agency}'s inbox")

    def forward(self, tracking_id: str) -> None:
        self.verify(tracking_id)
        self.in_inbox(tracking_id)

    def follow_up(self, tracking_id: str, text: str, kind: str = "interim") -> None:
        got = self.clients["routing"].post(
            f"/api/v1/reports/{tracking_id}/follow-ups",
            json={"text": text, "kind": kind},
            headers=self.auth("agency_a"),
        )
        assert got.status_code == 201, got.text

    def sms(self, sender: str, text: str, message_id: str) -> httpx.Response:
        return self.clients["intake"].get(
            "/channels/sms",
            params={
                "from": sender,
                "to": "1708",
                "text": text,
                "id": message_id,
                "token": SMS_WEBHOOK_TOKEN,
            },
        )

    def notifications(self, tracking_id: str) -> list[dict[str, Any]]:
        got = self.clients["notify"].get(
            "/api/v1/notifications", params={"tracking_id": tracking_id}, headers=self.auth("admin")
        )
        assert got.status_code == 200, got.text
        found: list[dict[str, Any]] = got.json()
        return found

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`lapor ARGS` against this system's data directory."""
        return subprocess.run(
            [sys.executable, "-m", "cli.main", *args],
            cwd=ROOT,
            env=self.system.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )


def unsigned_token(claims: dict[str, Any]) -> str:
    """A JWT with `alg: none` (no signature): must be refused like any forgery."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    now = int(datetime.now(UTC).timestamp())
    body = {"iss": "lapor", "aud": "lapor-api", "iat": now, "exp": now + 3600} | claims
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(body)}."


def meta_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def x_signature(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)
