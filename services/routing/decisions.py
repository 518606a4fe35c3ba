"""Routing decisions: which institution gets a report, which one to suggest after a return, and
when its first follow-up is due. Pure: the directory, calendar and policy are passed in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from shared.calendar import WorkingDayCalendar, deadline_end, local_date, timezone_for_region
from shared.directory.model import Directory, Institution
from shared.reports.policy import SlaPolicy, policy_for

RoutedBy = Literal["rule", "region", "national", "admin", "transfer", "reopen"]
_REGION = re.compile(r"^[0-9]{2,10}$")


def usable_region(region_code: str | None) -> str | None:
    """A region code the directory and calendar accept, else None (route nationally)."""
    return region_code if region_code is not None and _REGION.fullmatch(region_code) else None


@dataclass(frozen=True)
class Choice:
    agency_code: str
    agency_name: str
    routed_by: RoutedBy


def choose(
    directory: Directory,
    region_code: str | None,
    category: str | None,
    admin_choice: str | None = None,
) -> Choice:
    """The admin's choice when it names a known institution, else the directory's rules."""
    if admin_choice:
        chosen = directory.find(admin_choice)
        if chosen is not None:
            return Choice(chosen.code, chosen.name, "admin")
    decision = directory.route(usable_region(region_code), category)
    return Choice(decision.agency_code, decision.agency_name, decision.routed_by)


def candidates(
    directory: Directory, region_code: str | None, category: str | None
) -> list[Institution]:
    """Every institution that could take the report, best first: the matching rules (most
    specific first), the region's government, the province's government, the national desk."""
    region = usable_region(region_code)
    rules = sorted(
        (r for r in directory.rules if r.matches(region, category)),
        key=lambda r: r.specificity,
        reverse=True,
    )
    found: list[Institution] = []
    for rule in rules:
        inst = directory.find(rule.agency_code)
        if inst is not None:
            found.append(inst)
    if region is not None:
        for government in (directory.government_for(region), directory.government_for(region[:2])):
            if government is not None:
                found.append(government)
    found.append(directory.national_desk)
    unique: dict[str, Institution] = {}
    for inst in found:
        unique.setdefault(inst.code, inst)
    return list(unique.values())


def next_candidate(
    directory: Directory,
    region_code: str | None,
    category: str | None,
    tried: set[str],
) -> Institution | None:
    """The best candidate that has not had (and returned) the report yet."""
    for inst in candidates(directory, region_code, category):
        if inst.code not in tried:
            return inst
    return None


def follow_up_due(
    calendar: WorkingDayCalendar,
    agency_code: str,
    forwarded_at: datetime,
    region_code: str | None,
    policy: SlaPolicy | None = None,
) -> date:
    """The last day for the first follow-up: the agency's follow-up limit (5 working days by
    default) counted from the local day of forwarding in the report's region."""
    limits = policy_for(agency_code) if policy is None else policy.policy_for(agency_code)
    return limits.follow_up.due_after(forwarded_at, calendar, usable_region(region_code))


@dataclass(frozen=True)
class TimeLeft:
    due: date
    deadline: datetime
    seconds: int
    working_days: int
    overdue: bool


def time_left(
    calendar: WorkingDayCalendar, due: date, now: datetime, region_code: str | None
) -> TimeLeft:
    """How long until the end of the due day (region's local time); negative when overdue."""
    region = usable_region(region_code)
    tz = timezone_for_region(region)
    end = deadline_end(due, tz)
    today = local_date(now, tz)
    return TimeLeft(
        due=due,
        deadline=end,
        seconds=int((end - now).total_seconds()),
        working_days=calendar.working_days_between(today, due, region),
        overdue=now > end,
    )
