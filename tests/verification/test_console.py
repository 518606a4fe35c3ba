"""The HTML console as an administrator uses it: sign in with a token, the queue, a report with
its actions, bulk verify — plain forms (no JavaScript), labelled, with access keys and CSRF
tokens."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from shared.auth import Role, create_token
from shared.i18n.dates import day
from shared.reports.commands import ForwardReport, PostFollowUp, ReturnReport, VerifyReport
from shared.reports.events import FollowUpKind
from tests.driver import Driver
from tests.harness import InProcessSystem, in_process
from tests.intake_web.officers import act
from tests.verification.conftest import fresh_region, stored


class Form(HTMLParser):
    """Collects the controls and labels of a page, and the hidden fields of each form."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.labels: set[str] = set()
        self.accesskeys: set[str] = set()
        self.forms: list[dict[str, object]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("accesskey"):
            self.accesskeys.add(str(a["accesskey"]))
        if tag == "form":
            self.forms.append({"action": a.get("action"), "hidden": {}})
        elif tag == "label" and a.get("for"):
            self.labels.add(str(a["for"]))
        elif tag in ("input", "select", "textarea"):
            if a.get("type") == "hidden":
                if self.forms:
                    hidden = self.forms[-1]["hidden"]
                    assert isinstance(hidden, dict)
                    hidden[a.get("name")] = a.get("value")
            else:
                self.controls.append(a)


def parse(html: str) -> Form:
    form = Form()
    form.feed(html)
    return form


def hidden_fields(html: str, action: str) -> dict[str, str]:
    """The hidden fields of the form posting to `action` (not a one-step duplicate button)."""
    for form in parse(html).forms:
        hidden = form["hidden"]
        assert isinstance(hidden, dict)
        if form["action"] == action and "duplicate_of" not in hidden:
            return {str(k): str(v) for k, v in hidden.items()}
    raise AssertionError(f"no form posting to {action}")


class Console:
    """A browser on the console: its own cookie jar, forms filled in as a person would."""

    def __init__(self, lapor: InProcessSystem, language: str = "en") -> None:
        self.http: httpx.AsyncClient = lapor.client("verification")
        # The console speaks Indonesian unless its reader picked English (a cookie): these
        # tests read it in English.
        self.http.cookies.set("lapor_lang", language)

    @classmethod
    async def signed_in(cls, lapor: InProcessSystem, token: str) -> Console:
        console = cls(lapor)
        signed_in = await console.http.post("/console/login", data={"token": token})
        assert signed_in.status_code == 303, signed_in.text
        return console

    async def page(self, path: str, status: int = 200) -> str:
        got = await self.http.get(path)
        assert got.status_code == status, got.text
        return got.text

    async def submit(
        self, page_path: str, action: str, fields: dict[str, str | list[str]] | None = None
    ) -> httpx.Response:
        """Fill in the form posting to `action` on the page, as a browser would."""
        hidden = hidden_fields(await self.page(page_path), action)
        return await self.http.post(action, data=hidden | (fields or {}))

    async def close(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def console(lapor: InProcessSystem, drive: Driver) -> AsyncIterator[Console]:
    signed_in = await Console.signed_in(lapor, drive.admin())
    yield signed_in
    await signed_in.close()


async def submit(drive: Driver, **fields: object) -> tuple[str, str]:
    """A citizen reports through intake (in a region of its own unless given one)."""
    done = await drive.submit(**({"location": {"region_code": fresh_region()}} | fields))
    return done.tracking_id, done.access_code


def admin_named(lapor: InProcessSystem, subject: str, region: str | None = None) -> str:
    return create_token(lapor.secret.encode(), Role.ADMIN, subject=subject, region=region)


async def test_signing_in_takes_an_admin_token_and_sets_a_strict_httponly_cookie(
    lapor: InProcessSystem, drive: Driver
) -> None:
    anonymous = Console(lapor)
    away = await anonymous.http.get("/console")
    assert (away.status_code, away.headers["location"]) == (303, "/console/login")
    login = await anonymous.page("/console/login")
    assert "token" in parse(login).labels
    for token, status in (
        ("", 422),
        ("not-a-token", 401),
        (create_token(b"another-secret", Role.ADMIN), 401),
        (lapor.token("agency", agency="DINKES-KOTA-KUPANG"), 403),
        (lapor.token("ombudsman"), 403),
        (lapor.token("client"), 403),
    ):
        refused = await anonymous.http.post("/console/login", data={"token": token})
        assert refused.status_code == status, refused.text
        assert 'role="alert"' in refused.text and "token:" in refused.text
        assert "set-cookie" not in refused.headers
    signed_in = await anonymous.http.post("/console/login", data={"token": drive.admin()})
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/console")
    cookie = signed_in.headers["set-cookie"]
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/console"):
        assert attribute in cookie
    assert "Secure" not in cookie  # plain HTTP here; set on HTTPS
    queue = await anonymous.http.get("/console")
    assert queue.status_code == 200
    assert queue.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in queue.headers["content-security-policy"]
    assert queue.headers["x-frame-options"] == "DENY"
    await anonymous.close()


async def test_an_expired_session_goes_back_to_the_login(lapor: InProcessSystem) -> None:
    expired = create_token(
        lapor.secret.encode(),
        Role.ADMIN,
        now=datetime.now(UTC) - timedelta(days=3),
        ttl=timedelta(days=1),
    )
    client = lapor.client("verification")
    client.cookies.set("lapor_console", expired)
    for answer in (
        await client.get("/console"),
        await client.post("/console/bulk-verify", data={}),
    ):
        assert (answer.status_code, answer.headers["location"]) == (303, "/console/login")
    await client.aclose()


async def test_the_pages_are_labelled_and_keyboard_usable(drive: Driver, console: Console) -> None:
    region = fresh_region("35")
    tid, _ = await submit(drive, location={"region_code": region}, title="Sampah menumpuk")
    await drive.desk_report(tid)
    queue = await console.page(f"/console?region={region}")
    assert f'href="/console/reports/{tid}"' in queue and "Sampah menumpuk" in queue
    assert "working days left" in queue
    report = await console.page(f"/console/reports/{tid}")
    assert "<script" not in queue + report
    for html, keys in (
        (queue, {"q", "s", "b", "l"}),
        (report, {"q", "v", "c", "p", "n", "r", "a"}),
    ):
        page = parse(html)
        assert keys <= page.accesskeys
        unlabelled = [c for c in page.controls if c.get("id") not in page.labels]
        assert unlabelled == [], unlabelled


async def test_every_action_through_the_console(
    lapor: InProcessSystem, drive: Driver, console: Console
) -> None:
    region = fresh_region("36")
    tid, access_code = await submit(drive, location={"region_code": region})
    await drive.desk_report(tid)
    page = f"/console/reports/{tid}"

    asked = await console.submit(
        page, f"{page}/request-completion", {"note": "Mohon alamat lengkap."}
    )
    assert asked.status_code == 303, asked.text
    assert asked.headers["location"].startswith(f"{page}?done=request-completion")
    assert "asked to complete" in await console.page(asked.headers["location"])
    amended = await drive.reporter(tid, access_code, "amendments", {"text": "Jl. Gajah Mada 12"})
    assert amended.status_code == 201
    assert len(await drive.timeline(tid, access_code)) == 3
    # Postponing never passes the due date: the deadline stays where it is.
    until = (await drive.desk_report(tid))["time_left"]["due_date"]
    beyond = (date.fromisoformat(until) + timedelta(days=1)).isoformat()
    refused = await console.submit(page, f"{page}/postpone", {"until": beyond})
    assert refused.status_code == 422
    assert f"may not pass the due date {day(until, 'en')}" in refused.text  # a day in words
    assert (await console.submit(page, f"{page}/postpone", {"until": until})).status_code == 303
    protected = await console.submit(
        page, f"{page}/protection", {"anonymous": "on", "note": "lupa"}
    )
    assert protected.status_code == 303
    report = await drive.desk_report(tid)
    assert (report["postponed_until"], report["anonymous"], report["confidential"]) == (
        until,
        True,
        False,
    )
    verified = await console.submit(
        page,
        f"{page}/verify",
        {
            "classification": "complaint",
            "category": "infrastruktur",
            "region_code": region,
            "agency_code": "",
            "lat": "",
            "lon": "",
            "address": "Jl. Gajah Mada 12",
            "requires_field_inspection": "on",
        },
    )
    assert verified.status_code == 303, verified.text
    assert verified.headers["location"].startswith("/console?done=verify")
    assert f"Report {tid} verified." in await console.page(verified.headers["location"])
    report = await drive.desk_report(tid)
    assert report["status"] == "verified"
    assert report["category"] == "infrastruktur"
    assert report["requires_field_inspection"] is True
    assert await stored(lapor, tid) == [
        "ReportSubmitted",
        "ReportCompletionRequested",
        "ReportAmended",
        "ReportPostponed",
        "ProtectionChanged",
        "ReportVerified",
    ]

    other, _ = await submit(drive, location={"region_code": region})
    await drive.desk_report(other)
    page = f"/console/reports/{other}"
    moved = await console.submit(
        page, f"{page}/not-our-authority", {"to_region": "3171", "note": ""}
    )
    assert moved.status_code == 303
    assert (await drive.desk_report(other))["location"]["region_code"] == "3171"
    spam = await console.submit(page, f"{page}/reject", {"reason": "spam", "duplicate_of": ""})
    assert spam.status_code == 303
    assert (await drive.desk_report(other))["rejected_reason"] == "spam"


async def test_reject_as_duplicate_in_one_step(drive: Driver, console: Console) -> None:
    region = fresh_region("61")
    place = {"region_code": region, "lat": 0.0263, "lon": 109.3425}
    first, _ = await submit(
        drive,
        title="Banjir di Jalan Gajah Mada",
        body="Banjir setinggi lutut di Jalan Gajah Mada setiap hujan, drainase tersumbat.",
        location=place,
    )
    second, _ = await submit(
        drive,
        title="Jalan Gajah Mada banjir lagi",
        body="Drainase tersumbat, Jalan Gajah Mada banjir setinggi lutut setiap hujan.",
        location=place,
    )
    await drive.desk_report(first)
    await drive.desk_report(second)
    page = f"/console/reports/{second}"
    html = await console.page(page)
    assert f"Reject as duplicate of {first}" in html
    hidden = next(
        f["hidden"]
        for f in parse(html).forms
        if isinstance(f["hidden"], dict) and f["hidden"].get("duplicate_of") == first
    )
    assert isinstance(hidden, dict)
    linked = await console.http.post(f"{page}/reject", data=hidden)
    assert linked.status_code == 303, linked.text
    assert (await drive.desk_report(second))["duplicate_of"] == first
    original_page = await console.page(f"/console/reports/{first}")
    assert f'href="/console/reports/{second}"' in original_page


async def test_forms_need_the_sessions_csrf_token(
    lapor: InProcessSystem, drive: Driver, console: Console
) -> None:
    tid, _ = await submit(drive)
    await drive.desk_report(tid)
    page = f"/console/reports/{tid}"
    mine = hidden_fields(await console.page(page), f"{page}/verify")
    other = await Console.signed_in(lapor, admin_named(lapor, "someone-else"))
    theirs = hidden_fields(await other.page(page), f"{page}/verify")
    assert mine["csrf"] != theirs["csrf"]
    for data in ({}, {"csrf": "0" * 64}, {"csrf": theirs["csrf"]}):
        refused = await console.http.post(f"{page}/verify", data=data)
        assert refused.status_code == 403 and "csrf" in refused.text
    refused = await console.http.post(
        "/console/bulk-verify", data={"tracking_id": tid, "csrf": theirs["csrf"]}
    )
    assert refused.status_code == 403
    assert await stored(lapor, tid) == ["ReportSubmitted"]
    await other.close()


async def test_a_double_submit_stores_one_event(
    lapor: InProcessSystem, drive: Driver, console: Console
) -> None:
    tid, _ = await submit(drive)
    await drive.desk_report(tid)
    page = f"/console/reports/{tid}"
    fields = hidden_fields(await console.page(page), f"{page}/reject") | {"reason": "spam"}
    first = await console.http.post(f"{page}/reject", data=fields)
    second = await console.http.post(f"{page}/reject", data=fields)
    assert first.status_code == second.status_code == 303
    assert await stored(lapor, tid) == ["ReportSubmitted", "ReportRejected"]


async def test_errors_and_conflicts_are_shown_on_the_report_page(
    lapor: InProcessSystem, drive: Driver, console: Console
) -> None:
    tid, _ = await submit(drive)
    await drive.desk_report(tid)
    page = f"/console/reports/{tid}"
    past = await console.submit(page, f"{page}/postpone", {"until": "2020-01-01"})
    assert past.status_code == 422 and "until:" in past.text
    nonsense = await console.submit(page, f"{page}/verify", {"region_code": "53.7"})
    assert nonsense.status_code == 422 and "region_code" in nonsense.text
    stale = hidden_fields(await console.page(page), f"{page}/verify")
    budi = admin_named(lapor, "budi")
    assert (await drive.desk(tid, "reject", {"reason": "spam"}, budi)).status_code == 200
    late = await console.http.post(f"{page}/verify", data=stale)
    assert late.status_code == 409
    assert "status <strong>rejected</strong>" in late.text and "budi" in late.text
    assert await stored(lapor, tid) == ["ReportSubmitted", "ReportRejected"]


async def test_bulk_verify_with_checkboxes(drive: Driver, console: Console) -> None:
    region = fresh_region("62")
    ids = [(await submit(drive, location={"region_code": region}))[0] for _ in range(3)]
    for tid in ids:
        await drive.desk_report(tid)
    queue = f"/console?region={region}"
    html = await console.page(queue)
    for tid in ids:
        assert f'name="tracking_id" value="{tid}"' in html
    done = await console.submit(queue, "/console/bulk-verify", {"tracking_id": ids[:2]})
    assert done.status_code == 200, done.text
    assert "2 of 2 verified" in done.text
    assert [(await drive.desk_report(t))["status"] for t in ids] == [
        "verified",
        "verified",
        "submitted",
    ]
    assert re.findall(r'name="tracking_id" value="(\w+)"', await console.page(queue)) == [ids[2]]
    none_ticked = await console.submit(queue, "/console/bulk-verify", {})
    assert none_ticked.status_code == 422 and "tick at least one" in none_ticked.text


async def test_a_regional_admin_is_kept_to_their_region(
    lapor: InProcessSystem, drive: Driver
) -> None:
    tid, _ = await submit(drive, location={"region_code": fresh_region("64")})
    await drive.desk_report(tid)
    regional = await Console.signed_in(lapor, lapor.token("admin", region="11"))
    assert tid not in await regional.page("/console")
    assert "outside your region" in await regional.page(f"/console/reports/{tid}", status=403)
    national = await Console.signed_in(lapor, drive.admin())
    fields = hidden_fields(
        await national.page(f"/console/reports/{tid}"), f"/console/reports/{tid}/verify"
    )
    fields["csrf"] = hidden_fields(await regional.page("/console"), "/console/bulk-verify")["csrf"]
    refused = await regional.http.post(f"/console/reports/{tid}/verify", data=fields)
    assert refused.status_code == 403
    assert await stored(lapor, tid) == ["ReportSubmitted"]
    await regional.close()
    await national.close()


async def test_signing_out_clears_the_cookie(lapor: InProcessSystem, drive: Driver) -> None:
    console = await Console.signed_in(lapor, drive.admin())
    csrf = hidden_fields(await console.page("/console"), "/console/logout")["csrf"]
    out = await console.http.post("/console/logout", data={"csrf": csrf})
    assert (out.status_code, out.headers["location"]) == (303, "/console/login")
    assert (
        'lapor_console=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    )
    assert (await console.http.get("/console")).status_code == 303
    await console.close()


async def test_the_console_speaks_indonesian_and_tells_times_in_the_reports_zone(
    lapor: InProcessSystem, drive: Driver
) -> None:
    """Issue 17: staff pages too — Indonesian first (English on request), times in the report's
    own zone with the month by name, regions by name."""
    console = await Console.signed_in(lapor, drive.admin())
    console.http.cookies.delete("lapor_lang")
    tid, _ = await submit(drive, location={"region_code": "5371"})
    queue = await console.page("/console?q=" + tid)
    assert "Antrean verifikasi" in queue and "hari kerja" in queue
    assert "Kota Kupang" in queue and "WITA" in queue and "UTC" not in queue
    report = await console.page(f"/console/reports/{tid}")
    assert "Verifikasi" in report and "Minta kelengkapan" in report
    assert re.search(r"\d{1,2} [A-Z][a-z]+ \d{4}, \d{2}\.\d{2} WITA", report)
    english = await console.page(f"/console/reports/{tid}?lang=en")
    assert "Request completion" in english and "WITA" in english
    for page in (queue, report):
        visible = re.sub(r"<[^>]+>", " ", page)
        assert not re.search(r"\bconsole\.[a-z_.\-]+\b", visible), "a catalog key shown as itself"
    await console.close()


async def test_refusals_on_the_console_are_said_in_indonesian_first(
    lapor: InProcessSystem, drive: Driver
) -> None:
    """Issue 17: a rule's refusal on the console names the field as a person calls it, in
    Indonesian (English on request), not the API's English."""
    console = await Console.signed_in(lapor, drive.admin())
    console.http.cookies.delete("lapor_lang")
    tid, _ = await submit(drive)
    page = f"/console/reports/{tid}"
    past = await console.submit(page, f"{page}/postpone", {"until": "2020-01-01"})
    assert past.status_code == 422
    assert "Ditunda sampai: harus setelah hari ini (" in past.text and "must be" not in past.text
    itself = await console.submit(
        page, f"{page}/reject", {"reason": "duplicate", "duplicate_of": tid}
    )
    assert itself.status_code == 422
    assert "Duplikat dari: laporan tidak dapat menjadi duplikat dirinya sendiri." in itself.text
    stale = hidden_fields(await console.page(page), f"{page}/verify")
    budi = admin_named(lapor, "budi")
    assert (await drive.desk(tid, "reject", {"reason": "spam"}, budi)).status_code == 200
    late = await console.http.post(f"{page}/verify", data=stale)
    assert late.status_code == 409
    assert "Tindakan ini tidak dapat dilakukan pada laporan berstatus Ditolak." in late.text
    assert "cannot verify" not in late.text
    english = await console.http.post(f"{page}/verify?lang=en", data=stale | {"idem": "x2"})
    assert "This cannot be done to a report whose status is Rejected." in english.text
    await console.close()


def _value(html: str, control_id: str) -> str | None:
    """What a text input or textarea of the page holds."""
    box = re.search(rf'<textarea id="{control_id}"[^>]*>([^<]*)</textarea>', html)
    if box is not None:
        return box.group(1)
    for control in parse(html).controls:
        if control.get("id") == control_id:
            return control.get("value") or ""
    return None


async def test_a_refused_action_keeps_what_the_administrator_typed_and_chose(
    lapor: InProcessSystem, drive: Driver, console: Console
) -> None:
    """A mistyped duplicate's ID, a postponement past the verification deadline, a region code
    with a slip: the page says why, and the note, the reason, the date and the corrections are
    still in that form (they were gone: empty boxes, the report's own values, no reason)."""
    tid, _ = await submit(drive)
    await drive.desk_report(tid)
    page = f"/console/reports/{tid}"
    note = "Sama dengan laporan kemarin dari kelurahan yang sama."
    reject: dict[str, str | list[str]] = {
        "reason": "duplicate",
        "duplicate_of": "ABCDEFGHJK",
        "note": note,
    }
    refused = await console.submit(page, f"{page}/reject", reject)
    assert refused.status_code == 422 and "duplicate_of" in refused.text
    assert _value(refused.text, "r-dup") == "ABCDEFGHJK"
    assert _value(refused.text, "r-note") == note
    assert '<option value="duplicate" selected>' in refused.text
    assert _value(refused.text, "p-note") == ""  # only the refused form is filled in again

    later = (datetime.now(UTC) + timedelta(days=200)).date().isoformat()
    postpone: dict[str, str | list[str]] = {"until": later, "note": "Menunggu data dari kecamatan."}
    refused = await console.submit(page, f"{page}/postpone", postpone)
    assert refused.status_code == 422 and "until" in refused.text
    assert _value(refused.text, "p-until") == later
    assert _value(refused.text, "p-note") == "Menunggu data dari kecamatan."

    verify: dict[str, str | list[str]] = {
        "region_code": "53.7",
        "category": "kesehatan",
        "address": "Jl. Timor Raya 12",
    }
    refused = await console.submit(page, f"{page}/verify", verify)
    assert refused.status_code == 422 and "region_code" in refused.text
    assert _value(refused.text, "v-region") == "53.7"
    assert _value(refused.text, "v-address") == "Jl. Timor Raya 12"
    assert re.search(r'<option value="kesehatan"\s*selected>', refused.text)
    assert await stored(lapor, tid) == ["ReportSubmitted"]


async def test_the_queue_states_the_limits_the_policy_sets(tmp_path: Path) -> None:
    """The queue's lead said "(3 hari kerja untuk meneruskan)" whatever the SLA policy; under a
    national policy giving the desk 4 working days (and 2 for a returned report) the console
    told administrators a limit the system does not count with."""
    policy = tmp_path / "sla-policy.json"
    policy.write_text(json.dumps({"defaults": {"verification": 4, "reforward": 2}}))
    env = {"LAPOR_SLA_POLICY_FILE": str(policy)}
    async with in_process(tmp_path / "lapor", ("verification",), env=env) as lapor:
        console = Console(lapor, language="id")
        signed_in = await console.http.post("/console/login", data={"token": lapor.token("admin")})
        assert signed_in.status_code == 303, signed_in.text
        indonesian = await console.page("/console")
        english = await console.page("/console?lang=en")
        await console.close()
    assert "diteruskan dalam 4 hari kerja" in indonesian, indonesian
    assert "yang dikembalikan dalam 2 hari kerja" in indonesian
    assert "3 hari kerja" not in indonesian
    assert "4 working days to forward" in english and "2 working days" in english
    assert "3 working days" not in english


async def test_sending_a_report_to_the_region_it_is_in_is_refused_saying_why(
    lapor: InProcessSystem, drive: Driver, console: Console
) -> None:
    """Choosing "Bukan kewenangan kami" with the report's own region as the one responsible answered
    like a done action and changed nothing: the administrator believed the report had gone to
    another desk while it stayed in this queue. It is refused, saying why, in both languages."""
    region = fresh_region("53")
    tid, _ = await submit(drive, location={"region_code": region})
    await drive.desk_report(tid)
    page = f"/console/reports/{tid}"
    fields: dict[str, str | list[str]] = {"to_region": region, "note": "Salah kirim."}
    refused = await console.submit(page, f"{page}/not-our-authority", fields)
    assert refused.status_code == 422, refused.status_code
    assert "the report is in this region already" in refused.text
    console.http.cookies.set("lapor_lang", "id")
    refused = await console.submit(page, f"{page}/not-our-authority", fields)
    assert refused.status_code == 422
    assert "laporan sudah berada di wilayah ini" in refused.text
    assert "tidak dapat diterima" not in refused.text  # its own sentence, not the fallback
    assert await stored(lapor, tid) == ["ReportSubmitted"]


async def test_the_answer_form_states_the_closing_limit_the_policy_sets(tmp_path: Path) -> None:
    """Above the administrator's answer the console said the report closes "10 hari kerja
    setelah tanggapan terakhir" whatever the SLA policy; where the institution's policy closes
    after 7 working days it told administrators a limit the system does not keep."""
    agency = "DINKES-KOTA-KUPANG"
    policy = tmp_path / "sla-policy.json"
    policy.write_text(json.dumps({"agencies": {agency: {"auto_close": 7}}}))
    env = {"LAPOR_SLA_POLICY_FILE": str(policy)}
    async with in_process(tmp_path / "lapor", ("intake", "verification"), env=env) as lapor:
        async with lapor.client("intake") as web:
            sent = await web.post(
                "/api/v1/reports",
                json={
                    "title": "Puskesmas tutup siang hari",
                    "body": "Puskesmas Sikumana tutup pukul 12, warga disuruh pulang.",
                    "location": {"region_code": "5371"},
                },
            )
        assert sent.status_code == 201, sent.text
        tid = sent.json()["tracking_id"]
        await act(lapor, tid, VerifyReport())
        due = date.today() + timedelta(days=10)
        forward = ForwardReport(agency_code=agency, agency_name="Dinkes", follow_up_due=due)
        await act(lapor, tid, forward)
        final = PostFollowUp(agency_code=agency, text="Sudah buka.", kind=FollowUpKind.FINAL)
        await act(lapor, tid, final, "agency")
        console = Console(lapor, language="id")
        signed_in = await console.http.post("/console/login", data={"token": lapor.token("admin")})
        assert signed_in.status_code == 303, signed_in.text
        indonesian = await console.page(f"/console/reports/{tid}")
        english = await console.page(f"/console/reports/{tid}?lang=en")
        await console.close()
    assert 'id="admin-reply"' in indonesian
    assert "ditutup 7 hari kerja setelah tanggapan terakhir" in indonesian
    assert "10 hari kerja" not in indonesian
    assert "7 working days" in english and "10 working days" not in english


async def test_a_possible_duplicate_says_why_in_words_not_code_names(
    lapor: InProcessSystem, drive: Driver
) -> None:
    """Round 6 (pages): the "possible duplicates" table gave its reasons as the code's names
    ("similar_text, nearby, same_category") on the Indonesian page as on the English one."""
    region = fresh_region("61")
    place = {"region_code": region, "lat": 0.0263, "lon": 109.3425}
    body = "Banjir setinggi lutut di Jalan Gajah Mada setiap hujan, drainase tersumbat."
    first, _ = await submit(drive, title="Banjir di Jalan Gajah Mada", body=body, location=place)
    second, _ = await submit(drive, title="Banjir lagi", body=body, location=place)
    await drive.desk_report(first)
    await drive.desk_report(second)
    for language, words in (
        ("id", ("teks mirip", "lokasi berdekatan", "kategori sama")),
        ("en", ("similar text", "nearby", "same category")),
    ):
        console = Console(lapor, language)
        signed_in = await console.http.post("/console/login", data={"token": drive.admin()})
        assert signed_in.status_code == 303
        html = await console.page(f"/console/reports/{second}")
        table = html.split('id="duplicates"')[1].split("</table>")[0]
        reasons = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", table))
        for raw in ("similar_text", "same_category"):
            assert raw not in reasons, reasons
        for word in words:
            assert word in reasons, (word, reasons)
        await console.close()


async def test_searching_a_tracking_id_finds_the_report_whatever_its_status(
    lapor: InProcessSystem, drive: Driver
) -> None:
    """Round 6 (pages): a reporter calls about report X, already forwarded; the administrator
    types X in the queue's search ("words or tracking ID") and read "Nothing waiting here", as
    if it did not exist. The queue now points to the report and says where it is."""
    tid, _ = await submit(drive, location={"region_code": "5371"})
    await drive.desk_report(tid)
    verified = await drive.verify(tid)
    assert verified.status_code == 200, verified.text
    assert (await drive.desk_report(tid))["status"] != "submitted"
    for language, where in (("id", "Status sekarang"), ("en", "Status now")):
        console = Console(lapor, language)
        signed_in = await console.http.post("/console/login", data={"token": drive.admin()})
        assert signed_in.status_code == 303
        for typed in (tid, f" {tid.lower()[:4]}-{tid.lower()[4:]} "):
            html = await console.page(f"/console?{urlencode({'q': typed})}")
            found = html.split('id="found-elsewhere"')[1].split("</p>")[0]
            assert f'href="/console/reports/{tid}"' in found, found
            assert where in found, found
        await console.close()
    # Someone else's region: the regional administrator is told nothing about it.
    regional = await Console.signed_in(lapor, admin_named(lapor, "admin-aceh", region="11"))
    assert 'id="found-elsewhere"' not in await regional.page(f"/console?q={tid}")
    await regional.close()


async def test_the_services_address_leads_an_administrator_to_the_console(
    lapor: InProcessSystem,
) -> None:
    """Round 6 (pages): the README gives administrators the verification service's address;
    opening it showed one English line of plain text, "LAPOR verification service. API docs:
    /docs", and no way to the console. It now leads to the console's sign-in."""
    async with lapor.client("verification") as browser:
        home = await browser.get("/")
        assert home.status_code in (302, 303, 307), home.text
        assert home.headers["location"] == "/console"
        console = await browser.get("/console")
        assert console.headers["location"].startswith("/console/login")


async def test_the_queue_names_the_institution_that_returned_a_report(
    lapor: InProcessSystem, drive: Driver
) -> None:
    """Round 6 (pages): a returned report in the queue read "dikembalikan oleh
    DPUPR-KOTA-KUPANG" — the directory's code — where its page names the institution."""
    tid, _ = await submit(drive, location={"region_code": "5371"})
    agency = "DPUPR-KOTA-KUPANG"
    await act(lapor, tid, VerifyReport())
    due = date.today() + timedelta(days=7)
    await act(lapor, tid, ForwardReport(agency_code=agency, agency_name="DPUPR", follow_up_due=due))
    await act(lapor, tid, ReturnReport(agency_code=agency, reason="wrong_region"), "agency")
    console = Console(lapor, "id")
    assert (await console.http.post("/console/login", data={"token": drive.admin()})).is_redirect
    queue = await console.page(f"/console?q={tid}")
    [row] = [r for r in re.findall(r"<tr>(.*?)</tr>", queue, re.S) if tid in r]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))
    assert "dikembalikan oleh Dinas Pekerjaan Umum dan Penataan Ruang Kota Kupang" in text, text
    assert "DPUPR-KOTA-KUPANG" not in text
    await console.close()


async def test_a_returned_report_is_not_offered_to_bulk_verify(
    lapor: InProcessSystem, drive: Driver
) -> None:
    """Round 6 (pages): the queue gave a returned report a "verify" checkbox; ticked, bulk verify
    answered "not verified: another administrator (…) already did it" — true of its first
    verification, no help now that it waits to be forwarded again (on its own page)."""
    tid, _ = await submit(drive, location={"region_code": "5371"})
    agency = "DPUPR-KOTA-KUPANG"
    await act(lapor, tid, VerifyReport())
    due = date.today() + timedelta(days=7)
    await act(lapor, tid, ForwardReport(agency_code=agency, agency_name="DPUPR", follow_up_due=due))
    await act(lapor, tid, ReturnReport(agency_code=agency, reason="wrong_region"), "agency")
    waiting, _ = await submit(drive, location={"region_code": "5371"})
    await drive.desk_report(waiting)
    console = Console(lapor, "id")
    assert (await console.http.post("/console/login", data={"token": drive.admin()})).is_redirect
    queue = await console.page("/console?region=5371")
    rows = {
        key: next(r for r in re.findall(r"<tr>(.*?)</tr>", queue, re.S) if key in r)
        for key in (tid, waiting)
    }
    assert 'type="checkbox"' not in rows[tid]
    assert f'href="/console/reports/{tid}"' in rows[tid]  # forwarded again from its page
    assert 'type="checkbox"' in rows[waiting]
    await console.close()


async def test_a_report_outside_the_admins_region_is_refused_in_their_language(
    lapor: InProcessSystem, drive: Driver
) -> None:
    """Round 6 (pages): a regional administrator opening another region's report (a link
    passed on by a colleague) read "tracking_id: report … is outside your region 11" — the
    API's English — on the Indonesian console."""
    tid, _ = await submit(drive, location={"region_code": fresh_region("64")})
    await drive.desk_report(tid)
    regional = Console(lapor, "id")
    token = lapor.token("admin", region="11")
    assert (await regional.http.post("/console/login", data={"token": token})).is_redirect
    page = await regional.page(f"/console/reports/{tid}", status=403)
    assert f"{tid} berada di luar wilayah Anda (11)" in page
    assert "outside your region" not in page and "tracking_id" not in page
    await regional.close()
