"""Intake's read models, told as stories: events in the store, the projector applies them, and
the public queries show only what the public may see. In process: SQLite store + projector."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from services.intake import views
from services.intake.bootstrap import create_projector
from shared.clock import FixedClock
from shared.events.base import Actor
from shared.reports.commands import (
    ChangeProtection,
    Command,
    ForwardReport,
    PostFollowUp,
    RejectReport,
    ReturnReport,
    SetPublicText,
    SubmitReport,
    VerifyReport,
)
from shared.reports.events import Classification, Location, RejectionReason
from shared.runtime.projection import Projector
from shared.runtime.repository import Meta, ReportRepository
from shared.settings import Settings
from shared.store import open_store
from shared.values import Channel

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # Monday 10:00 WIB


class World:
    def __init__(self, tmp: Path) -> None:
        self.store = open_store(f"sqlite:///{tmp / 'events.db'}")
        self.repo = ReportRepository(self.store, FixedClock(NOW))
        self.projector: Projector = create_projector(Settings(data_dir=tmp))
        self.count = 0

    def run(self, tracking_id: str, command: Command, kind: str = "citizen") -> None:
        actor = Actor.model_validate({"kind": kind, "id": kind})
        asyncio.run(self.repo.execute(tracking_id, command, Meta(actor=actor, correlation_id="t")))
        asyncio.run(self.projector.rebuild(self.store))

    def publish(self, *tracking_ids: str) -> None:
        """Verify and forward: published from then on (DESIGN §9)."""
        for tracking_id in tracking_ids:
            self.run(tracking_id, VerifyReport(), kind="admin")
            self.run(
                tracking_id,
                ForwardReport(
                    agency_code="DINKES-KOTA-KUPANG",
                    agency_name="Dinkes",
                    follow_up_due=date(2026, 3, 9),
                ),
                kind="system",
            )

    def submit(self, title: str, body: str, published: bool = True, **extra: Any) -> str:
        """A report (published at once unless `published=False`)."""
        self.count += 1
        tracking_id = f"T{self.count:03d}"
        self.run(
            tracking_id,
            SubmitReport(
                tracking_id=tracking_id,
                classification=Classification.COMPLAINT,
                title=title,
                body=body,
                channel=Channel.WEB,
                access_code_hash=f"hash-{tracking_id}",
                **extra,
            ),
        )
        if published:
            self.publish(tracking_id)
        return tracking_id

    def query(self, sql_params: tuple[str, list[object]] | None) -> list[sqlite3.Row]:
        if sql_params is None:
            return []
        return self.projector.conn.execute(*sql_params).fetchall()

    def search(self, **filters: Any) -> list[str]:
        rows = self.query(views.list_query(views.ReportFilter(**filters), 50))
        return [r["tracking_id"] for r in rows]

    def stats(self) -> dict[str, Any]:
        rows = self.projector.conn.execute("SELECT dimension, key, n FROM stats_counts").fetchall()
        return views.stats_from_counts([tuple(r) for r in rows])


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.projector.close()
    asyncio.run(w.store.close())


def test_search_finds_words_in_title_and_body_and_ignores_accents_and_case(world: World) -> None:
    road = world.submit("Jalan rusak parah", "Lubang besar di depan SD Negeri 3 Oebobo.")
    water = world.submit("Air PDAM mati", "Sudah tiga hari air tidak mengalir di Maulafa.")
    assert world.search(q="jalan") == [road]
    assert world.search(q="OEBOBO lubang") == [road]
    assert world.search(q="mengalir") == [water]
    assert world.search(q="pdam jalan") == []  # all words must occur
    assert world.search(q="") == []  # no word: nothing, not everything


@pytest.mark.parametrize(
    "attack",
    [
        '"',
        '""',
        'jalan"',
        "NEAR(jalan rusak)",
        "jalan NEAR rusak",
        "title:jalan",
        "body:* OR 1",
        "{title body}:jalan",
        "*",
        "jal*",
        "^jalan",
        "jalan AND OR NOT",
        "(((",
        "jalan'); DROP TABLE reports; --",
        "-jalan",
        "+",
        "\x00",
        "ｊａｌａｎ",
        "rusak" * 60,
    ],
)
def test_search_syntax_from_the_user_is_only_text(world: World, attack: str) -> None:
    world.submit("Jalan rusak parah", "Lubang besar di depan sekolah.")
    query = views.fts_query(attack)
    if query is not None:
        assert all(part.startswith('"') and part.endswith('"') for part in query.split(" "))
    world.search(q=attack)  # never raises (sqlite3.OperationalError would be a 500)
    assert world.projector.conn.execute("SELECT count(*) FROM reports").fetchone()[0] == 1


def test_confidential_reports_are_in_no_public_query_and_count_only_in_totals(
    world: World,
) -> None:
    public = world.submit(
        "Lampu jalan mati",
        "Lampu jalan mati sejak seminggu.",
        category="infrastruktur",
        location=Location(lat=-10.17, lon=123.6, region_code="5371"),
    )
    secret = world.submit(
        "Pungli di kantor kelurahan",
        "Petugas meminta uang untuk KTP di kelurahan.",
        category="administrasi-kependudukan",
        location=Location(lat=-10.16, lon=123.61, region_code="537103"),
        confidential=True,
    )
    assert world.search() == [public]
    assert world.search(q="pungli") == []
    assert world.search(region="5371") == [public]
    assert world.search(category="administrasi-kependudukan") == []
    mapped = world.query(views.map_query(views.ReportFilter(), 100, None))
    boxed = world.query(views.map_query(views.ReportFilter(), 100, (123.0, -11.0, 124.0, -10.0)))
    assert [r["tracking_id"] for r in mapped] == [public]
    assert [r["tracking_id"] for r in boxed] == [public]
    stats = world.stats()
    assert (stats["total"], stats["confidential"], stats["public"]) == (2, 1, 1)
    assert stats["by_category"] == {"infrastruktur": 1}
    assert stats["by_province"] == {"53": 1}
    assert stats["by_status"] == {"forwarded": 1}

    # Made confidential later: it leaves every public view; made public again: it comes back.
    world.run(public, ChangeProtection(confidential=True), kind="admin")
    assert world.search() == []
    assert world.query(views.map_query(views.ReportFilter(), 100, (120, -11, 125, -9))) == []
    assert world.stats()["by_category"] == {}
    world.run(secret, ChangeProtection(confidential=False), kind="admin")
    assert world.search(q="pungli") == [secret]
    assert world.stats()["by_province"] == {"53": 1}
    assert world.stats()["total"] == 2


def test_region_filters_match_the_region_and_everything_below_it(world: World) -> None:
    city = world.submit(
        "Sampah menumpuk", "Sampah menumpuk di pasar.", location=Location(region_code="5371")
    )
    district = world.submit(
        "Drainase mampet", "Saluran air mampet.", location=Location(region_code="537102")
    )
    other = world.submit(
        "Sekolah rusak", "Atap sekolah bocor.", location=Location(region_code="3572")
    )
    assert world.search(region="53") == [district, city]
    assert world.search(region="5371") == [district, city]
    assert world.search(region="537102") == [district]
    assert world.search(region="35") == [other]
    assert world.search(region="537") == [district, city]  # an odd length: a prefix range


def test_followed_up_within_the_limit_counts_on_time(world: World) -> None:
    on_time = world.submit(
        "Obat habis",
        "Puskesmas kehabisan obat.",
        published=False,
        location=Location(region_code="5371"),
    )
    late = world.submit(
        "Dokter absen",
        "Dokter tidak datang.",
        published=False,
        location=Location(region_code="5371"),
    )
    waiting = world.submit(
        "Antre lama", "Antrean berjam-jam.", published=False, location=Location(region_code="5371")
    )
    for tid, due in (
        (on_time, date(2026, 3, 2)),
        (late, date(2026, 3, 1)),
        (waiting, date(2026, 3, 9)),
    ):
        world.run(tid, VerifyReport(), kind="admin")
        world.run(
            tid,
            ForwardReport(
                agency_code="DINKES-KOTA-KUPANG", agency_name="Dinkes", follow_up_due=due
            ),
            kind="admin",
        )
    for tid in (on_time, late):
        world.run(tid, PostFollowUp(agency_code="DINKES-KOTA-KUPANG", text="Ditangani."), "agency")
    follow = world.stats()["follow_up"]
    assert follow == {
        "forwarded": 3,
        "followed_up": 2,
        "on_time": 1,
        "late": 1,
        "share_on_time": round(1 / 3, 4),
    }
    assert world.stats()["by_agency"] == {"DINKES-KOTA-KUPANG": 3}
    assert world.stats()["by_status"] == {"followed_up": 2, "forwarded": 1}


def test_the_timeline_never_names_the_reporter_nor_the_files(world: World) -> None:
    from shared.values import Attachment

    photo = Attachment(sha256="a" * 64, name="KTP Siti Aminah.jpg", media_type="image/jpeg", size=9)
    tid = world.submit(
        "Jalan rusak", "Jalan rusak parah.", published=False, anonymous=True, attachments=(photo,)
    )
    rows = world.projector.conn.execute("SELECT details, actor_kind FROM timeline").fetchall()
    assert len(rows) == 1
    assert "Siti" not in rows[0]["details"]
    assert '"attachment_count": 1' in rows[0]["details"]
    assert rows[0]["actor_kind"] == "citizen"
    row = world.projector.conn.execute(
        "SELECT * FROM reports WHERE tracking_id = ?", (tid,)
    ).fetchone()
    assert "reporter" not in row.keys()  # noqa: SIM118 - sqlite3.Row has no __contains__ by key


def test_a_rebuild_gives_the_same_counts(world: World) -> None:
    for n in range(5):
        world.submit(f"Laporan nomor {n}", "Isi laporan yang cukup panjang.", confidential=n == 3)
    before = world.stats()
    asyncio.run(world.projector.rebuild(world.store))
    assert world.stats() == before
    assert before["total"] == 5 and before["public"] == 4


def test_a_view_file_of_an_older_schema_is_dropped_and_rebuilt(tmp_path: Path) -> None:
    from services.intake.bootstrap import upgrade_views
    from shared.runtime.rebuild import rebuild_in_child

    settings = Settings(data_dir=tmp_path)
    store = open_store(f"sqlite:///{tmp_path / 'events.db'}")
    command = SubmitReport(
        tracking_id="T001",
        classification=Classification.COMPLAINT,
        title="Jalan rusak",
        body="Jalan rusak parah sekali.",
        channel=Channel.WEB,
        access_code_hash="h",
    )
    meta = Meta(actor=Actor(kind="citizen", id="c"), correlation_id="t")
    asyncio.run(ReportRepository(store, FixedClock(NOW)).execute("T001", command, meta))
    asyncio.run(store.close())
    old = sqlite3.connect(tmp_path / "intake.db")
    old.executescript(
        "CREATE TABLE reports (tracking_id TEXT PRIMARY KEY, status TEXT);"
        "CREATE TABLE checkpoint (name TEXT PRIMARY KEY, position INTEGER NOT NULL);"
        "INSERT INTO checkpoint VALUES ('intake', 42);"
    )
    old.close()
    assert upgrade_views(settings) is True
    projector = create_projector(settings)
    assert projector.checkpoint() == 0
    # What the runtime does at start: the replay in a child process, into the same file.
    assert asyncio.run(rebuild_in_child("services.intake.bootstrap", settings, "intake")) == 1
    assert projector.conn.execute("SELECT count(*) FROM reports_fts").fetchone()[0] == 1
    assert projector.checkpoint() == 1
    projector.close()
    assert upgrade_views(settings) is False


def test_views_rebuilt_into_a_fresh_directory_are_not_rebuilt_again_at_the_next_start(
    tmp_path: Path,
) -> None:
    """`lapor rebuild intake` into an empty data directory stamps the views' schema version, so
    the service that starts on them next keeps them (finding F)."""
    from services.intake.bootstrap import upgrade_views

    settings = Settings(data_dir=tmp_path)
    store = open_store(f"sqlite:///{tmp_path / 'events.db'}")
    command = SubmitReport(
        tracking_id="T001",
        classification=Classification.COMPLAINT,
        title="Jalan rusak",
        body="Jalan rusak parah sekali.",
        channel=Channel.WEB,
        access_code_hash="h",
    )
    meta = Meta(actor=Actor(kind="citizen", id="c"), correlation_id="t")
    asyncio.run(ReportRepository(store, FixedClock(NOW)).execute("T001", command, meta))
    projector = create_projector(settings)
    assert asyncio.run(projector.rebuild(store)) == 1
    projector.close()
    asyncio.run(store.close())
    assert upgrade_views(settings) is False  # nothing to drop: the next start keeps the views
    again = create_projector(settings)
    assert not again.stale and again.checkpoint() == 1
    again.close()


def test_only_forwarded_reports_are_public_and_rejected_ones_never(world: World) -> None:
    """DESIGN §9: a report is published once it is forwarded; before that, and once rejected,
    it is in no public query and counts nowhere."""
    waiting = world.submit(
        "Tagihan air", "Nomor saya 0812 3456 7890, alamat Jl. Kenanga 5.", published=False
    )
    forwarded = world.submit("Jalan rusak", "Lubang besar di depan sekolah.")
    assert world.search() == [forwarded]
    assert world.search(q="kenanga") == []
    assert world.stats()["total"] == 1
    world.publish(waiting)
    assert world.search(q="kenanga") == [waiting]
    # Returned by the institution and then rejected: out of every public view again.
    world.run(
        forwarded,
        ReturnReport(agency_code="DINKES-KOTA-KUPANG", reason="not_our_authority"),
        kind="agency",
    )
    assert world.search(q="lubang") == [forwarded]  # returned: still published
    world.run(
        forwarded, RejectReport(reason=RejectionReason.OTHER, note="Bukan layanan publik"), "admin"
    )
    assert world.search() == [waiting]
    assert world.stats()["total"] == 1 and world.stats()["by_status"] == {"forwarded": 1}


def test_the_public_text_replaces_the_reporters_words_in_every_public_query(world: World) -> None:
    tid = world.submit(
        "Pungutan di kelurahan Siti Aminah",
        "Saya Siti Aminah, HP 081234567890, dimintai uang untuk KTP.",
        location=Location(lat=-10.16, lon=123.61, region_code="537103"),
    )
    world.run(
        tid,
        SetPublicText(
            title="Pungutan di kelurahan", body="Pelapor dimintai uang untuk mengurus KTP."
        ),
        kind="admin",
    )
    assert world.search(q="aminah") == []
    assert world.search(q="081234567890") == []
    assert world.search(q="mengurus ktp") == [tid]
    mapped = world.query(views.map_query(views.ReportFilter(), 10, None))
    assert [r["title"] for r in mapped] == ["Pungutan di kelurahan Siti Aminah"]  # the row
    from services.intake.usecases import feature, public_view

    assert feature(mapped[0]).properties.title == "Pungutan di kelurahan"
    public = public_view(mapped[0])
    assert (public.title, public.body) == (
        "Pungutan di kelurahan",
        "Pelapor dimintai uang untuk mengurus KTP.",
    )
    own = public_view(mapped[0], reporter=True)
    assert own.body == "Saya Siti Aminah, HP 081234567890, dimintai uang untuk KTP."
    assert own.public_body == "Pelapor dimintai uang untuk mengurus KTP."
    asyncio.run(world.projector.rebuild(world.store))
    assert world.search(q="aminah") == [] and world.search(q="mengurus") == [tid]
