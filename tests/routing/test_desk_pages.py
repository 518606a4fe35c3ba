"""The agency desk in a browser (server-rendered HTML), in process: log in with a token kept in a
cookie, the inbox, one report, a follow-up posted once however often the form is sent."""

from __future__ import annotations

import re

from tests.driver import Driver
from tests.harness import InProcessSystem
from tests.routing.steps import (
    DINKES,
    DPUPR,
    event_types,
    forwarded,
    item,
    reaches,
    submit,
    timeline,
)


async def test_the_html_desk_logs_in_with_a_token_cookie_and_posts_a_follow_up(
    lapor: InProcessSystem, drive: Driver
) -> None:
    tracking_id, _ = await forwarded(
        drive, "Lampu jalan mati", region="5371", category="infrastruktur"
    )
    assert item(await drive.inbox(DPUPR), tracking_id) is not None
    async with lapor.client("routing") as browser:  # keeps its cookies, follows no redirects
        assert (await browser.get("/desk")).headers["location"] == "/desk/login"
        refused = await browser.post("/desk/login", data={"token": "not-a-token"})
        assert refused.status_code == 401 and "token" in refused.text
        token = drive.token("agency", agency=DPUPR)
        logged_in = await browser.post("/desk/login", data={"token": token})
        assert logged_in.status_code == 303
        cookie = logged_in.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/desk" in cookie

        inbox = await browser.get("/desk")
        assert inbox.status_code == 200 and tracking_id in inbox.text
        page = await browser.get(f"/desk/reports/{tracking_id}")
        assert page.status_code == 200 and "Lampu jalan mati" in page.text
        assert 'action="/desk/reports/' in page.text and "PUSKESMAS" not in page.text

        form = {
            "text": "Petugas sudah mengganti lampu.",
            "kind": "final",
            "idempotency_key": "k1",
        }
        posted = await browser.post(f"/desk/reports/{tracking_id}/follow-up", data=form)
        assert posted.status_code == 303
        again = await browser.post(f"/desk/reports/{tracking_id}/follow-up", data=form)
        assert again.status_code == 303
        shown = await browser.get(posted.headers["location"])
        assert "Petugas sudah mengganti lampu." in shown.text

        blank = await browser.post(f"/desk/reports/{tracking_id}/follow-up", data={"text": " "})
        assert blank.status_code == 422 and "text" in blank.text
        elsewhere = await submit(drive, "x" * 5, region="5371", category="kesehatan")
        stranger = await browser.get(f"/desk/reports/{elsewhere}")
        assert stranger.status_code == 404

        await browser.post("/desk/logout")
        assert (await browser.get("/desk")).status_code == 303
    events = await timeline(drive, tracking_id)
    assert event_types(events).count("FollowUpPosted") == 1
    assert events[-1]["kind"] == "final"
    await reaches(drive, tracking_id, "followed_up")


async def test_a_link_to_a_desk_item_signs_in_then_opens_it_in_indonesian_and_wita(
    lapor: InProcessSystem, drive: Driver
) -> None:
    """Issue 17: the link in an officer's notice leads to their desk item, through the sign-in;
    the desk speaks Indonesian (English on request) and tells times in its own zone."""
    tracking_id, _ = await forwarded(
        drive, "Drainase tersumbat", region="5371", category="infrastruktur"
    )
    async with lapor.client("routing") as browser:
        away = await browser.get(f"/desk/reports/{tracking_id}")
        assert away.status_code == 303
        login = await browser.get(away.headers["location"])
        assert login.status_code == 200 and "Masuk ke meja instansi" in login.text
        assert f'name="next" value="/desk/reports/{tracking_id}"' in login.text
        token = drive.token("agency", agency=DPUPR)
        signed = await browser.post(
            "/desk/login", data={"token": token, "next": f"/desk/reports/{tracking_id}"}
        )
        assert signed.headers["location"] == f"/desk/reports/{tracking_id}"
        elsewhere = await browser.post(
            "/desk/login", data={"token": token, "next": "https://evil.example/desk/"}
        )
        assert elsewhere.headers["location"] == "/desk"
        item_page = (await browser.get(f"/desk/reports/{tracking_id}")).text
        assert "Tindak lanjut pertama paling lambat" in item_page and "WITA" in item_page
        assert "Kota Kupang" in item_page
        english = (await browser.get(f"/desk/reports/{tracking_id}?lang=en")).text
        assert "First follow-up due by" in english


async def test_the_history_tells_each_event_in_sentences_not_field_names(
    lapor: InProcessSystem, drive: Driver
) -> None:
    """Issue 17: the history's details are sentences in the reader's language: reasons by their
    names, institutions and regions by name, days as days (not `reason: not_our_authority`)."""
    tid, agency = await forwarded(drive, "Puskesmas tutup", region="5371", category="kesehatan")
    assert agency == DINKES
    returned = await drive.agency(tid, "return", agency, {"reason": "not_our_authority"})
    assert returned.status_code == 200, returned.text
    console = lapor.client("verification")
    assert (await console.post("/console/login", data={"token": drive.admin()})).status_code == 303

    page = (await console.get(f"/console/reports/{tid}")).text
    history = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.split('id="history"')[-1]))
    assert "Dinas Kesehatan Kota Kupang" in history
    assert "Dikembalikan oleh Dinas Kesehatan Kota Kupang." in history
    assert "Alasan: Bukan kewenangan kami." in history
    assert "Wilayah: Kota Kupang, Nusa Tenggara Timur." in history
    assert "Kategori: Kesehatan." in history
    assert re.search(r"Tindak lanjut pertama paling lambat \d{1,2} [A-Z][a-z]+ \d{4}\.", history)
    assert re.search(r"\d{1,2} [A-Z][a-z]+ \d{4}, \d{2}\.\d{2} WITA", history)
    for raw in ("reason:", "agency_code", "not_our_authority", "follow_up_due", "region_code"):
        assert raw not in history, raw
    assert "Instansi Dinas Kesehatan Kota Kupang" in history  # who did it, by name

    english = (await console.get(f"/console/reports/{tid}?lang=en")).text
    history = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", english.split('id="history"')[-1]))
    assert "Returned by Dinas Kesehatan Kota Kupang. Reason: Not our authority." in history
    assert "Category: Health." in history and "Region: Kota Kupang" in history
    assert re.search(r"First follow-up due by \d{1,2} [A-Z][a-z]+ \d{4}\.", history)
    await console.aclose()


async def test_the_desk_names_categories_and_marks_a_question_waiting_for_the_reporter(
    lapor: InProcessSystem, drive: Driver
) -> None:
    """Issue 17: the inbox and the item name the category (not its code) and mark a report whose
    officer asked the reporter a question, until the reporter answers."""
    submitted = await drive.submit(
        title="Jalan berlubang di Oebobo",
        body="Jalan berlubang besar di depan pasar.",
        category="infrastruktur",
        location={"region_code": "5371"},
    )
    tid = submitted.tracking_id
    await drive.verify(tid)
    assert (await reaches(drive, tid, "forwarded"))["agency_code"] == DPUPR
    asked = await drive.follow_up(tid, DPUPR, "Di sisi jalan yang mana?", kind="question")
    assert asked.status_code == 201, asked.text
    async with lapor.client("routing") as browser:
        token = drive.token("agency", agency=DPUPR)
        assert (await browser.post("/desk/login", data={"token": token})).status_code == 303

        def row_of(html: str) -> str:
            rows = [r for r in re.findall(r"<tr>(.*?)</tr>", html, re.S) if tid in r]
            assert rows, html
            return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", rows[0]))

        inbox = row_of((await browser.get("/desk")).text)
        assert "Infrastruktur (jalan, jembatan, drainase)" in inbox
        assert "infrastruktur " not in inbox and "Menunggu jawaban pelapor" in inbox
        item = (await browser.get(f"/desk/reports/{tid}")).text
        assert 'id="waiting-for-reporter"' in item and "Menunggu jawaban pelapor" in item
        assert "Infrastruktur (jalan, jembatan, drainase)" in item
        english = row_of((await browser.get("/desk?lang=en")).text)
        assert "Infrastructure (roads, bridges, drainage)" in english
        assert "Waiting for the reporter's answer" in english.replace("&#39;", "'")

    async def waiting_in_the_api() -> bool:
        """What an institution's own system reads: the same mark in the inbox JSON."""
        async with lapor.client("routing", drive.token("agency", agency=DPUPR)) as api:
            listed = (await api.get("/api/v1/inbox")).json()
            [mine] = [r for r in listed if r["tracking_id"] == tid]
            detail = (await api.get(f"/api/v1/inbox/{tid}")).json()
            assert mine["awaiting_reply"] == detail["awaiting_reply"]
            return bool(detail["awaiting_reply"])

    assert await waiting_in_the_api()
    async with lapor.client("routing") as browser:
        assert (await browser.post("/desk/login", data={"token": token})).status_code == 303

        replied = await drive.reporter(
            tid, submitted.access_code, "replies", {"text": "Sisi timur, dekat halte."}
        )
        assert replied.status_code in (200, 201), replied.text
        answered = row_of((await browser.get("/desk?lang=id")).text)
        assert "Menunggu jawaban pelapor" not in answered
        item = (await browser.get(f"/desk/reports/{tid}")).text
        assert 'id="waiting-for-reporter"' not in item
    assert not await waiting_in_the_api()


async def test_refusals_on_the_desk_are_said_in_indonesian_first(
    lapor: InProcessSystem, drive: Driver
) -> None:
    """Issue 17: the desk says a rule's refusal in the officer's language, naming the field."""
    tid, agency = await forwarded(drive, "Got mampet", region="5371", category="infrastruktur")
    async with lapor.client("routing") as browser:
        token = drive.token("agency", agency=agency)
        assert (await browser.post("/desk/login", data={"token": token})).status_code == 303
        form = {"reason": "other", "note": "", "idempotency_key": "r1"}
        refused = await browser.post(f"/desk/reports/{tid}/return", data=form)
        assert refused.status_code == 400
        assert "Catatan: jelaskan alasannya di catatan" in refused.text
        assert "needs a note" not in refused.text
        blank = await browser.post(f"/desk/reports/{tid}/follow-up", data={"text": " "})
        assert blank.status_code == 422 and "Isi: wajib diisi." in blank.text
        english = await browser.post(f"/desk/reports/{tid}/return?lang=en", data=form)
        assert 'Note: say why in the note when the reason is "Other".' in english.text.replace(
            "&#34;", '"'
        )


def _box(html: str, box_id: str) -> str:
    """The text in the page's textarea `box_id`."""
    found = re.search(rf'<textarea id="{box_id}"[^>]*>([^<]*)</textarea>', html)
    assert found is not None, box_id
    return found.group(1)


async def test_a_refused_form_on_the_desk_keeps_what_the_officer_typed_and_chose(
    lapor: InProcessSystem, drive: Driver
) -> None:
    """An officer pastes a long final answer (over the 10,000 characters a follow-up holds):
    the page says why in Indonesian, and the answer and its kind are still in the form (they
    were gone: an empty box, "interim" chosen). The same for a return refused for its note."""
    tid, agency = await forwarded(drive, "Got mampet", region="5371", category="infrastruktur")
    answer = "Saluran sudah dibersihkan oleh petugas kelurahan. " * 201  # 10,251 characters
    async with lapor.client("routing") as browser:
        token = drive.token("agency", agency=agency)
        assert (await browser.post("/desk/login", data={"token": token})).status_code == 303
        form = {"text": answer, "kind": "final", "idempotency_key": "f1"}
        refused = await browser.post(f"/desk/reports/{tid}/follow-up", data=form)
        assert refused.status_code == 422
        assert "Isi:" in refused.text  # the field, as the form names it
        assert _box(refused.text, "text").strip() == answer.strip()
        assert '<option value="final" selected>' in refused.text

        note = "Bukan wewenang kami. " * 100  # over the 2,000 characters of a note
        form = {"reason": "other", "note": note, "idempotency_key": "r1"}
        refused = await browser.post(f"/desk/reports/{tid}/return", data=form)
        assert refused.status_code == 422
        assert _box(refused.text, "return-note").strip() == note.strip()
        assert '<option value="other" selected>' in refused.text
        assert _box(refused.text, "text") == ""  # what was typed belongs to the return
    assert "FollowUpPosted" not in event_types(await timeline(drive, tid))


async def test_the_follow_up_form_sent_again_after_the_back_button_with_other_words_is_posted(
    lapor: InProcessSystem, drive: Driver
) -> None:
    """The page's key guards against a double click only: an officer who goes back to the page
    and sends it again with other words has written another follow-up, which is posted; the
    officer is never told about an "Idempotency-Key"."""
    tracking_id, _ = await forwarded(
        drive, "Lampu jalan mati lagi", region="5371", category="infrastruktur"
    )
    async with lapor.client("routing") as browser:
        await browser.post("/desk/login", data={"token": drive.token("agency", agency=DPUPR)})
        first = {"text": "Tim sudah dijadwalkan.", "kind": "interim", "idempotency_key": "p1"}
        posted = await browser.post(f"/desk/reports/{tracking_id}/follow-up", data=first)
        assert posted.status_code == 303
        twice = await browser.post(f"/desk/reports/{tracking_id}/follow-up", data=first)
        assert twice.status_code == 303  # a double click: one follow-up
        other = {**first, "text": "Lampu sudah diganti hari ini."}
        again = await browser.post(f"/desk/reports/{tracking_id}/follow-up", data=other)
        assert again.status_code == 303, again.text
        assert "Idempotency" not in again.text
        shown = await browser.get(again.headers["location"])
        assert "Tim sudah dijadwalkan." in shown.text
        assert "Lampu sudah diganti hari ini." in shown.text
    events = await timeline(drive, tracking_id)
    assert event_types(events).count("FollowUpPosted") == 2


async def test_a_report_handed_back_unanswered_is_not_said_to_be_followed_up(
    lapor: InProcessSystem, drive: Driver
) -> None:
    """Round 6 (pages): an officer returns a report without answering it, opens it again from
    "Handed on" and read "Sudah ditindaklanjuti (0×)" — followed up, zero times — under its
    title. A report nobody answered says no such thing; one answered says how often."""
    tid, agency = await forwarded(drive, "Got mampet", region="5371", category="infrastruktur")
    async with lapor.client("routing") as browser:
        token = drive.token("agency", agency=agency)
        assert (await browser.post("/desk/login", data={"token": token})).status_code == 303
        form = {"reason": "wrong_region", "note": "Jalan provinsi.", "idempotency_key": "r1"}
        assert (await browser.post(f"/desk/reports/{tid}/return", data=form)).status_code == 303
        for language, followed_up in (("id", "Sudah ditindaklanjuti"), ("en", "Followed up (")):
            page = (await browser.get(f"/desk/reports/{tid}?lang={language}")).text
            text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
            assert 'id="handed-on-notice"' in page
            assert "0×" not in text and followed_up not in text, text
        english = (await browser.get(f"/desk/reports/{tid}?lang=en")).text
        assert "only LAPOR! administrators can act on it." in english  # was "… acts on it"

    answered, agency = await forwarded(drive, "Lampu mati", region="5371", category="kesehatan")
    posted = await drive.follow_up(answered, agency, "Lampu sudah diganti.", kind="final")
    assert posted.status_code == 201, posted.text
    async with lapor.client("routing") as browser:
        token = drive.token("agency", agency=agency)
        assert (await browser.post("/desk/login", data={"token": token})).status_code == 303
        page = (await browser.get(f"/desk/reports/{answered}?lang=id")).text
        assert "Sudah ditindaklanjuti (1×)." in page


async def test_the_services_address_leads_an_officer_to_the_desk(lapor: InProcessSystem) -> None:
    """Round 6 (pages): an institution's officer given the routing service's address read one
    English line, "LAPOR routing service. API docs: /docs"; it now leads to the desk's sign-in."""
    async with lapor.client("routing") as browser:
        home = await browser.get("/")
        assert home.status_code in (302, 303, 307), home.text
        assert home.headers["location"] == "/desk"
        assert (await browser.get("/desk")).headers["location"] == "/desk/login"


async def test_the_sign_in_names_the_command_in_the_readers_language(
    lapor: InProcessSystem,
) -> None:
    """Round 6 (pages): the English sign-in said "--agency KODE", an Indonesian word for the
    institution's code in an English sentence."""
    async with lapor.client("routing") as browser:
        english = (await browser.get("/desk/login?lang=en")).text
        assert "--agency CODE" in english and "KODE" not in english
        indonesian = (await browser.get("/desk/login?lang=id")).text
        assert "--agency KODE" in indonesian


async def test_an_inbox_filtered_to_nothing_says_so_not_that_it_is_empty(
    lapor: InProcessSystem, drive: Driver
) -> None:
    """Round 6 (pages): an officer ticks "overdue only" with nothing overdue and read "Tidak ada
    laporan di instansi Anda saat ini" — no reports at all — with a report waiting in the inbox.
    A filter that matches nothing says so and leads back to the whole inbox."""
    tid, agency = await forwarded(drive, "Got mampet", region="5371", category="infrastruktur")
    async with lapor.client("routing") as browser:
        token = drive.token("agency", agency=agency)
        assert (await browser.post("/desk/login", data={"token": token})).status_code == 303
        filtered = (await browser.get("/desk?overdue=1&lang=id")).text
        assert tid not in filtered
        assert "Tidak ada laporan di instansi Anda saat ini" not in filtered
        assert "Tidak ada laporan yang cocok dengan saringan ini" in filtered
        empty = filtered.split('id="inbox-filtered-empty"')[1].split("</p>")[0]
        assert 'href="/desk"' in empty  # back to the whole inbox
        whole = (await browser.get("/desk")).text
        assert tid in whole
        english = (await browser.get("/desk?status=followed_up&lang=en")).text
        assert "No reports match this filter" in english
