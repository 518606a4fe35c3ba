"""Routing decisions and directory changes, told as small stories (pure, no processes)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.routing.decisions import candidates, choose, next_candidate
from shared.calendar import WorkingDayCalendar
from shared.directory.events import DirectoryChanged
from shared.directory.model import (
    Directory,
    DirectoryError,
    Institution,
    RoutingRule,
    default_directory,
)
from shared.directory.state import (
    DirectoryDraft,
    InstitutionExists,
    build_directory,
    decide_add,
    decide_import,
    decide_rule,
    decide_update,
    validated,
)
from shared.reports.deadlines import time_left
from shared.reports.policy import policy_for

SEED = default_directory()
CALENDAR = WorkingDayCalendar.default()

ALAK = Institution(
    code="PUSKESMAS-ALAK",
    name="Puskesmas Alak",
    level="unit",
    region_code="537101",
    parent="DINKES-KOTA-KUPANG",
    categories=("kesehatan",),
)


@pytest.mark.parametrize(
    ("region", "category", "agency", "routed_by"),
    [
        ("5371", "kesehatan", "DINKES-KOTA-KUPANG", "rule"),  # region + category rule
        ("537104", "infrastruktur", "DPUPR-KOTA-KUPANG", "rule"),  # a district inside the city
        ("1703", "infrastruktur", "DPUPR-PROV-BENGKULU", "rule"),  # a province-wide rule
        ("5305", "pertanahan", "KEMENATR-BPN", "rule"),  # a national rule for a category
        ("5371", "pendidikan", "PEMKOT-KUPANG", "region"),  # no rule: the city's government
        ("5310", "kesehatan", "PEMKAB-MANGGARAI", "region"),  # every regency has its government
        ("53", "kesehatan", "PEMPROV-NTT", "region"),  # the province's own: the province
        ("11", "sosial", "PEMPROV-ACEH", "region"),
        ("3171", "kereta-api", "KAI", "rule"),  # a national matter: the agency
        ("3173", "sosial", "PEMPROV-DKI", "region"),  # Jakarta's administrative cities
        (None, None, "KEMENPANRB", "national"),
        ("53.71", "kesehatan", "KEMENPANRB", "national"),  # unusable region code: national
    ],
)
def test_rules_then_region_then_national(
    region: str | None, category: str | None, agency: str, routed_by: str
) -> None:
    choice = choose(SEED, region, category)
    assert (choice.agency_code, choice.routed_by) == (agency, routed_by)


def test_the_admins_choice_wins_when_it_is_a_known_institution() -> None:
    assert choose(SEED, "5371", "kesehatan", "PUSKESMAS-OEPOI").routed_by == "admin"
    fallback = choose(SEED, "5371", "kesehatan", "NO-SUCH-AGENCY")
    assert (fallback.agency_code, fallback.routed_by) == ("DINKES-KOTA-KUPANG", "rule")


def test_after_a_return_the_next_candidate_is_suggested() -> None:
    order = [i.code for i in candidates(SEED, "5371", "kesehatan")]
    assert order == ["DINKES-KOTA-KUPANG", "PEMKOT-KUPANG", "PEMPROV-NTT", "KEMENPANRB"]
    tried = {"DINKES-KOTA-KUPANG"}
    assert next_candidate(SEED, "5371", "kesehatan", tried).code == "PEMKOT-KUPANG"  # type: ignore[union-attr]
    assert next_candidate(SEED, "5371", "kesehatan", set(order)) is None


def test_follow_up_is_due_five_working_days_after_the_local_day_of_forwarding() -> None:
    # Friday 23:30 in Kupang (WITA) is already Saturday: day one is Monday.
    at = datetime(2025, 10, 3, 16, 30, tzinfo=UTC)
    due = policy_for("DINKES-KOTA-KUPANG").follow_up.due_after(at, CALENDAR, "5371")
    assert due == CALENDAR.add_working_days(date(2025, 10, 4), 5, "5371")
    assert due == date(2025, 10, 10)


def test_the_time_left_runs_to_the_end_of_the_due_day_in_the_regions_time() -> None:
    # Monday 6 October 2025, 09:00 in Kupang (WITA); due Friday 10 October.
    now = datetime(2025, 10, 6, 1, 0, tzinfo=UTC)
    left = time_left(date(2025, 10, 10), now, CALENDAR, "5371")
    assert left.deadline_end.isoformat() == "2025-10-10T23:59:59.999999+08:00"
    assert int(left.remaining.total_seconds()) == 4 * 86400 + 15 * 3600 - 1
    assert (left.working_days, left.overdue) == (4, False)
    late = time_left(date(2025, 10, 3), now, CALENDAR, "5371")
    assert (late.working_days, late.overdue) == (-1, True)
    assert late.remaining.total_seconds() < 0


def test_a_new_rule_is_more_specific_and_wins() -> None:
    changes = decide_add(SEED, ALAK)
    directory = validated(SEED, changes)
    rule = RoutingRule(region_prefix="537101", category="kesehatan", agency_code="PUSKESMAS-ALAK")
    directory = validated(directory, decide_rule(directory, rule))
    assert choose(directory, "5371010001", "kesehatan").agency_code == "PUSKESMAS-ALAK"
    assert choose(directory, "537102", "kesehatan").agency_code == "DINKES-KOTA-KUPANG"


def test_directory_decisions_are_idempotent() -> None:
    directory = validated(SEED, decide_add(SEED, ALAK))
    assert decide_add(directory, ALAK) == []  # the same add again
    assert decide_update(directory, ALAK) == []
    with pytest.raises(InstitutionExists):
        decide_add(directory, ALAK.model_copy(update={"name": "Puskesmas Alak Baru"}))
    renamed = decide_update(directory, ALAK.model_copy(update={"name": "Puskesmas Alak Baru"}))
    assert [c.change for c in renamed] == ["institution_updated"]


def test_an_invalid_change_is_refused_naming_the_problem() -> None:
    orphan = ALAK.model_copy(update={"code": "PUSKESMAS-X", "parent": "NOWHERE"})
    with pytest.raises(DirectoryError) as error:
        validated(SEED, decide_add(SEED, orphan))
    assert any("parent" in p for p in error.value.problems)


def test_import_appends_only_what_differs() -> None:
    data = SEED.to_dict()
    data["institutions"].append(ALAK.model_dump(mode="json"))
    wanted = Directory.from_dict(data)
    changes = decide_import(SEED, wanted)
    assert [(c.change, c.code) for c in changes] == [("institution_added", "PUSKESMAS-ALAK")]
    after = validated(SEED, changes)
    assert decide_import(after, wanted) == []  # re-import: nothing


def test_folding_skips_a_stored_change_that_no_longer_fits() -> None:
    good = decide_add(SEED, ALAK)[0]
    bad = DirectoryChanged.model_validate(
        {
            "change": "institution_added",
            "code": "BROKEN",
            "institution": {"code": "BROKEN", "name": "x", "level": "unit", "parent": "NOWHERE"},
        }
    )
    directory = build_directory(SEED.data, [bad, good])
    assert "PUSKESMAS-ALAK" in directory
    assert "BROKEN" not in directory
    draft = DirectoryDraft(SEED.data)
    draft.apply(good)
    assert draft.build().get("PUSKESMAS-ALAK").parent == "DINKES-KOTA-KUPANG"
