"""Regional administrators stay in their region on every route of every service (issue 18, #1).

The caller is an administrator of Jawa Timur (region 35). Everything it aims at lies in Kota
Kupang (5371, NTT): a confidential report forwarded to DINKES-KOTA-KUPANG, a report that
institution returned, a report waiting for verification, an open and a closed poll of the city,
the city's institutions and routing rules. Every route of every service, read from the apps' own
route tables (HTML pages included), has a rule in `SCOPE`; a new route without one fails the
test. An administrator of NTT (region 53) then does the same things and is let through: the
refusals are about the region, not blanket ones.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Mount, Route

from tests.driver import Driver, driving
from tests.harness import InProcessSystem, in_process

EAST_JAVA = "35"
NTT = "53"
KUPANG = "5371"
AGENCY = "DINKES-KOTA-KUPANG"  # gets 5371 + kesehatan by the seed rules
MARK = "Kupangzq7"  # in every Kupang report's title
SECRET = "Rahasiazq8"  # in the confidential one's


# --- the rules ----------------------------------------------------------------------------------
# REFUSED: 403 or 404, and nothing changes. LISTED: 200, and nothing of Kupang's in the answer.
# PUBLIC: for everyone (no 5xx; Kupang's public reports may show, never the confidential one).
# OTHER: for another kind of caller (an institution, a reporter, a webhook): never a 2xx for the
# administrator.
# ANYWHERE: what an administrator may do for any region (a walk-in report may concern any place;
# the administrator reads nothing it did not write).
REFUSED, LISTED, PUBLIC, OTHER, ANYWHERE = "refused", "listed", "public", "other", "anywhere"


@dataclass(frozen=True)
class Rule:
    kind: str
    body: dict[str, Any] | None = None
    query: dict[str, str] | None = None


SCOPE: dict[tuple[str, str, str], Rule] = {
    # intake: reading reports, files, polls
    ("intake", "GET", "/api/v1/categories"): Rule(PUBLIC),
    ("intake", "GET", "/api/v1/regions"): Rule(PUBLIC),
    ("intake", "POST", "/api/v1/attachments"): Rule(PUBLIC),
    ("intake", "POST", "/api/v1/reports"): Rule(PUBLIC, {"title": "x"}),
    ("intake", "GET", "/api/v1/reports"): Rule(PUBLIC),
    ("intake", "GET", "/api/v1/reports/{tracking_id}"): Rule(REFUSED),
    ("intake", "GET", "/api/v1/reports/{tracking_id}/timeline"): Rule(REFUSED),
    ("intake", "GET", "/api/v1/reports/{tracking_id}/attachments/{sha256}"): Rule(REFUSED),
    ("intake", "GET", "/api/v1/map.geojson"): Rule(PUBLIC),
    ("intake", "GET", "/api/v1/stats"): Rule(PUBLIC),
    ("intake", "POST", "/api/v1/reports/{tracking_id}/amendments"): Rule(OTHER, {"text": "x"}),
    ("intake", "POST", "/api/v1/reports/{tracking_id}/replies"): Rule(OTHER, {"text": "x"}),
    ("intake", "POST", "/api/v1/reports/{tracking_id}/close"): Rule(OTHER, {}),
    ("intake", "POST", "/api/v1/reports/{tracking_id}/rating"): Rule(OTHER, {"rating": 1}),
    ("intake", "GET", "/channels/sms"): Rule(OTHER),
    ("intake", "POST", "/channels/sms"): Rule(OTHER),
    ("intake", "GET", "/channels/whatsapp"): Rule(OTHER),
    ("intake", "POST", "/channels/whatsapp"): Rule(OTHER),
    ("intake", "GET", "/channels/messenger"): Rule(OTHER),
    ("intake", "POST", "/channels/messenger"): Rule(OTHER),
    ("intake", "GET", "/channels/instagram"): Rule(OTHER),
    ("intake", "POST", "/channels/instagram"): Rule(OTHER),
    ("intake", "GET", "/channels/x"): Rule(OTHER),
    ("intake", "POST", "/channels/x"): Rule(OTHER),
    ("intake", "GET", "/open311/v2/discovery.{fmt}"): Rule(PUBLIC),
    ("intake", "GET", "/open311/v2/services.{fmt}"): Rule(PUBLIC),
    ("intake", "GET", "/open311/v2/services/{service_code}.{fmt}"): Rule(PUBLIC),
    ("intake", "POST", "/open311/v2/requests.{fmt}"): Rule(OTHER),
    ("intake", "GET", "/open311/v2/requests.{fmt}"): Rule(PUBLIC),
    ("intake", "GET", "/open311/v2/requests/{service_request_id}.{fmt}"): Rule(REFUSED),
    ("intake", "GET", "/open311/v2/tokens/{token}.{fmt}"): Rule(PUBLIC),
    ("intake", "POST", "/api/v1/offline-reports"): Rule(
        ANYWHERE,
        {
            "title": "Surat warga tentang puskesmas",
            "body": "Surat warga: antrean puskesmas terlalu panjang setiap pagi.",
            "location": {"region_code": KUPANG},
            "source": "letter",
        },
    ),
    ("intake", "GET", "/api/v1/polls"): Rule(PUBLIC),
    ("intake", "POST", "/api/v1/polls"): Rule(REFUSED),  # body made in the test (times)
    ("intake", "GET", "/api/v1/polls/{code}"): Rule(PUBLIC),
    ("intake", "POST", "/api/v1/polls/{code}/verification"): Rule(OTHER, {"phone": "x"}),
    ("intake", "POST", "/api/v1/polls/{code}/answers"): Rule(OTHER, {"identity": "x"}),
    ("intake", "GET", "/api/v1/polls/{code}/results"): Rule(PUBLIC),  # without the comments
    ("intake", "POST", "/api/v1/polls/{code}/close"): Rule(REFUSED),
    ("intake", "POST", "/api/v1/polls/{code}/response"): Rule(REFUSED, {"text": "Tanggapan."}),
    # intake's pages: citizens' (the administrator's token opens nothing there)
    ("intake", "GET", "/"): Rule(PUBLIC),
    ("intake", "GET", "/static/{name:path}"): Rule(PUBLIC),  # incl. vendor/leaflet/… (issue 19)
    ("intake", "GET", "/lapor"): Rule(PUBLIC),
    ("intake", "POST", "/lapor"): Rule(OTHER),
    ("intake", "GET", "/lacak"): Rule(PUBLIC),
    ("intake", "POST", "/lacak"): Rule(OTHER),
    ("intake", "GET", "/laporan/{tracking_id}"): Rule(REFUSED),
    # The sign-in form: it echoes only the ID it was asked for, the same for any report.
    ("intake", "GET", "/laporan/{tracking_id}/masuk"): Rule(ANYWHERE),
    ("intake", "POST", "/laporan/{tracking_id}/masuk"): Rule(OTHER),
    ("intake", "POST", "/laporan/{tracking_id}/keluar"): Rule(OTHER),
    ("intake", "POST", "/laporan/{tracking_id}/lengkapi"): Rule(OTHER),
    ("intake", "POST", "/laporan/{tracking_id}/eskalasi"): Rule(OTHER),
    ("intake", "POST", "/laporan/{tracking_id}/balas"): Rule(OTHER),
    ("intake", "POST", "/laporan/{tracking_id}/tutup"): Rule(OTHER),
    ("intake", "POST", "/laporan/{tracking_id}/nilai"): Rule(OTHER),
    ("intake", "GET", "/laporan/{tracking_id}/lampiran/{sha256}"): Rule(REFUSED),
    ("intake", "GET", "/laporan"): Rule(PUBLIC),
    ("intake", "GET", "/peta"): Rule(PUBLIC),
    ("intake", "GET", "/statistik"): Rule(PUBLIC),
    ("intake", "GET", "/jajak-pendapat"): Rule(PUBLIC),
    ("intake", "GET", "/jajak-pendapat/{code}"): Rule(PUBLIC),
    ("intake", "POST", "/jajak-pendapat/{code}/kode"): Rule(OTHER),
    ("intake", "POST", "/jajak-pendapat/{code}/jawab"): Rule(OTHER),
    ("intake", "GET", "/jajak-pendapat/{code}/dokumen"): Rule(PUBLIC),
    ("intake", "GET", "/jajak-pendapat/{code}/tanggapan/dokumen"): Rule(PUBLIC),
    ("intake", "GET", "/jajak-pendapat/{code}/terima-kasih"): Rule(PUBLIC),
    # verification (the API; the console is below)
    ("verification", "GET", "/api/v1/queue"): Rule(LISTED),
    ("verification", "GET", "/api/v1/reports/{tracking_id}"): Rule(REFUSED),
    ("verification", "GET", "/api/v1/reports/{tracking_id}/duplicates"): Rule(REFUSED),
    ("verification", "POST", "/api/v1/reports/{tracking_id}/verify"): Rule(REFUSED, {}),
    ("verification", "POST", "/api/v1/reports/{tracking_id}/request-completion"): Rule(
        REFUSED, {"note": "Mohon foto."}
    ),
    ("verification", "POST", "/api/v1/reports/{tracking_id}/reject"): Rule(
        REFUSED, {"reason": "spam"}
    ),
    ("verification", "POST", "/api/v1/reports/{tracking_id}/postpone"): Rule(REFUSED),
    ("verification", "POST", "/api/v1/reports/{tracking_id}/not-our-authority"): Rule(
        REFUSED, {"to_region": EAST_JAVA}
    ),
    ("verification", "POST", "/api/v1/reports/{tracking_id}/protection"): Rule(
        REFUSED, {"confidential": False}
    ),
    ("verification", "POST", "/api/v1/bulk-verify"): Rule(REFUSED),
    ("verification", "POST", "/api/v1/reports/{tracking_id}/forward"): Rule(
        REFUSED, {"agency_code": AGENCY}
    ),
    ("verification", "POST", "/api/v1/reports/{tracking_id}/reply"): Rule(REFUSED, {"text": "x"}),
    ("verification", "POST", "/api/v1/reports/{tracking_id}/public-text"): Rule(
        REFUSED, {"title": "Judul umum", "body": "Isi yang boleh dibaca umum."}
    ),
    ("verification", "GET", "/console/login"): Rule(PUBLIC),
    ("verification", "POST", "/console/login"): Rule(PUBLIC),
    ("verification", "POST", "/console/logout"): Rule(PUBLIC),
    ("verification", "GET", "/console"): Rule(LISTED),
    ("verification", "GET", "/console/reports/{tracking_id}"): Rule(REFUSED),
    ("verification", "POST", "/console/reports/{tracking_id}/{action}"): Rule(REFUSED),
    ("verification", "POST", "/console/bulk-verify"): Rule(REFUSED),
    # routing
    ("routing", "GET", "/api/v1/agencies"): Rule(PUBLIC),
    ("routing", "POST", "/api/v1/agencies"): Rule(
        REFUSED,
        {
            "code": "PUSKESMAS-ALAK",
            "name": "Puskesmas Alak",
            "level": "unit",
            "region_code": KUPANG,
            "parent": AGENCY,
            "categories": ["kesehatan"],
        },
    ),
    ("routing", "GET", "/api/v1/agencies/{code}"): Rule(PUBLIC),
    ("routing", "PUT", "/api/v1/agencies/{code}"): Rule(REFUSED),  # body: the entry, renamed
    ("routing", "GET", "/api/v1/routing-rules"): Rule(PUBLIC),
    ("routing", "POST", "/api/v1/routing-rules"): Rule(
        REFUSED, {"region_prefix": KUPANG, "category": "pendidikan", "agency_code": AGENCY}
    ),
    ("routing", "DELETE", "/api/v1/routing-rules"): Rule(
        REFUSED, query={"region_prefix": KUPANG, "category": "kesehatan"}
    ),
    ("routing", "GET", "/api/v1/inbox"): Rule(OTHER),
    ("routing", "GET", "/api/v1/inbox/{tracking_id}"): Rule(OTHER),
    ("routing", "POST", "/api/v1/reports/{tracking_id}/follow-ups"): Rule(OTHER, {"text": "x"}),
    ("routing", "POST", "/api/v1/reports/{tracking_id}/return"): Rule(OTHER, {"reason": "other"}),
    ("routing", "POST", "/api/v1/reports/{tracking_id}/transfer"): Rule(
        OTHER, {"agency_code": AGENCY}
    ),
    ("routing", "POST", "/api/v1/reports/{tracking_id}/forward"): Rule(
        REFUSED, {"agency_code": "DINDIK-KOTA-BLITAR"}
    ),
    ("routing", "GET", "/api/v1/returned"): Rule(LISTED),
    ("routing", "POST", "/api/v1/reports/{tracking_id}/delegate"): Rule(
        OTHER, {"agency_code": "PUSKESMAS-OEBOBO"}
    ),
    ("routing", "GET", "/api/v1/handed-on"): Rule(OTHER),
    ("routing", "POST", "/desk/reports/{tracking_id}/delegate"): Rule(OTHER),
    ("routing", "GET", "/desk/login"): Rule(PUBLIC),
    ("routing", "POST", "/desk/login"): Rule(OTHER),
    ("routing", "POST", "/desk/logout"): Rule(PUBLIC),
    ("routing", "GET", "/desk"): Rule(OTHER),
    ("routing", "GET", "/desk/reports/{tracking_id}"): Rule(OTHER),
    ("routing", "POST", "/desk/reports/{tracking_id}/follow-up"): Rule(OTHER),
    ("routing", "POST", "/desk/reports/{tracking_id}/return"): Rule(OTHER),
    ("routing", "POST", "/desk/reports/{tracking_id}/transfer"): Rule(OTHER),
    # sla
    ("sla", "GET", "/api/v1/calendar/working-days"): Rule(
        PUBLIC, query={"start": "2026-05-04", "days": "5"}
    ),
    ("sla", "GET", "/api/v1/calendar/holidays"): Rule(PUBLIC),
    ("sla", "GET", "/api/v1/deadlines"): Rule(LISTED),
    ("sla", "GET", "/api/v1/compliance"): Rule(LISTED),
    ("sla", "GET", "/api/v1/escalations"): Rule(LISTED),
    ("sla", "GET", "/api/v1/evidence-key"): Rule(PUBLIC),
    ("sla", "POST", "/api/v1/reports/{tracking_id}/escalate"): Rule(OTHER),
    ("sla", "GET", "/api/v1/reports/{tracking_id}/evidence.json"): Rule(REFUSED),
    ("sla", "GET", "/api/v1/reports/{tracking_id}/evidence.html"): Rule(REFUSED),
    # notify
    ("notify", "GET", "/api/v1/notifications"): Rule(LISTED),
}
# routing: the AsyncAPI document of the events, public like the OpenAPI document (issue 20).
SCOPE[("routing", "GET", "/asyncapi.json")] = Rule(PUBLIC)
SCOPE[("routing", "GET", "/asyncapi")] = Rule(PUBLIC)
# Every service's own: health, metrics, the OpenAPI document and its pages.
for _service in ("intake", "verification", "routing", "sla", "notify"):
    for _path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc"):
        SCOPE[(_service, "GET", _path)] = Rule(PUBLIC)
    SCOPE[(_service, "GET", "/docs/oauth2-redirect")] = Rule(PUBLIC)
    SCOPE[(_service, "GET", "/docs-static/{path}")] = Rule(PUBLIC)  # Swagger UI's own files
    if _service != "intake":
        SCOPE[(_service, "GET", "/")] = Rule(PUBLIC)


def routes_of(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route of an app, the hidden ones (pages) included."""
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's included router
        if included is not None:
            yield from routes_of(included.routes, prefix + route.include_context.prefix)
        elif isinstance(route, Route):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                yield method, prefix + route.path
        elif isinstance(route, Mount):
            yield "GET", prefix + route.path + "/{path}"


# --- Kupang's things ------------------------------------------------------------------------------
@dataclass
class Kupang:
    confidential: str  # forwarded to AGENCY, with a file
    returned: str  # returned by AGENCY to the admins
    waiting: str  # submitted, not verified yet
    sha256: str
    open_poll: str
    closed_poll: str

    @property
    def tracking_ids(self) -> tuple[str, ...]:
        return (self.confidential, self.returned, self.waiting)


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (6, 6), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


def _report(**fields: Any) -> dict[str, Any]:
    return {
        "title": f"Obat kosong {MARK}",
        "body": f"Obat hipertensi kosong dua minggu di puskesmas, {MARK}.",
        "category": "kesehatan",
        "location": {"region_code": KUPANG, "lat": -10.17, "lon": 123.6},
        "reporter": {"name": "Warga Kupang", "phone": "+6281234500071"},
    } | fields


def _poll(code: str, closes_in: timedelta) -> dict[str, Any]:
    return {
        "code": code,
        "title": "Jam buka puskesmas",
        "policy_text": "Rancangan jam buka puskesmas Kota Kupang.",
        "region_code": KUPANG,
        "closes_at": (datetime.now(UTC) + closes_in).isoformat(),
        "questions": [{"text": "Setuju?", "choices": ["Ya", "Tidak"]}],
    }


async def kupang(drive: Driver) -> Kupang:
    intake = drive.client("intake")
    upload = await intake.post("/api/v1/attachments", files={"file": ("a.png", _png())})
    assert upload.status_code == 201, upload.text
    sha, token = upload.json()["sha256"], upload.json()["upload_token"]
    confidential = await drive.submit(
        **_report(
            title=f"Pungutan liar {MARK} {SECRET}",
            confidential=True,
            attachments=[{"sha256": sha, "name": "resep.png", "upload_token": token}],
        )
    )
    await drive.verify(confidential.tracking_id)
    returned = await drive.submit(**_report())
    await drive.verify(returned.tracking_id)
    sent_back = await drive.agency(
        returned.tracking_id, "return", AGENCY, {"reason": "other", "note": "Bukan kami"}
    )
    assert sent_back.status_code == 200, sent_back.text
    waiting = await drive.submit(**_report())
    agency = drive.client("intake", drive.token("agency", agency=AGENCY))
    for code in ("KPGA", "KPGB"):
        opened = await agency.post("/api/v1/polls", json=_poll(code, timedelta(days=7)))
        assert opened.status_code == 201, opened.text
    closed = await agency.post("/api/v1/polls/KPGB/close")
    assert closed.status_code == 200, closed.text
    return Kupang(
        confidential.tracking_id, returned.tracking_id, waiting.tracking_id, sha, "KPGA", "KPGB"
    )


def _target(service: str, path: str, k: Kupang) -> str:
    tracking_id = k.confidential
    if "/forward" in path:
        tracking_id = k.returned
    elif service == "verification":
        tracking_id = k.waiting  # the desk's actions: a report they would apply to
    poll = k.closed_poll if path.endswith(("/response", "/results")) else k.open_poll
    values = {
        "tracking_id": tracking_id,
        "service_request_id": k.confidential,
        "token": k.confidential,
        "sha256": k.sha256,
        "code": poll if "polls" in path or "jajak" in path else AGENCY,
        "fmt": "json",
        "service_code": "kesehatan",
        "name": "lapor.css",
        "action": "verify",
        "path": "x",
    }
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x"), path)


async def _body(rule: Rule, service: str, method: str, path: str, k: Kupang, drive: Driver) -> Any:
    if rule.body is not None:
        return rule.body
    if path == "/api/v1/polls":
        return _poll("KPGC", timedelta(days=3)) | {"agency_code": AGENCY}
    if path.endswith("/postpone"):
        return {"until": (datetime.now(UTC) + timedelta(days=10)).date().isoformat()}
    if path == "/api/v1/bulk-verify":
        return {"tracking_ids": [k.waiting]}
    if method == "PUT" and path == "/api/v1/agencies/{code}":
        entry = (await drive.client("routing").get(f"/api/v1/agencies/{AGENCY}")).json()
        return {
            "code": AGENCY,
            "name": "Dinas Kesehatan (diganti)",
            "level": entry["level"],
            "region_code": entry["region_code"],
            "parent": entry["parent"],
            "categories": entry["categories"],
        }
    return None if method == "GET" else {}


# --- the matrix ---------------------------------------------------------------------------------
async def _console(lapor: InProcessSystem, token: str) -> httpx.AsyncClient:
    """The verification console, signed in with `token`."""
    console = lapor.client("verification")
    signed = await console.post("/console/login", data={"token": token})
    assert signed.status_code in (302, 303), signed.text[-300:]
    return console


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    return match.group(1) if match else ""


async def _call(
    lapor: InProcessSystem,
    drive: Driver,
    token: str,
    service: str,
    method: str,
    path: str,
    k: Kupang,
) -> httpx.Response:
    rule = SCOPE[(service, method, path)]
    url = _target(service, path, k)
    body = await _body(rule, service, method, path, k, drive)
    if path.startswith("/console/") and method == "POST" and "login" not in path:
        console = await _console(lapor, token)
        csrf = _csrf((await console.get("/console")).text)
        form = {"csrf_token": csrf}
        if path == "/console/bulk-verify":
            form["tracking_ids"] = k.waiting
        return await console.post(url, data=form)
    if path.startswith("/console") and method == "GET" and "login" not in path:
        console = await _console(lapor, token)
        return await console.get(url)
    client = drive.client(service, token)
    if method in ("GET", "DELETE"):
        return await client.request(method, url, params=rule.query)
    return await client.request(method, url, params=rule.query, json=body)


def _wrong(rule: Rule, response: httpx.Response, k: Kupang) -> str | None:
    status, text = response.status_code, response.text
    if status >= 500 and not (rule.kind == OTHER and status == 503):
        return "never a 5xx (503 only for a channel that is not configured)"
    leaked = [t for t in (*k.tracking_ids, MARK, SECRET) if t in text]
    secret = k.confidential in text or SECRET in text
    if rule.kind == REFUSED:
        if status not in (403, 404):
            return "403/404: outside the region"
    elif rule.kind == LISTED:
        if status != 200:
            return "200: the region's own entries"
        if leaked:
            return f"nothing of Kupang's in the list: {leaked}"
    elif rule.kind == PUBLIC:
        if secret:
            return "the confidential report is public"
    elif rule.kind == OTHER:
        if 200 <= status < 300:
            return "not for an administrator"
    elif rule.kind == ANYWHERE and not 200 <= status < 300:
        return "an administrator may do this anywhere"
    if secret and status < 300 and rule.kind != ANYWHERE:
        return "the confidential report in the answer"
    return None


async def test_a_regional_admin_is_refused_everything_outside_its_region_on_every_route(
    tmp_path: Path,
) -> None:
    async with in_process(tmp_path / "lapor") as lapor, driving(lapor) as drive:
        k = await kupang(drive)
        before = await _state(drive, k)
        token = drive.token("admin", region=EAST_JAVA)
        problems: list[str] = []
        seen: set[tuple[str, str, str]] = set()
        for service, running in lapor.services.items():
            for method, path in routes_of(running.app.routes):
                key = (service, method, path)
                seen.add(key)
                if key not in SCOPE:
                    problems.append(f"{key}: no rule for regional administrators in SCOPE")
                    continue
                response = await _call(lapor, drive, token, service, method, path, k)
                wrong = _wrong(SCOPE[key], response, k)
                if wrong:
                    problems.append(
                        f"{service} {method} {path}: {response.status_code} (expected {wrong})"
                        f" {response.text[:160]}"
                    )
        assert set(SCOPE) - seen == set(), "rules for routes that no longer exist"
        assert problems == [], "\n".join(problems)
        assert await _state(drive, k) == before, "a refused call changed something"


async def _state(drive: Driver, k: Kupang) -> dict[str, Any]:
    """What a refused call could have changed."""
    admin = drive.client("verification", drive.admin())
    routing = drive.client("routing")
    intake = drive.client("intake")
    return {
        "reports": [
            ((await admin.get(f"/api/v1/reports/{tid}")).json())["status"] for tid in k.tracking_ids
        ],
        "agency": (await routing.get(f"/api/v1/agencies/{AGENCY}")).json(),
        "rules": (await routing.get("/api/v1/routing-rules")).json(),
        "polls": [
            (await intake.get(f"/api/v1/polls/{code}")).json()["status"]
            for code in (k.open_poll, k.closed_poll)
        ],
        "response": (await intake.get(f"/api/v1/polls/{k.closed_poll}")).json()["response"],
    }


# --- and inside its region it may ----------------------------------------------------------------
@pytest.fixture
async def kupang_system(tmp_path: Path) -> Any:
    async with in_process(tmp_path / "lapor") as lapor, driving(lapor) as drive:
        yield lapor, drive, await kupang(drive)


async def test_the_regions_own_admin_does_what_another_regions_admin_may_not(
    kupang_system: tuple[InProcessSystem, Driver, Kupang],
) -> None:
    _, drive, k = kupang_system
    east_java = drive.token("admin", region=EAST_JAVA)
    ntt = drive.token("admin", region=NTT)
    routing = drive.client("routing", ntt)

    # The returned list: the NTT admin sees the returned report, the Jawa Timur one does not.
    listed = await routing.get("/api/v1/returned")
    assert [r["tracking_id"] for r in listed.json()] == [k.returned]
    assert (await drive.client("routing", east_java).get("/api/v1/returned")).json() == []

    # The delivery log: Kupang's notices for NTT, none for Jawa Timur.
    log = await drive.client("notify", ntt).get("/api/v1/notifications")
    assert k.confidential in {n["tracking_id"] for n in log.json()}
    other = await drive.client("notify", east_java).get(
        "/api/v1/notifications", params={"tracking_id": k.confidential}
    )
    assert other.status_code == 200 and other.json() == []

    # Forwarding a report of NTT, changing NTT's institutions and rules.
    forwarded = await routing.post(
        f"/api/v1/reports/{k.returned}/forward", json={"agency_code": "DPUPR-KOTA-KUPANG"}
    )
    assert forwarded.status_code == 200, forwarded.text
    entry = (await routing.get(f"/api/v1/agencies/{AGENCY}")).json()
    renamed = await routing.put(
        f"/api/v1/agencies/{AGENCY}",
        json={k: entry[k] for k in ("code", "level", "region_code", "parent", "categories")}
        | {"name": "Dinas Kesehatan Kota Kupang (baru)"},
    )
    assert renamed.status_code == 200, renamed.text
    removed = await routing.delete(
        "/api/v1/routing-rules", params={"region_prefix": KUPANG, "category": "kesehatan"}
    )
    assert removed.status_code == 200, removed.text

    # Moving an NTT institution into Jawa Timur is refused even to the NTT admin.
    moved = await routing.put(
        f"/api/v1/agencies/{AGENCY}",
        json={k: entry[k] for k in ("code", "level", "parent", "categories", "name")}
        | {"region_code": "3572"},
    )
    assert moved.status_code == 403 and "region_code" in moved.text
    # A national rule is no regional admin's to set.
    national = await routing.post(
        "/api/v1/routing-rules", json={"category": "pendidikan", "agency_code": AGENCY}
    )
    assert national.status_code == 403 and "region_prefix" in national.text

    # Polls of the region: closing one, responding to one, reading the comments.
    polls = drive.client("intake", ntt)
    assert (await polls.post(f"/api/v1/polls/{k.open_poll}/close")).status_code == 200
    responded = await polls.post(
        f"/api/v1/polls/{k.closed_poll}/response", json={"text": "Terima kasih atas masukannya."}
    )
    assert responded.status_code == 201, responded.text
    results = await polls.get(f"/api/v1/polls/{k.closed_poll}/results")
    assert "comments" in results.json()
    foreign = await drive.client("intake", east_java).get(f"/api/v1/polls/{k.closed_poll}/results")
    assert foreign.status_code == 200 and "comments" not in foreign.json()


async def test_a_regional_ombudsman_reads_no_confidential_report_outside_its_region(
    kupang_system: tuple[InProcessSystem, Driver, Kupang],
) -> None:
    """An Ombudsman office's token is scoped like an administrator's: the Jawa Timur office
    does not read a confidential report of Kupang in intake (as sla already refused it the
    evidence pack); the NTT office and the national Ombudsman do."""
    _, drive, k = kupang_system
    paths = (
        f"/api/v1/reports/{k.confidential}",
        f"/api/v1/reports/{k.confidential}/timeline",
        f"/api/v1/reports/{k.confidential}/attachments/{k.sha256}",
    )
    east_java = drive.client("intake", drive.token("ombudsman", region=EAST_JAVA))
    for path in paths:
        refused = await east_java.get(path)
        assert refused.status_code == 404, (path, refused.status_code)
        assert SECRET not in refused.text
    for region in (NTT, None):
        ombudsman = drive.client("intake", drive.token("ombudsman", region=region))
        for path in paths:
            read = await ombudsman.get(path)
            assert read.status_code == 200, (region, path, read.text)
        assert SECRET in (await ombudsman.get(paths[0])).text
