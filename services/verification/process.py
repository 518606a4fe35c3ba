"""What the desk adds to an administrator's command so the LAPOR! process holds (issue 16):
the dates it must carry and the rules that depend on who asks.

- A completion request says in its text when the report closes as incomplete without an answer
  (10 working days, `completion_expiry` of the policy).
- Postponing never passes the verification due date: the desk hands the domain that date.
- A returned report is forwarded with the institution's follow-up due date counted from now
  (the policy's `follow_up` limit in the report's region), to an institution of the directory.
- "Not our authority" at a regional desk goes up to the national desk (seed 002: what is not
  the region's authority goes back to the centre); the national desk may refer it to a region.
"""

from __future__ import annotations

from datetime import date, datetime

from services.verification.errors import Forbidden, Invalid
from shared.auth import Principal
from shared.calendar import WorkingDayCalendar
from shared.directory.model import Directory
from shared.reports.commands import ForwardReport, ReferReport
from shared.reports.deadlines import Stage, derive
from shared.reports.facts import facts_of
from shared.reports.policy import SlaPolicy
from shared.store.port import RecordedEvent


def closes_on(
    now: datetime, region_code: str | None, calendar: WorkingDayCalendar, policy: SlaPolicy
) -> date:
    """The day a completion request made `now` closes the report without an answer."""
    return policy.national.completion_expiry.due_after(now, calendar, region_code)


def completion_note(note: str, closing: date, days: int) -> str:
    """The administrator's request with what happens without an answer (Indonesian, English)."""
    day = closing.strftime("%d-%m-%Y")
    return (
        f"{note.strip()}\n\n"
        f"Jika tidak dilengkapi dalam {days} hari kerja (sampai {day}), laporan ditutup sebagai"
        f" tidak lengkap. / Without an answer within {days} working days (by {day}) the report"
        " closes as incomplete."
    )


def verification_due(
    tracking_id: str,
    events: list[RecordedEvent],
    calendar: WorkingDayCalendar,
    policy: SlaPolicy,
) -> date | None:
    """The report's verification due date as the deadline calculator counts it (None while it
    is paused or once it ended)."""
    found = derive(tracking_id, facts_of(events), calendar, policy).of_stage(Stage.VERIFICATION)
    return found[-1].due if found else None


def forward_command(
    directory: Directory,
    agency_code: str,
    region_code: str | None,
    now: datetime,
    calendar: WorkingDayCalendar,
    policy: SlaPolicy,
) -> ForwardReport:
    """Forward to an institution of the directory; its first follow-up is due under its own
    limit, counted from now in the report's region."""
    target = directory.find(agency_code)
    if target is None:
        raise Invalid("agency_code", f"unknown institution {agency_code}")
    limits = policy.policy_for(target.code)
    return ForwardReport(
        agency_code=target.code,
        agency_name=target.name,
        follow_up_due=limits.follow_up.due_after(now, calendar, region_code),
        routed_by="admin",
    )


def refer_command(principal: Principal, to_region: str | None, note: str | None) -> ReferReport:
    """Not our authority: a regional desk sends the report up to the national desk."""
    if principal.region is not None and to_region is not None:
        raise Forbidden(
            "to_region: a regional desk sends reports it may not handle up to the national desk;"
            " the national desk refers them to another region"
        )
    return ReferReport(to_region=to_region, note=note)


def forward_choices(
    directory: Directory, region_code: str | None, suggested: str | None, limit: int = 200
) -> list[tuple[str, str]]:
    """Institutions an administrator may forward a returned report to, best first: the one
    suggested, then those of the report's province, then the national ones."""
    province = region_code[:2] if region_code else None
    local = [i for i in directory if province and i.region_code and i.region_code[:2] == province]
    national = [i for i in directory if i.region_code is None and i.level == "national"]
    chosen: dict[str, str] = {}
    first = directory.find(suggested) if suggested else None
    if first is not None:
        chosen[first.code] = first.name
    for inst in sorted(local, key=lambda i: (len(i.region_code or ""), i.name)) + national:
        chosen.setdefault(inst.code, inst.name)
    return list(chosen.items())[:limit]
