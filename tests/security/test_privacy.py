"""Who reported stays secret (DESIGN §6, UU 27/2022).

A story told by an adversary with every key but the master secret: reporters leave canaries (a
name, a phone number and an e-mail address nobody else uses) through the web API, the web form,
Open311 and SMS 1708; the reports go through their whole life (verified, forwarded, followed up,
answered, notified). Then we look everywhere: every public and officer response, every NATS
message, every log line, every metric, every byte of every file LAPOR wrote. An anonymous
reporter's canaries must appear nowhere; a named reporter's contact only encrypted (and in the
one message notify sends them at the telco edge). Secrets and tokens reach no log.
Finally the reporter is erased (crypto-shredding) and the audit trail still verifies.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from cli.privacy import erase_reporter
from shared.access.events import ReporterIdentityErased, access_stream
from shared.crypto import EncryptedBlob, KeyErased, KeyStore
from shared.reports.lifecycle import ReportNotFound
from shared.reports.tracking import new_tracking_id
from shared.settings import Settings
from shared.store.sqlite import SqliteEventStore
from tests.security.support import (
    AGENCY_A,
    CATEGORY,
    KUPANG,
    META_APP_SECRET,
    SENDSMS_PASSWORD,
    SMS_WEBHOOK_TOKEN,
    X_CONSUMER_SECRET,
    Lapor,
    NatsTap,
    SendsmsSink,
    csrf_of,
    hits,
    jetstream_messages,
    new_address,
    scan_files,
)
from tests.support import NatsServer, System, wait_for

ANON = {"name": "Canary Nama Zq9", "phone": "+6281299990000", "email": "canary.zq9@example.org"}
ANON_NEEDLES = ("Canary Nama Zq9", "81299990000", "canary.zq9@example.org", "canary.zq9")
NAMED = {"name": "Canary Terang Zq8", "phone": "+6281299990008", "email": "canary.zq8@example.org"}
NAMED_NEEDLES = ("Canary Terang Zq8", "81299990008", "canary.zq8")
SMS_PHONE = "+6281299990001"
SMS_NEEDLES = ("81299990001",)
ERASED_PHONE = "+6281299990003"
RECEIPT = re.compile(r"ID: ([2-9A-Z]{10}) Kode akses: ([2-9A-Z]{8})")


def _sms_report(lapor: Lapor, phone: str, text: str, message_id: str) -> tuple[str, str]:
    answer = lapor.sms(phone, text, message_id)
    assert answer.status_code == 200, answer.text
    found = RECEIPT.search(answer.text)
    assert found, answer.text
    return found.group(1), found.group(2)


def _web_form_report(lapor: Lapor) -> str:
    """An anonymous report through the HTML form, contact included (as a careless citizen)."""
    with httpx.Client(base_url=lapor.system.url("intake"), timeout=20) as browser:
        address = {"X-Forwarded-For": new_address()}
        form = browser.get("/lapor", headers=address)
        done = browser.post(
            "/lapor",
            headers=address,
            data={
                "csrf_token": csrf_of(form.text),
                "classification": "complaint",
                "title": "Puskesmas tutup di jam kerja",
                "body": "Puskesmas Oebobo tutup pada jam kerja selama seminggu.",
                "category": CATEGORY,
                "province": "53",
                "regency": REGION_5371,
                "name": ANON["name"],
                "phone": ANON["phone"],
                "email": ANON["email"],
                "anonymous": "on",
                "submission_key": "security-form-1",
            },
        )
        assert done.status_code == 200, done.text[-2000:]
        found = re.search(r'id="tracking-id">([2-9A-Z]{10})<', done.text)
        assert found, "no tracking ID on the receipt page"
        return found.group(1)


REGION_5371 = "5371"


def _open311_report(lapor: Lapor) -> str:
    got = lapor.intake.post(
        "/open311/v2/requests.json",
        headers={"X-Forwarded-For": new_address()},
        data={
            "api_key": lapor.tokens["client"],
            "service_code": CATEGORY,
            "lat": str(KUPANG["lat"]),
            "long": str(KUPANG["lon"]),
            "description": "Antrean obat di Puskesmas Oebobo sangat lama setiap pagi.",
            "first_name": "Canary",
            "last_name": "Nama Zq9",
            "email": ANON["email"],
            "phone": ANON["phone"],
            "attribute[anonymous]": "true",
            "attribute[region_code]": REGION_5371,
        },
    )
    assert got.status_code == 200, got.text
    tracking_id: str = got.json()[0]["service_request_id"]
    return tracking_id


@pytest.fixture(scope="module")
def story(lapor: Lapor, module_nats: NatsServer, sendsms: SendsmsSink) -> dict[str, Any]:
    """Reports with canaries, taken through their life while a tap listens on NATS."""
    tap = NatsTap(module_nats.url).start()
    anon_api, anon_code = lapor.submit(anonymous=True, reporter=ANON)
    anon_web = _web_form_report(lapor)
    anon_311 = _open311_report(lapor)
    named_web, named_code = lapor.submit(
        title="Air bersih mati", body="Air PDAM mati tiga hari di Kelurahan Oebobo.", reporter=NAMED
    )
    sms_tid, sms_code = _sms_report(
        lapor, SMS_PHONE, "KUPANG Puskesmas Oebobo tutup setiap hari senin pagi", "kannel-privacy-1"
    )
    ids = [anon_api, anon_web, anon_311, named_web, sms_tid]
    for tid in ids:
        lapor.seen(tid)
        got = lapor.verification.post(
            f"/api/v1/reports/{tid}/verify",
            json={"category": CATEGORY},
            headers=lapor.auth("admin"),
        )
        assert got.status_code == 200, got.text
    for tid in ids:
        lapor.in_inbox(tid)
    lapor.follow_up(anon_api, "Stok obat sudah dikirim ke puskesmas.", "question")
    lapor.follow_up(sms_tid, "Puskesmas buka kembali mulai besok.")
    reply = lapor.intake.post(
        f"/api/v1/reports/{anon_api}/replies",
        json={"text": "Terima kasih, obat sudah tersedia."},
        headers={"X-Access-Code": anon_code, "X-Forwarded-For": new_address()},
    )
    assert reply.status_code == 201, reply.text

    def notified() -> bool:
        # The named SMS reporter got the follow-up on their phone (notify decrypted the contact),
        # and notify recorded its notices for the anonymous web reporter.
        sms = [
            n
            for n in lapor.notifications(sms_tid)
            if n["event_type"] == "FollowUpPosted" and n["recipient"] == "reporter"
        ]
        web = [
            n
            for n in lapor.notifications(anon_api)
            if n["event_type"] == "ReporterReplied" or n["event_type"] == "FollowUpPosted"
        ]
        return bool(sms and sms[0]["status"] == "sent" and web and all(n["recorded"] for n in web))

    wait_for(notified, 60, what="notify to deliver the follow-ups")
    lapor.seen(anon_api)  # intake caught up with the reply
    return {
        "tap": tap,
        "ids": ids,
        "codes": {anon_api: anon_code, named_web: named_code, sms_tid: sms_code},
        "anon": [anon_api, anon_web, anon_311],
        "named_web": named_web,
        "sms": sms_tid,
    }


def _login(client: httpx.Client, path: str, token: str) -> None:
    got = client.post(path, data={"token": token}, follow_redirects=False)
    assert got.status_code in (302, 303), got.text[-500:]


def _every_response(lapor: Lapor, story: dict[str, Any]) -> list[tuple[str, httpx.Response]]:
    """Everything the public, the reporters and the officers can read about these reports."""
    got: list[tuple[str, httpx.Response]] = []
    intake, desk, routing, sla, notify = (
        lapor.intake,
        lapor.verification,
        lapor.routing,
        lapor.sla,
        lapor.notify,
    )
    callers: dict[str, dict[str, str]] = {
        "public": {},
        "admin": lapor.auth("admin"),
        "agency_a": lapor.auth("agency_a"),
        "ombudsman": lapor.auth("ombudsman"),
    }

    def keep(label: str, response: httpx.Response) -> None:
        got.append((label, response))

    for tid in story["ids"]:
        code = story["codes"].get(tid)
        for who, headers in callers.items():
            for path in (f"/api/v1/reports/{tid}", f"/api/v1/reports/{tid}/timeline"):
                keep(f"intake {path} as {who}", intake.get(path, headers=headers))
        if code:
            reporter = {"X-Access-Code": code, "X-Forwarded-For": new_address()}
            keep(
                f"intake report {tid} as reporter",
                intake.get(f"/api/v1/reports/{tid}", headers=reporter),
            )
            keep(
                f"sla evidence {tid} as reporter",
                sla.get(f"/api/v1/reports/{tid}/evidence.json", headers=reporter),
            )
            keep(
                f"notify {tid} as reporter",
                notify.get("/api/v1/notifications", params={"tracking_id": tid}, headers=reporter),
            )
        keep(f"intake page {tid}", intake.get(f"/laporan/{tid}"))
        for fmt in ("json", "xml"):
            keep(f"open311 {tid}.{fmt}", intake.get(f"/open311/v2/requests/{tid}.{fmt}"))
        keep(f"desk detail {tid}", desk.get(f"/api/v1/reports/{tid}", headers=callers["admin"]))
        keep(
            f"desk duplicates {tid}",
            desk.get(f"/api/v1/reports/{tid}/duplicates", headers=callers["admin"]),
        )
        keep(
            f"inbox detail {tid}", routing.get(f"/api/v1/inbox/{tid}", headers=callers["agency_a"])
        )
        keep(
            f"deadlines {tid}",
            sla.get("/api/v1/deadlines", params={"tracking_id": tid}, headers=callers["admin"]),
        )
        for page in ("evidence.json", "evidence.html"):
            keep(
                f"sla {page} {tid}",
                sla.get(f"/api/v1/reports/{tid}/{page}", headers=callers["admin"]),
            )
        keep(
            f"notify {tid}",
            notify.get(
                "/api/v1/notifications", params={"tracking_id": tid}, headers=callers["admin"]
            ),
        )
    for path in (
        "/api/v1/reports",
        "/api/v1/reports?q=Oebobo",
        "/api/v1/reports?q=Canary",
        "/api/v1/reports?q=zq9",
        "/api/v1/reports?status=followed_up",
        "/api/v1/map.geojson",
        "/api/v1/stats",
        "/open311/v2/requests.json",
        "/open311/v2/requests.xml",
        "/laporan",
        "/laporan?q=Oebobo",
        "/laporan?q=Canary",
        "/peta",
        "/statistik",
    ):
        keep(f"intake {path}", intake.get(path))
    for status in ("forwarded", "followed_up"):
        keep(
            f"desk queue {status}",
            desk.get("/api/v1/queue", params={"status": status}, headers=callers["admin"]),
        )
    keep(
        "desk queue q",
        desk.get(
            "/api/v1/queue", params={"status": "forwarded", "q": "Canary"}, headers=callers["admin"]
        ),
    )
    keep("inbox", routing.get("/api/v1/inbox", headers=callers["agency_a"]))
    keep(
        "inbox q", routing.get("/api/v1/inbox", params={"q": "Canary"}, headers=callers["agency_a"])
    )
    keep("returned", routing.get("/api/v1/returned", headers=callers["admin"]))
    keep(
        "deadlines agency",
        sla.get("/api/v1/deadlines", params={"agency": AGENCY_A}, headers=callers["admin"]),
    )
    keep("compliance", sla.get("/api/v1/compliance", headers=callers["ombudsman"]))
    keep("notify all", notify.get("/api/v1/notifications", headers=callers["admin"]))
    # The officers' HTML: the verification console and the agency desk.
    with httpx.Client(base_url=lapor.system.url("verification"), timeout=20) as console:
        _login(console, "/console/login", lapor.tokens["admin"])
        keep("console queue", console.get("/console", params={"status": "forwarded"}))
        for tid in story["ids"]:
            keep(f"console {tid}", console.get(f"/console/reports/{tid}"))
    with httpx.Client(base_url=lapor.system.url("routing"), timeout=20) as agency_desk:
        _login(agency_desk, "/desk/login", lapor.tokens["agency_a"])
        keep("desk inbox page", agency_desk.get("/desk"))
        for tid in story["ids"]:
            keep(f"desk page {tid}", agency_desk.get(f"/desk/reports/{tid}"))
    for name, client in lapor.clients.items():
        keep(f"{name} /metrics", client.get("/metrics"))
    return got


def _stored_reporter_blob(system: System, tracking_id: str) -> EncryptedBlob:
    async def read() -> EncryptedBlob:
        store = SqliteEventStore(system.data_dir / "events.db")
        try:
            (submitted, *_) = await store.read(f"report-{tracking_id}")
        finally:
            await store.close()
        return EncryptedBlob.model_validate(submitted.data["reporter"])

    return asyncio.run(read())


def _decrypt(system: System, blob: EncryptedBlob) -> dict[str, Any]:
    keys = KeyStore(system.data_dir / "events.db", system.secret.encode())
    try:
        return keys.decrypt(blob)
    finally:
        keys.close()


def test_reporters_identity_appears_nowhere_but_encrypted(
    lapor: Lapor,
    system: System,
    module_nats: NatsServer,
    sendsms: SendsmsSink,
    story: dict[str, Any],
) -> None:
    responses = _every_response(lapor, story)
    by_label = dict(responses)
    # We did look: the views answered (and the anonymous report is public, not hidden).
    for tid in story["ids"]:
        assert by_label[f"intake /api/v1/reports/{tid} as public"].status_code == 200
        assert by_label[f"desk detail {tid}"].status_code == 200
        assert by_label[f"inbox detail {tid}"].status_code == 200
        assert by_label[f"console {tid}"].status_code == 200
        assert by_label[f"desk page {tid}"].status_code == 200
    assert by_label["intake /api/v1/reports?q=Oebobo"].json()
    assert all(r.status_code != 500 for _, r in responses)

    everyone = ANON_NEEDLES + NAMED_NEEDLES + SMS_NEEDLES
    leaks = {
        label: found
        for label, response in responses
        if (found := hits(response.content + str(response.headers).encode(), everyone))
    }
    assert leaks == {}, f"personal data in responses: {leaks}"

    captured = story["tap"].stop() + jetstream_messages(module_nats.url)
    assert any(m.subject.startswith("lapor.v1.events.ReportSubmitted.") for m in captured)
    on_nats = {m.subject: found for m in captured if (found := hits(m.raw(), everyone))}
    assert on_nats == {}, f"personal data on NATS: {on_nats}"

    in_logs = {
        name: found
        for name in ("relay", "intake", "verification", "routing", "sla", "notify")
        if (found := hits(system.log(name).encode(), everyone))
    }
    assert in_logs == {}, f"personal data in logs: {in_logs}"

    on_disk = scan_files(everyone, system.data_dir, module_nats.store_dir)
    assert on_disk == {}, f"personal data in files: {on_disk}"

    # The named reporters' contact is there - encrypted: the data key opens it, and notify used
    # it at the telco edge (the one place a phone number may go).
    assert (
        _decrypt(system, _stored_reporter_blob(system, story["named_web"]))["email"]
        == NAMED["email"]
    )
    assert _decrypt(system, _stored_reporter_blob(system, story["sms"]))["phone"] == SMS_PHONE
    assert sendsms.to(SMS_PHONE), "notify never reached the named SMS reporter"
    # The anonymous reporter who left a contact anyway: encrypted too, never sent anywhere (web).
    assert _decrypt(system, _stored_reporter_blob(system, story["anon"][0]))["name"] == ANON["name"]
    assert not [r for r in sendsms.received if hits(str(r).encode(), ANON_NEEDLES)]


def test_secrets_tokens_and_access_codes_never_logged_or_stored(
    lapor: Lapor, system: System, module_nats: NatsServer, story: dict[str, Any]
) -> None:
    secrets = [
        system.secret,
        SENDSMS_PASSWORD,
        META_APP_SECRET,
        X_CONSUMER_SECRET,
        SMS_WEBHOOK_TOKEN,
        *lapor.tokens.values(),
    ]
    codes = list(story["codes"].values())
    in_logs = {
        name: found
        for name in ("relay", "intake", "verification", "routing", "sla", "notify")
        if (found := hits(system.log(name).encode(), secrets + codes))
    }
    assert in_logs == {}, f"secrets in logs: {in_logs}"
    # Access codes are kept only as keyed hashes; no token or secret is stored anywhere.
    on_disk = scan_files(secrets + codes, system.data_dir, module_nats.store_dir)
    assert on_disk == {}, f"secrets in files: {on_disk}"
    # Secrets come from the environment, never the command line (visible to every local user).
    for name, process in system.processes.items():
        cmdline = Path(f"/proc/{process.pid}/cmdline")
        if cmdline.exists():
            assert not hits(cmdline.read_bytes(), secrets), name


def test_master_secret_can_come_from_a_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "lapor-secret"
    secret_file.write_text("from-a-file-Qx76\n")
    settings = Settings(secret_key_file=secret_file, data_dir=tmp_path)
    assert settings.master_secret == b"from-a-file-Qx76"
    assert "from-a-file" not in repr(settings) and "test-secret" not in repr(
        Settings(secret_key=SecretStr("test-secret"), data_dir=tmp_path)
    )


def _settings(system: System) -> Settings:
    return Settings(data_dir=system.data_dir, secret_key=SecretStr(system.secret))


def _access_events(system: System, tracking_id: str) -> list[str]:
    async def read() -> list[str]:
        store = SqliteEventStore(system.data_dir / "events.db")
        try:
            return [e.event_type for e in await store.read(access_stream(tracking_id))]
        finally:
            await store.close()

    return asyncio.run(read())


def test_erasure_shreds_the_reporter_and_keeps_the_audit_trail(
    lapor: Lapor, system: System, sendsms: SendsmsSink
) -> None:
    tid, _code = _sms_report(
        lapor, ERASED_PHONE, "KUPANG Puskesmas Bakunase kehabisan vaksin anak", "kannel-erase-1"
    )
    lapor.seen(tid)
    got = lapor.verification.post(
        f"/api/v1/reports/{tid}/verify", json={"category": CATEGORY}, headers=lapor.auth("admin")
    )
    assert got.status_code == 200, got.text
    lapor.in_inbox(tid)
    wait_for(lambda: sendsms.to(ERASED_PHONE), 60, what="notify to text the reporter")
    before = _stored_reporter_blob(system, tid)
    assert _decrypt(system, before)["phone"] == ERASED_PHONE

    result = erase_reporter(_settings(system), tid)  # while every service is running

    assert result.key_deleted and not result.already_erased
    with pytest.raises(KeyErased):
        _decrypt(system, before)
    # The store is untouched: every hash chain (the report's and its access stream) verifies.
    audit = lapor.cli("audit", "verify")
    assert audit.returncode == 0 and "audit OK" in audit.stdout, audit.stdout + audit.stderr
    assert lapor.cli("audit", "verify", tid).returncode == 0
    assert _stored_reporter_blob(system, tid) == before
    # Views say so.
    assert lapor.seen(tid)["reporter_identity_erased"] is True
    assert 'id="identity-erased"' in lapor.intake.get(f"/laporan/{tid}").text
    # Notify can no longer reach them, and says why; nothing more goes to the phone.
    texted = len(sendsms.to(ERASED_PHONE))
    lapor.follow_up(tid, "Vaksin anak sudah tersedia lagi di Puskesmas Bakunase.")

    def unreachable() -> dict[str, Any] | None:
        return next(
            (
                n
                for n in lapor.notifications(tid)
                if n["event_type"] == "FollowUpPosted"
                and n["recipient"] == "reporter"
                and n["status"] in ("unreachable", "sent", "failed")
            ),
            None,
        )

    notice = wait_for(unreachable, 60, what="notify's outcome for the erased reporter")
    assert notice["status"] == "unreachable", notice
    assert "identity erased" in (notice["detail"] or ""), notice
    assert notice["recipient_masked"] is None
    assert len(sendsms.to(ERASED_PHONE)) == texted
    # The phone can no longer act as the reporter either.
    answer = lapor.sms(ERASED_PHONE, f"BALAS {tid} terima kasih", "kannel-erase-2")
    assert "sudah diterima" not in answer.text, answer.text
    # The erasure is itself in the audit trail, once, however often it is run.
    again = erase_reporter(_settings(system), tid)
    assert again.already_erased and not again.key_deleted
    assert _access_events(system, tid).count(ReporterIdentityErased.event_type) == 1
    with pytest.raises(ReportNotFound):
        erase_reporter(_settings(system), new_tracking_id())
    assert lapor.cli("audit", "verify").returncode == 0
