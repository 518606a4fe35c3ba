"""One way to say a time: in the report's own zone (WIB/WITA/WIT from its region), labelled,
with Indonesian month names (Babel's CLDR data; English with English ones).

    when("2026-03-05T06:05:00+00:00", "5371", "id")  ->  "5 Maret 2026, 14.05 WITA"
    when(…, "5371", "en")                              ->  "5 March 2026, 14:05 WITA"
    day("2026-03-12", "id")                            ->  "12 Maret 2026"
    local_iso(…, "5371")                               ->  "2026-03-05T14:05:00+08:00"

A region that is missing or malformed is told in WIB (Jakarta), as everywhere in LAPOR. Pure:
formatting only, no clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo

from shared.calendar import WIB, WIT, WITA, timezone_for_region
from shared.i18n import normalize_language

ZONE_LABELS: dict[int, str] = {7: "WIB", 8: "WITA", 9: "WIT"}
_DATE_PATTERN = {"id": "d MMMM y", "en": "d MMMM y"}
_SHORT_DATE_PATTERN = {"id": "d MMM y", "en": "d MMM y"}
_TIME_PATTERN = {"id": "HH.mm", "en": "HH:mm"}


def zone_for(region_code: str | None) -> tzinfo:
    """The region's zone; WIB for no region or a code that is not one."""
    try:
        return timezone_for_region(region_code or None)
    except ValueError:
        return WIB


def zone_label(region_code: str | None) -> str:
    """`WIB`, `WITA` or `WIT`."""
    zone = zone_for(region_code)
    if zone is WITA:
        return "WITA"
    if zone is WIT:
        return "WIT"
    return "WIB"


def _instant(value: datetime | str) -> datetime:
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    if at.tzinfo is None:  # stored times are UTC
        at = at.replace(tzinfo=UTC)
    return at


def _day(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = value.strip()
    return datetime.fromisoformat(text).date() if "T" in text else date.fromisoformat(text[:10])


def local(value: datetime | str, region_code: str | None) -> datetime:
    """The instant in the region's zone."""
    return _instant(value).astimezone(zone_for(region_code))


def local_iso(value: datetime | str | None, region_code: str | None) -> str | None:
    """ISO 8601 with the region's own offset (`…+08:00` for Kupang)."""
    if value is None or value == "":
        return None
    return local(value, region_code).isoformat()


def day(value: date | datetime | str | None, language: str | None = "id") -> str:
    """`12 Maret 2026` / `12 March 2026` (a date as it is: no zone)."""
    if value is None or value == "":
        return ""
    from babel.dates import format_date  # lazily: Babel's locale data loads on first use

    lang = normalize_language(language)
    return format_date(_day(value), _DATE_PATTERN[lang], locale=lang)


def short_day(value: date | datetime | str | None, language: str | None = "id") -> str:
    """`12 Mar 2026`: for SMS and tight tables."""
    if value is None or value == "":
        return ""
    from babel.dates import format_date

    lang = normalize_language(language)
    return format_date(_day(value), _SHORT_DATE_PATTERN[lang], locale=lang)


def when(value: datetime | str | None, region_code: str | None, language: str | None = "id") -> str:
    """`5 Maret 2026, 14.05 WITA`: an instant in the region's zone, labelled."""
    if value is None or value == "":
        return ""
    from babel.dates import format_datetime

    lang = normalize_language(language)
    at = local(value, region_code)
    pattern = f"{_DATE_PATTERN[lang]}, {_TIME_PATTERN[lang]}"
    text = format_datetime(at, pattern, tzinfo=at.tzinfo, locale=lang)
    return f"{text} {zone_label(region_code)}"


def local_day(value: datetime | str | None, region_code: str | None) -> date | None:
    """The calendar day an instant falls on in the region."""
    if value is None or value == "":
        return None
    return local(value, region_code).date()


__all__ = [
    "ZONE_LABELS",
    "day",
    "local",
    "local_day",
    "local_iso",
    "short_day",
    "when",
    "zone_for",
    "zone_label",
]
