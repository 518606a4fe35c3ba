"""The language foundation: catalogs complete and current, one way to say time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import get_args

import pytest

from shared.events.registry import EVENT_TYPES
from shared.i18n import LANGUAGES, both, catalog, text, translator
from shared.i18n import catalogs as tooling
from shared.i18n.dates import day, local_iso, when, zone_label
from shared.i18n.labels import status_label
from shared.reports.events import (
    Classification,
    CloseReason,
    FollowUpKind,
    RejectionReason,
    SlaStage,
    Status,
)
from shared.values import Channel


def test_the_catalogs_hold_a_text_for_every_key_the_code_uses_and_nothing_else() -> None:
    problems = tooling.problems()
    assert problems == [], (
        "run `python -m shared.i18n extract`, then write the missing texts:\n" + "\n".join(problems)
    )


@pytest.mark.parametrize(
    ("prefix", "values"),
    [
        ("status", Status),
        ("class", Classification),
        ("channel", Channel),
        ("rejection", RejectionReason),
        ("closing", CloseReason),
        ("stage", SlaStage),
        ("follow_up_kind", FollowUpKind),
    ],
)
def test_every_value_of_the_domain_has_a_name_in_every_language(prefix: str, values: type) -> None:
    for language in LANGUAGES:
        for value in values:  # type: ignore[attr-defined]
            assert f"{prefix}.{value.value}" in catalog(language), (language, value)


def test_every_reason_for_a_possible_duplicate_has_a_name_in_every_language() -> None:
    from services.verification.models import DuplicateSuggestion

    [listed] = get_args(DuplicateSuggestion.model_fields["reasons"].annotation)
    for language in LANGUAGES:
        for reason in get_args(listed):
            assert f"similarity.{reason}" in catalog(language), (language, reason)


def test_every_report_event_has_a_name_on_the_timeline() -> None:
    report_events = [
        name for name, cls in EVENT_TYPES.items() if cls.__module__ == "shared.reports.events"
    ]
    assert report_events
    for language in LANGUAGES:
        for name in report_events:
            assert f"event.{name}" in catalog(language), (language, name)


def test_texts_fill_in_what_they_mention_and_fall_back_to_indonesian() -> None:
    t = translator("en")
    assert t("nav.home") == "Home"
    assert translator("id")("nav.home") == "Beranda"
    assert translator("en-US")("nav.home") == "Home"
    assert translator("fr")("nav.home") == "Beranda"
    assert text("id", "no.such.key") == "no.such.key"
    assert status_label("forwarded", "id") == "Diteruskan ke instansi"
    assert status_label("unknown-status", "id") == "unknown-status"
    assert both("nav.home") == "Beranda / Home"


def test_a_kupang_time_is_told_in_wita_with_indonesian_month_names() -> None:
    at = datetime(2026, 3, 5, 6, 5, tzinfo=UTC)
    assert when(at, "5371", "id") == "5 Maret 2026, 14.05 WITA"
    assert when(at, "5371", "en") == "5 March 2026, 14:05 WITA"
    assert when(at.isoformat(), "3578", "id") == "5 Maret 2026, 13.05 WIB"
    assert when(at, "9171", "id") == "5 Maret 2026, 15.05 WIT"
    assert when(at, None, "id") == "5 Maret 2026, 13.05 WIB"
    assert when(at, "not-a-code", "id").endswith("WIB")
    assert local_iso(at, "5371") == "2026-03-05T14:05:00+08:00"
    assert zone_label("53") == "WITA"


def test_a_day_is_said_with_its_month_name() -> None:
    assert day(date(2026, 12, 1), "id") == "1 Desember 2026"
    assert day("2026-08-17", "en") == "17 August 2026"
    assert day("2026-08-17T01:00:00+00:00", "id") == "17 Agustus 2026"
    assert day(None) == ""
