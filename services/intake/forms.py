"""The report form's fields as the pages read them: what was typed (kept to show it again), the
region picker's levels, and the data a report is made of (decimal commas taken)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.datastructures import FormData

from services.intake.web_errors import TooLong, decimal, label
from shared.errors import DomainError
from shared.i18n import Translator
from shared.reports.events import Classification
from shared.values import without_invisible

# The picker's levels, top down, and how many digits each level's code has.
REGION_LEVELS = (("province", 2), ("regency", 4), ("district", 6), ("village", 10))


_FIELDS = (
    "classification",
    "title",
    "body",
    "category",
    "province",
    "regency",
    "district",
    "village",
    "address",
    "lat",
    "lon",
    "event_date",
    "name",
    "phone",
    "email",
    "submission_key",
    "step",
)


# What a refused form shows again of a text: past every field's limit, so a text over its limit
# reaches the rules and is refused naming the field, never cut to fit and accepted.
KEPT_AT_MOST = 20_000


def _text(form: FormData, name: str, limit: int) -> str:
    value = form.get(name)
    return without_invisible(value).strip()[:limit] if isinstance(value, str) else ""


def _limited(form: FormData, name: str, limit: int) -> str:
    """A person's text, refused (`TooLong`) rather than cut when it is over `limit`."""
    text = _text(form, name, KEPT_AT_MOST)
    if len(text) > limit:
        raise TooLong(name, limit)
    return text


def _values(form: FormData) -> dict[str, str]:
    values = {name: _text(form, name, KEPT_AT_MOST) for name in _FIELDS}
    for box in ("anonymous", "confidential"):
        values[box] = "on" if form.get(box) else ""
    return values


def _consistent_region(values: dict[str, str]) -> None:
    """Drop a lower level that does not belong to the chosen upper one (the picker's next step
    after a level above changed)."""
    above = ""
    for name, digits in REGION_LEVELS:
        value = values.get(name, "")
        if len(value) != digits or not value.startswith(above):
            values[name] = ""
        above = values[name]
        if not above:
            for lower, _ in REGION_LEVELS[REGION_LEVELS.index((name, digits)) + 1 :]:
                values[lower] = ""
            return


def _region_mismatch(values: Mapping[str, str], t: Translator) -> dict[str, str]:
    """On submitting: a level that is not inside the level above it is refused, by name (a
    village of another district, a district of another regency)."""
    errors: dict[str, str] = {}
    above = ("", "")
    for name, digits in REGION_LEVELS:
        value = values.get(name, "")
        if not value:
            continue
        level = label(name, t)
        if len(value) != digits or not value.isdigit():
            errors[name] = t("error.region.not_code", value=value, level=level)
        elif above[1] and not value.startswith(above[1]):
            errors[name] = t(
                "error.region.not_in", value=value, level=label(above[0], t), above=above[1]
            )
        elif not above[1] and digits != 2:
            errors[name] = t("error.region.above_first", level=level)
        above = (name, value)
    return errors


def _report_data(values: Mapping[str, str], form: FormData, lang: str) -> dict[str, Any]:
    region = values["village"] or values["district"] or values["regency"] or values["province"]
    contact = {k: values[k] or None for k in ("name", "phone", "email")}
    return {
        "classification": values["classification"] or Classification.COMPLAINT.value,
        "title": values["title"],
        "body": values["body"],
        "category": values["category"] or None,
        "location": {
            "region_code": region or None,
            "address": values["address"] or None,
            "lat": decimal(values["lat"]) or None,
            "lon": decimal(values["lon"]) or None,
        },
        "event_date": values["event_date"] or None,
        "anonymous": bool(values["anonymous"]),
        "confidential": bool(values["confidential"]),
        "reporter": contact if any(contact.values()) else None,
        "language": lang,
    }


def _required(text: str, field: str) -> str:
    if not text:
        raise DomainError(f"{field}: please write something")
    return text
