"""What each event of a report's history says, as sentences in the reader's language.

The consoles keep each event's fields (`reason: not_our_authority`, `agency_code: DINKES-…`);
a person reads `Dikembalikan oleh Dinas Kesehatan Kota Kupang: Bukan kewenangan kami.` Reasons,
kinds and statuses by their names, institutions and regions by name, days as days and instants in
the report's zone (WIB/WITA/WIT):

    sentences("ReportReturned", {"agency_code": "DINKES-…", "reason": "not_our_authority"},
              "id", "5371", names={"DINKES-…": "Dinas Kesehatan Kota Kupang"})

A field this module does not know yet is still shown, by its name, rather than hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from shared.i18n import N_, label_of, translator
from shared.i18n import dates as _dates
from shared.i18n.labels import (
    channel_label,
    classification_label,
    closing_label,
    follow_up_kind_label,
    rejection_label,
    stage_label,
)
from shared.i18n.names import category_name, region_name

# The institution's words for its reasons to return a report (routing's form says the same).
return_reason_label = label_of("desk.reason")
# How a report reached its institution (ForwardedToOPD.routed_by).
ROUTED_BY = (
    N_("history.routed_by.rule"),
    N_("history.routed_by.region"),
    N_("history.routed_by.national"),
    N_("history.routed_by.admin"),
    N_("history.routed_by.transfer"),
    N_("history.routed_by.reopen"),
)
REOPEN_REASONS = (N_("history.reopened.low_rating"),)
ESCALATION_GROUNDS = (
    N_("history.grounds.no_final_answer"),
    N_("history.grounds.reopened_without_answer"),
)
ACTORS = (
    N_("actor.citizen"),
    N_("actor.admin"),
    N_("actor.agency"),
    N_("actor.system"),
)
actor_label = label_of("actor")
routed_by_label = label_of("history.routed_by")
reopen_reason_label = label_of("history.reopened")
grounds_label = label_of("history.grounds")


def sentences(
    event_type: str,
    details: Mapping[str, Any],
    language: str,
    region_code: str | None = None,
    names: Mapping[str, str] | None = None,
) -> list[str]:
    """The event's details as sentences (none when it has nothing to add)."""
    t = translator(language)
    lang = t.language
    known = names or {}
    d = {k: v for k, v in details.items() if v not in (None, "", [], ())}

    def name(code: Any) -> str:
        return known.get(str(code), str(code))

    def region(code: Any) -> str:
        return region_name(str(code)) or str(code)

    def day(value: Any) -> str:
        return _dates.day(value, lang)

    def quote(value: Any) -> str:
        return t("history.quote", text=str(value))

    said: list[str] = []
    used: set[str] = set()

    def say(key: str, *fields: str, **values: Any) -> None:
        said.append(t(key, **values))
        used.update(fields)

    def note(field: str = "note") -> None:
        if field in d:
            say(N_("history.note"), field, text=quote(d[field]))

    match event_type:
        case "ReportSubmitted":
            if "channel" in d and "classification" in d:
                say(
                    N_("history.submitted"),
                    "channel",
                    "classification",
                    channel=channel_label(d["channel"], lang),
                    classification=classification_label(d["classification"], lang),
                )
            _category(d, say, lang)
            if d.get("anonymous"):
                say(N_("history.anonymous"))
            if d.get("confidential"):
                say(N_("history.confidential"))
            used.update(("anonymous", "confidential"))
        case "ReportCompletionRequested":
            note()
        case "ReportAmended" | "ReporterReplied" | "AdministratorReplied":
            if "text" in d:
                say(N_("history.text"), "text", text=quote(d["text"]))
        case "ReportVerified":
            if "classification" in d:
                say(
                    N_("history.verified.classification"),
                    "classification",
                    classification=classification_label(d["classification"], lang),
                )
            _category(d, say, lang)
            if "region_code" in d:
                say(N_("history.region"), "region_code", region=region(d["region_code"]))
            location = d.get("location")
            if isinstance(location, Mapping):
                used.add("location")
                if location.get("address"):
                    say(N_("history.address"), text=location["address"])
                if location.get("lat") is not None and location.get("lon") is not None:
                    say(N_("history.coordinates"), lat=location["lat"], lon=location["lon"])
            if d.get("requires_field_inspection"):
                say(N_("history.field_inspection"), "requires_field_inspection")
            used.add("requires_field_inspection")
            if "agency_code" in d:
                say(N_("history.agency_chosen"), "agency_code", agency=name(d["agency_code"]))
        case "ReportRejected":
            if "reason" in d:
                say(N_("history.reason"), "reason", reason=rejection_label(d["reason"], lang))
            if "duplicate_of" in d:
                say(N_("history.duplicate_of"), "duplicate_of", tracking_id=d["duplicate_of"])
            note()
        case "ReportPostponed":
            if "until" in d:
                say(N_("history.postponed_until"), "until", day=day(d["until"]))
            note()
        case "ReportReferred":
            if "to_region" in d:
                say(N_("history.referred_to"), "to_region", region=region(d["to_region"]))
            else:
                say(N_("history.referred_up"))
            note()
        case "ProtectionChanged":
            yes, no = t("history.yes"), t("history.no")
            say(
                N_("history.protection"),
                "anonymous",
                "confidential",
                anonymous=yes if d.get("anonymous") else no,
                confidential=yes if d.get("confidential") else no,
            )
            note()
        case "ForwardedToOPD":
            agency = d.get("agency_name") or name(d.get("agency_code", ""))
            used.update(("agency_name", "agency_code"))
            say(N_("history.forwarded_to"), agency=agency)
            if "routed_by" in d:
                say(N_("history.routed_by"), "routed_by", how=routed_by_label(d["routed_by"], lang))
            if "follow_up_due" in d:
                say(N_("history.follow_up_due"), "follow_up_due", day=day(d["follow_up_due"]))
        case "ReportReturned":
            if "agency_code" in d:
                say(N_("history.returned_by"), "agency_code", agency=name(d["agency_code"]))
            if "reason" in d:
                reason = return_reason_label(d["reason"], lang)
                say(N_("history.reason"), "reason", reason=reason)
            note()
            if "suggested_agency" in d:
                say(N_("history.suggested"), "suggested_agency", agency=name(d["suggested_agency"]))
        case "ReportTransferred" | "ReportDelegated":
            key = (
                N_("history.transferred")
                if event_type == "ReportTransferred"
                else N_("history.delegated")
            )
            say(
                key,
                "from_agency",
                "to_agency",
                "to_agency_name",
                source=name(d.get("from_agency", "")),
                target=d.get("to_agency_name") or name(d.get("to_agency", "")),
            )
            note()
            if "follow_up_due" in d:
                say(N_("history.follow_up_due"), "follow_up_due", day=day(d["follow_up_due"]))
        case "FollowUpPosted":
            kind = d.get("kind", "interim")
            used.add("kind")
            say(
                N_("history.follow_up"),
                "agency_code",
                kind=follow_up_kind_label(str(kind), lang),
                agency=name(d.get("agency_code", "")),
            )
            if "text" in d:
                say(N_("history.text"), "text", text=quote(d["text"]))
        case "PublicTextSet":
            note()
        case "ReportClosed":
            if "reason" in d:
                say(N_("history.reason"), "reason", reason=closing_label(d["reason"], lang))
            note()
        case "ReportRated":
            if "rating" in d:
                say(N_("history.rating"), "rating", rating=d["rating"])
            if "comment" in d:
                say(N_("history.text"), "comment", text=quote(d["comment"]))
        case "ReportReopened":
            if "reason" in d:
                say(N_("history.reopened"), "reason", reason=reopen_reason_label(d["reason"], lang))
            if "agency_code" in d:
                say(N_("history.back_to"), "agency_code", agency=name(d["agency_code"]))
        case "CompletionReminded":
            if "closes_on" in d:
                say(N_("history.closes_on"), "closes_on", day=day(d["closes_on"]))
        case "SlaDueSoon" | "SlaBreached":
            key = N_("history.due_soon") if event_type == "SlaDueSoon" else N_("history.breached")
            say(
                key,
                "stage",
                "due",
                stage=stage_label(str(d.get("stage", "")), lang),
                day=day(d.get("due")),
            )
            if "agency_code" in d:
                say(N_("history.agency"), "agency_code", agency=name(d["agency_code"]))
        case "EscalatedToOmbudsman":
            if "ombudsman_office" in d:
                office = name(d["ombudsman_office"])
                say(N_("history.escalated_to"), "ombudsman_office", office=office)
            used.add("province_code")
            if "grounds" in d:
                say(N_("history.grounds"), "grounds", grounds=grounds_label(d["grounds"], lang))
    for field, value in d.items():
        if field in used:
            continue
        if field == "attachments" and isinstance(value, list | tuple):
            say(N_("history.attachments"), "attachments", count=len(value))
        else:
            said.append(f"{field}: {_value(value, lang, region_code)}")
    return said


def _category(d: Mapping[str, Any], say: Callable[..., None], lang: str) -> None:
    if "category" in d:
        say(N_("history.category"), "category", category=category_name(str(d["category"]), lang))


def _value(value: Any, lang: str, region_code: str | None) -> str:
    """A field this module has no sentence for yet: a time in the zone, a day as a day."""
    if isinstance(value, datetime):
        return _dates.when(value, region_code, lang)
    if isinstance(value, date):
        return _dates.day(value, lang)
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
        try:
            return _dates.when(datetime.fromisoformat(value), region_code, lang)
        except ValueError:
            return value
    if isinstance(value, str) and len(value) == 10 and value[4:5] == "-" and value[7:8] == "-":
        try:
            return _dates.day(date.fromisoformat(value), lang)
        except ValueError:
            return value
    return str(value)
