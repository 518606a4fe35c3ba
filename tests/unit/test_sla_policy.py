"""SLA limits as policy data: DESIGN §2 defaults, per-institution overrides, due days."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shared.calendar import WIB, WIT, WITA, CalendarOverrides, WorkingDayCalendar, deadline_end
from shared.reports.policy import (
    DEFAULT_LIMITS,
    DEFAULT_POLICY,
    Limit,
    SlaLimits,
    SlaPolicy,
    load_policy,
    policy_for,
)

CAL = WorkingDayCalendar.default()


def d(text: str) -> date:
    return date.fromisoformat(text)


def end_of(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(23, 59, 59, 999999), zone)


def working(days: int) -> Limit:
    return Limit(days=days, unit="working")


def calendar_days(days: int) -> Limit:
    return Limit(days=days, unit="calendar")


# --- the national defaults of DESIGN §2 --------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "limit"),
    [
        ("verification", working(3)),
        ("follow_up", working(5)),
        ("auto_close", working(10)),
        ("resolution", calendar_days(14)),
        ("resolution_field_inspection", calendar_days(60)),
        ("escalation", working(60)),
        ("due_soon", working(1)),
    ],
)
def test_design_defaults(name: str, limit: Limit) -> None:
    assert getattr(DEFAULT_LIMITS, name) == limit
    assert getattr(SlaLimits(), name) == limit
    assert getattr(policy_for(None), name) == limit
    assert getattr(policy_for("ANY-AGENCY"), name) == limit
    assert getattr(DEFAULT_POLICY.national, name) == limit


def test_resolution_limit_depends_on_field_inspection() -> None:
    assert DEFAULT_LIMITS.resolution_limit(requires_field_inspection=False) == calendar_days(14)
    assert DEFAULT_LIMITS.resolution_limit(requires_field_inspection=True) == calendar_days(60)


def test_limits_are_frozen() -> None:
    with pytest.raises(ValidationError):
        DEFAULT_LIMITS.verification = working(1)  # type: ignore[misc]
    with pytest.raises(ValidationError):
        DEFAULT_LIMITS.verification.days = 1  # type: ignore[misc]


def test_str() -> None:
    assert str(working(1)) == "1 working day"
    assert str(calendar_days(14)) == "14 calendar days"


# --- due days ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("limit", "start", "due"),
    [
        (working(3), "2026-03-17", "2026-03-27"),  # verification across Lebaran 2026
        (working(5), "2026-03-12", "2026-03-26"),  # first follow-up across Lebaran 2026
        (working(10), "2026-12-22", "2027-01-11"),  # auto-close across the turn of the year
        (working(60), "2026-03-02", "2026-06-10"),  # escalation
        (calendar_days(14), "2026-03-17", "2026-03-31"),  # calendar days: holidays count
        (calendar_days(60), "2026-03-17", "2026-05-16"),  # a Saturday, and it stays there
        (calendar_days(14), "2026-12-18", "2027-01-01"),  # New Year's Day, not moved
        (working(0), "2026-03-21", "2026-03-21"),
        (calendar_days(0), "2026-03-21", "2026-03-21"),
    ],
)
def test_due(limit: Limit, start: str, due: str) -> None:
    assert limit.due(d(start), CAL) == d(due)


def test_due_counts_regional_holidays() -> None:
    bali = WorkingDayCalendar(
        CalendarOverrides.from_dict(
            {
                "years": {
                    "2026": {
                        "regional": [{"region_prefix": "51", "date": "2026-06-17", "name": "test"}]
                    }
                }
            }
        )
    )
    assert working(1).due(d("2026-06-16"), bali) == d("2026-06-17")
    assert working(1).due(d("2026-06-16"), bali, "5171") == d("2026-06-18")
    assert calendar_days(1).due(d("2026-06-16"), bali, "5171") == d("2026-06-17")


@pytest.mark.parametrize(
    ("limit", "occurred_at", "region_code", "deadline"),
    [
        # Tue 17 March 2026 23:30 WIB is still the 17th: due Fri 27 March, end of day WIB
        (working(3), "2026-03-17T16:30:00+00:00", None, end_of(d("2026-03-27"), WIB)),
        # the same instant is already Wed 18 March (cuti bersama) in Kupang: also Fri 27 March
        (working(3), "2026-03-17T16:30:00+00:00", "5371", end_of(d("2026-03-27"), WITA)),
        # Friday 9 Jan 2026 23:30 WIT is Friday in Jayapura: day one is Mon 12 Jan
        (working(1), "2026-01-09T14:30:00+00:00", "9171", end_of(d("2026-01-12"), WIT)),
        # calendar days in WITA
        (calendar_days(14), "2026-03-17T01:00:00+00:00", "7371", end_of(d("2026-03-31"), WITA)),
    ],
)
def test_deadline_of_an_event(
    limit: Limit, occurred_at: str, region_code: str | None, deadline: datetime
) -> None:
    at = datetime.fromisoformat(occurred_at)
    assert limit.deadline(at, CAL, region_code) == deadline
    assert limit.deadline(at, CAL, region_code).tzinfo is deadline.tzinfo
    assert limit.due_after(at, CAL, region_code) == deadline.date()


@pytest.mark.parametrize(
    ("due", "warning_from"),
    [
        ("2026-03-27", "2026-03-26"),  # Fri → Thu
        ("2026-03-25", "2026-03-17"),  # the day before is deep in Lebaran
        ("2027-01-04", "2026-12-31"),
        ("2026-05-16", "2026-05-13"),  # a calendar-day due date on a Saturday: 14-15 May off
    ],
)
def test_due_soon_from(due: str, warning_from: str) -> None:
    assert DEFAULT_LIMITS.due_soon_from(d(due), CAL) == d(warning_from)
    start = DEFAULT_LIMITS.due_soon_start(d(due), CAL)
    assert start == datetime.combine(d(warning_from), datetime.min.time(), WIB)
    assert start == deadline_end(d(warning_from) - timedelta(days=1)) + timedelta(microseconds=1)


def test_due_soon_in_calendar_days_and_zero() -> None:
    policy = SlaPolicy.from_dict({"defaults": {"due_soon": {"days": 2, "unit": "calendar"}}})
    assert policy.national.due_soon_from(d("2026-03-25"), CAL) == d("2026-03-23")
    zero = SlaPolicy.from_dict({"defaults": {"due_soon": 0}})
    assert zero.national.due_soon_from(d("2026-03-25"), CAL) == d("2026-03-25")
    assert zero.national.due_soon_start(d("2026-03-25"), CAL, "9171").tzinfo is WIT


# --- overrides ---------------------------------------------------------------------------------
POLICY = {
    "defaults": {"resolution": 21},
    "agencies": {
        "DINKES-KOTA-KUPANG": {"follow_up": 3, "resolution": {"days": 10, "unit": "working"}},
        "BPN-KAB-BADUNG": {"resolution_field_inspection": {"unit": "working"}},
        "PEMPROV-DKI": {"verification": {"days": 2}},
    },
}


@pytest.mark.parametrize(
    ("agency_code", "expected"),
    [
        (None, {"follow_up": working(5), "resolution": calendar_days(21)}),
        ("UNKNOWN", {"follow_up": working(5), "resolution": calendar_days(21)}),
        (
            "DINKES-KOTA-KUPANG",
            {"follow_up": working(3), "resolution": working(10), "verification": working(3)},
        ),
        (
            "BPN-KAB-BADUNG",
            {"resolution_field_inspection": working(60), "resolution": calendar_days(21)},
        ),
        ("PEMPROV-DKI", {"verification": working(2), "auto_close": working(10)}),
        ("dinkes-kota-kupang", {"follow_up": working(5)}),  # codes match exactly
    ],
)
def test_policy_for(agency_code: str | None, expected: dict[str, Limit]) -> None:
    policy = SlaPolicy.from_dict(POLICY)
    limits = policy.policy_for(agency_code)
    assert {name: getattr(limits, name) for name in expected} == expected
    assert policy_for(agency_code, policy) == limits


def test_an_override_leaves_the_other_limits_alone() -> None:
    limits = SlaPolicy.from_dict(POLICY).policy_for("DINKES-KOTA-KUPANG")
    assert limits.model_dump(exclude={"follow_up", "resolution"}) == DEFAULT_LIMITS.model_dump(
        exclude={"follow_up", "resolution"}
    )


def test_the_default_policy_has_no_overrides() -> None:
    assert DEFAULT_POLICY.agencies == {}
    assert load_policy(None) is DEFAULT_POLICY


def test_policy_from_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "sla.json"
    path.write_text(json.dumps(POLICY), encoding="utf-8")
    assert load_policy(path) == SlaPolicy.from_dict(POLICY)
    assert load_policy(str(path)).policy_for("DINKES-KOTA-KUPANG").follow_up == working(3)


def test_policy_from_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "sla.toml"
    path.write_text(
        """
[defaults]
resolution = 21

[agencies.DINKES-KOTA-KUPANG]
follow_up = 3
resolution = { days = 10, unit = "working" }

[agencies.BPN-KAB-BADUNG]
resolution_field_inspection = { unit = "working" }

[agencies.PEMPROV-DKI.verification]
days = 2
""",
        encoding="utf-8",
    )
    assert SlaPolicy.from_file(path) == SlaPolicy.from_dict(POLICY)


@pytest.mark.parametrize(
    "data",
    [
        {"agencies": {"dinkes": {"follow_up": 3}}},  # agency codes are [A-Z0-9-]+
        {"agencies": {"DINKES": {"follow_up": -1}}},
        {"agencies": {"DINKES": {"follow_up": "3"}}},
        {"agencies": {"DINKES": {"follow_up": True}}},
        {"agencies": {"DINKES": {"follow_up": 2.5}}},
        {"agencies": {"DINKES": {"follow_up": {}}}},  # says nothing
        {"agencies": {"DINKES": {"follow_up": {"unit": "hours"}}}},
        {"agencies": {"DINKES": {"follow_up": {"days": 3, "units": "working"}}}},
        {"agencies": {"DINKES": {"followup": 3}}},  # a typo is an error
        {"defaults": {"verification": 100000}},
        {"default": {}},
    ],
)
def test_a_bad_policy_is_rejected(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SlaPolicy.from_dict(data)


def test_a_bad_policy_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "sla.json"
    path.write_text(json.dumps({"agencies": {"DINKES": {"folow_up": 3}}}), encoding="utf-8")
    with pytest.raises(ValidationError, match="folow_up"):
        load_policy(path)
