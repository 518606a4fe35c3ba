"""What the citizen's report page shows and offers, as plain rules over a report's row and
timeline (no I/O): the reporter's actions by status, the institution's open question, the report
as shown to its reporter or to anyone else; and the messages the pages pass on by key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.i18n import N_
from shared.reports.commands import AmendReport, CloseReport, Command, RateReport, ReplyAsReporter
from shared.reports.events import Status
from shared.reports.lifecycle import allows

# The reporter's actions on the report page, each shown where the status machine allows it.
REPORTER_ACTIONS: tuple[tuple[str, type[Command]], ...] = (
    ("amend", AmendReport),
    ("reply", ReplyAsReporter),
    ("close", CloseReport),
    ("rate", RateReport),
)


# Completing is offered only when an administrator asked for it: the status machine lets a
# reporter add to any report before verification (an e-mail reply does), but a page that invites
# it unasked tells the reporter something is missing when nothing is.
OFFERED_ONLY_IN = {"amend": Status.COMPLETION_REQUESTED}


def reporter_actions(status: str) -> tuple[str, ...]:
    now = Status(status)
    return tuple(
        name
        for name, command in REPORTER_ACTIONS
        if allows(command, now) and OFFERED_ONLY_IN.get(name, now) is now
    )


# Messages the handlers pass on by key (`error=…`, `WebError(…)`, `?ok=1`), said by the templates.
PAGE_MESSAGES = (
    N_("track.not_found"),
    N_("track.bad_id"),
    N_("track.bad_code"),
    N_("action.done"),
    N_("action.escalated_already"),
    N_("error.csrf"),
    N_("error.not_found"),
    N_("error.too_many"),
    N_("error.conflict"),
    N_("form.errors"),
    N_("report.reporter.lead"),
    N_("error.escalation_not_open"),
)

# The help under each kind of report on the form (`class.<kind>.help`).
CLASSIFICATION_HELP = (
    N_("class.complaint.help"),
    N_("class.aspiration.help"),
    N_("class.information_request.help"),
)


def open_question(timeline: list[dict[str, Any]]) -> int | None:
    """The place in the timeline of the institution's question the reporter has not answered
    yet (the last follow-up, if it is a question with no reply after it)."""
    for index in range(len(timeline) - 1, -1, -1):
        kind = timeline[index]["event_type"]
        if kind == "ReporterReplied":
            return None
        if kind == "FollowUpPosted":
            return index if timeline[index].get("kind") == "question" else None
    return None


def shown_report(row: Mapping[str, Any], reporter: bool) -> dict[str, Any]:
    """What the report page shows of a report: all of it to its reporter; to anyone else the
    public text when one was set, and of an unpublished report only its status and dates."""
    shown = dict(row)
    if reporter:
        return shown
    if not row["published"]:
        for name in ("title", "body", "address", "category", "region_code", "lat", "lon"):
            shown[name] = None
        shown["attachments"] = "[]"
    elif row["public_title"] is not None:
        shown["title"], shown["body"] = row["public_title"], row["public_body"]
    return shown


# Pages that show a map: their Content-Security-Policy lets the map load tiles.
MAP_PAGES = frozenset({"submit.html", "map.html"})
