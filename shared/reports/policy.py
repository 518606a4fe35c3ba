"""Service-level time limits (DESIGN §2) as policy data, with per-institution overrides.

Pure: no wall clock and no I/O except reading a policy file whose path the caller passes in.

Every limit is a :class:`Limit` — a number of days and a unit:

* ``"working"`` days are counted in the :class:`~shared.calendar.WorkingDayCalendar`: an event on
  local day D is due on the Nth working day after D (day one is the first working day after D);
* ``"calendar"`` days are plain days: due on D + N, even when that is a weekend or a holiday.

Either way the deadline runs until 23:59:59.999999 of the due day in the report region's local
time (:func:`shared.calendar.deadline_end`); see ``shared.calendar`` for the full counting rule.

National defaults (DESIGN §2):

=============================  =========================  ======================================
limit                          default                    counted from → what happens when due
=============================  =========================  ======================================
verification                   3 working days             submission → SlaBreached(verification)
reforward                      3 working days             a return → SlaBreached(reforward)
follow_up                      5 working days             forwarding → SlaBreached(follow_up) unless
                                                          an interim or final answer came
auto_close                     10 working days            a final answer (or a reply after it) with
                                                          no reply → ReportClosed(no_response)
completion_reminder            5 working days             a completion request → CompletionReminded
completion_expiry              10 working days            a completion request → ReportClosed
                                                          (reason=incomplete)
resolution                     14 calendar days           forwarding (or reopening) →
                                                          SlaBreached(resolution) before a final one
resolution_field_inspection    60 calendar days           the same, when the report needs a field
                                                          inspection
escalation                     60 working days            submission with no final answer →
                                                          the reporter may escalate to the Ombudsman
escalation_after_reopening     5 working days             reopening with no new final answer →
                                                          the reporter may escalate
due_soon                       1 working day              a deadline is "due soon" from the start of
                                                          the day this many days before its due day
=============================  =========================  ======================================

DESIGN says "14 days" and "60 days" for resolution without the word *working*, unlike every
other row, so they are calendar days here; a policy file can switch them to working days.

Policy file (JSON or TOML), every part optional and partial::

    {
      "defaults": {"resolution": 21},
      "agencies": {
        "DINKES-KOTA-KUPANG": {"follow_up": 3, "resolution": {"days": 10, "unit": "working"}}
      }
    }

A limit in a partial override is either a bare number of days (keeping the unit of the limit it
replaces) or ``{"days": N, "unit": "working"|"calendar"}`` with either key optional. An agency's
limits are: built-in defaults, then the file's ``defaults``, then the agency's own entry.
Unknown keys are errors, so a typo in a policy file fails loudly instead of being ignored.
"""

from __future__ import annotations

import json
import tomllib
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictInt, model_validator

from shared.calendar import WorkingDayCalendar, deadline_end, local_date, timezone_for_region

DayUnit = Literal["working", "calendar"]
AgencyCode = Annotated[str, Field(pattern=r"^[A-Z0-9-]+$", max_length=100)]
Days = Annotated[StrictInt, Field(ge=0, le=3660)]


class Limit(BaseModel):
    """A time limit: `days` days of `unit` after the local day of the event that starts it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: Days
    unit: DayUnit

    def __str__(self) -> str:
        return f"{self.days} {self.unit} day{'' if self.days == 1 else 's'}"

    def due(
        self, start: date, calendar: WorkingDayCalendar, region_code: str | None = None
    ) -> date:
        """The due day for an event on local day `start`."""
        if self.unit == "working":
            return calendar.add_working_days(start, self.days, region_code)
        return start + timedelta(days=self.days)

    def due_after(
        self, occurred_at: datetime, calendar: WorkingDayCalendar, region_code: str | None = None
    ) -> date:
        """The due day for an event at the aware instant `occurred_at` in the report's region."""
        return self.due(
            local_date(occurred_at, timezone_for_region(region_code)), calendar, region_code
        )

    def deadline(
        self, occurred_at: datetime, calendar: WorkingDayCalendar, region_code: str | None = None
    ) -> datetime:
        """The last instant of the limit (aware, in the region's local time)."""
        due = self.due_after(occurred_at, calendar, region_code)
        return deadline_end(due, timezone_for_region(region_code))

    def before(
        self, due: date, calendar: WorkingDayCalendar, region_code: str | None = None
    ) -> date:
        """The day `days` working (or calendar) days before `due`; `due` itself when days = 0."""
        if self.unit == "working":
            return calendar.add_working_days(due, -self.days, region_code)
        return due - timedelta(days=self.days)


def _working(days: int) -> Limit:
    return Limit(days=days, unit="working")


def _calendar(days: int) -> Limit:
    return Limit(days=days, unit="calendar")


class SlaLimits(BaseModel):
    """The complete set of limits that applies to one institution."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    verification: Limit = Field(
        default=_working(3), description="From submission until verified, rejected or sent back"
    )
    reforward: Limit = Field(
        default=_working(3),
        description="From a return by an institution until forwarded again (or decided)",
    )
    completion_reminder: Limit = Field(
        default=_working(5), description="From a completion request to reminding the reporter"
    )
    completion_expiry: Limit = Field(
        default=_working(10),
        description="From a completion request without an answer to closing as incomplete",
    )
    follow_up: Limit = Field(
        default=_working(5), description="From forwarding to the institution's first follow-up"
    )
    auto_close: Limit = Field(
        default=_working(10),
        description="From a final answer (or the latest reply after it) with no reply from"
        " reporter or admin to closing it",
    )
    resolution: Limit = Field(
        default=_calendar(14), description="From forwarding to resolution, no field inspection"
    )
    resolution_field_inspection: Limit = Field(
        default=_calendar(60), description="From forwarding to resolution, with field inspection"
    )
    escalation: Limit = Field(
        default=_working(60),
        description="From submission with no final answer until the reporter may escalate",
    )
    escalation_after_reopening: Limit = Field(
        default=_working(5),
        description="From a reopening with no new final answer until the reporter may escalate",
    )
    due_soon: Limit = Field(
        default=_working(1), description="How long before its due day a deadline is due soon"
    )

    def resolution_limit(self, requires_field_inspection: bool) -> Limit:
        return self.resolution_field_inspection if requires_field_inspection else self.resolution

    def due_soon_from(
        self, due: date, calendar: WorkingDayCalendar, region_code: str | None = None
    ) -> date:
        """The first day on which a deadline due on `due` is due soon (from 00:00 local time)."""
        return self.due_soon.before(due, calendar, region_code)

    def due_soon_start(
        self, due: date, calendar: WorkingDayCalendar, region_code: str | None = None
    ) -> datetime:
        """The first instant (aware, region's local time) at which the deadline is due soon."""
        day = self.due_soon_from(due, calendar, region_code)
        return datetime.combine(day, time.min, tzinfo=timezone_for_region(region_code))


class LimitOverride(BaseModel):
    """Part of a limit: its days, its unit or both; what is left out stays as it was."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: Days | None = None
    unit: DayUnit | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.days is None and self.unit is None:
            raise ValueError("a limit override needs days, unit or both")
        return self

    def apply(self, base: Limit) -> Limit:
        return Limit(
            days=base.days if self.days is None else self.days,
            unit=base.unit if self.unit is None else self.unit,
        )


LimitPatch = Days | LimitOverride


def _patch(base: Limit, patch: LimitPatch | None) -> Limit:
    if patch is None:
        return base
    if isinstance(patch, LimitOverride):
        return patch.apply(base)
    return Limit(days=patch, unit=base.unit)


class SlaLimitsOverride(BaseModel):
    """A partial :class:`SlaLimits`: only the limits given change."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    verification: LimitPatch | None = None
    follow_up: LimitPatch | None = None
    auto_close: LimitPatch | None = None
    resolution: LimitPatch | None = None
    resolution_field_inspection: LimitPatch | None = None
    escalation: LimitPatch | None = None
    due_soon: LimitPatch | None = None
    reforward: LimitPatch | None = None
    completion_reminder: LimitPatch | None = None
    completion_expiry: LimitPatch | None = None
    escalation_after_reopening: LimitPatch | None = None

    def apply(self, base: SlaLimits) -> SlaLimits:
        return SlaLimits(
            verification=_patch(base.verification, self.verification),
            follow_up=_patch(base.follow_up, self.follow_up),
            auto_close=_patch(base.auto_close, self.auto_close),
            resolution=_patch(base.resolution, self.resolution),
            resolution_field_inspection=_patch(
                base.resolution_field_inspection, self.resolution_field_inspection
            ),
            escalation=_patch(base.escalation, self.escalation),
            due_soon=_patch(base.due_soon, self.due_soon),
            reforward=_patch(base.reforward, self.reforward),
            completion_reminder=_patch(base.completion_reminder, self.completion_reminder),
            completion_expiry=_patch(base.completion_expiry, self.completion_expiry),
            escalation_after_reopening=_patch(
                base.escalation_after_reopening, self.escalation_after_reopening
            ),
        )


class SlaPolicy(BaseModel):
    """National defaults plus per-institution overrides (agency code → partial limits)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    defaults: SlaLimitsOverride = Field(default_factory=SlaLimitsOverride)
    agencies: dict[AgencyCode, SlaLimitsOverride] = Field(default_factory=dict)

    _national: SlaLimits = PrivateAttr(default_factory=SlaLimits)
    _by_agency: dict[str, SlaLimits] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        self._national = self.defaults.apply(SlaLimits())
        self._by_agency = {code: o.apply(self._national) for code, o in self.agencies.items()}

    @property
    def national(self) -> SlaLimits:
        """The limits of an institution without overrides."""
        return self._national

    def policy_for(self, agency_code: str | None) -> SlaLimits:
        """The limits for `agency_code` (exact match); national limits for None or no override."""
        # pydantic's private dict, read directly: its attribute path costs microseconds, and
        # this is asked for every deadline of every event replayed.
        private = self.__pydantic_private__
        assert private is not None
        national: SlaLimits = private["_national"]
        if agency_code is None:
            return national
        limits: SlaLimits = private["_by_agency"].get(agency_code, national)
        return limits

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SlaPolicy:
        return cls.model_validate(data)

    @classmethod
    def from_file(cls, path: Path | str) -> SlaPolicy:
        """Read a policy file: TOML when it ends in ``.toml``, JSON otherwise."""
        file = Path(path)
        if file.suffix.lower() == ".toml":
            with file.open("rb") as handle:
                return cls.from_dict(tomllib.load(handle))
        return cls.from_dict(json.loads(file.read_text(encoding="utf-8")))


DEFAULT_LIMITS = SlaLimits()
DEFAULT_POLICY = SlaPolicy()


def load_policy(path: Path | str | None) -> SlaPolicy:
    """The policy in `path`, or the national defaults when there is no file."""
    return DEFAULT_POLICY if path is None else SlaPolicy.from_file(path)


def policy_for(agency_code: str | None, policy: SlaPolicy = DEFAULT_POLICY) -> SlaLimits:
    """The limits that apply to `agency_code` under `policy` (national defaults by default)."""
    return policy.policy_for(agency_code)
