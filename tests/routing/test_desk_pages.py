"""The agency desk in a browser (server-rendered HTML), in process: log in with a token kept in a
cookie, the inbox, one report, a follow-up posted once however often the form is sent."""

from __future__ import annotations

from tests.driver import Driver
from tests.harness import InProcessSystem
from tests.routing.steps import DPUPR, event_types, forwarded, item, reaches, submit, timeline


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
