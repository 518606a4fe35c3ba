"""Routing decisions: which institution gets a report and which one to suggest after a return.
Pure: the directory is passed in.

Only routing chooses institutions, so these stay here rather than in `shared/directory/` (which
holds the directory's own rule, `Directory.route`). When the first follow-up is due is not decided
here: it is the agency's `follow_up` limit of `shared.reports.policy`, counted like every other
deadline (`Limit.due_after`, `shared.reports.deadlines.time_left`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from shared.directory.model import Directory, Institution

RoutedBy = Literal["rule", "region", "national", "admin", "transfer", "reopen"]
_REGION = re.compile(r"^[0-9]{2,10}$")


def usable_region(region_code: str | None) -> str | None:
    """A region code the directory and calendar accept, else None (route nationally; count
    deadlines in WIB with national holidays)."""
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
