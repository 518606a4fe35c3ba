"""The rules' refusals as staff pages say them: in the reader's language, naming the field as a
person calls it.

The domain and the desks refuse in one plain form, `field: what is wrong` (the JSON API answers
with it as it is); the consoles translate it here. Each known refusal is a pattern with named
parts that the catalog's text mentions; a refusal already said in both languages
(`… / …`, as the region checks do) is cut to the reader's half. One this module does not know
yet is said as "<field>: not accepted" in the reader's language, the rule's own words after it,
so nothing is lost while its text is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from shared.i18n import N_, Translator, label_of, translator
from shared.i18n.labels import status_label

# The fields the staff forms have, by the names the rules use.
FIELDS = (
    N_("staff.field.action"),
    N_("staff.field.agency_code"),
    N_("staff.field.anonymous"),
    N_("staff.field.category"),
    N_("staff.field.classification"),
    N_("staff.field.duplicate_of"),
    N_("staff.field.kind"),
    N_("staff.field.lat"),
    N_("staff.field.lon"),
    N_("staff.field.note"),
    N_("staff.field.reason"),
    N_("staff.field.region"),
    N_("staff.field.region_code"),
    N_("staff.field.suggested_agency"),
    N_("staff.field.text"),
    N_("staff.field.to_region"),
    N_("staff.field.tracking_id"),
    N_("staff.field.tracking_ids"),
    N_("staff.field.until"),
)
field_label = label_of("staff.field")

_FIELD = re.compile(r"^(?P<field>[a-z_]+(?:\.[a-z_0-9]+)*): (?P<detail>.+)$", re.S)
# The refusals of shared/reports, services/verification and services/routing, by their words.
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.S), key)
    for pattern, key in (
        (r"cannot (?P<action>.+?) a report that is (?P<status>[a-z_ ]+)$",
         N_("refusal.transition")),
        (r"this report is not forwarded to your institution$", N_("refusal.not_yours")),
        (r"someone else changed this report first.*$", N_("refusal.changed_first")),
        (r"another administrator \((?P<who>[^)]+)\) already did this$",
         N_("refusal.another_admin")),
        (r"(?:report |region )?(?P<what>\S+) is outside your region (?P<yours>\S+)$",
         N_("refusal.outside_region")),
        (r"a national matter \(no region\) is outside your region (?P<yours>\S+)$",
         N_("refusal.national_outside_region")),
        (r"(?P<what>.+?)(?: is)? outside your region (?P<yours>\S+)$",
         N_("refusal.outside_region")),
        (r"a regional desk sends reports it may not handle up to the national desk.*$",
         N_("refusal.regional_refers_up")),
        (r"unknown institution (?P<code>\S+)$", N_("refusal.unknown_institution")),
        (r"unknown category '?(?P<code>[^']+)'?$", N_("refusal.unknown_category")),
        (r"unknown action '?(?P<code>[^']+)'?$", N_("refusal.unknown_action")),
        (r"not a valid tracking ID$|invalid$", N_("refusal.bad_tracking_id")),
        (r"give anonymous, confidential or both$", N_("refusal.protection_empty")),
        (r"a report cannot duplicate itself$", N_("refusal.duplicate_self")),
        (r"no report (?P<code>\S+)$", N_("refusal.no_such_report")),
        (r"only a rejection as duplicate names an original$",
         N_("refusal.duplicate_only")),
        (r"a rejection needs a reason$", N_("refusal.reason_needed")),
        (r"a duplicate must name the report it duplicates$",
         N_("refusal.duplicate_needs_original")),
        (r"must be after today \((?P<day>\d{4}-\d{2}-\d{2})\)$", N_("refusal.after_today")),
        (r"must be within a year$", N_("refusal.within_a_year")),
        (r"postponing may not pass the due date (?P<day>\d{4}-\d{2}-\d{2}).*$",
         N_("refusal.postpone_past_due")),
        (r"say why the report is rejected when the reason is other$",
         N_("refusal.other_needs_note")),
        (r"a return with reason 'other' needs a note saying why$",
         N_("refusal.other_needs_note")),
        (r"cannot (?:transfer|delegate) a report to the same institution$",
         N_("refusal.same_institution")),
        (r"the report is in this region already$", N_("refusal.same_region")),
        (r"(?P<code>\S+) is neither one of your units nor under the same parent as .*$",
         N_("refusal.not_a_sibling")),
        (r"(?P<code>\S+) is not one of the units of .*$", N_("refusal.not_a_unit")),
        (r"text must not be blank$|please write something$", N_("refusal.required")),
        (r"report not found$|no such report$", N_("refusal.not_found")),
        # The HTTP edges' own refusals (sign-in, polls, limits), as the JSON API says them.
        (r"a Bearer token is required$", N_("refusal.bearer_required")),
        (r"a Bearer token \(admin, ombudsman\), or X-Access-Code with tracking_id, is required$",
         N_("refusal.bearer_or_access_code")),
        (r"invalid or expired token$", N_("refusal.invalid_token")),
        (r"this token was revoked$", N_("refusal.token_revoked")),
        (r"role (?P<role>\S+) may not do this$", N_("refusal.role_may_not")),
        (r"this agency token names no agency$", N_("refusal.token_names_no_agency")),
        (r"(?:poll (?P<code>\S+) )?(?:is )?not found$|poll not found$",
         N_("refusal.poll_not_found")),
        (r"attachment not found$", N_("refusal.attachment_not_found")),
        (r"Not Found$", N_("refusal.http_not_found")),
        (r"Method Not Allowed$", N_("refusal.http_method")),
        (r"wrong verification code$", N_("refusal.poll_code_wrong")),
        (r"no valid code for this identity.*$", N_("refusal.poll_code_expired")),
        (r"too many wrong tries.*$", N_("refusal.poll_code_locked")),
        (r"not a valid e-mail address$", N_("refusal.not_an_email")),
        (r"a phone number \(\+62…, 08…\) or an e-mail address$", N_("refusal.phone_or_email")),
        (r"codes by \S+ are not set up \((?P<setting>[^)]+)\)$", N_("refusal.codes_not_set_up")),
        (r"the code could not be sent just now.*$", N_("refusal.code_not_sent")),
        (r"too many requests from your address; retry in (?P<seconds>\d+) s$",
         N_("refusal.too_many_requests")),
        (r"poll (?P<code>\S+) is not open yet; no answer was recorded$",
         N_("refusal.poll_upcoming")),
        (r"poll (?P<code>\S+) is closed; no answer was recorded$", N_("refusal.poll_closed")),
        (r"results of poll (?P<code>\S+) are sealed until it closes \((?P<when>[^)]+)\)$",
         N_("refusal.poll_sealed")),
        (r"poll (?P<code>\S+) has no question (?P<key>\S+)$", N_("refusal.poll_no_question")),
        (r"question (?P<key>\S+) is not answered$", N_("refusal.poll_unanswered")),
        (r"question (?P<key>\S+) takes exactly one choice$", N_("refusal.poll_one_choice")),
        (r"(?P<choice>.+) is not a choice \((?P<choices>[^)]*)\)$",
         N_("refusal.poll_not_a_choice")),
        (r"question keys must be 1, 2, 3, … in order.*$", N_("refusal.poll_question_order")),
        (r"choice keys must be unique$", N_("refusal.poll_choice_keys")),
        (r"the answers of poll (?P<code>\S+) are sealed$", N_("refusal.poll_sealed_answers")),
        (r"a choice is given twice$", N_("refusal.poll_choice_twice")),
        (r"this poll takes no comment$", N_("refusal.poll_no_comment")),
        (r"at most (?P<max>\d+) characters$", N_("refusal.too_long")),
        (r"bbox must be min_lon,min_lat,max_lon,max_lat in degrees$", N_("refusal.bbox")),
        (r"an institution sees only its own deadlines$", N_("refusal.own_deadlines")),
        (r"unknown category$", N_("refusal.unknown_category_plain")),
        (r"unknown region code$", N_("refusal.unknown_region_plain")),
        (r"at most (?P<max>\d+) bytes per file$", N_("refusal.file_too_large")),
        (r"reload the page and try again$", N_("refusal.reload_page")),
        (r"someone else changed this poll first.*$", N_("refusal.poll_changed_first")),
        (r"no free poll code found.*$", N_("refusal.poll_no_free_code")),
        (r"outside your region$", N_("refusal.outside_region_plain")),
        (r"an agency opens polls for itself only$", N_("refusal.poll_own_agency")),
        (r"an administrator names the consulting institution$", N_("refusal.poll_name_agency")),
        (r"poll (?P<code>\S+) belongs to (?P<owner>\S+)$", N_("refusal.poll_not_yours")),
        (r"poll code (?P<code>\S+) is taken$", N_("refusal.poll_code_taken")),
        (r"must be after opens_at$", N_("refusal.poll_closes_after_opens")),
        (r"must be in the future$", N_("refusal.in_the_future")),
        (r"must lie between (?P<first>\d{4}) and (?P<last>\d{4})$", N_("refusal.between_years")),
        (r"poll (?P<code>\S+) is still open: respond after it closes$",
         N_("refusal.poll_respond_after")),
        (r"poll (?P<code>\S+): the response is published already$",
         N_("refusal.poll_response_published")),
        (r"poll (?P<code>\S+) has (?P<count>\d+) questions; send one choice each$",
         N_("refusal.poll_one_choice_each")),
        (r"no file uploaded by you with this sha256 and upload_token.*$",
         N_("refusal.unknown_upload")),
        (r"must be (?P<code>\S+) \(the path\)$", N_("refusal.same_as_path")),
        (r"not eligible for escalation: the institution has given its final answer$",
         N_("refusal.escalation_final_given")),
        (r"not eligible for escalation: escalation opens on (?P<day>\d{4}-\d{2}-\d{2}):.*$",
         N_("refusal.escalation_not_open")),
        (r"not eligible for escalation: the report has been escalated already$",
         N_("refusal.escalation_already")),
        (r"not eligible for escalation: the report is (?P<status>[a-z_ ]+)$",
         N_("refusal.escalation_status")),
    )
)  # fmt: skip
# pydantic's kinds of invalid input, said by what the person must do.
VALIDATION = {
    "missing": N_("refusal.required"),
    "string_too_short": N_("refusal.required"),
    "string_too_long": N_("refusal.too_long"),
    "enum": N_("refusal.not_a_choice"),
    "literal_error": N_("refusal.not_a_choice"),
    "date_from_datetime_parsing": N_("refusal.not_a_date"),
    "date_parsing": N_("refusal.not_a_date"),
    "date_type": N_("refusal.not_a_date"),
    "string_pattern_mismatch": N_("refusal.invalid"),
    "less_than_equal": N_("refusal.at_most_value"),
    "greater_than_equal": N_("refusal.at_least_value"),
    "less_than": N_("refusal.below_value"),
    "greater_than": N_("refusal.above_value"),
    "int_parsing": N_("refusal.not_a_number"),
    "int_type": N_("refusal.not_a_number"),
    "float_parsing": N_("refusal.not_a_number"),
    "float_type": N_("refusal.not_a_number"),
}


def refusal(message: str, language: str | None, names: Mapping[str, str] | None = None) -> str:
    """`field: what` (a rule's refusal) in the reader's language; institutions by name."""
    t = translator(language)
    found = _FIELD.match(message.strip())
    field, detail = (found["field"], found["detail"]) if found else (None, message.strip())
    if " / " in detail:  # said in both languages already: the reader's half
        said_id, _, said_en = detail.partition(" / ")
        detail = said_en if t.language == "en" else said_id
        return _with_field(field, detail, t.language)
    sentence = _sentence(detail, t, names or {})
    return _with_field(field, sentence or t("refusal.unknown", detail=detail), t.language)


# A refusal's field in the API's answers may also be a header (`X-Access-Code: …`).
_API_FIELD = re.compile(
    r"^(?P<field>[A-Za-z_][A-Za-z0-9_-]*(?:\.[a-z_0-9]+)*): (?P<detail>.+)$", re.S
)


def in_both_languages(message: str) -> str:
    """A rule's refusal as the JSON API says it to a reader whose language it does not know:
    `field: <Bahasa Indonesia> / <the rule's own English>`, the field's name as the API's. The
    English half stays the rule's words, so what a client matched before still matches; one
    said in both languages already is kept as it is."""
    found = _API_FIELD.match(message.strip())
    field, detail = (found["field"], found["detail"]) if found else (None, message.strip())
    if " / " in detail:
        return message
    t = translator("id")
    indonesian = _sentence(detail, t, {}) or t(N_("refusal.not_accepted"))
    said = f"{indonesian.rstrip('.')} / {detail}"
    return f"{field}: {said}" if field else said


def validation_in_both_languages(error: Mapping[str, Any]) -> str:
    """One of pydantic's errors as the JSON API says it: what the person must do in Bahasa
    Indonesia, then pydantic's own English (what clients matched before)."""
    english = str(error.get("msg", "invalid"))
    kind = str(error.get("type", ""))
    if kind == "value_error":  # a validator's own words: a refusal like any other
        return in_both_languages(english.removeprefix("Value error, "))
    indonesian = translator("id")(
        VALIDATION.get(kind, N_("refusal.invalid")), **_limits(error.get("ctx") or {})
    )
    return f"{indonesian.rstrip('.')} / {english}"


def detail_in_both_languages(detail: Any) -> Any:
    """An HTTP error's `detail` (a string, a list of `{field, msg}` or one `{msg, …}`) with each
    text a person reads said in Bahasa Indonesia, then English."""
    if isinstance(detail, str):
        return in_both_languages(detail)
    if isinstance(detail, list):
        return [detail_in_both_languages(item) for item in detail]
    if isinstance(detail, dict) and isinstance(detail.get("msg"), str):
        return {**detail, "msg": in_both_languages(detail["msg"])}
    return detail


def _limits(ctx: Mapping[str, Any]) -> dict[str, str]:
    """The bounds pydantic names in an error's context, for the catalog's sentences."""
    return {"max": str(ctx.get("max_length", ""))} | {
        bound: str(ctx[bound]) for bound in ("le", "ge", "lt", "gt") if bound in ctx
    }


def _sentence(detail: str, t: Translator, names: Mapping[str, str]) -> str | None:
    """The catalog's sentence for a known refusal in `t`'s language (None: not known)."""
    for pattern, key in PATTERNS:
        matched = pattern.match(detail)
        if matched is None:
            continue
        values: dict[str, Any] = {k: v for k, v in matched.groupdict().items() if v is not None}
        if "status" in values:
            values["status"] = status_label(values["status"].strip(), t.language)
        if "code" in values:
            values["name"] = names.get(values["code"], values["code"])
        if "day" in values:
            from shared.i18n.dates import day

            values["day"] = day(values["day"], t.language)
        return t(key, **values)
    return None


def validation_refusals(errors: Iterable[Mapping[str, Any]], language: str | None) -> str:
    """pydantic's errors (a form's fields) as one line, each field named as a person calls it."""
    t = translator(language)
    said = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ()) if not isinstance(p, int)]
        field = loc[-1] if loc else None
        kind = str(e.get("type", ""))
        ctx = e.get("ctx") or {}
        if kind == "value_error":  # a validator's own words: a refusal like any other
            said.append(
                refusal(f"{field}: {e.get('msg', '')}".replace("Value error, ", ""), t.language)
            )
            continue
        key = VALIDATION.get(kind, N_("refusal.invalid"))
        said.append(_with_field(field, t(key, **_limits(ctx)), t.language))
    return " ".join(said)


def _with_field(field: str | None, sentence: str, language: str) -> str:
    if not field or field == "form":
        return sentence[:1].upper() + sentence[1:]
    name = field_label(field.rsplit(".", 1)[-1], language)
    t = translator(language)
    return t("refusal.field", field=name, text=sentence)
