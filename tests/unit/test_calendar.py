"""The working-day calendar: against the `holidays` package day by day, and hand-checked examples.

2026 dates are those of SKB 3 Menteri No. 1497/2/5 Tahun 2025 (17 libur nasional + 8 cuti
bersama), which `holidays==0.108` reproduces; 2027 dates are the package's.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.calendar import (
    DEFAULT_OVERRIDES_PATH,
    WIB,
    WIT,
    WITA,
    CalendarOverrides,
    Holiday,
    WorkingDayCalendar,
    deadline_end,
    local_date,
    timezone_for_region,
)

CAL = WorkingDayCalendar.default()
SHIPPED = CalendarOverrides.from_file(DEFAULT_OVERRIDES_PATH)


def d(text: str) -> date:
    return date.fromisoformat(text)


def every_day(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days)]


def package_holiday_dates(year: int) -> set[date]:
    return set(
        holidays.country_holidays("ID", years=year, categories=("public", "government")).keys()
    )


def expected_working(day: date, overrides: CalendarOverrides) -> bool:
    """Independent of the calendar: weekday, not a package holiday, unless an override says so."""
    off = package_holiday_dates(day.year)
    changes = overrides.years.get(day.year)
    if changes is not None:
        off -= {e.date for e in changes.remove}
        off |= {e.date for e in changes.add}
    return day.weekday() < 5 and day not in off


# --- day by day against the package ------------------------------------------------------------
def test_the_categories_used_exist_in_the_installed_package() -> None:
    assert set(holidays.country_holidays("ID").supported_categories) == {"public", "government"}


@pytest.mark.parametrize("year", [2026, 2027])
@pytest.mark.parametrize("region_code", [None, "3171", "5171", "9471"])
def test_every_day_matches_the_package_and_the_shipped_overrides(
    year: int, region_code: str | None
) -> None:
    # The shipped file has no regional entries, so every region sees the national calendar.
    wrong = [
        (day.isoformat(), CAL.is_working_day(day, region_code))
        for day in every_day(year)
        if CAL.is_working_day(day, region_code) != expected_working(day, SHIPPED)
    ]
    assert wrong == []


@pytest.mark.parametrize("year", [2026, 2027])
def test_the_shipped_overrides_are_the_only_differences_from_the_package(year: int) -> None:
    package_off = {day for day in package_holiday_dates(year) if day.weekday() < 5}
    calendar_off = {day for day in every_day(year) if day.weekday() < 5} - set(
        CAL.working_days(date(year, 1, 1), date(year, 12, 31))
    )
    changes = SHIPPED.years.get(year)
    added = {e.date for e in changes.add if e.date.weekday() < 5} if changes else set()
    removed = {e.date for e in changes.remove} if changes else set()
    assert calendar_off - package_off == added - package_off
    assert package_off - calendar_off == removed & package_off


def test_2026_has_17_public_holidays_and_8_days_of_cuti_bersama() -> None:
    listed = CAL.holidays_in(2026)
    assert [h.category for h in listed].count("public") == 17
    assert [h.category for h in listed].count("government") == 8
    assert listed == sorted(listed)
    assert len({h.date for h in listed}) == 25


def test_working_days_in_2026_and_2027() -> None:
    # 261 weekdays in 2026 minus 21 holidays on weekdays (13 public + 8 cuti bersama);
    # 261 in 2027 minus 19 (11 public + 8 cuti bersama).
    assert len(CAL.working_days(d("2026-01-01"), d("2026-12-31"))) == 240
    assert len(CAL.working_days(d("2027-01-01"), d("2027-12-31"))) == 242


# --- Lebaran 2026 and year end -----------------------------------------------------------------
LEBARAN_2026 = [
    # date, working?, holiday category (None: no holiday), name (Indonesian)
    ("2026-03-16", True, None, None),
    ("2026-03-17", True, None, None),
    ("2026-03-18", False, "government", "Cuti Bersama Hari Suci Nyepi"),
    ("2026-03-19", False, "public", "Hari Suci Nyepi"),
    ("2026-03-20", False, "government", "Cuti Bersama Hari Raya Idul Fitri"),
    ("2026-03-21", False, "public", "Hari Raya Idul Fitri"),
    ("2026-03-22", False, "public", "Hari kedua dari Hari Raya Idul Fitri"),
    ("2026-03-23", False, "government", "Cuti Bersama Hari Raya Idul Fitri"),
    ("2026-03-24", False, "government", "Cuti Bersama Hari Raya Idul Fitri"),
    ("2026-03-25", True, None, None),
    ("2026-04-03", False, "public", "Wafat Yesus Kristus"),
    ("2026-04-05", False, "public", "Kebangkitan Yesus Kristus"),
]
YEAR_END_2026 = [
    ("2026-12-23", True, None, None),
    ("2026-12-24", False, "government", "Cuti Bersama Hari Raya Natal"),
    ("2026-12-25", False, "public", "Hari Raya Natal"),
    ("2026-12-26", False, None, None),  # a Saturday; no cuti bersama on 26 Dec in 2026
    ("2026-12-27", False, None, None),
    ("2026-12-28", True, None, None),
    ("2026-12-31", True, None, None),
    ("2027-01-01", False, "public", "Tahun Baru Masehi"),
    ("2027-01-04", True, None, None),
    ("2027-01-05", False, "public", "Isra Mikraj Nabi Muhammad"),
    ("2027-01-06", True, None, None),
]
LEBARAN_2027 = [
    ("2027-03-05", True, None, None),
    ("2027-03-08", False, "public", "Hari Suci Nyepi"),
    ("2027-03-09", False, "government", "Cuti Bersama Hari Raya Idul Fitri"),
    ("2027-03-10", False, "public", "Hari Raya Idul Fitri (perkiraan)"),
    ("2027-03-11", False, "public", "Hari kedua dari Hari Raya Idul Fitri (perkiraan)"),
    ("2027-03-12", False, "government", "Cuti Bersama Hari Raya Idul Fitri"),
    ("2027-03-15", False, "government", "Cuti Bersama Hari Raya Idul Fitri"),
    ("2027-03-16", True, None, None),
    ("2027-12-24", False, "government", "Cuti Bersama Hari Raya Natal"),
]


@pytest.mark.parametrize(("day", "working", "category", "name"), LEBARAN_2026 + YEAR_END_2026)
def test_lebaran_2026_and_the_turn_of_the_year(
    day: str, working: bool, category: str | None, name: str | None
) -> None:
    assert CAL.is_working_day(d(day)) is working
    holiday = CAL.holiday_on(d(day))
    if category is None:
        assert holiday is None
    else:
        assert holiday == Holiday(d(day), str(name), category)  # type: ignore[arg-type]


@pytest.mark.parametrize(("day", "working", "category", "name"), LEBARAN_2027)
def test_lebaran_2027(day: str, working: bool, category: str | None, name: str | None) -> None:
    assert CAL.is_working_day(d(day)) is working
    holiday = CAL.holiday_on(d(day))
    found = (holiday.category, holiday.name) if holiday else (None, None)
    assert found == (category, name)


def test_names_do_not_depend_on_the_process_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.setenv(variable, "en_US.UTF-8")
    holiday = WorkingDayCalendar().holiday_on(d("2026-03-21"))
    assert holiday is not None and holiday.name == "Hari Raya Idul Fitri"
    english = WorkingDayCalendar(language="en_US").holiday_on(d("2026-03-21"))
    assert english is not None and english.name == "Eid al-Fitr"


# --- counting ----------------------------------------------------------------------------------
ADD_WORKING_DAYS = [
    # start, n, due — counted by hand on the tables above
    ("2026-03-17", 0, "2026-03-17"),
    ("2026-03-21", 0, "2026-03-21"),  # n = 0 is the start itself, even on a holiday
    ("2026-03-17", 1, "2026-03-25"),  # 18-24 March: Nyepi, Idul Fitri and cuti bersama
    ("2026-03-17", 3, "2026-03-27"),
    ("2026-03-16", 3, "2026-03-26"),  # Tue 17, Wed 25, Thu 26
    ("2026-03-13", 3, "2026-03-25"),  # Mon 16, Tue 17, Wed 25
    ("2026-03-12", 5, "2026-03-26"),  # Fri 13, Mon 16, Tue 17, Wed 25, Thu 26
    ("2026-03-21", 3, "2026-03-27"),  # submitted on Idul Fitri: day one is Wed 25
    ("2026-03-18", 1, "2026-03-25"),
    ("2026-04-01", 2, "2026-04-06"),  # Thu 2, (Good Friday 3, weekend), Mon 6
    ("2026-03-02", 60, "2026-06-10"),  # 16 in March, 21 in April, 16 in May, 7 in June
    ("2026-12-23", 1, "2026-12-28"),  # 24 cuti bersama, 25 Christmas, weekend
    ("2026-12-23", 5, "2027-01-04"),  # 28, 29, 30, 31 Dec, (1 Jan, weekend), 4 Jan
    ("2026-12-23", 6, "2027-01-06"),  # 5 Jan Isra Mikraj
    ("2026-12-22", 10, "2027-01-11"),  # 23, 28-31 Dec, 4, 6, 7, 8, 11 Jan
    ("2026-12-31", 1, "2027-01-04"),
    ("2026-12-31", 2, "2027-01-06"),
    ("2027-03-05", 1, "2027-03-16"),  # 8-15 March 2027: Nyepi, Idul Fitri, cuti bersama
    ("2027-03-24", 1, "2027-03-29"),  # 25 cuti bersama, 26 Good Friday, weekend
    ("2027-03-24", 2, "2027-03-30"),
    # backwards
    ("2026-03-25", -1, "2026-03-17"),
    ("2027-01-04", -1, "2026-12-31"),
    ("2027-01-06", -1, "2027-01-04"),
    ("2027-01-06", -2, "2026-12-31"),  # 5 Jan Isra Mikraj, 1 Jan New Year, weekend
    ("2026-03-21", -1, "2026-03-17"),
]


@pytest.mark.parametrize(("start", "n", "due"), ADD_WORKING_DAYS)
def test_add_working_days(start: str, n: int, due: str) -> None:
    assert CAL.add_working_days(d(start), n) == d(due)


@pytest.mark.parametrize(("start", "n", "due"), [r for r in ADD_WORKING_DAYS if r[1] >= 0])
def test_working_days_between_inverts_add_working_days(start: str, n: int, due: str) -> None:
    assert CAL.working_days_between(d(start), d(due)) == n
    assert CAL.working_days_between(d(due), d(start)) == -n


@pytest.mark.parametrize(
    ("a", "b", "count"),
    [
        ("2026-03-17", "2026-03-17", 0),
        ("2026-03-17", "2026-03-24", 0),  # a itself never counts; 18-24 are all holidays
        ("2026-03-16", "2026-03-24", 1),
        ("2026-03-17", "2026-03-25", 1),
        ("2026-12-23", "2027-01-06", 6),
        ("2026-01-01", "2026-12-31", 240),  # 1 Jan is a holiday, so it does not matter
    ],
)
def test_working_days_between(a: str, b: str, count: int) -> None:
    assert CAL.working_days_between(d(a), d(b)) == count


@given(
    start=st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 12, 31)),
    n=st.integers(min_value=0, max_value=80),
)
def test_add_and_between_agree_everywhere(start: date, n: int) -> None:
    due = CAL.add_working_days(start, n)
    assert CAL.working_days_between(start, due) == n
    if n > 0:
        assert CAL.is_working_day(due)
        assert CAL.working_days_between(start, due - timedelta(days=1)) == n - 1


@given(
    start=st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 12, 31)),
    n=st.integers(min_value=1, max_value=80),
)
def test_backwards_from_a_working_day_returns_to_it(start: date, n: int) -> None:
    working_start = CAL.add_working_days(start, 1)
    assert CAL.add_working_days(CAL.add_working_days(working_start, n), -n) == working_start


def test_dates_only() -> None:
    with pytest.raises(TypeError):
        CAL.is_working_day(datetime(2026, 3, 17, 9, tzinfo=UTC))
    with pytest.raises(TypeError):
        CAL.add_working_days(datetime(2026, 3, 17, 9, tzinfo=UTC), 1)
    with pytest.raises(TypeError):
        deadline_end(datetime(2026, 3, 17, 9, tzinfo=UTC))


@pytest.mark.parametrize("bad", ["5", "51.71", "51a", "12345678901", "", "５１"])
def test_region_codes_are_kemendagri_digits(bad: str) -> None:
    with pytest.raises(ValueError, match="region_code"):
        CAL.is_working_day(d("2026-03-17"), bad)
    with pytest.raises(ValueError, match="region_code"):
        timezone_for_region(bad)


def test_holiday_sets_are_computed_once_per_year(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    real = holidays.country_holidays

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append((args, tuple(sorted(kwargs.items()))))
        return real(*args, **kwargs)

    monkeypatch.setattr(holidays, "country_holidays", counting)
    calendar = WorkingDayCalendar()
    for _ in range(3):
        calendar.working_days_between(d("2026-01-01"), d("2027-12-31"))
        calendar.holidays_in(2026)
    assert len(calls) == 4  # two categories x two years


# --- the override file -------------------------------------------------------------------------
def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "overrides.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


MOVED_CHRISTMAS = {
    "years": {
        "2026": {
            "source": "a revised SKB (test data)",
            "remove": [{"date": "2026-12-24", "name": "cuti bersama moved (test)"}],
            "add": [
                {
                    "date": "2026-12-28",
                    "name": "Cuti Bersama Hari Raya Natal (test)",
                    "category": "government",
                },
                {"date": "2026-08-18", "name": "Libur tambahan (test)"},
            ],
        }
    }
}


def test_the_shipped_override_file_is_valid() -> None:
    assert DEFAULT_OVERRIDES_PATH.is_file()
    assert WorkingDayCalendar.default().overrides == SHIPPED


def test_an_override_file_moves_a_cuti_bersama_day(tmp_path: Path) -> None:
    calendar = WorkingDayCalendar.from_file(write(tmp_path, MOVED_CHRISTMAS))
    assert calendar.is_working_day(d("2026-12-24"))
    assert not calendar.is_working_day(d("2026-12-28"))
    assert not calendar.is_working_day(d("2026-08-18"))
    assert calendar.holiday_on(d("2026-12-28")) == Holiday(
        d("2026-12-28"), "Cuti Bersama Hari Raya Natal (test)", "government"
    )
    assert calendar.holiday_on(d("2026-08-18")) == Holiday(
        d("2026-08-18"), "Libur tambahan (test)", "public"
    )
    assert calendar.add_working_days(d("2026-12-23"), 1) == d("2026-12-24")
    assert calendar.add_working_days(d("2026-12-23"), 2) == d("2026-12-29")
    listed = calendar.holidays_in(2026)
    assert d("2026-12-24") not in {h.date for h in listed}
    assert len(listed) == 26
    # ...and those three dates are the only differences from the package in 2026
    overrides = CalendarOverrides.from_dict(MOVED_CHRISTMAS)
    differences = [
        day
        for day in every_day(2026)
        if calendar.is_working_day(day) != expected_working(day, CalendarOverrides())
    ]
    assert differences == [d("2026-08-18"), d("2026-12-24"), d("2026-12-28")]
    assert all(
        calendar.is_working_day(day) == expected_working(day, overrides) for day in differences
    )
    # other years are untouched
    assert not calendar.is_working_day(d("2027-12-24"))


def test_an_addition_on_a_holiday_renames_it() -> None:
    data = {"years": {"2026": {"add": [{"date": "2026-03-21", "name": "Idul Fitri 1447 H"}]}}}
    calendar = WorkingDayCalendar(CalendarOverrides.from_dict(data))
    assert calendar.holiday_on(d("2026-03-21")) == Holiday(
        d("2026-03-21"), "Idul Fitri 1447 H", "public"
    )


def test_removing_a_date_that_is_no_holiday_changes_nothing() -> None:
    data = {"years": {"2026": {"remove": [{"date": "2026-03-17", "name": "nothing"}]}}}
    calendar = WorkingDayCalendar(CalendarOverrides.from_dict(data))
    assert calendar.holidays_in(2026) == CAL.holidays_in(2026)


@pytest.mark.parametrize(
    "data",
    [
        {"years": {"2026": {"add": [{"date": "2027-01-02", "name": "wrong year"}]}}},
        {"years": {"2026": {"remove": [{"date": "2025-12-31", "name": "wrong year"}]}}},
        {
            "years": {
                "2026": {
                    "add": [{"date": "2026-05-05", "name": "x"}],
                    "remove": [{"date": "2026-05-05", "name": "y"}],
                }
            }
        },
        {"years": {"2026": {"add": [{"date": "2026-05-05", "name": ""}]}}},
        {"years": {"2026": {"add": [{"date": "2026-05-05", "name": "x", "category": "regional"}]}}},
        {"years": {"2026": {"regional": [{"date": "2026-05-05", "name": "x"}]}}},
        {
            "years": {
                "2026": {"regional": [{"date": "2026-05-05", "name": "x", "region_prefix": "5"}]}
            }
        },
        {"years": {"2026": {"added": []}}},
        {"years": {"twenty": {}}},
        {"year": {}},
    ],
)
def test_a_bad_override_file_is_rejected(tmp_path: Path, data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        WorkingDayCalendar.from_file(write(tmp_path, data))


# --- regional holidays -------------------------------------------------------------------------
REGIONAL = CalendarOverrides.from_dict(
    {
        "years": {
            "2026": {
                "regional": [
                    {"region_prefix": "51", "date": "2026-06-17", "name": "Galungan (test)"},
                    {"region_prefix": "5171", "date": "2026-06-18", "name": "Denpasar (test)"},
                    {"region_prefix": "51", "date": "2026-08-17", "name": "on a national one"},
                ]
            }
        }
    }
)
REGIONAL_CAL = WorkingDayCalendar(REGIONAL)


@pytest.mark.parametrize(
    ("region_code", "off_17_june", "off_18_june"),
    [
        (None, False, False),
        ("51", True, False),
        ("5103", True, False),  # Badung: Bali, not Denpasar
        ("5171", True, True),  # Denpasar
        ("517101", True, True),  # a district of Denpasar
        ("5171011001", True, True),  # a village of Denpasar
        ("52", False, False),  # NTB
        ("1751", False, False),  # "51" must be a prefix, not a substring
        ("3171", False, False),
    ],
)
def test_a_regional_holiday_applies_only_under_its_prefix(
    region_code: str | None, off_17_june: bool, off_18_june: bool
) -> None:
    assert REGIONAL_CAL.is_working_day(d("2026-06-17"), region_code) is not off_17_june
    assert REGIONAL_CAL.is_working_day(d("2026-06-18"), region_code) is not off_18_june


def test_regional_holidays_in_counting_and_listing() -> None:
    assert REGIONAL_CAL.add_working_days(d("2026-06-16"), 1) == d("2026-06-17")
    assert REGIONAL_CAL.add_working_days(d("2026-06-16"), 1, "51") == d("2026-06-18")
    assert REGIONAL_CAL.add_working_days(d("2026-06-16"), 1, "5171") == d("2026-06-19")
    assert REGIONAL_CAL.working_days_between(d("2026-06-16"), d("2026-06-19"), "5171") == 1
    assert len(REGIONAL_CAL.holidays_in(2026)) == 25
    bali = REGIONAL_CAL.holidays_in(2026, "5171")
    assert len(bali) == 27  # the one on Independence Day is not listed twice
    assert Holiday(d("2026-06-17"), "Galungan (test)", "regional") in bali
    assert Holiday(d("2026-06-18"), "Denpasar (test)", "regional") in bali
    assert REGIONAL_CAL.holiday_on(d("2026-08-17"), "5171") == CAL.holiday_on(d("2026-08-17"))
    assert REGIONAL_CAL.holidays_in(2027, "5171") == CAL.holidays_in(2027)


# --- time zones and the end of a deadline ------------------------------------------------------
WIB_CODES = [None, "11", "12", "13", "14", "15", "16", "17", "18", "19", "21"]
WIB_CODES += ["31", "3171", "32", "33", "34", "35", "36", "61", "6171", "62"]
WITA_CODES = ["51", "5171", "52", "53", "5371", "63", "64", "65", "71", "72", "73", "7371"]
WITA_CODES += ["74", "75", "76"]
WIT_CODES = ["81", "8171", "82", "91", "9171", "92", "93", "94", "95", "96"]


@pytest.mark.parametrize(
    ("region_code", "zone", "hours"),
    [(c, WIB, 7) for c in WIB_CODES]
    + [(c, WITA, 8) for c in WITA_CODES]
    + [(c, WIT, 9) for c in WIT_CODES],
)
def test_timezone_for_region(region_code: str | None, zone: tzinfo, hours: int) -> None:
    assert timezone_for_region(region_code) is zone
    noon = datetime(2026, 3, 17, 12, tzinfo=zone)
    assert noon.utcoffset() == timedelta(hours=hours)


def test_the_zones_are_the_iana_ones() -> None:
    assert str(WIB) == "Asia/Jakarta"
    assert str(WITA) == "Asia/Makassar"
    assert str(WIT) == "Asia/Jayapura"


@pytest.mark.parametrize(
    ("zone", "utc"),
    [
        (WIB, datetime(2026, 3, 27, 16, 59, 59, 999999, tzinfo=UTC)),
        (WITA, datetime(2026, 3, 27, 15, 59, 59, 999999, tzinfo=UTC)),
        (WIT, datetime(2026, 3, 27, 14, 59, 59, 999999, tzinfo=UTC)),
    ],
)
def test_deadline_end_is_the_last_instant_of_the_local_due_day(zone: tzinfo, utc: datetime) -> None:
    end = deadline_end(d("2026-03-27"), zone)
    assert end == utc
    assert end.tzinfo is zone
    assert (end.date(), end.time()) == (d("2026-03-27"), time(23, 59, 59, 999999))
    assert (end + timedelta(microseconds=1)).date() == d("2026-03-28")


def test_deadline_end_defaults_to_wib() -> None:
    assert deadline_end(d("2026-03-27")).isoformat() == "2026-03-27T23:59:59.999999+07:00"


@pytest.mark.parametrize(
    ("occurred_at", "zone", "day"),
    [
        ("2026-01-08T16:59:59+00:00", WIB, "2026-01-08"),  # Thu 23:59:59 WIB
        ("2026-01-08T17:00:00+00:00", WIB, "2026-01-09"),  # Fri 00:00 WIB
        ("2026-01-08T15:00:00+00:00", WIT, "2026-01-09"),  # Fri 00:00 WIT
        ("2026-01-09T08:00:00+08:00", WIB, "2026-01-09"),  # Fri 07:00 WIB
    ],
)
def test_local_date(occurred_at: str, zone: tzinfo, day: str) -> None:
    assert local_date(datetime.fromisoformat(occurred_at), zone) == d(day)


def test_a_naive_datetime_has_no_day() -> None:
    with pytest.raises(ValueError, match="naive"):
        local_date(datetime(2026, 1, 8, 12))
    with pytest.raises(ValueError, match="naive"):
        CAL.due_date(datetime(2026, 1, 8, 12), 3)


@pytest.mark.parametrize(
    ("occurred_at", "region_code", "n", "due"),
    [
        # Thursday in Jakarta, at any hour: day one is Friday 9 Jan
        ("2026-01-08T00:00:00+07:00", None, 1, "2026-01-09"),
        ("2026-01-08T23:59:59+07:00", "3171", 1, "2026-01-09"),
        # after midnight WIB it is Friday: day one is Monday 12 Jan
        ("2026-01-08T17:00:00+00:00", None, 1, "2026-01-12"),
        # 15:00 UTC is still Thursday in Jakarta but already Friday in Jayapura
        ("2026-01-08T15:00:00+00:00", "3171", 1, "2026-01-09"),
        ("2026-01-08T15:00:00+00:00", "9171", 1, "2026-01-12"),
        # Friday evening, Saturday and Sunday all give Monday as day one
        ("2026-01-09T22:00:00+07:00", None, 3, "2026-01-14"),
        ("2026-01-10T10:00:00+07:00", None, 3, "2026-01-14"),
        ("2026-01-11T10:00:00+07:00", None, 3, "2026-01-14"),
        # on a holiday (Idul Fitri)
        ("2026-03-21T10:00:00+07:00", None, 3, "2026-03-27"),
        ("2026-03-17T09:00:00+07:00", None, 3, "2026-03-27"),
    ],
)
def test_due_date_and_deadline_of_an_event(
    occurred_at: str, region_code: str | None, n: int, due: str
) -> None:
    at = datetime.fromisoformat(occurred_at)
    assert CAL.due_date(at, n, region_code) == d(due)
    assert CAL.deadline(at, n, region_code) == deadline_end(
        d(due), timezone_for_region(region_code)
    )
