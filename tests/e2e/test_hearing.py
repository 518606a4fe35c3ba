"""Issue 17 across real processes: every person hears what they need, in their language and
their own time zone, and sees what they just did.

NATS, the relay and the five services run as processes; e-mail goes to a real SMTP server
(aiosmtpd) on loopback, and intake's own SMTP server takes the reporter's reply. A web reporter
in Kota Kupang who left an e-mail address hears received -> forwarded -> question -> final by
e-mail, every link in those mails answers 200, their answer to the question (a reply to the
mail) lands on the report, the report page says WITA, and five reply-then-read rounds each see
the reply at once.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY

import httpx
import pytest

from tests.intake_channels.fakes import Mail, Mailbox
from tests.support import SERVICES, System, free_port, nats_server, wait_for

REPORTER = "maria.kupang@example.id"
OFFICER = "dinkes-kota-kupang@penghubung.lapor.example"
AGENCY = "DINKES-KOTA-KUPANG"
LINK = re.compile(r"https?://[^\s<>\"')]+")


@dataclass
class World:
    system: System
    mailbox: Mailbox
    smtp_port: int

    def url(self, service: str) -> str:
        return self.system.url(service)

    def mail(self, *words: str, to: str = REPORTER) -> Mail:
        def find() -> Mail | None:
            for mail in self.mailbox.to(to):
                text = (
                    str(mail.message["Subject"]) + mail.message.get_body(("plain",)).get_content()
                )  # type: ignore[union-attr]
                if all(w in text for w in words):
                    return mail
            return None

        found: Mail = wait_for(find, timeout=60, what=f"a mail to {to} with {words}")
        return found


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("hearing")
    mailbox = Mailbox()
    smtp_port = free_port()
    ports = {name: free_port() for name in SERVICES} | {"relay_metrics": free_port()}
    env = {
        "LAPOR_SMTP_URL": mailbox.url,
        "LAPOR_INTAKE_SMTP_PORT": str(smtp_port),
        "LAPOR_INTAKE_EMAIL_FROM": "pengaduan@lapor.localhost",
        "LAPOR_PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['intake']}",
    }
    with contextlib.ExitStack() as stack:
        mailbox.start()
        stack.callback(mailbox.stop)
        nats = stack.enter_context(nats_server(root))
        (root / "data").mkdir()
        system = System(root / "data", nats.url, ports, extra_env=env)
        stack.callback(system.stop_all)
        system.start("relay")
        for name in SERVICES:
            system.start(name)
        for name in SERVICES:
            system.wait_ready(name)
        wait_for(lambda: _port_open(smtp_port), what="intake's SMTP port")
        yield World(system, mailbox, smtp_port)


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def links_of(mail: Mail) -> list[str]:
    text = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = mail.message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    return sorted(set(LINK.findall(text)) | set(LINK.findall(html)))


def every_link_answers(mail: Mail) -> list[str]:
    links = links_of(mail)
    assert links, mail.message["Subject"]
    for link in links:
        answer = httpx.get(link, follow_redirects=True, timeout=10)
        assert answer.status_code == 200, (link, answer.status_code)
    return links


def test_a_web_reporter_hears_every_step_by_mail_and_sees_it_in_wita(world: World) -> None:
    intake = world.url("intake")
    created = httpx.post(
        f"{intake}/api/v1/reports",
        json={
            "title": "Obat hipertensi kosong",
            "body": "Sudah dua minggu obat hipertensi kosong di Puskesmas Oepoi, Kota Kupang.",
            "category": "kesehatan",
            "location": {"region_code": "5371", "address": "Jl. Frans Seda"},
            "event_date": "2026-02-27",
            "reporter": {"name": "Maria", "email": REPORTER, "phone": "0812.3456.7890"},
        },
    )
    assert created.status_code == 201, created.text
    tid, code = created.json()["tracking_id"], created.json()["access_code"]

    # received: e-mail (both contacts: e-mail), a link to /laporan/<ID> that answers 200
    received = world.mail(tid, "telah diterima")
    assert f"{intake}/laporan/{tid}" in every_link_answers(received)
    assert code not in received.message.as_string()  # the access code is never sent again

    # forwarded: the admin verifies, routing forwards to the health office of Kota Kupang
    admin = {"Authorization": f"Bearer {world.system.token('admin')}"}
    verified = httpx.post(
        f"{world.url('verification')}/api/v1/reports/{tid}/verify", json={}, headers=admin
    )
    assert verified.status_code == 200, verified.text
    forwarded = world.mail(tid, "diteruskan ke Dinas Kesehatan Kota Kupang")
    every_link_answers(forwarded)
    officer_mail = world.mail(tid, "Laporan baru", to=OFFICER)
    assert f"/desk/reports/{tid}" in " ".join(links_of(officer_mail))
    every_link_answers(officer_mail)  # the desk item (its sign-in first)

    # question: the institution asks; the reporter answers by replying to the mail
    agency = {"Authorization": f"Bearer {world.system.token('agency', agency=AGENCY)}"}
    asked = httpx.post(
        f"{world.url('routing')}/api/v1/reports/{tid}/follow-ups",
        json={"text": "Di Puskesmas mana tepatnya obat itu kosong?", "kind": "question"},
        headers=agency,
    )
    assert asked.status_code in (200, 201), asked.text
    question = world.mail(tid, "Di Puskesmas mana tepatnya")
    every_link_answers(question)
    assert f"+{tid}@" in str(question.message["Reply-To"])
    reply = EmailMessage()
    reply["From"] = f"Maria <{REPORTER}>"
    reply["To"] = str(question.message["Reply-To"])
    reply["Subject"] = f"Re: {question.message['Subject']}"
    reply["Message-ID"] = "<balasan-maria-1@example.id>"
    reply["In-Reply-To"] = str(question.message["Message-ID"])
    quoted = "\n".join(
        "> " + line
        for line in question.message.get_body(("plain",)).get_content().splitlines()  # type: ignore[union-attr]
    )
    reply.set_content(f"Di Puskesmas Oepoi, sejak 10 Februari.\n\n{quoted}\n")
    with smtplib.SMTP("127.0.0.1", world.smtp_port, timeout=20) as smtp:
        smtp.ehlo("mail.example.id")
        smtp.mail(REPORTER)
        smtp.rcpt(str(reply["To"]).split("<")[-1].rstrip(">"))
        status, answer = smtp.data(reply.as_bytes(policy=SMTP_POLICY))
    assert status == 250, answer
    timeline = httpx.get(
        f"{intake}/api/v1/reports/{tid}/timeline", headers={"X-Access-Code": code}
    ).json()
    answered = [e for e in timeline if e["event_type"] == "ReporterReplied"]
    assert [e["text"] for e in answered] == ["Di Puskesmas Oepoi, sejak 10 Februari."]
    world.mail(tid, "menjawab pertanyaan", to=OFFICER)  # the officers hear of the answer

    # final: the institution answers for good; the mail says when the report closes
    final = httpx.post(
        f"{world.url('routing')}/api/v1/reports/{tid}/follow-ups",
        json={"text": "Stok obat sudah kami kirim ke Puskesmas Oepoi.", "kind": "final"},
        headers=agency,
    )
    assert final.status_code in (200, 201), final.text
    final_mail = world.mail(tid, "Tanggapan akhir", "Stok obat sudah kami kirim")
    every_link_answers(final_mail)
    assert re.search(r"laporan ditutup|hingga \d{1,2} \w+ \d{4}", final_mail.message.as_string())

    # The report page of a Kupang report tells its times in WITA, with Indonesian months.
    page = httpx.get(f"{intake}/laporan/{tid}").text
    assert "WITA" in page and "UTC" not in page
    assert re.search(
        r"\d{1,2} (Januari|Februari|Maret|April|Mei|Juni|Juli|Agustus|September"
        r"|Oktober|November|Desember) \d{4}, \d{2}\.\d{2} WITA",
        page,
    )
    assert "27 Februari 2026" in page  # the event date is shown
    english = httpx.get(f"{intake}/laporan/{tid}", params={"lang": "en"}).text
    assert "WITA" in english and "27 February 2026" in english


def test_five_replies_each_seen_by_the_next_read(world: World) -> None:
    """Read your own writes: the same client's next read shows what it just did, every time."""
    intake = world.url("intake")
    created = httpx.post(
        f"{intake}/api/v1/reports",
        json={
            "title": "Lampu jalan mati",
            "body": "Lampu jalan di Jalan Timor Raya mati sejak seminggu, gelap dan rawan.",
            "location": {"region_code": "5371"},
        },
    ).json()
    tid, code = created["tracking_id"], created["access_code"]
    admin = {"Authorization": f"Bearer {world.system.token('admin')}"}
    httpx.post(f"{world.url('verification')}/api/v1/reports/{tid}/verify", json={}, headers=admin)
    agency = {"Authorization": f"Bearer {world.system.token('agency', agency='PEMKOT-KUPANG')}"}

    def forwarded() -> bool:
        return httpx.get(f"{intake}/api/v1/reports/{tid}").json().get("status") == "forwarded"

    wait_for(forwarded, timeout=60, what="forwarded")
    holder = httpx.get(f"{intake}/api/v1/reports/{tid}").json()["agency_code"]
    agency = {"Authorization": f"Bearer {world.system.token('agency', agency=holder)}"}
    posted = httpx.post(
        f"{world.url('routing')}/api/v1/reports/{tid}/follow-ups",
        json={"text": "Petugas kami sedang memeriksa.", "kind": "interim"},
        headers=agency,
    )
    assert posted.status_code in (200, 201), posted.text
    wait_for(
        lambda: httpx.get(f"{intake}/api/v1/reports/{tid}").json()["status"] == "followed_up",
        timeout=60,
        what="followed up",
    )

    with httpx.Client(base_url=intake, follow_redirects=False) as browser:
        form = browser.get(f"/laporan/{tid}/masuk")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)[1]  # type: ignore[index]
        signed_in = browser.post(
            f"/laporan/{tid}/masuk", data={"csrf_token": token, "access_code": code}
        )
        assert signed_in.status_code == 303
        for round_ in range(1, 6):
            page = browser.get(f"/laporan/{tid}").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]  # type: ignore[index]
            key = re.search(r'name="action_key" value="([^"]+)"', page)[1]  # type: ignore[index]
            text = f"Balasan ke-{round_}: lampu masih mati malam ini."
            sent = browser.post(
                f"/laporan/{tid}/balas",
                data={"csrf_token": token, "action_key": key, "text": text},
            )
            assert sent.status_code == 303, sent.text
            thanked = browser.get(sent.headers["location"]).text
            assert text in thanked, f"round {round_}: the page after the reply does not show it"
            api_text = f"Balasan API ke-{round_}."
            by_api = httpx.post(
                f"{intake}/api/v1/reports/{tid}/replies",
                json={"text": api_text},
                headers={"X-Access-Code": code},
            )
            assert by_api.status_code in (200, 201), by_api.text
            timeline = httpx.get(
                f"{intake}/api/v1/reports/{tid}/timeline", headers={"X-Access-Code": code}
            ).json()
            assert api_text in [e.get("text") for e in timeline], f"round {round_}: API"
