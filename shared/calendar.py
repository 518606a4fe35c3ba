"""The Indonesian working-day calendar that every LAPOR time limit is counted in.

Pure: no wall clock and no I/O except reading an override file whose path the caller passes in.

Working days
    A date is a working day when it is Monday–Friday and none of these applies to it:

    1. a national public holiday (*libur nasional*, category ``"public"``) or a *cuti bersama*
       day (joint leave for civil servants, category ``"government"``), both as published by the
       ``holidays`` package (``country_holidays("ID", categories=("public", "government"))``);
    2. the yearly override file: government decrees (SKB 3 Menteri and their revisions) move
       dates, so per year the file lists dates to ``remove`` from (1) and dates to ``add``; removals
       are applied first, then additions (an addition on a date that is already a holiday replaces
       its name and category); a removal of a date that is not a holiday is a no-op;
    3. for a report with a region code, the regional holidays of the override file whose
       ``region_prefix`` is a prefix of the report's Kemendagri region code (``"51"`` — all of
       Bali — applies to ``"5171"`` and ``"517101"``; ``"5171"`` only to Denpasar and below).
       Without a region code only (1) and (2) apply.

How a deadline is counted (the rule every service uses)
    * An event belongs to the **local calendar day D** on which it happened, in the timezone of
      the report's region (WIB, WITA or WIT; WIB when the region is unknown). The hour does not
      matter: a report sent at 07:00 and one sent at 23:59 on the same day D count alike.
    * **Day one is the first working day after D.** D itself never counts, whether D is a working
      day, a weekend or a holiday, and whatever the hour. So an event on Friday evening, on
      Saturday or on a holiday all start counting on the next working day.
    * A limit of N working days is **due** on the Nth working day after D
      (:meth:`WorkingDayCalendar.add_working_days`); N = 0 means due on D itself.
    * The deadline **runs until 23:59:59.999999 of the due day** in the same local timezone
      (:func:`deadline_end`); it is breached from the next instant on, i.e. from 00:00 of the day
      after the due day.
    * Calendar-day limits (see ``shared.reports.policy``) are due on D + N calendar days, with
      the same end of day; they are not moved off weekends or holidays.

Example: a report submitted on Tuesday 17 March 2026 at any hour (WIB) with a 3-working-day
verification limit: 18–24 March are Nyepi, Idul Fitri and their cuti bersama, so day one is
Wednesday 25 March and the report is due on Friday 27 March 2026, until 23:59:59.999999 WIB.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import BaseModel, ConfigDict, Field, model_validator

HolidayCategory = Literal["public", "government", "regional"]
"""``public``: libur nasional; ``government``: cuti bersama; ``regional``: a regional holiday."""

REGION_CODE_PATTERN = r"^[0-9]{2,10}$"
_REGION_CODE = re.compile(r"[0-9]{2,10}")
DEFAULT_OVERRIDES_PATH = Path(__file__).resolve().parent / "data" / "calendar_overrides.json"
_PACKAGE_CATEGORIES: tuple[Literal["public"], Literal["government"]] = ("public", "government")


def _zone(key: str, hours: int, abbreviation: str) -> tzinfo:
    # Indonesia has had fixed offsets without daylight saving since 1988 (WIT/WITA/WIB as today),
    # so a fixed offset is an exact fallback where no tz database is installed.
    try:
        return ZoneInfo(key)
    except ZoneInfoNotFoundError:  # pragma: no cover - depends on the host
        return timezone(timedelta(hours=hours), abbreviation)


WIB: tzinfo = _zone("Asia/Jakarta", 7, "WIB")
"""Waktu Indonesia Barat, UTC+7: Sumatra, Java, West and Central Kalimantan."""
WITA: tzinfo = _zone("Asia/Makassar", 8, "WITA")
"""Waktu Indonesia Tengah, UTC+8: Bali, Nusa Tenggara, South/East/North Kalimantan, Sulawesi."""
WIT: tzinfo = _zone("Asia/Jayapura", 9, "WIT")
"""Waktu Indonesia Timur, UTC+9: Maluku and Papua."""

_WITA_PROVINCES = frozenset(
    {"51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"}
)
_WIT_PROVINCES = frozenset({"81", "82", "91", "92", "93", "94", "95", "96"})


# --- region codes and time zones ---------------------------------------------------------------
def _check_region(region_code: str | None) -> str | None:
    if region_code is None:
        return None
    if not (isinstance(region_code, str) and _REGION_CODE.fullmatch(region_code)):
        raise ValueError(
            "region_code must be a Kemendagri code of 2-10 digits without dots, "
            f"got {region_code!r}"
        )
    return region_code


def timezone_for_region(region_code: str | None) -> tzinfo:
    """The local timezone of a Kemendagri region code, by its two-digit province prefix.

    WITA: Bali 51, NTB 52, NTT 53, Kalimantan Selatan 63, Kalimantan Timur 64, Kalimantan Utara
    65, Sulawesi 71-76. WIT: Maluku 81, Maluku Utara 82, Papua 91-96. Everything else (and no
    region) is WIB.
    """
    code = _check_region(region_code)
    if code is None:
        return WIB
    province = code[:2]
    if province in _WITA_PROVINCES:
        return WITA
    if province in _WIT_PROVINCES:
        return WIT
    return WIB


def _check_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"a naive datetime has no day: {at.isoformat()} needs a timezone")


def local_date(at: datetime, tz: tzinfo = WIB) -> date:
    """The calendar day D on which the instant `at` (timezone-aware) falls in `tz`."""
    _check_aware(at)
    return at.astimezone(tz).date()


def _check_date(d: date, what: str = "date") -> None:
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError(f"{what} must be a date, not {type(d).__name__}")


def deadline_end(due: date, tz: tzinfo = WIB) -> datetime:
    """The last instant of the due day: `due` at 23:59:59.999999 in `tz` (WIB by default).

    A deadline is met by anything that happens up to and including this instant and breached by
    anything after it. The result is timezone-aware in `tz`.
    """
    _check_date(due, "due")
    return datetime.combine(due, time.max, tzinfo=tz)


# --- holidays and the override file ------------------------------------------------------------
@dataclass(frozen=True, order=True, slots=True)
class Holiday:
    """A non-working weekday or weekend day; sorts by date."""

    date: date
    name: str
    category: HolidayCategory


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    date: date
    name: str = Field(min_length=1, max_length=200)


class AddedHoliday(_Entry):
    """A date made a holiday for the whole country (e.g. a decree adds a cuti bersama day)."""

    category: Literal["public", "government"] = "public"


class RemovedHoliday(_Entry):
    """A date the `holidays` package lists that a decree made a working day; `name` says why."""


class RegionalHoliday(_Entry):
    """A holiday only in the regions whose code starts with `region_prefix`."""

    region_prefix: str = Field(pattern=REGION_CODE_PATTERN)


class YearOverrides(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str | None = Field(default=None, description="The decree(s) these changes come from")
    add: tuple[AddedHoliday, ...] = ()
    remove: tuple[RemovedHoliday, ...] = ()
    regional: tuple[RegionalHoliday, ...] = ()


class CalendarOverrides(BaseModel):
    """The override file (JSON).

    ``{"years": {"2026": {"source": "...", "add": [...], "remove": [...], "regional": [...]}}}``;
    see ``shared/data/calendar_overrides.json``.
    Every date must lie in the year it is listed under; a date may not be both added and removed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str | None = None
    years: dict[int, YearOverrides] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _dates_in_their_year(self) -> Self:
        for year, changes in self.years.items():
            entries: list[_Entry] = [*changes.add, *changes.remove, *changes.regional]
            for entry in entries:
                if entry.date.year != year:
                    raise ValueError(
                        f"years.{year}: {entry.date.isoformat()} ({entry.name}) is not in {year}"
                    )
            both = {e.date for e in changes.add} & {e.date for e in changes.remove}
            if both:
                dates = ", ".join(sorted(d.isoformat() for d in both))
                raise ValueError(f"years.{year}: both added and removed: {dates}")
        return self

    @classmethod
    def from_file(cls, path: Path | str) -> CalendarOverrides:
        """Read an override file (JSON)."""
        return cls.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CalendarOverrides:
        return cls.model_validate(data)


# The years the calendar answers for: its holidays are known for them, and a date far outside
# them overflows while counting or falls into a zone's local mean time (Jakarta at +07:07:12).
# What a person can set (a poll's dates, the API's start day) stays within them.
FIRST_YEAR, LAST_YEAR = 2000, 2100

_NO_HOLIDAYS: Mapping[date, Holiday] = MappingProxyType({})
_MEMO_LIMIT = 100_000


# --- the calendar ------------------------------------------------------------------------------
class WorkingDayCalendar:
    """Working days of Indonesian government offices; see the module docstring for the rules.

    Holiday sets are computed once per year (and per region code for regional holidays) and
    cached; an instance is safe to share between threads.
    """

    def __init__(self, overrides: CalendarOverrides | None = None, *, language: str = "id") -> None:
        # The holiday names' language is fixed here: left unset, `holidays` would pick it from the
        # process locale (LANG, LC_ALL, ...), and names would differ between machines.
        self._overrides = overrides or CalendarOverrides()
        self._language = language
        self._national: dict[int, dict[date, Holiday]] = {}
        self._regional: dict[tuple[int, str], Mapping[date, Holiday]] = {}
        self._lock = threading.Lock()
        # Counting is memoised (a rebuild asks the same questions for thousands of reports), by
        # the regional prefixes that apply to a code rather than the code itself: two villages
        # without a regional holiday count alike. Bounded: cleared when full.
        self._prefixes = frozenset(
            entry.region_prefix
            for changes in self._overrides.years.values()
            for entry in changes.regional
        )
        self._scopes: dict[str, tuple[str, ...]] = {}
        self._added: dict[tuple[date, int, tuple[str, ...] | None], date] = {}
        self._between: dict[tuple[date, date, tuple[str, ...] | None], int] = {}

    @classmethod
    def from_file(cls, path: Path | str, *, language: str = "id") -> WorkingDayCalendar:
        """A calendar with the overrides read from `path` (JSON)."""
        return cls(CalendarOverrides.from_file(path), language=language)

    @classmethod
    def default(cls) -> WorkingDayCalendar:
        """A calendar with the override file shipped in ``shared/data/``."""
        return cls.from_file(DEFAULT_OVERRIDES_PATH)

    @property
    def overrides(self) -> CalendarOverrides:
        return self._overrides

    # -- holiday sets --
    def _national_holidays(self, year: int) -> dict[date, Holiday]:
        found = self._national.get(year)
        if found is not None:
            return found
        by_date: dict[date, Holiday] = {}
        # "government" first so that a date in both categories ends up "public" (libur nasional).
        for category in reversed(_PACKAGE_CATEGORIES):
            package = holidays.country_holidays(
                "ID", years=year, categories=(category,), language=self._language
            )
            for day, name in package.items():
                if day.year == year:
                    by_date[day] = Holiday(day, str(name), category)
        changes = self._overrides.years.get(year)
        if changes is not None:
            for removed in changes.remove:
                by_date.pop(removed.date, None)
            for added in changes.add:
                by_date[added.date] = Holiday(added.date, added.name, added.category)
        with self._lock:
            return self._national.setdefault(year, by_date)

    def _regional_holidays(self, year: int, region_code: str) -> Mapping[date, Holiday]:
        changes = self._overrides.years.get(year)
        if changes is None or not changes.regional:
            return _NO_HOLIDAYS  # not cached: there are ~80,000 village codes
        key = (year, region_code)
        found = self._regional.get(key)
        if found is not None:
            return found
        by_date: dict[date, Holiday] = {}
        for entry in changes.regional:
            if region_code.startswith(entry.region_prefix):
                earlier = by_date.get(entry.date)
                name = entry.name if earlier is None else f"{earlier.name}; {entry.name}"
                by_date[entry.date] = Holiday(entry.date, name, "regional")
        with self._lock:
            return self._regional.setdefault(key, by_date)

    def holiday_on(self, d: date, region_code: str | None = None) -> Holiday | None:
        """The holiday on `d` (national first, then regional), or None. Weekends are not listed."""
        _check_date(d)
        code = _check_region(region_code)
        national = self._national_holidays(d.year).get(d)
        if national is not None or code is None:
            return national
        return self._regional_holidays(d.year, code).get(d)

    def holidays_in(self, year: int, region_code: str | None = None) -> list[Holiday]:
        """Every holiday of `year`, sorted by date; with a region code, its regional ones too.

        Holidays on a Saturday or Sunday are listed as well (they change nothing for counting).
        A regional holiday on a date that is already a national holiday is not listed twice.
        """
        code = _check_region(region_code)
        by_date = dict(self._national_holidays(year))
        if code is not None:
            for day, holiday in self._regional_holidays(year, code).items():
                by_date.setdefault(day, holiday)
        return sorted(by_date.values())

    # -- counting --
    def _scope(self, code: str | None) -> tuple[str, ...] | None:
        """What of a region code the calendar depends on: the regional prefixes it falls under."""
        if code is None:
            return None
        found = self._scopes.get(code)
        if found is None:
            if len(self._scopes) >= _MEMO_LIMIT:
                self._scopes.clear()
            found = self._scopes[code] = tuple(
                sorted(p for p in self._prefixes if code.startswith(p))
            )
        return found

    def is_working_day(self, d: date, region_code: str | None = None) -> bool:
        """Monday–Friday and not a national, cuti bersama, override or (regional) holiday."""
        _check_date(d)
        if d.weekday() >= 5:
            return False
        return self.holiday_on(d, region_code) is None

    def add_working_days(self, start: date, n: int, region_code: str | None = None) -> date:
        """The Nth working day after `start` (day one is the first working day after `start`).

        ``n == 0`` returns `start` unchanged, even when it is not a working day. A negative `n`
        counts backwards: ``-1`` is the last working day before `start`.
        """
        _check_date(start, "start")
        code = _check_region(region_code)
        key = (start, n, self._scope(code))
        found = self._added.get(key)
        if found is not None:
            return found
        step = timedelta(days=1 if n >= 0 else -1)
        remaining = abs(n)
        day = start
        while remaining:
            day += step
            if self.is_working_day(day, code):
                remaining -= 1
        if len(self._added) >= _MEMO_LIMIT:
            self._added.clear()
        self._added[key] = day
        return day

    def working_days_between(self, a: date, b: date, region_code: str | None = None) -> int:
        """How many working days d satisfy ``a < d <= b`` (negated when ``b < a``).

        The inverse of :meth:`add_working_days`: for n >= 0,
        ``working_days_between(a, add_working_days(a, n)) == n``.
        """
        _check_date(a, "a")
        _check_date(b, "b")
        code = _check_region(region_code)
        if b < a:
            return -self.working_days_between(b, a, code)
        key = (a, b, self._scope(code))
        found = self._between.get(key)
        if found is not None:
            return found
        count = sum(
            1
            for offset in range(1, (b - a).days + 1)
            if self.is_working_day(a + timedelta(days=offset), code)
        )
        if len(self._between) >= _MEMO_LIMIT:
            self._between.clear()
        self._between[key] = count
        return count

    def working_days(self, start: date, end: date, region_code: str | None = None) -> list[date]:
        """The working days d with ``start <= d <= end``, in order."""
        _check_date(start, "start")
        _check_date(end, "end")
        code = _check_region(region_code)
        return [
            start + timedelta(days=offset)
            for offset in range((end - start).days + 1)
            if self.is_working_day(start + timedelta(days=offset), code)
        ]

    # -- from an event to its deadline --
    def due_date(self, occurred_at: datetime, n: int, region_code: str | None = None) -> date:
        """The due day of an N-working-day limit for an event at `occurred_at` (aware).

        D is the event's local day in the region's timezone; the due day is the Nth working day
        after D.
        """
        start = local_date(occurred_at, timezone_for_region(region_code))
        return self.add_working_days(start, n, region_code)

    def deadline(self, occurred_at: datetime, n: int, region_code: str | None = None) -> datetime:
        """The last instant (aware, in the region's timezone) of an N-working-day limit."""
        return deadline_end(
            self.due_date(occurred_at, n, region_code), timezone_for_region(region_code)
        )
