"""The HTML console as an administrator uses it: sign in with a token, the queue, a report with
its actions, bulk verify — plain forms (no JavaScript), labelled, with access keys and CSRF
tokens."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import httpx
import pytest

from shared.auth import Role, create_token
from tests.verification.conftest import Lapor, days_from_now, fresh_region


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
    def __init__(self, lapor: Lapor, token: str | None = None) -> None:
        self.lapor = lapor
        self.http = httpx.Client(base_url=lapor.system.url("verification"), timeout=10)
        if token is not None:
            signed_in = self.http.post("/console/login", data={"token": token})
            assert signed_in.status_code == 303, signed_in.text

    def page(self, path: str, status: int = 200) -> str:
        got = self.http.get(path)
        assert got.status_code == status, got.text
        return got.text

    def submit(
        self, page_path: str, action: str, fields: dict[str, str | list[str]] | None = None
    ) -> httpx.Response:
        """Fill in the form posting to `action` on the page, as a browser would."""
        hidden = hidden_fields(self.page(page_path), action)
        return self.http.post(action, data=hidden | (fields or {}))


@pytest.fixture
def console(lapor: Lapor) -> Iterator[Console]:
    signed_in = Console(lapor, lapor.admin_token)
    yield signed_in
    signed_in.http.close()


def test_signing_in_takes_an_admin_token_and_sets_a_strict_httponly_cookie(lapor: Lapor) -> None:
    anonymous = Console(lapor)
    away = anonymous.http.get("/console")
    assert (away.status_code, away.headers["location"]) == (303, "/console/login")
    login = anonymous.page("/console/login")
    assert "token" in parse(login).labels
    for token, status in (
        ("", 422),
        ("not-a-token", 401),
        (create_token(b"another-secret", Role.ADMIN), 401),
        (lapor.token("agency", agency="DINKES-KOTA-KUPANG"), 403),
        (lapor.token("ombudsman"), 403),
        (lapor.token("client"), 403),
    ):
        refused = anonymous.http.post("/console/login", data={"token": token})
        assert refused.status_code == status, refused.text
        assert 'role="alert"' in refused.text and "token:" in refused.text
        assert "set-cookie" not in refused.headers
    signed_in = anonymous.http.post("/console/login", data={"token": lapor.admin_token})
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/console")
    cookie = signed_in.headers["set-cookie"]
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/console"):
        assert attribute in cookie
    assert "Secure" not in cookie  # plain HTTP here; set on HTTPS
    queue = anonymous.http.get("/console")
    assert queue.status_code == 200
    assert queue.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in queue.headers["content-security-policy"]
    assert queue.headers["x-frame-options"] == "DENY"
    anonymous.http.close()


def test_an_expired_session_goes_back_to_the_login(lapor: Lapor) -> None:
    expired = create_token(
        lapor.system.secret.encode(),
        Role.ADMIN,
        now=datetime.now(UTC) - timedelta(days=3),
        ttl=timedelta(days=1),
    )
    client = httpx.Client(
        base_url=lapor.system.url("verification"), cookies={"lapor_console": expired}
    )
    for answer in (client.get("/console"), client.post("/console/bulk-verify", data={})):
        assert (answer.status_code, answer.headers["location"]) == (303, "/console/login")
    client.close()


def test_the_pages_are_labelled_and_keyboard_usable(lapor: Lapor, console: Console) -> None:
    region = fresh_region("35")
    tid, _ = lapor.submit(location={"region_code": region}, title="Sampah menumpuk")
    lapor.seen(tid)
    queue = console.page(f"/console?region={region}")
    assert f'href="/console/reports/{tid}"' in queue and "Sampah menumpuk" in queue
    assert "working days left" in queue
    report = console.page(f"/console/reports/{tid}")
    assert "<script" not in queue + report
    for html, keys in (
        (queue, {"q", "s", "b", "l"}),
        (report, {"q", "v", "c", "p", "n", "r", "a"}),
    ):
        page = parse(html)
        assert keys <= page.accesskeys
        unlabelled = [c for c in page.controls if c.get("id") not in page.labels]
        assert unlabelled == [], unlabelled


def test_every_action_through_the_console(lapor: Lapor, console: Console) -> None:
    region = fresh_region("36")
    tid, access_code = lapor.submit(location={"region_code": region})
    lapor.seen(tid)
    page = f"/console/reports/{tid}"

    asked = console.submit(page, f"{page}/request-completion", {"note": "Mohon alamat lengkap."})
    assert asked.status_code == 303, asked.text
    assert asked.headers["location"].startswith(f"{page}?done=request-completion")
    assert "asked to complete" in console.page(asked.headers["location"])
    amended = lapor.intake.post(
        f"/api/v1/reports/{tid}/amendments",
        json={"text": "Jl. Gajah Mada 12"},
        headers={"X-Access-Code": access_code},
    )
    assert amended.status_code == 201
    lapor.timeline(tid, 3)
    until = days_from_now(4)
    assert console.submit(page, f"{page}/postpone", {"until": until}).status_code == 303
    assert (
        console.submit(page, f"{page}/protection", {"anonymous": "on", "note": "lupa"}).status_code
        == 303
    )
    report = lapor.seen(tid)
    assert (report["postponed_until"], report["anonymous"], report["confidential"]) == (
        until,
        True,
        False,
    )
    verified = console.submit(
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
    assert f"Report {tid} verified." in console.page(verified.headers["location"])
    report = lapor.seen(tid)
    assert report["status"] == "verified"
    assert report["category"] == "infrastruktur"
    assert report["requires_field_inspection"] is True
    assert lapor.stored(tid) == [
        "ReportSubmitted",
        "ReportCompletionRequested",
        "ReportAmended",
        "ReportPostponed",
        "ProtectionChanged",
        "ReportVerified",
    ]

    other, _ = lapor.submit(location={"region_code": region})
    lapor.seen(other)
    page = f"/console/reports/{other}"
    moved = console.submit(page, f"{page}/not-our-authority", {"to_region": "3171", "note": ""})
    assert moved.status_code == 303
    assert lapor.seen(other)["location"]["region_code"] == "3171"
    spam = console.submit(page, f"{page}/reject", {"reason": "spam", "duplicate_of": ""})
    assert spam.status_code == 303
    assert lapor.seen(other)["rejected_reason"] == "spam"


def test_reject_as_duplicate_in_one_step(lapor: Lapor, console: Console) -> None:
    region = fresh_region("61")
    place = {"region_code": region, "lat": 0.0263, "lon": 109.3425}
    first, _ = lapor.submit(
        title="Banjir di Jalan Gajah Mada",
        body="Banjir setinggi lutut di Jalan Gajah Mada setiap hujan, drainase tersumbat.",
        location=place,
    )
    second, _ = lapor.submit(
        title="Jalan Gajah Mada banjir lagi",
        body="Drainase tersumbat, Jalan Gajah Mada banjir setinggi lutut setiap hujan.",
        location=place,
    )
    lapor.seen(first)
    lapor.seen(second)
    page = f"/console/reports/{second}"
    html = console.page(page)
    assert f"Reject as duplicate of {first}" in html
    hidden = next(
        f["hidden"]
        for f in parse(html).forms
        if isinstance(f["hidden"], dict) and f["hidden"].get("duplicate_of") == first
    )
    assert isinstance(hidden, dict)
    linked = console.http.post(f"{page}/reject", data=hidden)
    assert linked.status_code == 303, linked.text
    assert lapor.seen(second)["duplicate_of"] == first
    original_page = console.page(f"/console/reports/{first}")
    assert f'href="/console/reports/{second}"' in original_page


def test_forms_need_the_sessions_csrf_token(lapor: Lapor, console: Console) -> None:
    tid, _ = lapor.submit()
    lapor.seen(tid)
    page = f"/console/reports/{tid}"
    mine = hidden_fields(console.page(page), f"{page}/verify")
    other = Console(lapor, lapor.token("admin", subject="someone-else"))
    theirs = hidden_fields(other.page(page), f"{page}/verify")
    assert mine["csrf"] != theirs["csrf"]
    for data in ({}, {"csrf": "0" * 64}, {"csrf": theirs["csrf"]}):
        refused = console.http.post(f"{page}/verify", data=data)
        assert refused.status_code == 403 and "csrf" in refused.text
    refused = console.http.post(
        "/console/bulk-verify", data={"tracking_id": tid, "csrf": theirs["csrf"]}
    )
    assert refused.status_code == 403
    assert lapor.stored(tid) == ["ReportSubmitted"]
    other.http.close()


def test_a_double_submit_stores_one_event(lapor: Lapor, console: Console) -> None:
    tid, _ = lapor.submit()
    lapor.seen(tid)
    page = f"/console/reports/{tid}"
    fields = hidden_fields(console.page(page), f"{page}/reject") | {"reason": "spam"}
    first = console.http.post(f"{page}/reject", data=fields)
    second = console.http.post(f"{page}/reject", data=fields)
    assert first.status_code == second.status_code == 303
    assert lapor.stored(tid) == ["ReportSubmitted", "ReportRejected"]


def test_errors_and_conflicts_are_shown_on_the_report_page(lapor: Lapor, console: Console) -> None:
    tid, _ = lapor.submit()
    lapor.seen(tid)
    page = f"/console/reports/{tid}"
    past = console.submit(page, f"{page}/postpone", {"until": "2020-01-01"})
    assert past.status_code == 422 and "until:" in past.text
    nonsense = console.submit(page, f"{page}/verify", {"region_code": "53.71"})
    assert nonsense.status_code == 422 and "region_code" in nonsense.text
    stale = hidden_fields(console.page(page), f"{page}/verify")
    assert (
        lapor.act(
            tid, "reject", {"reason": "spam"}, lapor.token("admin", subject="budi")
        ).status_code
        == 200
    )
    late = console.http.post(f"{page}/verify", data=stale)
    assert late.status_code == 409
    assert "status <strong>rejected</strong>" in late.text and "budi" in late.text
    assert lapor.stored(tid) == ["ReportSubmitted", "ReportRejected"]


def test_bulk_verify_with_checkboxes(lapor: Lapor, console: Console) -> None:
    region = fresh_region("62")
    ids = [lapor.submit(location={"region_code": region})[0] for _ in range(3)]
    for tid in ids:
        lapor.seen(tid)
    queue = f"/console?region={region}"
    html = console.page(queue)
    for tid in ids:
        assert f'name="tracking_id" value="{tid}"' in html
    done = console.submit(queue, "/console/bulk-verify", {"tracking_id": ids[:2]})
    assert done.status_code == 200, done.text
    assert "2 of 2 verified" in done.text
    assert [lapor.seen(t)["status"] for t in ids] == ["verified", "verified", "submitted"]
    assert re.findall(r'name="tracking_id" value="(\w+)"', console.page(queue)) == [ids[2]]
    none_ticked = console.submit(queue, "/console/bulk-verify", {})
    assert none_ticked.status_code == 422 and "tick at least one" in none_ticked.text


def test_a_regional_admin_is_kept_to_their_region(lapor: Lapor) -> None:
    tid, _ = lapor.submit(location={"region_code": fresh_region("64")})
    lapor.seen(tid)
    regional = Console(lapor, lapor.token("admin", region="11"))
    assert tid not in regional.page("/console")
    assert "outside your region" in regional.page(f"/console/reports/{tid}", status=403)
    national = Console(lapor, lapor.admin_token)
    fields = hidden_fields(
        national.page(f"/console/reports/{tid}"), f"/console/reports/{tid}/verify"
    )
    fields["csrf"] = hidden_fields(regional.page("/console"), "/console/bulk-verify")["csrf"]
    refused = regional.http.post(f"/console/reports/{tid}/verify", data=fields)
    assert refused.status_code == 403
    assert lapor.stored(tid) == ["ReportSubmitted"]
    regional.http.close()
    national.http.close()


def test_signing_out_clears_the_cookie(lapor: Lapor) -> None:
    console = Console(lapor, lapor.admin_token)
    csrf = hidden_fields(console.page("/console"), "/console/logout")["csrf"]
    out = console.http.post("/console/logout", data={"csrf": csrf})
    assert (out.status_code, out.headers["location"]) == (303, "/console/login")
    assert (
        'lapor_console=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    )
    assert console.http.get("/console").status_code == 303
    console.http.close()
