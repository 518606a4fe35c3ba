"""The life of a report as tables for `docs/process.md`, written from the domain itself: who may
act in each status comes from `lifecycle.TRANSITIONS`, every time limit from the policy's
`SlaLimits`, so the document cannot drift from what the system does
(`tests/unit/test_process_doc.py` compares them). Pure: returns text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.reports import commands
from shared.reports.commands import Command
from shared.reports.events import Status
from shared.reports.lifecycle import LOW_RATING, REOPEN_WINDOW, TRANSITIONS
from shared.reports.policy import Limit, SlaLimits

# Who gives each command, and what it is called on the desks and in the API.
ACTORS: Mapping[type[Command], tuple[str, str]] = {
    commands.RequestCompletion: ("administrator", "request completion"),
    commands.AmendReport: ("reporter", "complete the report"),
    commands.VerifyReport: ("administrator", "verify"),
    commands.RejectReport: ("administrator", "reject"),
    commands.PostponeReport: ("administrator", "postpone (never past the due date)"),
    commands.ReferReport: ("administrator", "not our authority (regional desk → national desk)"),
    commands.ChangeProtection: ("administrator", "anonymous / confidential"),
    commands.ForwardReport: ("administrator", "forward"),
    commands.ReturnReport: ("institution", "return (not our authority)"),
    commands.TransferReport: ("institution", "transfer to a sibling"),
    commands.DelegateReport: ("institution", "delegate to its own unit (same deadline)"),
    commands.PostFollowUp: ("institution", "follow-up: interim, final or question"),
    commands.ReplyAsReporter: ("reporter", "reply"),
    commands.ReplyAsAdministrator: ("administrator", "reply"),
    commands.SetPublicText: ("administrator", "set the public text"),
    commands.CloseReport: ("reporter, administrator", "close"),
    commands.RateReport: ("reporter", "rate"),
    commands.EscalateToOmbudsman: ("reporter", "escalate to the Ombudsman (once open)"),
    commands.RecordBreach: ("sla", "record a breach"),
    commands.RecordDueSoon: ("sla", "warn: due soon"),
    commands.RemindCompletion: ("sla", "remind the reporter"),
}
# The system's own bookkeeping (any status): not listed per status in the life table.
BOOKKEEPING = frozenset({commands.RecordBreach, commands.RecordDueSoon})
ACTOR_ORDER = ("reporter", "administrator", "institution", "sla")


@dataclass(frozen=True)
class Rule:
    """A time limit in a status: what starts it, its limit, what happens when it passes."""

    name: str
    limit: str  # the SlaLimits field
    start: str
    passes: str
    source: str


SOURCES: Mapping[str, str] = {
    "seed 000": "../shared/seeds/000 (Dinas Kesehatan Kota Kupang: the LAPOR! workflow)",
    "seed 001": "../shared/seeds/001 (Pemkot Kupang launches LAPOR!, SMS 1708, 3 + 5 days)",
    "seed 002": "../shared/seeds/002 (Pemkot Blitar: centre → city → OPD; not ours → centre)",
    "seed 003": "../shared/seeds/003 (Dinkes TTU: 14/60 days, Ombudsman after 60 working days)",
    "seed 004": "../shared/seeds/004 (Bengkulu: verified and forwarded within 3 working days)",
    "UU 25/2009": "Law 25/2009 on public services (complaints about a service may go to the"
    " Ombudsman)",
    "UU 37/2008": "Law 37/2008 on the Ombudsman of the Republic of Indonesia (its provincial"
    " representative offices)",
    "DESIGN": "../shared/DESIGN.md §2 and §9 (the binding contracts)",
}

RULES: Mapping[Status, tuple[Rule, ...]] = {
    Status.SUBMITTED: (
        Rule(
            "verification",
            "verification",
            "submission",
            "SlaBreached(verification); administrators in scope are warned the working day"
            " before (SlaDueSoon)",
            "seed 000, seed 001, seed 004",
        ),
    ),
    Status.COMPLETION_REQUESTED: (
        Rule(
            "completion reminder",
            "completion_reminder",
            "the completion request",
            "CompletionReminded: the reporter is reminded once",
            "DESIGN",
        ),
        Rule(
            "completion expiry",
            "completion_expiry",
            "the completion request",
            "ReportClosed(incomplete) (the request says so); the verification clock is paused"
            " meanwhile",
            "DESIGN",
        ),
    ),
    Status.FORWARDED: (
        Rule(
            "first follow-up",
            "follow_up",
            "forwarding; a delegation keeps it, a transfer or a reopening starts a new one",
            "SlaBreached(follow_up); the institution's liaison officers are warned the working"
            " day before. Met by an interim or final follow-up; a question meets nothing",
            "seed 000, seed 001, seed 003",
        ),
        Rule(
            "resolution",
            "resolution",
            "the first forwarding, and each reopening",
            "SlaBreached(resolution). 60 days (resolution_field_inspection) when the"
            " administrator marked a field inspection. Met only by a final answer",
            "seed 003",
        ),
    ),
    Status.RETURNED: (
        Rule(
            "re-forwarding",
            "reforward",
            "the return; sent up (not our authority), the desk that receives it gets its own",
            "SlaBreached(reforward); administrators in scope are warned the working day"
            " before. The report is in the desk's default queue until it is forwarded or"
            " rejected; sending it up meets the sending desk's deadline",
            "seed 002",
        ),
    ),
    Status.FOLLOWED_UP: (
        Rule(
            "auto-close",
            "auto_close",
            "a final answer, restarted by each reply of the reporter or an administrator",
            "ReportClosed(no_response). An interim answer or a question starts nothing",
            "seed 000",
        ),
    ),
    Status.CLOSED: (
        Rule(
            "escalation after reopening",
            "escalation_after_reopening",
            f"a reopening: a rating of {LOW_RATING} or less within {REOPEN_WINDOW.days} days of"
            " closing, without a new final answer",
            "the reporter may escalate to the Ombudsman RI office of the province (the"
            " reopened report is with the institution again meanwhile)",
            "DESIGN",
        ),
    ),
}
# In every status but closed and rejected, until a final answer.
ESCALATION = Rule(
    "escalation",
    "escalation",
    "submission, wherever the report is stuck (unverified, returned, with an institution), until"
    " a final answer",
    "the reporter may escalate (web, API, SMS ESKALASI <ID>) to the Ombudsman RI office of the"
    " report's province; every text that names the Ombudsman says from which day",
    "seed 003, UU 25/2009, UU 37/2008",
)
WHAT_IT_MEANS: Mapping[Status, str] = {
    Status.SUBMITTED: "new, or completed by the reporter: waiting for an administrator",
    Status.COMPLETION_REQUESTED: "the reporter is asked for missing information",
    Status.VERIFIED: "checked; routing forwards it at once by the directory's rules (seed 002:"
    " to the region's government, which hands technical matters to its OPD)",
    Status.FORWARDED: "with an institution (public from now on, unless confidential)",
    Status.RETURNED: "an institution sent it back: with the administrators again",
    Status.FOLLOWED_UP: "the institution answered (interim, final or a question)",
    Status.CLOSED: "finished; a low rating soon after reopens it",
    Status.REJECTED: "archived with a reason (never public)",
}


def _limit(limits: SlaLimits, field: str) -> Limit:
    limit = getattr(limits, field)
    assert isinstance(limit, Limit)
    return limit


def who_may_act(status: Status) -> str:
    """The commands TRANSITIONS allows in `status`, by who gives them."""
    by_actor: dict[str, list[str]] = {}
    for command, statuses in TRANSITIONS.items():
        if status not in statuses or command in BOOKKEEPING:
            continue
        actors, action = ACTORS[command]
        for actor in actors.split(", "):
            by_actor.setdefault(actor, []).append(action)
    return "; ".join(
        f"**{actor}**: {', '.join(by_actor[actor])}" for actor in ACTOR_ORDER if actor in by_actor
    )


def life_table(limits: SlaLimits) -> str:
    """state → who may act → deadline → what happens when it passes → source."""
    lines = [
        "| status | what it means | who may act | deadline (from) | when it passes | source |",
        "|---|---|---|---|---|---|",
    ]
    for status in Status:
        rules = list(RULES.get(status, ()))
        if status not in (Status.CLOSED, Status.REJECTED):
            rules.append(ESCALATION)
        deadline = (
            "<br>".join(f"{r.name}: {_limit(limits, r.limit)} from {r.start}" for r in rules) or "—"
        )
        passes = "<br>".join(f"{r.name}: {r.passes}" for r in rules) or "—"
        source = "<br>".join(sorted({s for r in rules for s in r.source.split(", ")})) or "DESIGN"
        lines.append(
            f"| `{status.value}` | {WHAT_IT_MEANS[status]} | {who_may_act(status) or '—'} |"
            f" {deadline} | {passes} | {source} |"
        )
    return "\n".join(lines)


def transitions_table() -> str:
    """Every command and the statuses it acts on (→ the status it leads to), as TRANSITIONS."""
    lines = ["| command | who | acts on (→ leads to) |", "|---|---|---|"]
    for command, statuses in TRANSITIONS.items():
        actors, action = ACTORS[command]
        moves = ", ".join(
            f"`{s.value}`" + (f" → `{to.value}`" if to is not None and to is not s else "")
            for s, to in statuses.items()
        )
        lines.append(f"| {command.__name__} ({action}) | {actors} | {moves} |")
    return "\n".join(lines)


def sources_table() -> str:
    lines = ["| source | what it is |", "|---|---|"]
    lines += [f"| {name} | {what} |" for name, what in SOURCES.items()]
    return "\n".join(lines)


def generated(limits: SlaLimits | None = None) -> str:
    """The generated part of docs/process.md (between its markers)."""
    limits = limits or SlaLimits()
    return "\n\n".join(
        [
            "### The life of a report",
            life_table(limits),
            "### Every command and where it applies (`TRANSITIONS`)",
            transitions_table(),
            "### Sources",
            sources_table(),
        ]
    )
