"""The report page tells the truth about time (issue 17): the deadline it shows is the one the
system keeps (shared.reports.deadlines), a passed one says it passed, and completing the report
is offered only when an administrator asked for it."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta

import httpx

from services.intake.pages import REPORTER_COOKIE
from shared.reports.commands import (
    ForwardReport,
    PostFollowUp,
    RequestCompletion,
    ReturnReport,
    VerifyReport,
)
from shared.reports.events import FollowUpKind
from tests.harness import InProcessSystem
from tests.intake_web.conftest import jpeg_with_gps
from tests.intake_web.officers import act
from tests.intake_web.test_web_forms import token

DINKES = "DINKES-KOTA-KUPANG"


def shown(page: str, element: str) -> str | None:
    found = re.search(rf'<dd id="{element}"[^>]*>(.*?)</dd>', page, re.S)
    return re.sub(r"\s+", " ", found.group(1)).strip() if found else None


async def reported(web: httpx.AsyncClient) -> tuple[str, str]:
    created = await web.post(
        "/api/v1/reports",
        json={
            "title": "Puskesmas Oebobo tutup",
            "body": "Puskesmas tutup pada jam layanan sejak Senin.",
            "location": {"region_code": "5371"},
        },
    )
    assert created.status_code == 201, created.text
    return created.json()["tracking_id"], created.json()["access_code"]


async def test_a_passed_follow_up_deadline_is_shown_as_passed_then_not_at_all(
    lapor: InProcessSystem, web: httpx.AsyncClient
) -> None:
    tid, _ = await reported(web)
    await act(lapor, tid, VerifyReport())
    due = datetime.now(UTC).date() + timedelta(days=10)
    forward = ForwardReport(agency_code=DINKES, agency_name="Dinkes", follow_up_due=due)
    await act(lapor, tid, forward)
    page = (await web.get(f"/laporan/{tid}")).text
    day = f"{due.day} "
    running = shown(page, "follow-up-due")
    assert running is not None and running.startswith(day) and "lewat" not in running

    # The clock passes the end of the due day in Kupang (WITA): the page says so.
    lapor.set_clock(datetime.combine(due + timedelta(days=1), datetime.min.time(), UTC))
    passed = shown((await web.get(f"/laporan/{tid}")).text, "follow-up-due")
    assert passed is not None and passed.startswith(day) and "sudah lewat" in passed
    english = shown((await web.get(f"/laporan/{tid}?lang=en")).text, "follow-up-due")
    assert english is not None and "passed" in english

    # The institution answers: no follow-up deadline is left to tell of.
    await act(lapor, tid, PostFollowUp(agency_code=DINKES, text="Sudah buka kembali."), "agency")
    assert shown((await web.get(f"/laporan/{tid}?lang=id")).text, "follow-up-due") is None


async def test_completing_is_offered_only_when_the_administrator_asked(
    lapor: InProcessSystem, web: httpx.AsyncClient
) -> None:
    tid, code = await reported(web)
    signin = await web.get(f"/laporan/{tid}")
    signed = await web.post(
        f"/laporan/{tid}/masuk",
        data={"csrf_token": token(signin), "access_code": code},
        follow_redirects=True,
    )
    assert 'id="reporter-actions"' in signed.text
    assert "/lengkapi" not in signed.text and "Lengkapi laporan" not in signed.text

    await act(lapor, tid, RequestCompletion(note="Sebutkan jam berapa Puskesmas tutup."))
    asked = (await web.get(f"/laporan/{tid}")).text
    assert "/lengkapi" in asked and "Lengkapi laporan" in asked
    closes = shown(asked, "completion-due")
    assert closes is not None and "laporan ditutup" in closes
    assert re.match(r"\d{1,2} [A-Z][a-z]+ \d{4}", closes)

    # A question from the institution is answered with a reply, not by completing the report.
    await act(lapor, tid, VerifyReport())
    due = date.today() + timedelta(days=10)
    await act(
        lapor, tid, ForwardReport(agency_code=DINKES, agency_name="Dinkes", follow_up_due=due)
    )
    question = PostFollowUp(agency_code=DINKES, text="Jam berapa?", kind=FollowUpKind.QUESTION)
    await act(lapor, tid, question, "agency")
    answered = (await web.get(f"/laporan/{tid}")).text
    assert "/balas" in answered and "/lengkapi" not in answered
    assert shown(answered, "completion-due") is None


async def test_the_reporter_reads_who_opened_a_confidential_report_in_indonesian(
    lapor: InProcessSystem, web: httpx.AsyncClient
) -> None:
    """The list of officers' reads on a confidential report's page said `admin: intake /
    report` and `agency (DINKES-KOTA-KUPANG): intake / attachment`: codes of LAPOR's insides.
    It says who (Admin, the institution by name) and what they opened, in the reader's
    language."""
    created = await web.post(
        "/api/v1/reports",
        json={
            "title": "Pungutan liar di Puskesmas",
            "body": "Petugas meminta uang tambahan untuk surat rujukan.",
            "location": {"region_code": "5371"},
            "confidential": True,
        },
    )
    tid, code = created.json()["tracking_id"], created.json()["access_code"]
    await act(lapor, tid, VerifyReport())
    due = date.today() + timedelta(days=10)
    forward = ForwardReport(
        agency_code=DINKES, agency_name="Dinas Kesehatan Kota Kupang", follow_up_due=due
    )
    await act(lapor, tid, forward, "system")
    for role, agency, path in (
        ("admin", None, f"/api/v1/reports/{tid}"),
        ("agency", DINKES, f"/api/v1/reports/{tid}/timeline"),
    ):
        headers = {"Authorization": f"Bearer {lapor.token(role, agency=agency)}"}
        assert (await web.get(path, headers=headers)).status_code == 200

    signin = await web.get(f"/laporan/{tid}")
    await web.post(f"/laporan/{tid}/masuk", data={"csrf_token": token(signin), "access_code": code})
    for language, said in (
        ("id", ("Admin LAPOR!: membuka laporan", "Dinas Kesehatan Kota Kupang: membuka riwayat")),
        ("en", ("LAPOR! administrator: opened the report", "Dinas Kesehatan Kota Kupang: opened")),
    ):
        page = (await web.get(f"/laporan/{tid}?lang={language}")).text
        reads = page.split('id="officer-reads"', 1)[1].split("</section>", 1)[0]
        items = [
            re.sub(r"<[^>]+>|\s+", " ", li).strip() for li in re.findall(r"<li>(.*?)</li>", reads)
        ]
        assert len(items) == 2, reads
        for item, words in zip(items, said, strict=True):
            assert words in re.sub(r"\s+", " ", item), (language, item)
        for code_word in ("intake /", "desk_detail", "timeline", DINKES, "agency", "admin:"):
            assert code_word not in reads, (language, code_word, reads)


async def test_a_rating_that_is_no_decimal_digit_is_refused_not_a_500(
    lapor: InProcessSystem, web: httpx.AsyncClient
) -> None:
    """`²` is a digit to Python's isdigit() but no number to int(): the rating form answered
    500 for it. It is refused like any other rating that is not 1 to 5."""
    tid, code = await reported(web)
    signin = await web.get(f"/laporan/{tid}")
    await web.post(f"/laporan/{tid}/masuk", data={"csrf_token": token(signin), "access_code": code})
    for rating in ("²", "x"):
        page = await web.get(f"/laporan/{tid}")
        rated = await web.post(
            f"/laporan/{tid}/nilai",
            data={"csrf_token": token(page), "rating": rating, "comment": "Lumayan"},
        )
        assert rated.status_code == 422, (rating, rated.status_code)
        assert "Nilai tidak valid" in rated.text  # the field, in Indonesian


async def test_a_reporter_cookie_that_is_no_session_is_no_500(
    lapor: InProcessSystem, web: httpx.AsyncClient
) -> None:
    """A cookie whose expiry is `²²` (digits to isdigit(), no number to int()) made every page
    of the report answer 500 to that browser; it is no session, and the page is shown."""
    tid, _ = await reported(web)
    cookie = f"{REPORTER_COOKIE}=²².abc".encode("latin-1")  # a header may carry such bytes
    page = await web.get(f"/laporan/{tid}", headers={b"cookie": cookie})
    assert page.status_code == 200 and 'id="reporter-actions"' not in page.text


async def signed_in(web: httpx.AsyncClient, tid: str, code: str) -> None:
    signin = await web.get(f"/laporan/{tid}")
    done = await web.post(
        f"/laporan/{tid}/masuk", data={"csrf_token": token(signin), "access_code": code}
    )
    assert done.status_code == 303, done.text


async def test_a_completion_refused_because_the_report_moved_on_keeps_what_was_typed(
    lapor: InProcessSystem, web: httpx.AsyncClient
) -> None:
    """The reporter writes the details the administrator asked for; meanwhile the administrator
    verifies the report, so the completion is refused (409). The page said only that the report
    had changed: the text typed was gone. It is now on the page, in the reporter's language,
    to copy into a reply later."""
    tid, code = await reported(web)
    await signed_in(web, tid, code)
    await act(lapor, tid, RequestCompletion(note="Sebutkan jam berapa Puskesmas tutup."))
    page = await web.get(f"/laporan/{tid}")
    assert "/lengkapi" in page.text
    await act(lapor, tid, VerifyReport())  # meanwhile, at the desk
    typed = "Puskesmas tutup pukul 12.00 sampai 14.00 setiap hari kerja."
    refused = await web.post(
        f"/laporan/{tid}/lengkapi",
        data={"csrf_token": token(page), "action_key": "k1", "text": typed},
    )
    assert refused.status_code == 409
    assert typed in refused.text
    assert "belum terkirim" in refused.text
    english = await web.post(
        f"/laporan/{tid}/lengkapi?lang=en",
        data={"csrf_token": token(page), "action_key": "k2", "text": typed},
    )
    assert english.status_code == 409 and typed in english.text and "not sent" in english.text


async def test_a_photo_sent_with_a_refused_completion_is_kept_for_the_next_try(
    lapor: InProcessSystem, web: httpx.AsyncClient
) -> None:
    """The reporter chooses a photo for the completion and sends it without a word: the page
    asked for the text and the photo was silently gone (a file input cannot be refilled). The
    form now names the photo it keeps, and the corrected completion carries it."""
    tid, code = await reported(web)
    await signed_in(web, tid, code)
    await act(lapor, tid, RequestCompletion(note="Lampirkan foto papan jam layanan."))
    page = await web.get(f"/laporan/{tid}")
    photo = {"attachments": ("papan-jam.jpg", jpeg_with_gps(), "image/jpeg")}
    fields = {"csrf_token": token(page), "action_key": "k1", "text": ""}
    refused = await web.post(f"/laporan/{tid}/lengkapi", data=fields, files=photo)
    assert refused.status_code == 422
    kept = re.findall(r"<input type=\"hidden\" name=\"kept\" value='([^']+)'", refused.text)
    assert len(kept) == 1 and 'id="amend-kept"' in refused.text
    assert "papan-jam.jpg" in refused.text.split('id="amend-kept"', 1)[1]

    text = "Foto papan jam layanan terlampir."
    corrected = fields | {"action_key": "k2", "text": text, "kept": html.unescape(kept[0])}
    done = await web.post(f"/laporan/{tid}/lengkapi", data=corrected)  # no file chosen again
    assert done.status_code == 303, done.text[-800:]
    amended = [
        e for e in await lapor.store.read(f"report-{tid}") if e.event_type == "ReportAmended"
    ]
    assert len(amended) == 1 and len(amended[0].data["attachments"]) == 1

    # A kept field is no way into someone else's file: a wrong token is refused.
    await act(lapor, tid, RequestCompletion(note="Satu foto lagi, dari depan."))
    page = await web.get(f"/laporan/{tid}")
    forged = html.unescape(kept[0]).replace(html.unescape(kept[0])[-20:-4], "0" * 16)
    tried = await web.post(
        f"/laporan/{tid}/lengkapi",
        data={"csrf_token": token(page), "action_key": "k3", "text": text, "kept": forged},
    )
    assert tried.status_code == 422 and 'id="amend-kept"' not in tried.text


async def test_a_completion_leaves_out_control_and_direction_override_characters(
    lapor: InProcessSystem, web: httpx.AsyncClient
) -> None:
    """The report page's forms take their fields as typed, not through the API's models: a
    right-to-left override pasted into a completion reversed it on every page that showed it,
    and a NUL went into the store. What the reporter could not see they sent is left out."""
    tid, code = await reported(web)
    await signed_in(web, tid, code)
    await act(lapor, tid, RequestCompletion(note="Sebutkan jam berapa Puskesmas tutup."))
    page = await web.get(f"/laporan/{tid}")
    typed = "Puskesmas \u202etutup\u202c pukul 12.00\x00 sampai 14.00."
    done = await web.post(
        f"/laporan/{tid}/lengkapi",
        data={"csrf_token": token(page), "action_key": "k1", "text": typed},
    )
    assert done.status_code == 303, done.text[-800:]
    amended = [
        e for e in await lapor.store.read(f"report-{tid}") if e.event_type == "ReportAmended"
    ]
    assert [e.data["text"] for e in amended] == ["Puskesmas tutup pukul 12.00 sampai 14.00."]


async def test_a_completion_or_comment_over_its_limit_is_refused_naming_it_not_cut(
    lapor: InProcessSystem, web: httpx.AsyncClient
) -> None:
    """The report page cut a completion over 10,000 characters (a closing note or a rating's
    comment over 2,000) to fit and stored it; it is refused, the field named, nothing stored,
    and the text stays on the page."""
    tid, code = await reported(web)
    await signed_in(web, tid, code)
    await act(lapor, tid, RequestCompletion(note="Sebutkan jam berapa Puskesmas tutup."))
    page = await web.get(f"/laporan/{tid}")
    typed = "Puskesmas tutup pukul 12.00 sampai 14.00. " * 240 + "Kalimat terakhir."
    assert len(typed) > 10_000
    before = len(await lapor.store.read(f"report-{tid}"))
    refused = await web.post(
        f"/laporan/{tid}/lengkapi",
        data={"csrf_token": token(page), "action_key": "k1", "text": typed},
    )
    assert refused.status_code == 422
    assert "terlalu panjang" in refused.text and "10.000" in refused.text
    assert "Kalimat terakhir." in refused.text
    assert len(await lapor.store.read(f"report-{tid}")) == before
    english = await web.post(
        f"/laporan/{tid}/lengkapi?lang=en",
        data={"csrf_token": token(page), "action_key": "k2", "text": typed},
    )
    assert english.status_code == 422 and "too long" in english.text and "10,000" in english.text
    fits = await web.post(
        f"/laporan/{tid}/lengkapi",
        data={"csrf_token": token(page), "action_key": "k3", "text": typed[:10_000]},
    )
    assert fits.status_code == 303


async def test_a_reply_sent_again_after_the_back_button_with_other_words_is_a_new_reply(
    lapor: InProcessSystem, web: httpx.AsyncClient
) -> None:
    """The reporter replies, goes back (the browser shows the form as it was, with its key),
    writes something else and sends: the page said "sent" and the second reply was dropped,
    found under the first one's key. A double click still sends one reply."""
    tid, code = await reported(web)
    await signed_in(web, tid, code)
    await act(lapor, tid, VerifyReport())
    forward = ForwardReport(
        agency_code=DINKES, agency_name="Dinas Kesehatan", follow_up_due=date(2099, 1, 1)
    )
    await act(lapor, tid, forward)
    question = PostFollowUp(agency_code=DINKES, text="Jam berapa?", kind=FollowUpKind.QUESTION)
    await act(lapor, tid, question, "agency")
    page = await web.get(f"/laporan/{tid}")
    form = {"csrf_token": token(page), "action_key": "k1", "text": "Pukul 12.00."}
    for text in ("Pukul 12.00.", "Pukul 12.00.", "Ralat: pukul 13.00."):
        sent = await web.post(f"/laporan/{tid}/balas", data=form | {"text": text})
        assert sent.status_code == 303, sent.text[-600:]
    replies = [
        e.data["text"]
        for e in await lapor.store.read(f"report-{tid}")
        if e.event_type == "ReporterReplied"
    ]
    assert replies == ["Pukul 12.00.", "Ralat: pukul 13.00."]


async def test_a_returned_report_shows_no_follow_up_deadline_of_the_institution_that_left_it(
    lapor: InProcessSystem, web: httpx.AsyncClient
) -> None:
    """The institution returned the report (not its authority): sla stops its follow-up
    deadline, the page shows none, but the report's JSON kept `follow_up_due` of an institution
    that no longer holds it (`agency_code` null), a deadline nobody keeps. Forwarded again, the
    new institution's day is shown."""
    tid, code = await reported(web)
    await act(lapor, tid, VerifyReport())
    due = datetime.now(UTC).date() + timedelta(days=10)
    await act(
        lapor, tid, ForwardReport(agency_code=DINKES, agency_name="Dinkes", follow_up_due=due)
    )
    mine = {"X-Access-Code": code}
    assert (await web.get(f"/api/v1/reports/{tid}", headers=mine)).json()["follow_up_due"] == (
        due.isoformat()
    )

    await act(lapor, tid, ReturnReport(agency_code=DINKES, reason="not_our_authority"), "agency")
    returned = (await web.get(f"/api/v1/reports/{tid}", headers=mine)).json()
    assert (returned["status"], returned["agency_code"]) == ("returned", None)
    assert returned["follow_up_due"] is None
    assert shown((await web.get(f"/laporan/{tid}")).text, "follow-up-due") is None
    (open311,) = (await web.get(f"/open311/v2/requests/{tid}.json", headers=mine)).json()
    assert open311["expected_datetime"] is None

    again = due + timedelta(days=2)
    city = ForwardReport(agency_code="PEMKOT-KUPANG", agency_name="Pemkot", follow_up_due=again)
    await act(lapor, tid, city)
    forwarded = (await web.get(f"/api/v1/reports/{tid}", headers=mine)).json()
    assert forwarded["follow_up_due"] == again.isoformat()
